"""The dashboard's twelve-month figures (clinic/township/trends.py) follow the rules the reports use:
for every village and month, the control rates and patients under management equal the KPI table's
own measure (clinic/reports/kpi.py) run on that village alone, and the fund paid adds up to the
capitation account's 两病 fund spend of the area (clinic/township/pilot.py)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from clinic.reports.assessment import load_assessment
from clinic.reports.kpi import assessment_start, measure
from clinic.reports.scope import Scope
from clinic.township.area import villages
from clinic.township.pilot import count_pilot
from clinic.township.rules import capitation_programme
from clinic.township.trends import last_months, village_trends
from tests.township.builders import YEAR

ON = date(YEAR, 3, 31)


def test_dashboard_control_rates_and_caseload_are_the_kpi_measure_per_village(township):
    whole = replace(load_assessment(), insurance=None, exclude_new_cases=False)   # every case, as the dashboard
    with township.server.db.session() as s:
        chosen = villages(s)
        trends = village_trends(s, ON, chosen)
        assert trends.months == last_months(ON) and len(trends.months) == 12
        assert trends.months[0] == date(YEAR - 1, 4, 1) and trends.months[-1] == date(YEAR, 3, 1)
        for trend in trends.villages:
            assert [m.month for m in trend.months] == trends.months
            for m in trend.months:
                kpi = measure(s, assessment_start(m.on), m.on, Scope.of([trend.village.code]), whole, 1)
                assert (m.managed, (m.blood_pressure.controlled, m.blood_pressure.cases),
                        (m.blood_sugar.controlled, m.blood_sugar.cases)) == (
                    kpi["signing"][1], kpi["htn_controlled"][:2], kpi["dm_controlled"][:2]), (trend.village.name, m)
        assert sum(m.managed for t in trends.villages for m in t.months) > 0          # not vacuously equal

        rules = capitation_programme(None, ON)
        area = count_pilot(s, date(YEAR, 1, 1), ON, Scope.of([v.code for v in chosen]), rules.insurance)
        assert sum(t.latest.fund_paid for t in trends.villages) == area.fund_spend > 0
        january_before = [t.months[trends.months.index(date(YEAR, 1, 1)) - 1] for t in trends.villages]
        assert all(m.fund_paid == 0 for m in january_before)      # December YEAR-1: nothing settled then


def test_last_months_cross_the_year_boundary():
    assert last_months(date(2026, 2, 15), 3) == [date(2025, 12, 1), date(2026, 1, 1), date(2026, 2, 1)]
    assert last_months(date(2026, 12, 31), 12)[0] == date(2026, 1, 1)
