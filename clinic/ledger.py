"""The fund ledger of one patient (统筹基金年度台账): every fund payment and deductible, per accounting
year and disease, from the three places they come from — settlements here, use at other clinics as the
township reports it, and the opening balances a clinic entered from its previous system.

Rules (鄂州方案 二(一)3–4: 年度最高支付限额 per 病种 and year; 吕梁方案 二(一)1: 起付标准 per year):
- Each entry belongs to the calendar year of the purchase it settles (`Settlement.accounting_year`):
  a refund credits the year of the purchase it reverses, so a December purchase refunded in January
  gives back December's cap and never opens a second cap in January.
- Year-to-date is the sum of *every* entry of the accounting year that exists when a settlement is
  made, whatever its date: a purchase typed in afterwards for an earlier day (after a power cut) sees
  the later purchases too, so back-dating can never pay past the cap.
- The settlement engine, the dispensing dialog, the receipt, `liangbing ledger` and the township read
  cap, deductible and remaining amount from here (`year_to_date`, `year_ledger`), never recompute them.

A prescription spanning the new year: each dispense counts against the year of its own date; the
January refill starts on January's fresh cap and deductible, and the refill window still counts the
supply handed out in December (clinic/dispensing.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from clinic.db.models import ExternalFundUse, OpeningBalance, Settlement, SettlementDisease
from clinic.money import ZERO
from clinic.policy.model import MissingSetting, Policy
from clinic.vocab import DISEASES

SOURCES = {"here": "本机构", "other": "其他机构", "opening": "期初余额"}


@dataclass(frozen=True)
class YearToDate:
    fund_paid: dict[str, Decimal]          # per disease
    deductible_paid: Decimal               # the year's deductible is one amount, across diseases


@dataclass(frozen=True)
class Entry:
    on: date | None                        # None: an opening balance or another clinic's yearly total
    disease: str
    fund: Decimal
    deductible: Decimal
    accounting_year: int
    source: str                            # here | other | opening
    receipt_no: str | None = None
    reverses: str | None = None            # the receipt number a refund reverses
    note: str = ""


@dataclass(frozen=True)
class DiseaseLine:
    disease: str
    tier: str
    cap: Decimal | None                    # None: the policy's cap is a setting not yet filled in
    fund_paid: Decimal
    remaining: Decimal | None


@dataclass(frozen=True)
class YearLedger:
    year: int
    deductible: Decimal | None             # the policy's yearly deductible (None: not filled in)
    deductible_paid: Decimal
    diseases: tuple[DiseaseLine, ...]
    entries: tuple[Entry, ...] = field(default=())

    @property
    def fund_paid(self) -> Decimal:
        return sum((d.fund_paid for d in self.diseases), ZERO)


def entries(session: Session, patient_id: str, year: int) -> list[Entry]:
    """Every entry of the accounting year: settlements here (refunds negative), then the township's
    yearly totals from other clinics, then opening balances."""
    original = aliased(Settlement)
    found = [
        Entry(on=r.settled_on, disease=r.disease, fund=r.fund_pay, deductible=r.deductible,
              accounting_year=year, source="here", receipt_no=r.receipt_no, reverses=r.reversed_receipt)
        for r in session.execute(
            select(Settlement.settled_on, Settlement.receipt_no, SettlementDisease.disease,
                   SettlementDisease.fund_pay, SettlementDisease.deductible,
                   original.receipt_no.label("reversed_receipt"))
            .join(SettlementDisease, SettlementDisease.settlement_id == Settlement.id)
            .outerjoin(original, original.id == Settlement.reverses_id)
            .where(Settlement.patient_id == patient_id, Settlement.accounting_year == year,
                   Settlement.deleted_at.is_(None))
            .order_by(Settlement.settled_on, Settlement.created_at, SettlementDisease.position))]
    for use in session.scalars(select(ExternalFundUse).where(
            ExternalFundUse.patient_id == patient_id, ExternalFundUse.year == year)
            .order_by(ExternalFundUse.disease)):
        found.append(Entry(on=None, disease=use.disease, fund=use.fund_paid, deductible=use.deductible_paid,
                           accounting_year=year, source="other", note="乡镇卫生院汇总的其他机构本年使用"))
    for opening in session.scalars(select(OpeningBalance).where(
            OpeningBalance.patient_id == patient_id, OpeningBalance.year == year,
            OpeningBalance.deleted_at.is_(None)).order_by(OpeningBalance.disease)):
        found.append(Entry(on=None, disease=opening.disease, fund=opening.fund_paid,
                           deductible=opening.deductible_paid, accounting_year=year, source="opening",
                           note=f"导入自 {opening.source}"))
    return found


def totals(found: list[Entry]) -> YearToDate:
    fund: dict[str, Decimal] = {}
    deductible = ZERO
    for entry in found:
        fund[entry.disease] = fund.get(entry.disease, ZERO) + entry.fund
        deductible += entry.deductible
    return YearToDate(fund, deductible)


def year_to_date(session: Session, patient_id: str, year: int) -> YearToDate:
    """What the fund has paid and the deductible taken in the accounting year, across all sources."""
    return totals(entries(session, patient_id, year))


def year_ledger(session: Session, patient_id: str, year: int, policy: Policy | None, insurance: str,
                tiers: dict[str, str]) -> YearLedger:
    """The year per disease: cap, paid, remaining, with every entry. `tiers` maps each disease the
    patient is (or was) entitled to onto its tier (普通/重症), which decides the cap."""
    found = entries(session, patient_id, year)
    ytd = totals(found)
    lines = []
    for disease in DISEASES:
        if disease not in tiers and disease not in ytd.fund_paid:
            continue
        tier = tiers.get(disease, "ordinary")
        cap = _figure(policy.cap, insurance, tier) if policy is not None else None
        paid = ytd.fund_paid.get(disease, ZERO)
        lines.append(DiseaseLine(disease, tier, cap, paid, None if cap is None else max(cap - paid, ZERO)))
    deductible = _figure(lambda: policy.deductible) if policy is not None else None
    return YearLedger(year=year, deductible=deductible, deductible_paid=ytd.deductible_paid,
                      diseases=tuple(lines), entries=tuple(found))


def _figure(read, *args) -> Decimal | None:
    try:
        return read(*args)
    except MissingSetting:
        return None


def year_to_date_after(session: Session, settlement: Settlement) -> YearToDate:
    """The year as it stood right after `settlement` was made (for its receipt): every entry of its
    accounting year except settlements here recorded after it."""
    later = set(session.scalars(select(Settlement.receipt_no).where(
        Settlement.patient_id == settlement.patient_id, Settlement.accounting_year == settlement.accounting_year,
        Settlement.deleted_at.is_(None), Settlement.id != settlement.id,
        Settlement.created_at > settlement.created_at)))
    return totals([e for e in entries(session, settlement.patient_id, settlement.accounting_year)
                   if e.receipt_no is None or e.receipt_no not in later])
