"""Who the 濉溪 pilot counts, from the records the villages sent (seeds/004 二(二), 附件1 二(一)1).

- 试点人群: 城乡居民 “两病”人员, 不包括当年新增 — a person with a 两病 case on 31 December of the year
  before (clinic/reports/cases.py), whether or not still a case now (cured in the year still counts:
  the year's budget was for them).
- Heads of the budget are 实际“两病”门诊就诊人数: pilot persons with a 两病 dispense in the year up to
  the period's end (a refunded purchase is not a visit; a refused 拒付 one still is: the person came).
- A person is one head, matched by ID number across clinics, counted at the village that served
  them last in the period (their latest 两病 dispense): village heads add up to the area's.
- 签约: any of their registrations in the area carries 家庭医生签约.
- 两病门诊基金支出 in this system: the fund payments of the pilot persons' settlements in the period,
  refunds netted and 拒付 left out (clinic/reports/claims.py `counted`, the reports' own rule).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clinic.db.models import Dispense, DispenseLine, Patient, Settlement, SettlementDisease
from clinic.money import ZERO
from clinic.reports.cases import cases_on
from clinic.reports.claims import counted
from clinic.reports.scope import Scope


@dataclass(frozen=True)
class VillageHeads:
    signed: int = 0
    unsigned: int = 0

    @property
    def total(self) -> int:
        return self.signed + self.unsigned


@dataclass(frozen=True)
class PilotCount:
    heads: dict[str, VillageHeads]        # village code → heads seen in the period
    fund_spend: Decimal                   # 两病 fund payments of those persons, this system
    pilot_people: int                     # 试点人群 (seen or not)
    new_this_year: int                    # 两病人员 left out as 当年新增
    spend_by_village: dict[str, Decimal] = field(default_factory=dict)   # fund_spend by settling clinic


def _people(session: Session, patient_ids: set[str]) -> dict[str, str]:
    ids, found = sorted(patient_ids), {}
    for start in range(0, len(ids), 500):
        found.update(session.execute(select(Patient.id, Patient.id_number)
                                     .where(Patient.id.in_(ids[start:start + 500]))).all())
    return found


def count_pilot(session: Session, year_start: date, end: date, scope: Scope, insurance: str = "resident") -> PilotCount:
    before = cases_on(session, year_start - timedelta(days=1), scope, insurance)
    now = cases_on(session, end, scope, insurance)
    numbers = _people(session, {c.patient_id for c in before + now})
    pilot = {numbers[c.patient_id] for c in before}
    new = {numbers[c.patient_id] for c in now} - pilot
    signed = {numbers[c.patient_id] for c in before + now if c.signed}

    refunded = select(Settlement.dispense_id).where(Settlement.reverses_id.is_not(None))
    visits = session.execute(scope.restrict(
        select(Patient.id_number, Dispense.institution_code, func.max(Dispense.dispensed_on))
        .join(Patient, Patient.id == Dispense.patient_id)
        .join(DispenseLine, DispenseLine.dispense_id == Dispense.id)
        .where(Dispense.deleted_at.is_(None), Dispense.dispensed_on >= year_start, Dispense.dispensed_on <= end,
               DispenseLine.in_scope, Dispense.id.not_in(refunded))
        .group_by(Patient.id_number, Dispense.institution_code), Dispense.institution_code)).all()
    last_seen: dict[str, tuple[date, str]] = {}
    for number, code, day in visits:
        if number in pilot and (number not in last_seen or (day, code) > last_seen[number]):
            last_seen[number] = (day, code)
    signed_heads, unsigned_heads = Counter(), Counter()
    for number, (_, code) in last_seen.items():
        (signed_heads if number in signed else unsigned_heads)[code] += 1
    heads = {code: VillageHeads(signed_heads[code], unsigned_heads[code])
             for code in sorted(set(signed_heads) | set(unsigned_heads))}

    spend, by_village = ZERO, {}
    for number, code, paid in session.execute(
            select(Patient.id_number, Settlement.institution_code, func.sum(SettlementDisease.fund_pay))
            .join(Settlement, Settlement.id == SettlementDisease.settlement_id)
            .join(Patient, Patient.id == Settlement.patient_id)
            .where(*counted(year_start, end, scope, insurance))
            .group_by(Patient.id_number, Settlement.institution_code)):
        if number in pilot:
            spend += paid or ZERO
            by_village[code] = by_village.get(code, ZERO) + (paid or ZERO)
    return PilotCount(heads, spend, len(pilot), len(new), by_village)
