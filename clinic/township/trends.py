"""Each village's last twelve months, for the township dashboard's charts (issue 13 item 7).

Per village and month, taken at the month's end (or on the dashboard's date, for its own month):
- 在管患者: patients with a 两病 case that day (clinic/reports/cases.py), as the dashboard's table counts;
- 血压 / 血糖控制率: the KPI table's rule (clinic/reports/kpi.py `measure`, with its follow-up facts)
  over the twelve months ending that day — cases whose latest reading was controlled / cases of the
  disease — for every insurance and without leaving out new cases (the dashboard shows the whole
  caseload, the KPI table the assessed one). Computed once a month for all villages and split by
  village, so the page costs twelve passes however many villages there are;
- 基金支付 against 预算: the 濉溪 capitation account's figures (clinic/township/year_end.py): the
  village's 门诊结算总额 for the year from the heads seen so far (needs the village's 常见慢性病 heads,
  entered by township staff: None, shown 待录入, until they are), and the 两病 fund payments of the
  pilot population settled at the village in the year so far (clinic/township/pilot.py).
No capitation programme in force (or more than one to choose from) leaves the budget side empty, with
the reason, and never a zero.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from clinic.money import ZERO
from clinic.reports.cases import Case, cases_on
from clinic.reports.kpi import _follow_up_facts, assessment_start
from clinic.reports.scope import Scope, month_end
from clinic.township.area import Village
from clinic.township.inputs import inputs_for
from clinic.township.pilot import VillageHeads, count_pilot
from clinic.township.rules import CapitationRules, RulesError, capitation_programme
from clinic.township.year_end import VillageAccount

MONTHS = 12


@dataclass(frozen=True)
class Rate:
    controlled: int
    cases: int

    @property
    def ratio(self) -> Decimal | None:
        return Decimal(self.controlled) / Decimal(self.cases) if self.cases else None


@dataclass(frozen=True)
class MonthFigures:
    month: date                   # the first of the month
    on: date                      # the day the figures are taken
    managed: int
    blood_pressure: Rate
    blood_sugar: Rate
    fund_paid: Decimal | None     # year to date; None when no programme applies
    budget: Decimal | None        # 门诊结算总额 of the year; None: 待录入 (or no programme)


@dataclass
class VillageTrend:
    village: Village
    months: list[MonthFigures] = field(default_factory=list)

    @property
    def latest(self) -> MonthFigures:
        return self.months[-1]


@dataclass
class Trends:
    months: list[date]
    villages: list[VillageTrend]
    programme: str | None         # the capitation programme's name, or None
    budget_problem: str | None    # why there is no budget side


def last_months(on: date, count: int = MONTHS) -> list[date]:
    """The first days of the `count` months ending with `on`'s month, oldest first."""
    index = on.year * 12 + on.month - 1
    return [date((i // 12), i % 12 + 1, 1) for i in range(index - count + 1, index + 1)]


def _rules(on: date) -> tuple[CapitationRules | None, str | None]:
    try:
        return capitation_programme(None, on), None
    except RulesError as exc:
        return None, str(exc)


def village_trends(session: Session, on: date, chosen: list[Village], count: int = MONTHS) -> Trends:
    months = last_months(on, count)
    rules, problem = _rules(on)
    found = Trends(months, [VillageTrend(v) for v in chosen], rules.name if rules else None, problem)
    if not chosen:
        return found
    codes = [v.code for v in chosen]
    entered: dict[tuple[int, str], dict] = {}
    for first in months:
        day = min(month_end(first), on)
        money: dict[str, tuple[Decimal | None, Decimal | None]] = {}
        if rules is not None and rules.effective_from <= day:
            pilot = count_pilot(session, date(day.year, 1, 1), day, Scope.of(codes), rules.insurance)
            for v in chosen:
                if (day.year, v.code) not in entered:
                    entered[(day.year, v.code)] = inputs_for(session, day.year, v.code)
                given = entered[(day.year, v.code)]
                account = VillageAccount(v, pilot.heads.get(v.code, VillageHeads()), given.get("chronic_signed"),
                                         given.get("chronic_unsigned"))
                money[v.code] = (pilot.spend_by_village.get(v.code, ZERO), account.budget(rules))
        cases = cases_on(session, day, Scope.of(codes))
        _, _, bp_ok, sugar_ok = _follow_up_facts(session, assessment_start(day), day, Scope.of(codes),
                                                 {c.patient_id for c in cases})
        by_village: dict[str, list[Case]] = defaultdict(list)
        for one in cases:
            by_village[one.institution_code].append(one)
        for trend in found.villages:
            code = trend.village.code
            mine = by_village[code]
            htn = [c for c in mine if c.disease == "hypertension"]
            dm = [c for c in mine if c.disease == "diabetes"]
            paid, budget = money.get(code, (None, None))
            trend.months.append(MonthFigures(
                first, day, managed=len({c.patient_id for c in mine}),
                blood_pressure=Rate(sum(c.patient_id in bp_ok for c in htn), len(htn)),
                blood_sugar=Rate(sum(c.patient_id in sugar_ok for c in dm), len(dm)), fund_paid=paid, budget=budget))
    return found
