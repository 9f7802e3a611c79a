"""Checks on a received record beyond its column types: what a clinic could only send by mistake
(a bad ID number, settlement amounts that do not add up). A failed check rejects the record for good,
with a reason the doctor can act on; the rest of the batch is not affected."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from clinic.db.records import RecordError
from clinic.idcard import IdNumberError, parse_id_number
from clinic.stock import KINDS
from clinic.vocab import CHANGE_REASONS, DISEASES, FILING_STATES, INSURANCES, TIERS
from sync.server.record_ids import check_ids

ZERO = Decimal(0)
MAX_SUPPLY_DAYS = 3660          # ten years: far beyond any dispensing, well inside the calendar


def _one_of(allowed, value, what: str) -> None:
    if value not in allowed:
        raise RecordError(f"{what}无效：{value!r}（可选：{' / '.join(allowed)}）")


def _patient(row: dict, children: dict) -> None:
    try:
        parse_id_number(row["id_number"])
    except IdNumberError as exc:
        raise RecordError(f"患者 {row['name']} 的身份证号有误：{exc}") from None
    _one_of(INSURANCES, row["insurance"], "险种")


def _filing(row: dict, children: dict) -> None:
    _one_of(DISEASES, row["disease"], "申报病种")
    _one_of(TIERS, row["tier"], "病种分级")
    _one_of(("initial", "change"), row["kind"], "备案类型")
    _one_of(FILING_STATES, row["state"], "备案状态")
    if row["kind"] == "change":
        _one_of(CHANGE_REASONS, row["change_reason"], "变更原因")
    if row["version"] < 1:
        raise RecordError(f"备案版本号无效：{row['version']}")


def _prescription(row: dict, children: dict) -> None:
    if row["valid_until"] < row["prescribed_on"]:
        raise RecordError(f"处方有效期 {row['valid_until']} 早于开具日期 {row['prescribed_on']}")
    if not children["lines"]:
        raise RecordError("处方没有药品明细")
    for line in children["lines"]:
        _one_of(DISEASES, line["disease"], "处方药品的病种")
        if line["quantity"] <= 0 or line["days"] <= 0:
            raise RecordError(f"处方药品 {line['drug_name']} 的数量或天数须大于 0")


def _dispense(row: dict, children: dict) -> None:
    if not children["lines"]:
        raise RecordError("配药记录没有药品明细")
    for line in children["lines"]:
        if line["quantity"] <= 0 or line["daily_dose"] <= 0:
            raise RecordError(f"配药 {line['drug_name']} 的数量和日用量须大于 0")
        if line["quantity"] > line["daily_dose"] * MAX_SUPPLY_DAYS:   # supply dates are computed from it
            raise RecordError(f"配药 {line['drug_name']} 的数量按日用量可用超过 {MAX_SUPPLY_DAYS} 天，请核对日用量")


def _settlement(row: dict, children: dict) -> None:
    if row["total"] != row["fund_pay"] + row["self_pay"]:
        raise RecordError(f"结算单 {row['receipt_no']} 金额不平：总额 {row['total']} ≠ 统筹支付 "
                          f"{row['fund_pay']} + 个人自付 {row['self_pay']}")
    by_disease = sum((d["fund_pay"] for d in children["diseases"]), ZERO)
    if by_disease != row["fund_pay"]:
        raise RecordError(f"结算单 {row['receipt_no']} 各病种统筹支付之和 {by_disease} 与统筹支付 "
                          f"{row['fund_pay']} 不符")
    refund = row["reverses_id"] is not None
    if (row["fund_pay"] < 0 or row["total"] < 0) and not refund:
        raise RecordError(f"结算单 {row['receipt_no']} 金额为负，但不是退费单")
    for d in children["diseases"]:
        _one_of(DISEASES, d["disease"], "结算病种")


def _stock_movement(row: dict, children: dict) -> None:
    _one_of(KINDS, row["kind"], "库存变动类型")


def _opening_balance(row: dict, children: dict) -> None:
    # 期初余额 (clinic/opening_balances.py): the clinic imports this or last year; a year far off or
    # ahead of the server's clock by more than one is not from its previous system.
    _one_of(DISEASES, row["disease"], "期初余额的病种")
    if not 2000 <= row["year"] <= date.today().year + 1:
        raise RecordError(f"期初余额的年度无效：{row['year']}")
    for name, label in (("fund_paid", "统筹基金已支付"), ("deductible_paid", "起付线已付")):
        if not ZERO <= row[name] < Decimal(10**8):
            raise RecordError(f"期初余额的{label}须为 0 至 99999999.99 元，收到 {row[name]}")


CHECKS = {"patient": _patient, "filing": _filing, "prescription": _prescription, "dispense": _dispense,
          "settlement": _settlement, "stock_movement": _stock_movement, "opening_balance": _opening_balance}


def validate(type_name: str, row: dict, children: dict[str, list[dict]]) -> None:
    check_ids(type_name, row, children)
    check = CHECKS.get(type_name)
    if check is not None:
        check(row, children)
