"""录入与设置: the figures no record holds (clinic/township/inputs.py) and the township's settings —
each township's upper-level institution for 备药率, and the days of cover below which stock is low.
Reviewers may look; only township staff may change them."""

from __future__ import annotations

from datetime import date
from urllib.parse import quote

from fastapi import APIRouter, Request

from clinic.reports.monthly import INSURED_KEYS
from clinic.reports.scope import parse_month
from clinic.township.area import townships, unit_name, villages
from clinic.township.inputs import (
    AREA_INPUTS,
    VILLAGE_INPUTS,
    inputs_for,
    insured_for,
    kpi_inputs,
    low_stock_days,
    save_inputs,
    save_insured,
    set_low_stock_days,
    set_upper_institution,
    upper_institutions,
)
from clinic.vocab import INSURANCES, check
from sync.server.render import render
from sync.server.township.access import EDITORS, Denied, back, checked_form, notice, staff

router = APIRouter()
PATH = "/township/settings"


def fields_for(unit: str) -> dict[str, tuple[str, str]]:
    """What is entered for a unit: the area's 濉溪 figures, a village's 慢性病 heads, and the KPI items
    this system does not measure (for villages and townships)."""
    if unit == "全域":
        return dict(AREA_INPUTS)
    if unit.startswith("镇:"):
        return {**AREA_INPUTS, **kpi_inputs()}
    return {**VILLAGE_INPUTS, **kpi_inputs()}


@router.get(PATH)
def settings_page(request: Request, year: int | None = None, unit: str = "", month: str = "",
                  insurance: str = "resident", msg: str = "", err: str = ""):
    try:
        user = staff(request)
    except Denied as denied:
        return denied.response
    year = year or date.today().year
    with request.app.state.db.session("settings") as s:
        clinics, names, upper = villages(s), townships(s), upper_institutions(s)
        days = low_stock_days(s)
        units = [("全域", "全域（所有机构）")] + [(f"镇:{n}", f"{n}（乡镇）") for n in names if n] + [
            (v.code, f"{v.name}（{v.code}）") for v in clinics]
        unit = unit or units[0][0]
        try:
            title = unit_name(s, unit)
            first = parse_month(month) if month else date.today().replace(day=1)
            check(INSURANCES, insurance, "险种")
        except ValueError as exc:
            return notice(request, "录入与设置", user=user, error=str(exc), status=404)
        given = inputs_for(s, year, unit)
        insured = insured_for(s, first, unit, insurance)
    return render(request, "settings.html", user=user, message=msg, error=err, path=PATH, year=year, unit=unit,
                  units=units, title=title, editable=user["role"] in EDITORS, given=given,
                  fields=[(key, label) for key, (label, _) in fields_for(unit).items()],
                  towns=[n for n in names if n], upper=upper,
                  clinics=[(v.code, f"{v.name}（{v.code}）") for v in clinics],
                  days=days, month=f"{first:%Y-%m}", insurance=insurance, insurances=INSURANCES.items(),
                  insured=insured, insured_keys=INSURED_KEYS.items())


async def _edit(request: Request, action) -> object:
    try:
        user = staff(request, EDITORS)
        form = await checked_form(request, user, PATH)
    except Denied as denied:
        return denied.response
    try:
        with request.app.state.db.session(user["user"], write=True) as s:
            where, message = action(s, form)
    except ValueError as exc:
        return back(PATH, error=str(exc))
    return back(where, message)


@router.post(PATH + "/inputs")
async def save_unit_inputs(request: Request):
    def action(s, form):
        year, unit = int(str(form.get("year", "0")) or 0), str(form.get("unit", ""))
        unit_name(s, unit)
        wanted = fields_for(unit)
        save_inputs(s, year, unit, {key: form.get(key, "") for key in wanted})
        return f"{PATH}?year={year}&unit={quote(unit)}", "已保存"
    return await _edit(request, action)


@router.post(PATH + "/upper")
async def save_upper(request: Request):
    def action(s, form):
        township, code = str(form.get("township", "")), str(form.get("code", "")).strip()
        if township not in townships(s):
            raise ValueError(f"没有乡镇“{township}”")
        if code and code not in {v.code for v in villages(s)}:
            raise ValueError(f"没有机构 {code}")
        set_upper_institution(s, township, code or None)
        return PATH, f"{township} 的上级医疗机构已{'设为 ' + code if code else '清除'}"
    return await _edit(request, action)


@router.post(PATH + "/low-stock")
async def save_low_stock(request: Request):
    def action(s, form):
        set_low_stock_days(s, form.get("days", ""))
        return PATH, "库存预警天数已保存"
    return await _edit(request, action)


@router.post(PATH + "/insured")
async def save_area_insured(request: Request):
    def action(s, form):
        unit, month, insurance = str(form.get("unit", "")), parse_month(str(form.get("month", ""))), \
            check(INSURANCES, str(form.get("insurance", "")), "险种")
        unit_name(s, unit)
        save_insured(s, month, unit, insurance, {key: form.get(key, "") for key in INSURED_KEYS})
        return f"{PATH}?unit={quote(unit)}&month={month:%Y-%m}&insurance={insurance}", "参保人数已保存"
    return await _edit(request, action)
