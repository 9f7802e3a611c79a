"""Sums over settlements (结算) for the money and 待遇享受 columns of the reports.

- A settlement counts in the period its `settled_on` falls in. A refund (退费) is its own settlement
  with negated amounts and `reverses_id` set (clinic/settlement/service.py), so it nets out in the
  month the refund happens; an earlier month's report does not change when a later refund comes.
- A settlement the 医保 reviewer refused (state "rejected", 拒付) is left out, with any refund of it:
  the fund did not pay it. "adjusted" settlements count with the amounts recorded.
- Money is summed in SQL over integer fen (clinic/db/types.Money), so totals are exact Decimals.
- Per-clinic filter on the settlement's own institution_code; insurance on the settlement's insurance
  (the patient's 险种 when it was settled).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from clinic.db.models import DispenseLine, Settlement, SettlementDisease
from clinic.money import ZERO

PHARMACY = "pharmacy"


def _counted(start: date, end: date, institutions: Sequence[str] | None, insurance: str | None) -> list:
    original = aliased(Settlement)
    refused = select(original.id).where(original.state == "rejected")
    conditions = [Settlement.deleted_at.is_(None), Settlement.settled_on >= start, Settlement.settled_on <= end,
                  Settlement.state != "rejected",
                  Settlement.reverses_id.is_(None) | Settlement.reverses_id.not_in(refused)]
    if institutions is not None:
        conditions.append(Settlement.institution_code.in_(list(institutions)))
    if insurance is not None:
        conditions.append(Settlement.insurance == insurance)
    return conditions


@dataclass(frozen=True)
class Amounts:
    policy_range: Decimal = ZERO      # 政策范围内费用
    fund_pay: Decimal = ZERO          # 基金支付 (报销额)

    def __add__(self, other: Amounts) -> Amounts:
        return Amounts(self.policy_range + other.policy_range, self.fund_pay + other.fund_pay)


def disease_amounts(session: Session, start: date, end: date, institutions: Sequence[str] | None = None,
                    insurance: str | None = None) -> dict[tuple[str, str, str], Amounts]:
    """(disease, tier, institution level) → policy-range cost and fund payment, refunds netted."""
    rows = session.execute(
        select(SettlementDisease.disease, SettlementDisease.tier, Settlement.institution_level,
               func.sum(SettlementDisease.policy_range), func.sum(SettlementDisease.fund_pay))
        .join(Settlement, Settlement.id == SettlementDisease.settlement_id)
        .where(*_counted(start, end, institutions, insurance))
        .group_by(SettlementDisease.disease, SettlementDisease.tier, Settlement.institution_level))
    return {(disease, tier, level): Amounts(policy_range or ZERO, fund or ZERO)
            for disease, tier, level, policy_range, fund in rows}


def drug_costs(session: Session, start: date, end: date, institutions: Sequence[str] | None = None,
               insurance: str | None = None) -> dict[str, Decimal]:
    """disease → 药品费用: the full price of the 两病 drugs bought (over-standard part included), from
    the dispense lines; a refund subtracts its purchase's lines."""
    rows = session.execute(
        select(DispenseLine.disease, Settlement.reverses_id.is_(None), func.sum(DispenseLine.line_total))
        .join(Settlement, Settlement.dispense_id == DispenseLine.dispense_id)
        .where(*_counted(start, end, institutions, insurance), DispenseLine.in_scope)
        .group_by(DispenseLine.disease, Settlement.reverses_id.is_(None)))
    costs: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for disease, is_original, amount in rows:
        costs[disease] += (amount or ZERO) if is_original else -(amount or ZERO)
    return dict(costs)


@dataclass(frozen=True)
class Uptake:
    people: int = 0       # 待遇享受人数
    visits: int = 0       # 待遇享受人次


def uptake(session: Session, start: date, end: date, institutions: Sequence[str] | None = None,
           insurance: str | None = None) -> dict[str, Uptake]:
    """disease → 待遇享受人数 / 人次. A settlement is one 人次 for each disease it bought drugs for; a
    refund is −1 in its month. A patient counts once when their net 人次 in the period is positive."""
    rows = session.execute(
        select(Settlement.patient_id, DispenseLine.disease, Settlement.reverses_id.is_(None),
               func.count(func.distinct(Settlement.id)))
        .join(DispenseLine, DispenseLine.dispense_id == Settlement.dispense_id)
        .where(*_counted(start, end, institutions, insurance), DispenseLine.in_scope)
        .group_by(Settlement.patient_id, DispenseLine.disease, Settlement.reverses_id.is_(None)))
    net: dict[tuple[str, str], int] = defaultdict(int)
    for patient_id, disease, is_original, n in rows:
        net[(patient_id, disease)] += n if is_original else -n
    people: dict[str, int] = defaultdict(int)
    visits: dict[str, int] = defaultdict(int)
    for (_, disease), n in net.items():
        visits[disease] += n
        people[disease] += n > 0
    return {disease: Uptake(people[disease], visits[disease]) for disease in visits}
