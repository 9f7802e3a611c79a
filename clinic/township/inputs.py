"""Figures township staff enter because no record in this system holds them, kept on the server as
Setting rows so the pages and the command line use the same values.

- Per assessment year and unit (a village clinic's code, a township `镇:<name>`, or the whole area
  `全域`): the 濉溪 inputs (seeds/004 附件1 二) — 常见慢性病 heads, inpatient heads and spend, other
  outpatient fund spend, 签约基金支付费用, 违规扣款, the county hospital's score — and the KPI table's
  indicators this system does not measure (the assessment file, clinic/reports/assessment.py).
- Operational settings: each township's upper-level institution (备药率 reference) and the days of
  cover below which a village's stock of a 两病 drug is shown as low. No document gives that number,
  so it is empty until an administrator sets it (DESIGN.md: never invent a figure).
A value not entered is absent, never zero: reports show 待录入 for what depends on it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from clinic.db.models import Setting
from clinic.money import cents, to_decimal
from clinic.reports.assessment import load_assessment
from clinic.reports.inputs import count_input, rate_input

ALL = "全域"
COUNT, MONEY, RATE = "count", "money", "rate"

# 濉溪 inputs for the whole area (or one township when a report is restricted to it).
AREA_INPUTS = {
    "inpatient_heads": ("常见慢性病核定住院人数", COUNT),
    "inpatient_spend": ("试点人群住院实际基金支出（元）", MONEY),
    "inpatient_penalties": ("住院违规扣款（元）", MONEY),
    "outpatient_other_spend": ("试点人群其他门诊基金支出（元）：门诊统筹、常见慢性病门诊、大额门诊，"
                               "及本系统以外机构的“两病”门诊", MONEY),
    "signing_fund_paid": ("签约基金支付费用（元）", MONEY),
    "outpatient_penalties": ("门诊违规扣款（元）", MONEY),
    "county_score": ("县级牵头医院考核实际得分比（0–1）", RATE),
}
# Per village clinic: the 常见慢性病 heads this system does not record.
VILLAGE_INPUTS = {
    "chronic_signed": ("常见慢性病签约人员门诊实际就诊人数", COUNT),
    "chronic_unsigned": ("常见慢性病未签约人员门诊实际就诊人数", COUNT),
}
UPPER_PREFIX = "township.upper."
LOW_STOCK_DAYS = "township.low_stock_days"


def township_unit(name: str) -> str:
    return f"镇:{name}"


def kpi_inputs() -> dict[str, tuple[str, str]]:
    """The KPI indicators this system does not measure, per village and per township: key → (label,
    kind): a number of cases for a deduction, else a rate (the assessment file says which)."""
    return {ind.key: (ind.cases_word if ind.counts_cases else ind.second, COUNT if ind.counts_cases else RATE)
            for ind in load_assessment().indicators if ind.measure is None}


def all_inputs() -> dict[str, tuple[str, str]]:
    return {**AREA_INPUTS, **VILLAGE_INPUTS, **kpi_inputs()}


def parse_input(key: str, raw: object) -> Decimal | int:
    """A typed, checked value, or ValueError with a Chinese reason."""
    known = all_inputs()
    if key not in known:
        raise ValueError(f"未知的录入项：{key}")
    label, kind = known[key]
    if kind == COUNT:
        return count_input(raw, label)
    if kind == RATE:
        return rate_input(raw, label)
    value = to_decimal(raw, label)
    if value < 0:
        raise ValueError(f"{label}不能为负数：{value}")
    return cents(value)


def _key(year: int, unit: str, key: str) -> str:
    return f"township.input.{year}.{unit}.{key}"


def inputs_for(session: Session, year: int, unit: str) -> dict[str, Decimal | int]:
    prefix = _key(year, unit, "")
    rows = session.execute(select(Setting.key, Setting.value).where(Setting.key.startswith(prefix)))
    found, known = {}, all_inputs()
    for full, value in rows:
        key = full[len(prefix):]
        if key in known:
            found[key] = parse_input(key, value)
    return found


def save_inputs(session: Session, year: int, unit: str, values: Mapping[str, object]) -> dict[str, Decimal | int]:
    """Check every value first, then store; an empty value removes the entry (back to 待录入)."""
    if not 2000 <= year <= 2100:
        raise ValueError(f"考核年度无效：{year}")
    checked: dict[str, Decimal | int | None] = {}
    for key, raw in values.items():
        checked[key] = None if raw is None or str(raw).strip() == "" else parse_input(key, raw)
    for key, value in checked.items():
        _put(session, _key(year, unit, key), None if value is None else str(value))
    return inputs_for(session, year, unit)


def _put(session: Session, key: str, value: str | None) -> None:
    row = session.get(Setting, key)
    if value is None:
        if row is not None:
            session.delete(row)
    elif row is None:
        session.add(Setting(key=key, value=value))
    else:
        row.value = value


def upper_institutions(session: Session) -> dict[str, str]:
    """township name → the code of its upper-level institution (备药率 reference)."""
    rows = session.execute(select(Setting.key, Setting.value).where(Setting.key.startswith(UPPER_PREFIX)))
    return {key[len(UPPER_PREFIX):]: value for key, value in rows}


def set_upper_institution(session: Session, township: str, code: str | None) -> None:
    _put(session, UPPER_PREFIX + township, (code or "").strip() or None)


def low_stock_days(session: Session) -> int | None:
    row = session.get(Setting, LOW_STOCK_DAYS)
    return int(row.value) if row is not None else None


def set_low_stock_days(session: Session, days: object) -> None:
    text = str(days if days is not None else "").strip()
    if text and (not text.isdigit() or not 1 <= int(text) <= 365):
        raise ValueError(f"库存预警天数应为 1 到 365 的整数：{days!r}")
    _put(session, LOW_STOCK_DAYS, str(int(text)) if text else None)


def _insured_key(month: date, unit: str, insurance: str, key: str) -> str:
    return f"township.insured.{month:%Y-%m}.{unit}.{insurance}.{key}"


def insured_for(session: Session, month: date, unit: str, insurance: str) -> dict[str, str]:
    """参保人数 of the area for the monthly report (附件4–6), as entered (checked by the report)."""
    prefix = _insured_key(month, unit, insurance, "")
    rows = session.execute(select(Setting.key, Setting.value).where(Setting.key.startswith(prefix)))
    return {key[len(prefix):]: value for key, value in rows}


def save_insured(session: Session, month: date, unit: str, insurance: str, values: Mapping[str, object]) -> None:
    for key, raw in values.items():
        text = "" if raw is None else str(raw).strip()
        if text:
            count_input(text, f"参保人数（{key}）")
        _put(session, _insured_key(month, unit, insurance, key), text or None)
