"""The 调度表: “两病”门诊用药保障情况调度表 (national, seeds/003 附件, used by 云南 (十四); (十二) 分类统计)
and the Shanxi variant (seeds/002 附件, with a 市别 column and a three-level header).

Three categories of patients are asked for: 普通门诊统筹中“两病”用药患者, “两病”专项保障机制(用药患者)
and 门诊慢性病、特殊疾病中“两病”用药患者. This system records only the 专项保障机制 — its own 两病
settlements — so the other two rows are present and marked 不适用 (本系统无此数据), never filled with
invented zeros; the 医保 office adds them from its information system. (Shanxi's 注2 says the first
row has no data after 2020 anyway.)

For the 专项保障机制 row, per disease, two lines: 累计 — the documents' 统计口径 (注1: 政策落地之日起至
目前统计时间), from the region's first policy version (scope.report_region) to month end — and 本月:
- 规范化管理人数: patients flagged under public-health 规范化管理 for the disease at month end (a stock,
  the same on both lines; the flag has no date: clinic/reports/cases.py says from when it counts).
- 待遇享受人数 / 人次: patients / settlements paid under the disease (claims.uptake).
- 药品费用: the full price of those drugs; 政策范围内费用; 基金支出 — refunds netted, 拒付 left out.
The seed's text of the national table lists 糖尿病's 人次 before 人数 and loses 降血压药品基金支出 in
extraction; both diseases here take the six columns in the Shanxi table's order.
Only 城乡居民 are counted by default (both documents are 城乡居民 plans); `insurance=None` counts all.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date

from sqlalchemy.orm import Session

from clinic.reports.cases import cases_on
from clinic.reports.claims import Amounts, Uptake, claim_amounts, uptake
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
from clinic.reports.table import (
    COUNT,
    MONEY,
    NOT_APPLICABLE,
    TEXT,
    HeaderCell,
    ReportTable,
    Row,
    date_words,
)
from clinic.vocab import DISEASES, INSURANCES, check

VARIANTS = ("national", "shanxi")
DRUG_WORD = {"hypertension": "降血压", "diabetes": "降血糖"}
OTHER_CATEGORIES = ("普通门诊统筹中“两病”用药患者", "门诊慢性病、特殊疾病中“两病”用药患者")
SPECIAL = {"national": "“两病”专项保障机制", "shanxi": "“两病”专项保障机制用药患者"}
NO_DATA = "本系统仅记录“两病”专项保障机制结算，无此类数据"


def dispatch_table(session: Session, month: date | str, scope: Scope | Sequence[str] | None = None, *,
                   variant: str = "national", insurance: str | None = "resident",
                   prepared_on: date | None = None) -> ReportTable:
    if variant not in VARIANTS:
        raise ValueError(f"调度表样式无效：{variant!r}（可选：{' / '.join(VARIANTS)}）")
    if insurance is not None:
        check(INSURANCES, insurance, "险种")
    scope = as_scope(scope)
    start = as_month(month)
    end = month_end(start)
    region = report_region(session, end, scope)
    landed = region.landed_on
    managed = Counter(c.disease for c in cases_on(session, end, scope, insurance) if c.managed)
    city = (region.city,) if variant == "shanxi" else ()
    width = len(DISEASES) * 6

    def na_row(category: str) -> Row:
        return Row((*city, category, "累计/本月", *[NOT_APPLICABLE] * width, NO_DATA), key=(category,))

    rows = [na_row(OTHER_CATEGORIES[0])]
    for key, period_start, label, remark in (
            ("cumulative", min(landed, start), "累计", f"政策落地之日（{landed:%Y-%m-%d}）至{end:%Y-%m-%d}"),
            ("month", start, "本月", f"{start:%Y-%m-%d}至{end:%Y-%m-%d}")):
        figures = _figures(session, period_start, end, scope, insurance, managed)
        rows.append(Row((*city, SPECIAL[variant], label, *figures, remark), key=("special", key)))
    rows.append(na_row(OTHER_CATEGORIES[1]))

    covered = f"{INSURANCES[insurance]}参保人员" if insurance else "各险种参保人员"
    notes = [f"统计口径：“两病”专项保障机制为本系统结算数据（{covered}）；“累计”为本地“两病”政策落地之日"
             f"（{landed:%Y-%m-%d}）起至{end:%Y-%m-%d}，“本月”为{month_label(start)}。",
             "规范化管理人数：月末已纳入基层规范化管理的“两病”患者；待遇享受人次：按该病种报销的结算笔数，"
             "退费当月冲减；人数：期内净结算次数大于0的患者。",
             "药品费用：所购“两病”药品全额（含超支付标准部分）；政策范围内费用、基金支出按结算记录；拒付结算不计入。",
             f"普通门诊统筹、门诊慢特病两类：{NO_DATA}，标“{NOT_APPLICABLE}”，请从医保信息系统补填。"]
    shanxi = variant == "shanxi"
    unit = reporting_unit(session, scope)
    made = date_words(prepared_on or date.today())
    footer = (f"填报单位：{unit}", "报送人员：", "联系电话：", f"报送时间：{made}")
    return ReportTable(
        title=f"{region.city}“两病”门诊用药保障情况{'表' if shanxi else '调度表'}", header=_header(shanxi),
        formats=(TEXT,) * (len(city) + 2) + (COUNT, COUNT, COUNT, MONEY, MONEY, MONEY) * 2 + (TEXT,),
        rows=rows, period=month_label(start), unit=unit, notes=notes, prepared_on=prepared_on or date.today(),
        demo=is_demo(session), footer=footer)


def _figures(session: Session, start: date, end: date, scope: Scope, insurance: str | None,
             managed: Counter) -> list:
    amounts: dict[str, Amounts] = {}
    for (disease, _, _), amount in claim_amounts(session, start, end, scope, insurance).items():
        amounts[disease] = amounts.get(disease, Amounts()) + amount
    taken = uptake(session, start, end, scope, insurance)
    cells: list = []
    for disease in DISEASES:
        used, money = taken.get(disease, Uptake()), amounts.get(disease, Amounts())
        cells += [managed[disease], used.people, used.visits, money.cost, money.policy_range, money.fund_pay]
    return cells


def _header(shanxi: bool) -> list[list[HeaderCell]]:
    lead = [HeaderCell("市别", rowspan=3)] if shanxi else []
    depth = 3 if shanxi else 2
    top = [*lead, HeaderCell("类别", rowspan=depth), HeaderCell("统计期", rowspan=depth),
           *(HeaderCell(word, colspan=6) for word in DISEASES.values()), HeaderCell("备注", rowspan=depth)]
    heads = ("规范化管理人数（人）", "待遇享受人数（人）", "待遇享受人次（次）")
    if not shanxi:
        second = [HeaderCell(text) for disease in DISEASES for text in (
            *heads, f"{DRUG_WORD[disease]}药品费用（元）", f"{DRUG_WORD[disease]}药品政策范围内费用（元）",
            f"{DRUG_WORD[disease]}药品基金支出（元）")]
        return [top, second]
    second, third = [], []
    for disease in DISEASES:
        word = DRUG_WORD[disease]
        second += [*(HeaderCell(text, rowspan=2) for text in heads), HeaderCell("药品费用（元）", colspan=2),
                   HeaderCell(f"{word}药品基金支出（元）", rowspan=2)]
        third += [HeaderCell(f"{word}药品费用（元）"), HeaderCell(f"{word}药品政策范围内费用（元）")]
    return [top, second, third]
