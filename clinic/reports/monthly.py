"""附件4 / 附件5 / 附件6 (seeds/000): the monthly report of one insurance type, which every clinic sends
each month and the township aggregates for its villages (seeds/000 四(四)).

Rows: 普通高血压, 普通糖尿病, 合计, 重症高血压, 重症糖尿病, 合计. Columns, for the report month:
- 参保人数: the insured people of this insurance type with the disease and tier in the 填报单位's area.
  The clinic's records do not hold that (it knows only the patients it serves), so it is an input
  (`insured`, keys INSURED_KEYS) shown 待录入 until given; the 合计 rows add the given rows.
- 备案人数: cases (clinic/reports/cases.py) of this insurance type with an approved 认定/变更备案 in
  force at month end, by the filing's disease and tier. A patient with both diseases is one case in
  each row; the 合计 rows add the rows, so they count 人·病种 as the form adds its rows.
- 医疗费: the full price of the 两病 drugs bought in the month's settlements for the disease and tier
  (over-standard part included; drugs outside the 两病 scope settle as ordinary outpatient, seeds/000
  二(一)5, and are not here); 报销额: the fund payment (基金支付) of the same settlements. Both by the
  settling institution's level: 一级及以下 / 二级 / 三级, and a 定点零售药店 under 定点药店.
- 合计: the sum over the four institution columns. The paper form has one 合计 column under the
  level pairs; it is split here into 医疗费 and 报销额 so both amounts have a total.
Settlements are taken by settled_on in the month and by the insurance recorded on the settlement;
refunds net out in the month they happen; refused (拒付) claims are left out (clinic/reports/claims.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from clinic.money import ZERO
from clinic.reports.cases import filed_counts
from clinic.reports.claims import PHARMACY, Amounts, claim_amounts
from clinic.reports.inputs import count_input, unknown_keys
from clinic.reports.scope import (
    Scope,
    as_month,
    as_scope,
    is_demo,
    month_end,
    month_label,
    report_region,
    reporting_unit,
)
from clinic.reports.table import COUNT, MONEY, NOT_ENTERED, TEXT, HeaderCell, ReportTable, Row
from clinic.vocab import DISEASES, INSURANCES, TIERS, check

FORM_LABELS = {"resident": "附件4", "employee": "附件5", "employee_supplementary": "附件6"}
LEVEL_COLUMNS = (("1", "一级及以下医疗机构"), ("2", "二级医疗机构"), ("3", "三级医疗机构"), (PHARMACY, "定点药店"))
# 参保人数 inputs, one per body row: "ordinary.hypertension" → 普通高血压.
INSURED_KEYS = {f"{tier}.{disease}": f"{TIERS[tier]}{word}参保人数" for tier in TIERS
                for disease, word in DISEASES.items()}


def monthly_table(session: Session, month: date | str, insurance: str, scope: Scope | Sequence[str] | None = None,
                  *, insured: Mapping[str, object] | None = None, prepared_on: date | None = None) -> ReportTable:
    check(INSURANCES, insurance, "险种")
    given = _insured(insured or {})
    scope = as_scope(scope)
    start = as_month(month)
    end = month_end(start)
    region = report_region(session, end, scope)
    filed = filed_counts(session, end, scope, insurance)
    amounts = claim_amounts(session, start, end, scope, insurance)

    rows = []
    for tier in TIERS:
        block = []
        for disease, word in DISEASES.items():
            by_level = [amounts.get((disease, tier, level), Amounts()) for level, _ in LEVEL_COLUMNS]
            block.append(_row(f"{TIERS[tier]}{word}", given.get(f"{tier}.{disease}", NOT_ENTERED),
                              filed[(tier, disease)], by_level, (tier, disease)))
        rows += block
        rows.append(_total_row(block, (tier, "total")))

    shown = "、".join(f"{INSURED_KEYS[key].removesuffix('参保人数')} {n}" for key, n in given.items())
    notes = [
        "参保人数：本辖区本险种患该病种的参保人数，本系统无此数据，由填报单位录入"
        + (f"（已录入：{shown}）。" if given else "；未录入者显示“待录入”。"),
        "备案人数：月末“两病”认定备案审核通过且在有效期内的人数，按备案病种分普通/重症；同时患两病者在两行各计一次。",
        "医疗费：本月结算的“两病”药品费用（含超支付标准部分，不含“两病”范围外药品）；报销额：基金支付额。"
        "按结算机构级别分列，定点零售药店列入“定点药店”；“合计”分列医疗费、报销额。",
        "退费在退费当月冲减；医保经办拒付的结算不计入。金额单位：元。",
    ]
    return ReportTable(
        title=f"{region.city}{INSURANCES[insurance]}医保“两病”门诊用药保障和健康管理示范城市活动月报表",
        header=[[HeaderCell("疾病病种", rowspan=2), HeaderCell("参保人数", rowspan=2),
                 HeaderCell("备案人数", rowspan=2),
                 *(HeaderCell(name, colspan=2) for _, name in LEVEL_COLUMNS), HeaderCell("合计", colspan=2)],
                [HeaderCell(word) for _ in range(len(LEVEL_COLUMNS) + 1) for word in ("医疗费", "报销额")]],
        formats=(TEXT, COUNT, COUNT) + (MONEY,) * (2 * len(LEVEL_COLUMNS) + 2),
        rows=rows, period=month_label(start), unit=reporting_unit(session, scope), notes=notes,
        form_label=FORM_LABELS[insurance], prepared_on=prepared_on or date.today(), demo=is_demo(session))


def _insured(raw: Mapping[str, object]) -> dict[str, int]:
    unknown_keys(raw, INSURED_KEYS, "参保人数录入项")
    return {key: count_input(raw[key], INSURED_KEYS[key]) for key in INSURED_KEYS if key in raw}


def _row(label: str, insured: int | str, filed: int, by_level: list[Amounts], key: tuple[str, ...]) -> Row:
    total = sum(by_level, Amounts())
    money: list[Decimal] = []
    for amount in [*by_level, total]:
        money += [amount.cost, amount.fund_pay]
    return Row((label, insured, filed, *money), key=key)


def _total_row(block: list[Row], key: tuple[str, ...]) -> Row:
    """合计 of a block: the sum of each column; 待录入 if any row's input is missing."""
    sums: list = []
    for i in range(1, len(block[0].cells)):
        column = [row.cells[i] for row in block]
        if any(value == NOT_ENTERED for value in column):
            sums.append(NOT_ENTERED)
        else:
            sums.append(sum(column, ZERO if isinstance(column[0], Decimal) else 0))
    return Row(("合计", *sums), total=True, key=key)
