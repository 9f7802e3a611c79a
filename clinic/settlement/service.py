"""Stored settlements: year-to-date use per patient and disease, receipt numbers, refunds (退费).

Settlements are append-only facts (DESIGN.md): a refund is a new settlement with the amounts negated
and `reverses_id` pointing at the original; nothing is ever edited.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select, update
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from clinic import ledger
from clinic.db.models import Dispense, ReceiptCounter, Settlement, SettlementDisease
from clinic.ledger import YearToDate
from clinic.settlement.engine import Purchase, Result

AMOUNTS = ("total", "out_of_scope", "over_standard", "policy_range", "deductible", "fund_pay", "over_cap",
           "self_pay", "major_illness_eligible")
DISEASE_AMOUNTS = ("policy_range", "deductible", "fund_pay", "over_cap")
COUNTER = ReceiptCounter.__table__
__all__ = ["YearToDate", "year_to_date", "next_receipt_no", "record_settlement", "refund"]


class RefundError(ValueError):
    pass


def year_to_date(session: Session, patient_id: str, on: date) -> YearToDate:
    """The fund use and deductible a purchase on `on` settles against: its accounting year's whole
    ledger, here and elsewhere (clinic/ledger.py)."""
    return ledger.year_to_date(session, patient_id, on.year)


def next_receipt_no(session: Session, institution_code: str, on: date, prefix: str = "") -> str:
    """The next receipt number of the day, unique under two writers on one file and never reused.

    The counter row is written first: its UPSERT takes SQLite's write lock, so a second process
    settling at the same moment waits for this transaction to commit and then counts on from it. The
    highest number on file also counts (a backup restored, then receipts pulled back from the township)."""
    stem = f"{prefix}{institution_code}-{on:%Y%m%d}-"
    conn = session.connection()
    conn.execute(sqlite_insert(COUNTER).values(stem=stem, last=0).on_conflict_do_nothing())
    counted = conn.scalar(select(COUNTER.c.last).where(COUNTER.c.stem == stem)) or 0
    # A range, not LIKE 'stem%': SQLite's LIKE is case-insensitive and cannot use the receipt index.
    on_file = session.scalars(select(Settlement.receipt_no).where(
        Settlement.receipt_no >= stem, Settlement.receipt_no < stem + "~")).all()
    highest = max((int(no[len(stem):]) for no in on_file if no[len(stem):].isdigit()), default=0)
    number = max(counted, highest) + 1
    conn.execute(update(COUNTER).where(COUNTER.c.stem == stem).values(last=number))
    return f"{stem}{number:04d}"


def record_settlement(session: Session, dispense: Dispense, purchase: Purchase, result: Result,
                      institution_code: str, operator_name: str, policy_settings: str | None = None) -> Settlement:
    settlement = Settlement(
        patient_id=dispense.patient_id, dispense_id=dispense.id, settled_on=purchase.date,
        accounting_year=purchase.date.year, policy_settings=policy_settings,
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
        accounting_year=original.accounting_year, policy_settings=original.policy_settings,
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
