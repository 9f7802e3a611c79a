"""The 濉溪 capitation account of an area for a year to date (the December report is the year-end
清算): heads from the records (clinic/township/pilot.py), the figures only the township can enter
(clinic/township/inputs.py), the arithmetic (clinic/township/capitation.py) and the scores (given by
the caller from the KPI table). Anything not entered leaves what depends on it `None` and is listed
in `missing`, never filled with a guess."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from clinic.money import ZERO
from clinic.reports.scope import Scope, month_end
from clinic.township.area import Village
from clinic.township.capitation import (
    Allocation,
    Claimant,
    Surplus,
    group_budget,
    inpatient_budget,
    per_head_surplus,
    split_surplus,
)
from clinic.township.inputs import AREA_INPUTS, VILLAGE_INPUTS, inputs_for
from clinic.township.pilot import PilotCount, VillageHeads, count_pilot
from clinic.township.rules import CapitationRules


@dataclass
class VillageAccount:
    village: Village
    heads: VillageHeads
    chronic_signed: int | None
    chronic_unsigned: int | None

    @property
    def pilot_heads(self) -> int | None:
        if self.chronic_signed is None or self.chronic_unsigned is None:
            return None
        return self.heads.total + self.chronic_signed + self.chronic_unsigned

    def budget(self, rules: CapitationRules) -> Decimal | None:
        if self.pilot_heads is None:
            return None
        return (group_budget(rules.two_diseases, self.heads.signed, self.heads.unsigned)
                + group_budget(rules.chronic, self.chronic_signed or 0, self.chronic_unsigned or 0))


@dataclass
class YearEnd:
    rules: CapitationRules
    start: date
    end: date
    area_unit: str                          # where the area inputs are kept (全域 or 镇:<name>)
    area_name: str
    accounts: list[VillageAccount]
    pilot: PilotCount
    area: dict[str, Decimal | int]          # the area inputs entered
    scores: dict[str, Decimal | None]       # unit → 考核实际得分比
    surplus: Surplus | None = None
    allocations: list[Allocation] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)

    @property
    def area_heads(self) -> int | None:
        heads = [a.pilot_heads for a in self.accounts]
        return None if any(h is None for h in heads) else sum(heads)   # type: ignore[misc]

    @property
    def per_head(self) -> Decimal | None:
        if self.surplus is None or not self.area_heads or self.surplus.total <= 0:
            return None
        return per_head_surplus(self.surplus.total, self.area_heads)


def year_end(session: Session, rules: CapitationRules, month: date, accounts_of: list[Village], *,
             area_unit: str, area_name: str, scores: Mapping[str, Decimal | None],
             township_of: Mapping[str, str] | None = None) -> YearEnd:
    """`scores`: unit (village code, `镇:<name>`, or "county") → 得分比; `township_of`: township name →
    its unit key in `scores` (each township that has villages in the area is a claimant)."""
    start, end = date(month.year, 1, 1), month_end(month)
    codes = [v.code for v in accounts_of]
    pilot = count_pilot(session, start, end, Scope.of(codes), rules.insurance)
    accounts, missing = [], []
    for v in accounts_of:
        given = inputs_for(session, month.year, v.code)
        accounts.append(VillageAccount(v, pilot.heads.get(v.code, VillageHeads()), given.get("chronic_signed"),
                                       given.get("chronic_unsigned")))
        missing += [f"{v.name}：{VILLAGE_INPUTS[k][0]}" for k in VILLAGE_INPUTS if k not in given]
    area = inputs_for(session, month.year, area_unit)
    missing += [f"{area_name}：{label}" for key, (label, _) in AREA_INPUTS.items()
                if key not in area and key != "county_score"]
    scored = dict(scores)
    if "county_score" in area:          # the county hospital is assessed outside this system: entered
        scored.setdefault("county", area["county_score"])
    result = YearEnd(rules, start, end, area_unit, area_name, accounts, pilot, area, scored, missing=missing)
    budgets = [a.budget(rules) for a in accounts]
    needed = ("outpatient_other_spend", "signing_fund_paid", "outpatient_penalties", "inpatient_heads",
              "inpatient_spend", "inpatient_penalties")
    if all(b is not None for b in budgets) and all(k in area for k in needed):
        result.surplus = Surplus(
            outpatient_budget=sum(budgets, ZERO), outpatient_spend=pilot.fund_spend + area["outpatient_other_spend"],
            signing_fund_paid=area["signing_fund_paid"], outpatient_penalties=area["outpatient_penalties"],
            inpatient_budget=inpatient_budget(rules, int(area["inpatient_heads"])),
            inpatient_spend=area["inpatient_spend"], inpatient_penalties=area["inpatient_penalties"])
    if result.surplus is None or result.surplus.total <= 0 or not result.area_heads:
        return result
    claimants, unscored = _claimants(result, township_of or {})
    result.missing += unscored
    result.allocations = split_surplus(rules, result.surplus.total, result.area_heads, claimants)
    return result


def _claimants(result: YearEnd, township_of: Mapping[str, str]) -> tuple[list[Claimant], list[str]]:
    claimants, unscored = [], []

    def add(level: str, unit: str, name: str, heads: int) -> None:
        score = result.scores.get(unit)
        if score is None:
            unscored.append(f"{name}：考核得分（待录入项未齐）")
        else:
            claimants.append(Claimant(level, unit, name, heads, score))

    for a in result.accounts:
        add("village", a.village.code, a.village.name, a.pilot_heads or 0)
    for township, unit in sorted(township_of.items()):
        heads = sum(a.pilot_heads or 0 for a in result.accounts if a.village.township == township)
        add("township", unit, f"{township}卫生院", heads)
    add("county", "county", "县级牵头医院", result.area_heads or 0)
    return claimants, unscored
