"""What only the township can see: one person's purchases at several clinics (issue 5).

A person is matched across clinics by ID number (each clinic has its own patient row and UUID).
- Caps: a person's settlements of a year are replayed in settlement order (date, then the server's
  receipt time), and each one that takes the fund past the disease's annual cap is flagged with the
  amount paid beyond it (seeds/000 二(一)3). A late upload from an offline clinic re-orders the year.
- Duplicate dispensing (seeds/003 national plan (十一)): a dispense while supply from another clinic
  still had more days left than the refill window allows.
- Usage: each clinic is told, through its usage stream, the person's fund use and supplies elsewhere.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from clinic import medicine
from clinic.adjudication import policy_for
from clinic.db.models import (
    ClaimFlag,
    Dispense,
    DispenseLine,
    Drug,
    Institution,
    Patient,
    Settlement,
    SettlementDisease,
    SyncRecordHead,
)
from clinic.dispensing import runs_out_on
from clinic.money import ZERO
from clinic.policy import PolicyError
from clinic.vocab import DISEASES

USAGE_DAYS = 400                    # supplies older than this cannot still be running


def after_batch(s: Session, institution: str, accepted: list[tuple[str, dict, list[dict]]]) -> list[tuple]:
    """Flags for the batch's settlements and dispenses; returns the usage-stream entries to append."""
    patient_ids = {row["patient_id"] for kind, row, _ in accepted if kind in ("settlement", "dispense")}
    new_patients = {row["id"] for kind, row, _ in accepted if kind == "patient"}
    numbers = _id_numbers(s, patient_ids | new_patients)
    years = {(numbers[row["patient_id"]], row["accounting_year"]) for kind, row, _ in accepted if kind == "settlement"}
    for number, year in sorted(years):
        reconcile_caps(s, number, year)
    drugs = {(numbers[row["patient_id"]], line["drug_code"])
             for kind, row, lines in accepted if kind == "dispense" for line in lines}
    # A dispense is judged with the refill window its settlement was made under, so a settlement
    # arriving after its dispense checks that dispense again.
    settled = [row["dispense_id"] for kind, row, _ in accepted if kind == "settlement" and row["reverses_id"] is None]
    for start in range(0, len(settled), 500):
        drugs |= {(numbers[patient_id], code) for patient_id, code in s.execute(
            select(Dispense.patient_id, DispenseLine.drug_code)
            .join(DispenseLine, DispenseLine.dispense_id == Dispense.id)
            .where(Dispense.id.in_(settled[start:start + 500])))}
    for number, drug_code in sorted(drugs):
        check_duplicate_dispensing(s, number, drug_code)
    entries = []
    used = {numbers[p] for p in patient_ids}
    for number in used:           # every other clinic that knows this person hears of the new use
        for patient_id, code in _holders(s, number):
            if code != institution:
                entries.append(("usage", "usage", patient_id, code))
    used_elsewhere = _used_elsewhere(s, {numbers[p] for p in new_patients}, institution)
    for patient_id in new_patients:   # a clinic that has just registered a person hears of use elsewhere
        if numbers[patient_id] in used_elsewhere:
            entries.append(("usage", "usage", patient_id, institution))
    return entries


def _id_numbers(s: Session, patient_ids: set[str]) -> dict[str, str]:
    ids, found = list(patient_ids), {}
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        found.update(s.execute(select(Patient.id, Patient.id_number).where(Patient.id.in_(chunk))).all())
    return found


def _holders(s: Session, id_number: str) -> list[tuple[str, str]]:
    return s.execute(select(Patient.id, Patient.institution_code).where(
        Patient.id_number == id_number, Patient.deleted_at.is_(None))).all()


def _used_elsewhere(s: Session, id_numbers: set[str], institution: str) -> set[str]:
    """Which of these people have settlements or dispenses at another clinic."""
    numbers, found = list(id_numbers), set()
    for start in range(0, len(numbers), 500):
        chunk = numbers[start:start + 500]
        for model in (Settlement, Dispense):
            found.update(s.scalars(select(Patient.id_number).join(model, model.patient_id == Patient.id).where(
                Patient.id_number.in_(chunk), model.institution_code != institution).distinct()))
    return found


def reconcile_caps(s: Session, id_number: str, year: int) -> None:
    rows = s.execute(
        select(Settlement.id, Settlement.institution_code, Settlement.patient_id, SettlementDisease.disease,
               SettlementDisease.fund_pay, SettlementDisease.cap)
        .join(SettlementDisease, SettlementDisease.settlement_id == Settlement.id)
        .join(Patient, Patient.id == Settlement.patient_id)
        .outerjoin(SyncRecordHead, SyncRecordHead.record_id == Settlement.id)
        .where(Patient.id_number == id_number, Settlement.deleted_at.is_(None),
               Settlement.accounting_year == year)
        .order_by(Settlement.settled_on, SyncRecordHead.first_received_at, Settlement.id)).all()
    running: dict[str, Decimal] = defaultdict(lambda: ZERO)
    wanted: dict[tuple[str, str], tuple] = {}
    for r in rows:
        running[r.disease] += r.fund_pay
        beyond = running[r.disease] - r.cap
        if r.fund_pay > 0 and beyond > 0:
            wanted[(r.id, r.disease)] = (r, min(r.fund_pay, beyond), running[r.disease])
    ids = list({r.id for r in rows})
    existing = {(f.record_id, f.disease): f for f in s.scalars(select(ClaimFlag).where(
        ClaimFlag.kind == "over_cap", ClaimFlag.record_id.in_(ids)))} if ids else {}
    for key, flag in existing.items():
        if key not in wanted and flag.resolved_at is None:
            s.delete(flag)
    for key, (r, amount, total) in wanted.items():
        detail = (f"{DISEASES.get(r.disease, r.disease)}：本年各机构统筹累计 {total} 元，超出年度限额 {r.cap} 元，"
                  f"本单超限额支付 {amount} 元")
        flag = existing.get(key)
        if flag is None:
            s.add(ClaimFlag(kind="over_cap", institution_code=r.institution_code, record_id=r.id,
                            patient_id=r.patient_id, disease=r.disease, amount=amount, detail=detail))
        elif flag.resolved_at is None:
            flag.amount, flag.detail = amount, detail


def _refill_window(s: Session, institution: str, dispense_id: str, on: date, cache: dict) -> int | None:
    """The refill window the dispensing clinic works under: its policy on the day, with the local
    settings it settled that dispense with (a window the document leaves to a setting is the clinic's
    administrator's figure, never a built-in default). None: the server cannot know it (no settlement
    of that dispense yet, or the setting was never filled in), so it does not flag."""
    snapshot = s.scalar(select(Settlement.policy_settings).where(
        Settlement.dispense_id == dispense_id, Settlement.reverses_id.is_(None)).limit(1))
    key = (institution, on.year, snapshot)
    if key not in cache:
        inst = s.get(Institution, institution)
        try:
            cache[key] = policy_for(inst.region, on, snapshot).refill_window_days if inst else None
        except PolicyError:
            cache[key] = None
    return cache[key]


def _supplies(s: Session, id_number: str, drug_codes: set[str] | None = None, *, exclude: str | None = None,
              since: date | None = None):
    refunded = select(Settlement.dispense_id).where(Settlement.reverses_id.is_not(None))
    query = (select(Dispense.id, Dispense.institution_code, Dispense.dispensed_on, DispenseLine.id.label("line_id"),
                    DispenseLine.drug_code, DispenseLine.quantity, DispenseLine.daily_dose)
             .join(DispenseLine, DispenseLine.dispense_id == Dispense.id)
             .join(Patient, Patient.id == Dispense.patient_id)
             .outerjoin(SyncRecordHead, SyncRecordHead.record_id == Dispense.id)
             .where(Patient.id_number == id_number, Dispense.deleted_at.is_(None), Dispense.id.not_in(refunded))
             .order_by(Dispense.dispensed_on, SyncRecordHead.first_received_at, Dispense.id))
    if drug_codes is not None:
        query = query.where(DispenseLine.drug_code.in_(sorted(drug_codes)))
    if exclude is not None:
        query = query.where(Dispense.institution_code != exclude)
    if since is not None:
        query = query.where(Dispense.dispensed_on >= since)
    return s.execute(query).all()


def _same_medicine(s: Session, drug_code: str) -> set[str]:
    drug = s.get(Drug, drug_code)
    return medicine.same_medicine_codes(s, drug) if drug is not None else {drug_code}


def check_duplicate_dispensing(s: Session, id_number: str, drug_code: str) -> None:
    """By medicine, not by code: the same generic and strength under another 医保 code is the same
    supply (clinic/medicine.py)."""
    rows = _supplies(s, id_number, _same_medicine(s, drug_code))
    flagged = set(s.scalars(select(ClaimFlag.record_id).where(
        ClaimFlag.kind == "duplicate_dispense", ClaimFlag.record_id.in_([r.id for r in rows]))))
    names = dict(s.execute(select(Institution.code, Institution.name)).all())
    windows: dict = {}
    for i, r in enumerate(rows):
        earlier = rows[:i]
        run_out = runs_out_on([(e.dispensed_on, e.quantity, e.daily_dose) for e in earlier])
        others = [e for e in earlier if e.institution_code != r.institution_code]
        if run_out is None or not others or r.id in flagged:
            continue
        left = (run_out - r.dispensed_on).days
        window = _refill_window(s, r.institution_code, r.id, r.dispensed_on, windows)
        if window is not None and left > window:
            last = others[-1]
            where = f"{names.get(last.institution_code, '')}（{last.institution_code}）"
            drug = s.scalar(select(Drug.generic_name).where(Drug.code == drug_code)) or drug_code
            s.add(ClaimFlag(kind="duplicate_dispense", institution_code=r.institution_code, record_id=r.id,
                            patient_id=s.scalar(select(Dispense.patient_id).where(Dispense.id == r.id)),
                            detail=f"重复配药：{drug} 在 {where} {last.dispensed_on} 所配药量可用至 {run_out}，"
                                   f"本次配药时仍剩 {left} 天，超过续配窗口 {window} 天"))
            flagged.add(r.id)


def usage_for(s: Session, patient_id: str, institution: str, today: date) -> dict | None:
    """A clinic's patient's use at every other clinic: fund paid per year and disease (this year and
    last), and supplies of the last USAGE_DAYS days, for its caps and refill window."""
    id_number = s.scalar(select(Patient.id_number).where(Patient.id == patient_id,
                                                          Patient.institution_code == institution))
    if id_number is None:
        return None
    fund: dict[tuple[int, str], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for year, disease, paid, deductible in s.execute(           # by accounting year (clinic/ledger.py)
            select(Settlement.accounting_year, SettlementDisease.disease, SettlementDisease.fund_pay,
                   SettlementDisease.deductible)
            .join(SettlementDisease, SettlementDisease.settlement_id == Settlement.id)
            .join(Patient, Patient.id == Settlement.patient_id)
            .where(Patient.id_number == id_number, Settlement.institution_code != institution,
                   Settlement.deleted_at.is_(None), Settlement.accounting_year >= today.year - 1)):
        totals = fund[(year, disease)]
        totals[0] += paid
        totals[1] += deductible
    supplies = _supplies(s, id_number, exclude=institution, since=today - timedelta(days=USAGE_DAYS))
    return {
        "patient_id": patient_id,
        "fund": [{"year": year, "disease": disease, "fund_paid": str(paid), "deductible_paid": str(deductible)}
                 for (year, disease), (paid, deductible) in sorted(fund.items())],
        "dispenses": [{"id": r.line_id, "institution_code": r.institution_code, "drug_code": r.drug_code,
                       "dispensed_on": r.dispensed_on.isoformat(), "quantity": str(r.quantity),
                       "daily_dose": str(r.daily_dose)} for r in supplies],
    }
