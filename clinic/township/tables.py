"""Every township report as report tables, for the server's pages and `liangbing-server report` alike.

The monthly forms (附件4–7, 调度表, 附件2) are the clinic's own report code (clinic/reports) run over the
villages' codes, so a township figure is the sum of the villages' own reports. The 濉溪 capitation
account, the KPI summary and the 云南 exchange lists are built here. Inputs entered by township staff
(clinic/township/inputs.py) are read for the year, month and unit they were entered for.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from clinic.reports.dispatch import dispatch_table
from clinic.reports.kpi import KpiResult, assess, kpi_table
from clinic.reports.monthly import monthly_table
from clinic.reports.scope import Scope, is_demo, month_end, month_label, reporting_unit
from clinic.reports.table import ReportTable
from clinic.reports.units import units_table
from clinic.township.area import Village, villages
from clinic.township.capitation_tables import split_table, surplus_table
from clinic.township.exchange import managed_changes, unmarked
from clinic.township.inputs import ALL, inputs_for, insured_for, kpi_inputs, township_unit
from clinic.township.list_tables import kpi_summary_table, list_table
from clinic.township.rules import capitation_programme
from clinic.township.year_end import year_end
from clinic.vocab import INSURANCES

KINDS = {
    "monthly": "月报表（附件4–6）",
    "units": "“两病”情况统计表（附件7）",
    "dispatch": "“两病”门诊用药保障情况调度表",
    "kpi": "定额支付考核表（附件2）",
    "capitation": "按人头包干结余计算与分配",
    "exchange": "每月数据交换名单（新增、减少、疑似未标识）",
}
VARIANTS = {"national": "全国 / 云南", "shanxi": "山西"}


@dataclass(frozen=True)
class Request:
    kind: str
    month: date
    township: str | None = None          # one township's villages; None: every clinic on the server
    institution: str | None = None       # one clinic
    insurance: str | None = None         # monthly: one 险种 (None: all three); dispatch: None counts 城乡居民
    variant: str = "national"            # dispatch: national | shanxi
    programme: str | None = None         # capitation rules id or file; None: the only one in force
    prepared_on: date | None = None


def chosen_villages(session: Session, req: Request) -> list[Village]:
    found = villages(session, req.township)
    if req.institution is not None:
        found = [v for v in found if v.code == req.institution]
        if not found:
            raise ValueError(f"没有机构编码 {req.institution}" + (f"（乡镇“{req.township}”）" if req.township else ""))
    if not found:
        raise ValueError("服务器上还没有登记任何村卫生室（liangbing-server add-clinic）")
    return found


def area_unit(chosen: list[Village], req: Request) -> tuple[str, str]:
    """Where area inputs are kept, and its name: one township's, or the whole area's."""
    names = {v.township for v in chosen if v.township}
    if req.township or len(names) == 1:
        name = req.township or names.pop()
        return township_unit(name), name
    return ALL, "全域"


def _kpi_inputs(session: Session, year: int, unit: str) -> dict[str, object]:
    wanted = kpi_inputs()
    return {key: value for key, value in inputs_for(session, year, unit).items() if key in wanted}


def _assess(session: Session, month: date, codes: list[str], unit: str) -> KpiResult:
    return assess(session, month, Scope.of(codes), inputs=_kpi_inputs(session, month.year, unit))


def build_tables(session: Session, req: Request) -> list[ReportTable]:
    if req.kind not in KINDS:
        raise ValueError(f"报表种类无效：{req.kind!r}（可选：{' / '.join(KINDS)}）")
    if req.variant not in VARIANTS:
        raise ValueError(f"调度表样式无效：{req.variant!r}（可选：{' / '.join(VARIANTS)}）")
    if req.insurance is not None and req.insurance not in INSURANCES:
        raise ValueError(f"险种无效：{req.insurance!r}（可选：{' / '.join(INSURANCES)}）")
    chosen = chosen_villages(session, req)
    codes = [v.code for v in chosen]
    month, made = req.month.replace(day=1), req.prepared_on or date.today()
    unit_key, unit_name = area_unit(chosen, req)
    if req.institution:
        unit_key = req.institution
    if req.kind == "monthly":
        return [monthly_table(session, month, insurance, codes, prepared_on=made,
                              insured=insured_for(session, month, unit_key, insurance))
                for insurance in ([req.insurance] if req.insurance else list(INSURANCES))]
    if req.kind == "units":
        return [units_table(session, month, codes, prepared_on=made)]
    if req.kind == "dispatch":
        return [dispatch_table(session, month, codes, variant=req.variant, insurance=req.insurance or "resident",
                               prepared_on=made)]
    if req.kind == "kpi":
        return _kpi(session, req, chosen, unit_key, made)
    if req.kind == "capitation":
        return _capitation(session, req, chosen, unit_key, unit_name, made)
    return _exchange(session, req, chosen, made)


def _kpi(session: Session, req: Request, chosen: list[Village], unit_key: str, made: date) -> list[ReportTable]:
    month, codes = req.month.replace(day=1), [v.code for v in chosen]
    area = kpi_table(session, month, codes, inputs=_kpi_inputs(session, month.year, unit_key), prepared_on=made)
    if req.institution:
        return [area]
    results = [("村卫生室", v.name, _assess(session, month, [v.code], v.code)) for v in chosen]
    for township in sorted({v.township for v in chosen if v.township}):
        members = [v.code for v in chosen if v.township == township]
        results.append(("乡镇", township, _assess(session, month, members, township_unit(township))))
    summary = kpi_summary_table(results, period=month_label(month), unit=reporting_unit(session, Scope.of(codes)),
                                demo=is_demo(session), prepared_on=made)
    return [area, summary]


def scores(session: Session, month: date, chosen: list[Village]) -> tuple[dict[str, Decimal | None], dict[str, str]]:
    """考核实际得分比 of each village and township (None until every input is entered)."""
    found: dict[str, Decimal | None] = {v.code: _assess(session, month, [v.code], v.code).share for v in chosen}
    township_of = {}
    for township in sorted({v.township for v in chosen if v.township}):
        unit = township_unit(township)
        members = [v.code for v in chosen if v.township == township]
        found[unit], township_of[township] = _assess(session, month, members, unit).share, unit
    return found, township_of


def _capitation(session: Session, req: Request, chosen: list[Village], unit_key: str, unit_name: str,
                made: date) -> list[ReportTable]:
    month = req.month.replace(day=1)
    rules = capitation_programme(req.programme, month_end(month))
    scored, township_of = scores(session, month, chosen)
    result = year_end(session, rules, month, chosen, area_unit=unit_key, area_name=unit_name, scores=scored,
                      township_of=township_of)
    unit, demo = reporting_unit(session, Scope.of([v.code for v in chosen])), is_demo(session)
    return [surplus_table(result, unit=unit, demo=demo, prepared_on=made),
            split_table(result, unit=unit, demo=demo, prepared_on=made)]


def _exchange(session: Session, req: Request, chosen: list[Village], made: date) -> list[ReportTable]:
    month = req.month.replace(day=1)
    scope = Scope.of([v.code for v in chosen])
    added, removed = managed_changes(session, month, scope)
    names = {v.code: v.name for v in chosen}
    common = {"period": month_label(month), "unit": reporting_unit(session, scope), "demo": is_demo(session),
              "prepared_on": made}
    return [list_table("added", added, names, **common), list_table("removed", removed, names, **common),
            list_table("unmarked", unmarked(session, month, scope), names, **common)]
