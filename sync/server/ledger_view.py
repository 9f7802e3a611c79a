"""The township's view of one person's fund ledger (issue 12 item 8): the same 本年度医保额度 a clinic
shows (clinic/ledger.py), over the server's records of every clinic. A person is matched across
clinics by ID number (sync/server/crossclinic.py); on the server each clinic's settlements are the
person's own purchases ("here" entries, the clinic named in the note), in the order the server holds
them, and opening balances count once per disease — the largest any clinic entered — as the server's
re-adjudication counts them (sync/server/adjudicate.py `person_year_to_date`).

The cap is that of the clinic where the person last settled in the year (its region's policy with the
settings that clinic sent with the settlement), for the tier of that clinic's filing on the last day
of the year, or today if earlier."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from clinic import adjudication
from clinic.db.models import Institution, OpeningBalance, Patient, Settlement, SettlementDisease, SyncRecordHead
from clinic.filings import entitlements
from clinic.ledger import DiseaseLine, Entry, YearLedger, totals
from clinic.money import ZERO
from clinic.patient_ledger import ledger_day
from clinic.policy.model import MissingSetting, Policy, PolicyError
from clinic.vocab import DISEASES


@dataclass(frozen=True)
class Holder:
    """The person's record at one clinic."""
    institution_code: str
    institution_name: str
    name: str
    insurance: str


@dataclass(frozen=True)
class PersonLedger:
    id_number: str
    holders: tuple[Holder, ...]
    ledger: YearLedger
    cap_from: str                      # the clinic whose policy gives the caps, or why there are none


def _names(s: Session) -> dict[str, str]:
    return dict(s.execute(select(Institution.code, Institution.name)).all())


def person_entries(s: Session, id_number: str, year: int, names: dict[str, str]) -> list[Entry]:
    original = aliased(Settlement)
    found = [
        Entry(on=r.settled_on, disease=r.disease, fund=r.fund_pay, deductible=r.deductible, accounting_year=year,
              source="here", receipt_no=r.receipt_no, reverses=r.reversed_receipt,
              note=f"{names.get(r.institution_code, '')}（{r.institution_code}）")
        for r in s.execute(
            select(Settlement.settled_on, Settlement.receipt_no, Settlement.institution_code,
                   SettlementDisease.disease, SettlementDisease.fund_pay, SettlementDisease.deductible,
                   original.receipt_no.label("reversed_receipt"))
            .join(SettlementDisease, SettlementDisease.settlement_id == Settlement.id)
            .join(Patient, Patient.id == Settlement.patient_id)
            .outerjoin(original, original.id == Settlement.reverses_id)
            .outerjoin(SyncRecordHead, SyncRecordHead.record_id == Settlement.id)
            .where(Patient.id_number == id_number, Settlement.accounting_year == year,
                   Settlement.deleted_at.is_(None))
            .order_by(Settlement.settled_on, SyncRecordHead.first_received_at, Settlement.id,
                      SettlementDisease.position))]
    largest: dict[str, tuple] = {}
    for o in s.execute(select(OpeningBalance.disease, OpeningBalance.fund_paid, OpeningBalance.deductible_paid,
                              OpeningBalance.institution_code, OpeningBalance.source)
                       .join(Patient, Patient.id == OpeningBalance.patient_id)
                       .where(Patient.id_number == id_number, OpeningBalance.year == year,
                              OpeningBalance.deleted_at.is_(None))
                       .order_by(OpeningBalance.institution_code)):
        if o.disease not in largest or (o.fund_paid, o.deductible_paid) > largest[o.disease][:2]:
            largest[o.disease] = (o.fund_paid, o.deductible_paid, o.institution_code, o.source)
    for disease in sorted(largest):
        fund, deductible, code, source = largest[disease]
        found.append(Entry(on=None, disease=disease, fund=fund, deductible=deductible, accounting_year=year,
                           source="opening", note=f"{names.get(code, '')}（{code}）导入自 {source}"))
    return found


def _figure(read, *args):
    try:
        return read(*args)
    except (MissingSetting, PolicyError):
        return None


def _lines(found: list[Entry], policy: Policy | None, insurance: str, tiers: dict[str, str]) -> tuple:
    # As clinic/ledger.py year_ledger builds them, over entries it does not read itself.
    ytd = totals(found)
    lines = []
    for disease in DISEASES:
        if disease not in tiers and disease not in ytd.fund_paid:
            continue
        tier = tiers.get(disease, "ordinary")
        cap = _figure(policy.cap, insurance, tier) if policy is not None else None
        paid = ytd.fund_paid.get(disease, ZERO)
        lines.append(DiseaseLine(disease, tier, cap, paid, None if cap is None else max(cap - paid, ZERO)))
    return ytd, tuple(lines)


def person_ledger(s: Session, id_number: str, year: int, today: date) -> PersonLedger | None:
    """None when no clinic has sent a patient with this ID number."""
    names = _names(s)
    patients = s.scalars(select(Patient).where(Patient.id_number == id_number, Patient.deleted_at.is_(None))
                         .order_by(Patient.institution_code)).all()
    if not patients:
        return None
    holders = tuple(Holder(p.institution_code, names.get(p.institution_code, ""), p.name, p.insurance)
                    for p in patients)
    found = person_entries(s, id_number, year, names)
    last = s.execute(select(Settlement.institution_code, Settlement.policy_settings)
                     .join(Patient, Patient.id == Settlement.patient_id)
                     .where(Patient.id_number == id_number, Settlement.accounting_year == year,
                            Settlement.deleted_at.is_(None))
                     .order_by(Settlement.settled_on.desc(), Settlement.created_at.desc())).first()
    patient = next((p for p in patients if last is not None and p.institution_code == last.institution_code),
                   patients[0])
    on = ledger_day(year, today)
    inst = s.get(Institution, patient.institution_code)
    policy, cap_from = None, "该患者所在机构没有可用的政策，无法显示限额"
    if inst is not None:
        try:
            policy = adjudication.policy_for(inst.region, on, last.policy_settings if last is not None else None)
            cap_from = f"按 {inst.name}（{inst.code}）适用的政策“{policy.name}”"
        except PolicyError as exc:
            cap_from = f"{inst.name}（{inst.code}）的政策无法确定：{exc}"
    tiers = {e.disease: e.tier for e in entitlements(s, patient, policy, on)} if policy is not None else {}
    ytd, lines = _lines(found, policy, patient.insurance, tiers)
    deductible = _figure(lambda: policy.deductible) if policy is not None else None
    ledger = YearLedger(year=year, deductible=deductible, deductible_paid=ytd.deductible_paid, diseases=lines,
                        entries=tuple(found))
    return PersonLedger(id_number, holders, ledger, cap_from)
