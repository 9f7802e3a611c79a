"""附件4 / 附件5 / 附件6 (seeds/000): the monthly report of one insurance type, which every clinic sends
each month and the township aggregates for its villages (seeds/000 四(四)).

Rows: 普通高血压, 普通糖尿病, 合计, 重症高血压, 重症糖尿病, 合计. Columns, for the report month:
- 参保人数: cases (clinic/reports/cases.py) of this insurance type at month end — patients with an
  approved filing in force for the disease (row by the filing's tier), or under public-health
  规范化管理 for it without a filing (counted 普通). A patient with both diseases is one case in each
  row; the 合计 rows add the rows, so they count 人·病种 as the form adds its rows.
- 备案人数: of those, the cases with an approved filing in force at month end (tier from the filing).
- 医疗费: the policy-range cost (政策范围内费用) of the month's settlements for the disease and tier,
  by the settling institution's level (一级及以下 / 二级 / 三级; a 定点零售药店 → 定点药店). Chosen
  over the purchase total because (1) it is the base the 报销额 is paid on, so 报销额 ÷ 医疗费 is the
  real reimbursement ratio the form lets a reader check against 60/50/40 %; (2) it is recorded per
  disease and tier (SettlementDisease), while the purchase total mixes diseases and includes drugs
  outside the 两病 scope, which "按普通门诊待遇执行" (seeds/000 二(一)5) and are not this scheme's cost.
- 报销额: the fund payment (基金支付) of the same settlements.
- 合计 医疗费 / 报销额: the sum over the four institution columns. (The paper form has one 合计 column;
  it is split here so both amounts have a total.)
Settlements are taken by settled_on in the month and by the insurance recorded on the settlement;
refunds net out in the month they happen; refused (拒付) claims are left out (clinic/reports/claims.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from sqlalchemy.orm import Session

from clinic.money import ZERO
from clinic.reports.cases import cases_on
from clinic.reports.claims import PHARMACY, Amounts, disease_amounts
from clinic.reports.scope import (
    is_demo,
    month_end,
    month_label,
    month_start,
    report_policy,
    reporting_unit,
)
from clinic.reports.table import COUNT, MONEY, TEXT, HeaderCell, Report, Row
from clinic.vocab import DISEASES, INSURANCES, TIERS, check

FORM_LABELS = {"resident": "附件4", "employee": "附件5", "employee_supplementary": "附件6"}
LEVEL_COLUMNS = (("1", "一级及以下医疗机构"), ("2", "二级医疗机构"), ("3", "三级医疗机构"), (PHARMACY, "定点药店"))


def monthly_report(session: Session, month: date, institutions: Sequence[str] | None = None, *,
                   insurance: str, prepared_on: date | None = None) -> Report:
    check(INSURANCES, insurance, "险种")
    start, end = month_start(month), month_end(month)
    policy = report_policy(session, end, institutions)
    cases = cases_on(session, end, institutions, insurance)
    insured = Counter((c.tier, c.disease) for c in cases)
    filed = Counter((c.tier, c.disease) for c in cases if c.filed)
    amounts = disease_amounts(session, start, end, institutions, insurance)

    rows = []
    for tier in TIERS:
        block = []
        for disease, word in DISEASES.items():
            by_level = [amounts.get((disease, tier, level), Amounts()) for level, _ in LEVEL_COLUMNS]
            block.append(_row(f"{TIERS[tier]}{word}", insured[(tier, disease)], filed[(tier, disease)],
                              by_level, (tier, disease)))
        rows += block
        rows.append(_total_row(block, (tier, "total")))

    notes = [
        "参保人数：月末本险种“两病”患者（备案在有效期内，或已纳入基层规范化管理），按病种计；同时患两病者在两行各计一次。",
        "备案人数：月末“两病”认定备案审核通过且在有效期内的人数（普通/重症按备案病种）。",
        "医疗费：本月结算的“两病”政策范围内药品费用；报销额：基金支付额。按结算机构级别分列，定点零售药店列入“定点药店”。",
        "退费在退费当月冲减；医保经办拒付的结算不计入。金额单位：元。",
    ]
    return Report(
        title=f"{policy.city}{INSURANCES[insurance]}医保“两病”门诊用药保障和健康管理示范城市活动月报表",
        header=[[HeaderCell("疾病病种", rowspan=2), HeaderCell("参保人数", rowspan=2),
                 HeaderCell("备案人数", rowspan=2),
                 *(HeaderCell(name, colspan=2) for _, name in LEVEL_COLUMNS), HeaderCell("合计", colspan=2)],
                [HeaderCell(word) for _ in range(len(LEVEL_COLUMNS) + 1) for word in ("医疗费", "报销额")]],
        formats=(TEXT, COUNT, COUNT) + (MONEY,) * (2 * len(LEVEL_COLUMNS) + 2),
        rows=rows, period=month_label(start), unit=reporting_unit(session, institutions), notes=notes,
        form_label=FORM_LABELS[insurance], prepared_on=prepared_on or date.today(), demo=is_demo(session))


def _row(label: str, insured: int, filed: int, by_level: list[Amounts], key: tuple[str, ...]) -> Row:
    total = sum(by_level, Amounts())
    money: list[Decimal] = []
    for amount in [*by_level, total]:
        money += [amount.policy_range, amount.fund_pay]
    return Row((label, insured, filed, *money), key=key)


def _total_row(block: list[Row], key: tuple[str, ...]) -> Row:
    sums = [sum((row.cells[i] for row in block), ZERO if isinstance(block[0].cells[i], Decimal) else 0)
            for i in range(1, len(block[0].cells))]
    return Row(("合计", *sums), total=True, key=key)
