"""Sums over settlements (结算) for the money and 待遇享受 columns of the reports.

- A settlement counts in the period its `settled_on` falls in. A refund (退费) is its own settlement
  with negated amounts and `reverses_id` set (clinic/settlement/service.py), so it nets out in the
  month the refund happens; an earlier month's report does not change when a later refund comes.
- A settlement the 医保 reviewer refused (state "rejected", 拒付) is left out, with any refund of it:
  the fund did not pay it. "adjusted" settlements count with the amounts recorded.
- Money is summed in SQL over integer fen (clinic/db/types.Money), so totals are exact Decimals.
- The clinic filter is on the settlement's own institution_code; insurance on the settlement's
  insurance (the patient's 险种 when it was settled); the level on the settling institution's level
  recorded with it (一级及以下 1 / 二级 2 / 三级 3 / 定点零售药店 pharmacy).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session, aliased

from clinic.db.models import DispenseLine, Settlement, SettlementDisease
from clinic.money import ZERO
from clinic.reports.scope import Scope

PHARMACY = "pharmacy"


def counted(start: date, end: date, scope: Scope, insurance: str | None) -> list:
    """The WHERE conditions for the settlements a report period counts."""
    original = aliased(Settlement)
    refused = select(original.id).where(original.state == "rejected")
    conditions = [Settlement.deleted_at.is_(None), Settlement.settled_on >= start, Settlement.settled_on <= end,
                  Settlement.state != "rejected",
                  Settlement.reverses_id.is_(None) | Settlement.reverses_id.not_in(refused)]
    if scope.institutions is not None:
        conditions.append(Settlement.institution_code.in_(scope.institutions))
    if insurance is not None:
        conditions.append(Settlement.insurance == insurance)
    return conditions


@dataclass(frozen=True)
class Amounts:
    cost: Decimal = ZERO              # 医疗费 / 药品费用: full price of the 两病 drugs bought
    policy_range: Decimal = ZERO      # 政策范围内费用
    fund_pay: Decimal = ZERO          # 基金支付 (报销额)

    def __add__(self, other: Amounts) -> Amounts:
        return Amounts(self.cost + other.cost, self.policy_range + other.policy_range,
                       self.fund_pay + other.fund_pay)


def claim_amounts(session: Session, start: date, end: date, scope: Scope,
                  insurance: str | None = None) -> dict[tuple[str, str, str], Amounts]:
    """(disease, tier, institution level) → cost, policy-range cost and fund payment, refunds netted.

    The cost is the dispense lines' full price (over-standard part included) of the disease's drugs
    the settlement covered (it has a SettlementDisease for the disease); a refund subtracts its
    purchase's lines. Drugs outside the 两病 scope are not this scheme's cost (seeds/000 二(一)5)."""
    where = counted(start, end, scope, insurance)
    found: dict[tuple[str, str, str], Amounts] = defaultdict(Amounts)
    paid = session.execute(
        select(SettlementDisease.disease, SettlementDisease.tier, Settlement.institution_level,
               func.sum(SettlementDisease.policy_range), func.sum(SettlementDisease.fund_pay))
        .join(Settlement, Settlement.id == SettlementDisease.settlement_id).where(*where)
        .group_by(SettlementDisease.disease, SettlementDisease.tier, Settlement.institution_level))
    for disease, tier, level, policy_range, fund in paid:
        found[(disease, tier, level)] += Amounts(ZERO, policy_range or ZERO, fund or ZERO)
    signed_total = case((Settlement.reverses_id.is_(None), DispenseLine.line_total), else_=-DispenseLine.line_total)
    bought = session.execute(
        select(SettlementDisease.disease, SettlementDisease.tier, Settlement.institution_level,
               func.sum(signed_total))
        .join(Settlement, Settlement.id == SettlementDisease.settlement_id)
        .join(DispenseLine, and_(DispenseLine.dispense_id == Settlement.dispense_id,
                                 DispenseLine.disease == SettlementDisease.disease, DispenseLine.in_scope))
        .where(*where)
        .group_by(SettlementDisease.disease, SettlementDisease.tier, Settlement.institution_level))
    for disease, tier, level, cost in bought:
        found[(disease, tier, level)] += Amounts(cost or ZERO)
    return dict(found)


@dataclass(frozen=True)
class Uptake:
    people: int = 0       # 待遇享受人数
    visits: int = 0       # 待遇享受人次


def uptake(session: Session, start: date, end: date, scope: Scope, insurance: str | None = None) -> dict[str, Uptake]:
    """disease → 待遇享受人数 / 人次. A settlement is one 人次 for each disease it paid under; a refund
    is −1 in its month. A patient counts once when their net 人次 in the period is positive."""
    rows = session.execute(
        select(Settlement.patient_id, SettlementDisease.disease, Settlement.reverses_id.is_(None), func.count())
        .join(Settlement, Settlement.id == SettlementDisease.settlement_id)
        .where(*counted(start, end, scope, insurance))
        .group_by(Settlement.patient_id, SettlementDisease.disease, Settlement.reverses_id.is_(None)))
    net: dict[tuple[str, str], int] = defaultdict(int)
    for patient_id, disease, is_original, n in rows:
        net[(patient_id, disease)] += n if is_original else -n
    people: dict[str, int] = defaultdict(int)
    visits: dict[str, int] = defaultdict(int)
    for (_, disease), n in net.items():
        visits[disease] += n
        people[disease] += n > 0
    return {disease: Uptake(people[disease], visits[disease]) for disease in visits}
