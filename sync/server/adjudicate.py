"""The township re-adjudicates every settlement it receives (clinic/adjudication.py), inside the
record's savepoint of sync/server/receive.py: a refusal rejects that record alone, findings become
ClaimFlags for the reviewer and travel back in the record's answer.

The server's ledger for a person: every settlement of that ID number at every clinic in the purchase's
accounting year that the server already holds, plus opening balances (counted once per disease: the
largest any clinic entered), in the order the server stored them — what existed when this one arrived.
"""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clinic import adjudication
from clinic.adjudication import Finding, Refuse
from clinic.db.models import (
    ClaimFlag,
    DispenseLine,
    Institution,
    OpeningBalance,
    Patient,
    Settlement,
    SettlementDisease,
)
from clinic.db.types import new_uuid, utcnow
from clinic.ledger import YearToDate
from clinic.money import ZERO
from clinic.policy import PolicyError

FLAG_KIND = "readjudication"


def person_year_to_date(s: Session, id_number: str, year: int, *, exclude: str) -> YearToDate:
    """What the server's ledger shows for the person in the accounting year, without `exclude`."""
    fund: dict[str, Decimal] = {}
    deductible = ZERO
    for disease, paid, taken in s.execute(
            select(SettlementDisease.disease, func.sum(SettlementDisease.fund_pay),
                   func.sum(SettlementDisease.deductible))
            .join(Settlement, Settlement.id == SettlementDisease.settlement_id)
            .join(Patient, Patient.id == Settlement.patient_id)
            .where(Patient.id_number == id_number, Settlement.accounting_year == year,
                   Settlement.deleted_at.is_(None), Settlement.id != exclude)
            .group_by(SettlementDisease.disease)):
        fund[disease] = fund.get(disease, ZERO) + (paid or ZERO)
        deductible += taken or ZERO
    openings: dict[str, tuple[Decimal, Decimal]] = {}
    for row in s.execute(select(OpeningBalance.disease, OpeningBalance.fund_paid, OpeningBalance.deductible_paid)
                         .join(Patient, Patient.id == OpeningBalance.patient_id)
                         .where(Patient.id_number == id_number, OpeningBalance.year == year,
                                OpeningBalance.deleted_at.is_(None))):
        openings[row.disease] = max(openings.get(row.disease, (ZERO, ZERO)), (row.fund_paid, row.deductible_paid))
    for disease, (paid, taken) in openings.items():
        fund[disease] = fund.get(disease, ZERO) + paid
        deductible += taken
    return YearToDate(fund, deductible)


def check_settlement(s: Session, row: dict, children: dict[str, list[dict]], institution: str) -> list[Finding]:
    """Raise Refuse for what cannot be; return what the reviewer should see."""
    diseases = children.get("diseases", [])
    conn = s.connection()
    if row["reverses_id"] is not None:
        original = conn.execute(select(Settlement.__table__).where(Settlement.id == row["reverses_id"])).first()
        if original is not None:            # absent: receive.py defers the refund until it arrives
            original_diseases = [dict(d._mapping) for d in conn.execute(select(SettlementDisease.__table__).where(
                SettlementDisease.settlement_id == row["reverses_id"]))]
            adjudication.check_refund(row, diseases, dict(original._mapping), original_diseases)
        return []
    other = conn.scalar(select(Settlement.receipt_no).where(
        Settlement.dispense_id == row["dispense_id"], Settlement.reverses_id.is_(None), Settlement.id != row["id"]))
    if other is not None:
        raise Refuse(f"该次配药已有结算单 {other}，同一次配药不能再次结算（结算单 {row['receipt_no']}）")
    lines = [dict(r._mapping) for r in conn.execute(
        select(DispenseLine.__table__).where(DispenseLine.dispense_id == row["dispense_id"]))]
    inst = s.get(Institution, institution)
    id_number = conn.scalar(select(Patient.id_number).where(Patient.id == row["patient_id"]))
    try:
        policy = adjudication.policy_for(inst.region, row["settled_on"], row.get("policy_settings"))
        ytd = person_year_to_date(s, id_number, row["accounting_year"], exclude=row["id"])
        ours = adjudication.recompute(s, row, lines, policy, inst.level, ytd)
    except PolicyError as exc:
        return [adjudication.cannot_check(exc)]
    return adjudication.compare(row, diseases, ours)


def flag(s: Session, row: dict, institution: str, findings: list[Finding]) -> None:
    """Findings become ClaimFlags for the reviewer, except a cap passed across clinics: that one is
    flagged by sync/server/crossclinic.py reconcile_caps (replayed in settlement order, kept current
    as late uploads re-order the year), so it is not flagged twice."""
    for finding in findings:
        if finding.kind == "over_cap":
            continue
        s.connection().execute(ClaimFlag.__table__.insert().values(
            id=new_uuid(), kind=FLAG_KIND, institution_code=institution, record_id=row["id"],
            patient_id=row["patient_id"], disease=finding.disease, amount=finding.amount, detail=finding.detail,
            created_at=utcnow()))


def with_accounting_year(s: Session, payload: dict) -> dict:
    """A settlement sent by a clinic from before the accounting year was recorded: its purchase's year,
    or for a refund the year of the settlement it reverses."""
    if "accounting_year" in payload or not isinstance(payload.get("settled_on"), str):
        return payload
    year = None
    if payload.get("reverses_id"):
        year = s.connection().scalar(select(Settlement.accounting_year).where(Settlement.id == payload["reverses_id"]))
    if year is None:
        try:
            year = int(payload["settled_on"][:4])
        except ValueError:
            return payload
    return {**payload, "accounting_year": year}
