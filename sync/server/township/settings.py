"""录入与设置: the figures no record holds (clinic/township/inputs.py) and the township's settings —
each township's upper-level institution for 备药率, and the days of cover below which stock is low.
Reviewers may look; only township staff may change them."""

from __future__ import annotations

from datetime import date
from html import escape
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
from sync.server.township.access import EDITORS, Denied, back, checked_form, page, staff

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


def _hidden(user: dict) -> str:
    return f"<input type='hidden' name='csrf' value='{user['csrf']}'>"


def _insured_section(user: dict, unit: str, month: str, insurance: str, given: dict[str, str], off: str) -> str:
    months = "".join(f"<option value='{k}'{' selected' if k == insurance else ''}>{v}</option>"
                     for k, v in INSURANCES.items())
    rows = "".join(f"<tr><td>{escape(label)}</td><td><input name='{key}' value='{escape(given.get(key, ''))}'{off}>"
                   f"</td></tr>" for key, label in INSURED_KEYS.items())
    return (f"<h2>参保人数（月报表 附件4–6）</h2><p>本辖区本险种患该病种的参保人数，本系统没有，按月录入；"
            f"未录入的月报表显示“待录入”。单位：{escape(unit)}。</p>"
            f"<form method='get'><input type='hidden' name='unit' value='{escape(unit)}'>"
            f"<label>月份 <input name='month' type='month' value='{month}'></label> <label>险种 <select "
            f"name='insurance'>{months}</select></label> <button>切换</button></form>"
            f"<form method='post' action='{PATH}/insured'>{_hidden(user)}<input type='hidden' name='unit' "
            f"value='{escape(unit)}'><input type='hidden' name='month' value='{month}'><input type='hidden' "
            f"name='insurance' value='{insurance}'><table>{rows}</table>"
            + ("<button>保存</button>" if not off else "") + "</form>")


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
            return page("录入与设置", "", user, error=str(exc), status=404)
        given = inputs_for(s, year, unit)
        insured = insured_for(s, first, unit, insurance)
    editable = user["role"] in EDITORS
    off = "" if editable else " disabled"
    picks = "".join(f"<option value='{escape(k)}'{' selected' if k == unit else ''}>{escape(v)}</option>"
                    for k, v in units)
    rows = "".join(
        f"<tr><td>{escape(label)}</td><td><input name='{key}' value='{escape(str(given.get(key, '')))}'{off}>"
        f"</td><td>{'' if key in given else '待录入'}</td></tr>" for key, (label, _) in fields_for(unit).items())
    body = (f"<form method='get'><label>年度 <input name='year' type='number' value='{year}'></label> "
            f"<label>单位 <select name='unit'>{picks}</select></label> <button>切换</button></form>"
            f"<h2>{year} 年 {escape(title)} 的录入项</h2><p>本系统没有的数据，按单位和年度录入；留空即为待录入"
            "（报表不会用 0 代替）。比率写成 0.92 或 92%。</p>"
            f"<form method='post' action='{PATH}/inputs'>{_hidden(user)}<input type='hidden' name='year' "
            f"value='{year}'><input type='hidden' name='unit' value='{escape(unit)}'><table><tr><th>项目</th>"
            f"<th>值</th><th></th></tr>{rows}</table>" + ("<button>保存</button>" if editable else "") + "</form>")
    choose = "".join(f"<option value='{escape(v.code)}'>{escape(v.name)}（{escape(v.code)}）</option>" for v in clinics)
    uppers = "".join(
        f"<tr><td>{escape(n)}</td><td>{escape(upper.get(n, '未设置'))}</td><td><form method='post' "
        f"action='{PATH}/upper'>{_hidden(user)}<input type='hidden' name='township' value='{escape(n)}'>"
        f"<select name='code'{off}><option value=''>（不设置）</option>{choose}</select>"
        + ("<button>保存</button>" if editable else "") + "</form></td></tr>" for n in names if n)
    body += ("<h2>上级医疗机构（备药率的比较对象）</h2><table><tr><th>乡镇</th><th>上级医疗机构</th><th>修改</th></tr>"
             f"{uppers}</table><p>上级医疗机构须作为机构登记在本服务器并同步库存。</p>"
             "<h2>库存预警天数</h2><p>在库量按近 90 天日均用量可用天数少于此数即提示低库存；"
             "文件未规定，由管理员填写。</p>"
             f"<form method='post' action='{PATH}/low-stock'>{_hidden(user)}<input name='days' "
             f"value='{'' if days is None else days}'{off}>" + ("<button>保存</button>" if editable else "")
             + "</form>")
    body += _insured_section(user, unit, f"{first:%Y-%m}", insurance, insured, off)
    return page("录入与设置", body, user, msg, err)


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
