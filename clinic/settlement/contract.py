"""The `liangbing settle` JSON contract (DESIGN.md "Contracts"): parse one purchase, print its result.

Every malformed input raises ValueError with a one-line Chinese reason; nothing here touches storage.
"""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

from clinic.money import MONEY_PLACES, PRICE_PLACES, QUANTITY_PLACES, ZERO, fmt, to_decimal
from clinic.settlement.engine import Filing, Item, Purchase, Result
from clinic.vocab import CONTRIBUTIONS, DISEASES, INSTITUTION_LEVELS, INSURANCES, LEVELS, TIERS, check


def _obj(value: object, what: str) -> dict:
    if not isinstance(value, dict):
        raise ValueError(f"{what} 应为 JSON 对象")
    return value


# Keys a purchase cannot do without: a missing one is an error naming it, never a default ("no
# filings key" used to settle everything as out of scope). An empty `filings` list is an answer.
REQUIRED_KEYS = ("date", "patient", "institution_level", "filings", "items")


def _require(data: dict, keys: tuple[str, ...], where: str = "") -> None:
    for key in keys:
        if key not in data:
            raise ValueError(f"缺少必填项 {where}{key}")


def _amount(value: object, what: str, places: int, *, positive: bool = False) -> Decimal:
    """A non-negative plain decimal: at most 8 integer digits and `places` decimals (money to the
    cent, quantities 4, prices and payment standards 6), or a one-line reason (clinic/money.py)."""
    result = to_decimal(value, what, places=places)
    if result < 0 or (positive and result == 0):
        raise ValueError(f"{what} 必须{'大于' if positive else '不小于'}0：{value}")
    return result


def parse_filings(raw: object) -> tuple[Filing, ...]:
    if not isinstance(raw, list):
        raise ValueError("filings 应为数组")
    seen, filings = set(), []
    for i, entry in enumerate(raw):
        entry = _obj(entry, f"filings[{i}]")
        disease = check(DISEASES, entry.get("disease"), f"filings[{i}].disease")
        tier = check(TIERS, entry.get("tier", "ordinary"), f"filings[{i}].tier")
        if disease in seen:
            raise ValueError(f"病种 {disease} 重复备案")
        seen.add(disease)
        primary = entry.get("primary", len(raw) == 1)
        if not isinstance(primary, bool):
            raise ValueError(f"filings[{i}].primary 应为 true 或 false")
        filings.append(Filing(disease, tier, primary))
    primaries = sum(f.primary for f in filings)
    if primaries > 1:
        raise ValueError("只能指定一个主要病种，收到两个 primary")
    if filings and primaries == 0:
        raise ValueError("同时患两病须指定一个主要病种（primary: true）")
    return tuple(filings)


def parse_item(i: int, raw: object) -> Item:
    entry = _obj(raw, f"items[{i}]")
    in_scope = entry.get("in_scope", True)
    if not isinstance(in_scope, bool):
        raise ValueError(f"items[{i}].in_scope 应为 true 或 false")
    standard = entry.get("payment_standard")
    return Item(
        code=str(entry.get("code", "")),
        name=str(entry.get("name", "")),
        disease=check(DISEASES, entry.get("disease"), f"items[{i}].disease"),
        quantity=_amount(entry.get("quantity"), f"items[{i}].quantity", QUANTITY_PLACES, positive=True),
        unit_price=_amount(entry.get("unit_price"), f"items[{i}].unit_price", PRICE_PLACES),
        payment_standard=None if standard is None else _amount(standard, f"items[{i}].payment_standard", PRICE_PLACES),
        in_scope=in_scope,
    )


def parse_purchase(text: str) -> Purchase:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"输入不是有效的 JSON：第 {exc.lineno} 行第 {exc.colno} 列，{exc.msg}") from None
    data = _obj(data, "输入")
    _require(data, REQUIRED_KEYS)
    try:
        on = date.fromisoformat(str(data.get("date")))
    except ValueError:
        raise ValueError(f"date 应为 YYYY-MM-DD 格式的日期：{data.get('date')!r}") from None
    patient = _obj(data.get("patient"), "patient")
    insurance = check(INSURANCES, patient.get("insurance"), "patient.insurance")
    contribution = patient.get("contribution")
    if insurance == "employee":
        contribution = check(CONTRIBUTIONS, contribution or "100", "patient.contribution")
    elif contribution is not None:
        raise ValueError("contribution（缴费档次）只适用于城镇职工（employee）")
    level = check(INSTITUTION_LEVELS, str(data.get("institution_level")), "institution_level")
    prescriber = data.get("prescriber_level")
    if level == "pharmacy":
        if prescriber is None:
            raise ValueError("定点零售药店（pharmacy）须提供外配处方开具机构的级别 prescriber_level")
        prescriber = check(LEVELS, str(prescriber), "prescriber_level")
    elif prescriber is not None:
        raise ValueError("prescriber_level 只适用于定点零售药店（institution_level = pharmacy）")
    ytd = _obj(data.get("year_to_date", {}), "year_to_date")
    fund_paid = {}
    for key, value in ytd.items():
        if key == "deductible_paid":
            continue
        disease = check(DISEASES, key, "year_to_date 的病种")
        fund_paid[disease] = _amount(_obj(value, f"year_to_date.{key}").get("fund_paid", "0"),
                                     f"year_to_date.{key}.fund_paid", MONEY_PLACES)
    items = data.get("items")
    if not isinstance(items, list) or not items:
        raise ValueError("items 应为非空数组")
    return Purchase(
        date=on, insurance=insurance, contribution=contribution,
        filings=parse_filings(data["filings"]), institution_level=level,
        prescriber_level=prescriber, items=tuple(parse_item(i, raw) for i, raw in enumerate(items)),
        ytd_fund_paid=fund_paid,
        ytd_deductible_paid=_amount(ytd.get("deductible_paid", "0"), "year_to_date.deductible_paid", MONEY_PLACES),
    )


def result_to_json(result: Result) -> dict:
    return {
        "policy": result.policy_id,
        "total": fmt(result.total),
        "out_of_scope": fmt(result.out_of_scope),
        "over_standard": fmt(result.over_standard),
        "policy_range": fmt(result.policy_range),
        "deductible": fmt(result.deductible),
        "fund_pay": fmt(result.fund_pay),
        "over_cap": fmt(result.over_cap),
        "self_pay": fmt(result.self_pay),
        "major_illness_eligible": fmt(result.major_illness_eligible),
        "by_disease": {
            r.disease: {
                "tier": r.tier, "primary": r.primary, "policy_range": fmt(r.policy_range),
                "deductible": fmt(r.deductible), "ratio": str(r.ratio.normalize() if r.ratio else ZERO),
                "fund_pay": fmt(r.fund_pay), "over_cap": fmt(r.over_cap), "cap": fmt(r.cap),
                "cap_remaining": fmt(r.cap_remaining),
            }
            for r in result.by_disease
        },
        "lines": [
            {"total": fmt(line.total), "policy_range": fmt(line.policy_range),
             "over_standard": fmt(line.over_standard), "out_of_scope": line.out_of_scope}
            for line in result.lines
        ],
    }
