"""Stored settlements: year-to-date use per patient and disease, receipt numbers, refunds (退费).

Settlements are append-only facts (DESIGN.md): a refund is a new settlement with the amounts negated
and `reverses_id` pointing at the original; nothing is ever edited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clinic.db.models import Dispense, ExternalFundUse, Settlement, SettlementDisease
from clinic.money import ZERO
from clinic.settlement.engine import Purchase, Result

AMOUNTS = ("total", "out_of_scope", "over_standard", "policy_range", "deductible", "fund_pay", "over_cap",
           "self_pay", "major_illness_eligible")
DISEASE_AMOUNTS = ("policy_range", "deductible", "fund_pay", "over_cap")


class RefundError(ValueError):
    pass


@dataclass(frozen=True)
class YearToDate:
    fund_paid: dict[str, Decimal]
    deductible_paid: Decimal


def year_to_date(session: Session, patient_id: str, on: date) -> YearToDate:
    """Fund payments and deductible already used this calendar year (refunds count negative): here,
    plus what the township last reported for other clinics (ExternalFundUse, pulled by sync), so the
    annual cap and the deductible hold across clinics."""
    start = date(on.year, 1, 1)
    in_year = (Settlement.patient_id == patient_id, Settlement.settled_on >= start,
               Settlement.settled_on <= on, Settlement.deleted_at.is_(None))
    rows = session.execute(
        select(SettlementDisease.disease, func.sum(SettlementDisease.fund_pay))
        .join(Settlement, Settlement.id == SettlementDisease.settlement_id).where(*in_year)
        .group_by(SettlementDisease.disease)).all()
    fund = {disease: amount or ZERO for disease, amount in rows}
    deductible = session.scalar(select(func.sum(Settlement.deductible)).where(*in_year)) or ZERO
    for use in session.scalars(select(ExternalFundUse).where(ExternalFundUse.patient_id == patient_id,
                                                             ExternalFundUse.year == on.year)):
        fund[use.disease] = fund.get(use.disease, ZERO) + use.fund_paid
        deductible += use.deductible_paid
    return YearToDate(fund, deductible)


def next_receipt_no(session: Session, institution_code: str, on: date, prefix: str = "") -> str:
    stem = f"{prefix}{institution_code}-{on:%Y%m%d}-"
    # A range, not LIKE 'stem%': SQLite's LIKE is case-insensitive and cannot use the receipt index.
    count = session.scalar(select(func.count()).select_from(Settlement)
                           .where(Settlement.receipt_no >= stem, Settlement.receipt_no < stem + "~")) or 0
    return f"{stem}{count + 1:04d}"


def record_settlement(session: Session, dispense: Dispense, purchase: Purchase, result: Result,
                      institution_code: str, operator_name: str) -> Settlement:
    settlement = Settlement(
        patient_id=dispense.patient_id, dispense_id=dispense.id, settled_on=purchase.date,
        receipt_no=next_receipt_no(session, institution_code, purchase.date), policy_id=result.policy_id,
        insurance=purchase.insurance, contribution=purchase.contribution,
        institution_level=purchase.institution_level, prescriber_level=purchase.prescriber_level,
        operator_name=operator_name, **{name: getattr(result, name) for name in AMOUNTS})
    for position, d in enumerate(result.by_disease, start=1):
        settlement.diseases.append(SettlementDisease(
            position=position, disease=d.disease, tier=d.tier, is_primary=d.primary, ratio=d.ratio, cap=d.cap,
            cap_remaining=d.cap_remaining, **{name: getattr(d, name) for name in DISEASE_AMOUNTS}))
    session.add(settlement)
    return settlement


def refund(session: Session, original: Settlement, on: date, reason: str, operator_name: str) -> Settlement:
    """Reverse a settlement in full; the fund's payment goes back to the patient's cap."""
    if not reason.strip():
        raise RefundError("退费须填写原因")
    session.flush()     # the original's client-made id is assigned on flush; the duplicate check needs it
    if original.reverses_id is not None:
        raise RefundError("这是一张退费单，不能再次退费")
    if session.scalar(select(Settlement.id).where(Settlement.reverses_id == original.id)):
        raise RefundError(f"结算单 {original.receipt_no} 已退费，不能重复退费")
    if on < original.settled_on:
        raise RefundError("退费日期不能早于结算日期")
    reversal = Settlement(
        patient_id=original.patient_id, dispense_id=original.dispense_id, settled_on=on,
        receipt_no=next_receipt_no(session, original.institution_code, on, prefix="TF"),
        policy_id=original.policy_id, insurance=original.insurance, contribution=original.contribution,
        institution_level=original.institution_level, prescriber_level=original.prescriber_level,
        reverses_id=original.id, refund_reason=reason.strip(), operator_name=operator_name,
        **{name: -getattr(original, name) for name in AMOUNTS})
    for d in original.diseases:
        reversal.diseases.append(SettlementDisease(
            position=d.position, disease=d.disease, tier=d.tier, is_primary=d.is_primary, ratio=d.ratio,
            cap=d.cap, cap_remaining=d.cap_remaining + d.fund_pay,
            **{name: -getattr(d, name) for name in DISEASE_AMOUNTS}))
    session.add(reversal)
    return reversal


def refunded_dispense_ids(session: Session, patient_id: str) -> set[str]:
    return set(session.scalars(select(Settlement.dispense_id).where(
        Settlement.patient_id == patient_id, Settlement.reverses_id.is_not(None))))
