"""The 濉溪 capitation account as two report tables (forms/ renders them like every other report):
1. 结余计算 — the budget, the spend, the surplus and the per-head surplus, each with how it is reached;
2. 结余分配 — one row per village, township and the county hospital: heads, budget, score, what a
   full score would earn, what the score earns, and what returns to the 医共体包干基金.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from clinic.money import ZERO, cents
from clinic.reports.table import COUNT, MONEY, NOT_ENTERED, PERCENT, TEXT, HeaderCell, ReportTable, Row
from clinic.township.capitation import LEVELS, group_budget, returned_to_fund
from clinic.township.inputs import township_unit
from clinic.township.year_end import YearEnd


def _money(value: Decimal | None) -> Decimal | str:
    return NOT_ENTERED if value is None else cents(value)


def _given(result: YearEnd, key: str) -> Decimal | int | str:
    return result.area.get(key, NOT_ENTERED)


def surplus_table(result: YearEnd, *, unit: str, demo: bool, prepared_on: date | None) -> ReportTable:
    rules, two, chronic = result.rules, result.rules.two_diseases, result.rules.chronic
    signed = sum(a.heads.signed for a in result.accounts)
    unsigned = sum(a.heads.unsigned for a in result.accounts)
    chronic_known = all(a.chronic_signed is not None and a.chronic_unsigned is not None for a in result.accounts)
    c_signed = sum(a.chronic_signed or 0 for a in result.accounts) if chronic_known else None
    c_unsigned = sum(a.chronic_unsigned or 0 for a in result.accounts) if chronic_known else None
    s = result.surplus
    c_heads = NOT_ENTERED if c_signed is None else f"{c_signed} / {c_unsigned}"
    heads_rows = [  # (项目, 人数, 计算依据)
        ("两病签约人员门诊实际就诊人数", signed, "本系统：试点人群（不含当年新增）中本年有“两病”配药者"),
        ("两病未签约人员门诊实际就诊人数", unsigned, "同上，未签约"),
        ("常见慢性病签约 / 未签约就诊人数", c_heads, "各村卫生室录入"),
        ("常见慢性病核定住院人数", _given(result, "inpatient_heads"), "录入（医保部门核定）"),
        ("辖区试点人群数", _count(result.area_heads), "两病就诊人数 + 常见慢性病就诊人数"),
    ]
    money_rows = [  # (项目, 金额, 计算依据)
        ("两病门诊结算总额", group_budget(two, signed, unsigned),
         f"{signed}×{two.signed}（门诊{two.signed_outpatient}+签约{two.signed_family_doctor}）+{unsigned}×{two.unsigned}"),
        ("常见慢性病门诊结算总额", None if c_signed is None else group_budget(chronic, c_signed, c_unsigned or 0),
         f"签约×{chronic.signed}（门诊{chronic.signed_outpatient}+签约{chronic.signed_family_doctor}）"
         f"+未签约×{chronic.unsigned}"),
        ("门诊年度结算总额", s.outpatient_budget if s else None, "两病 + 常见慢性病"),
        ("“两病”门诊基金支出（本系统）", result.pilot.fund_spend,
         "试点人群在辖区村卫生室结算的统筹基金支付，退费冲减，拒付不计"),
        ("其他门诊基金支出", _given(result, "outpatient_other_spend"),
         "录入：门诊统筹、常见慢性病门诊、大额门诊，及本系统以外机构的“两病”门诊"),
        ("签约基金支付费用", _given(result, "signing_fund_paid"), "录入"),
        ("门诊违规扣款", _given(result, "outpatient_penalties"), "录入"),
        ("门诊年度结余资金", s.outpatient if s else None, "结算总额 − 实际基金支出 − 签约基金支付费用 − 违规扣款"),
        ("住院年度结算总额", s.inpatient_budget if s else None, f"核定住院人数 × {rules.inpatient_per_head}"),
        ("住院实际基金支出", _given(result, "inpatient_spend"), "录入"),
        ("住院违规扣款", _given(result, "inpatient_penalties"), "录入"),
        ("住院年度结余资金", s.inpatient if s else None, "结算总额 − 实际基金支出 − 违规扣款"),
        ("年度结余总额", s.total if s else None, "门诊年度结余 + 住院年度结余"),
        ("人均结余额", result.per_head, "年度结余总额 ÷ 辖区试点人群数（结余大于0时计算）"),
    ]
    body = [Row((str(n), label, heads, None, basis), key=(label,))
            for n, (label, heads, basis) in enumerate(heads_rows, start=1)]
    body += [Row((str(n), label, None, amount if isinstance(amount, str) else _money(amount), basis),
                 total=label == "年度结余总额", key=(label,))
             for n, (label, amount, basis) in enumerate(money_rows, start=len(body) + 1)]
    notes = _notes(result)
    return ReportTable(
        title=f"{rules.county}门诊特殊疾病按人头包干年度结余计算", header=[[HeaderCell(t) for t in (
            "序号", "项目", "人数", "金额（元）", "计算依据")]],
        formats=(TEXT, TEXT, COUNT, MONEY, TEXT), rows=body, period=_period(result), unit=unit, notes=notes,
        form_label="结余计算", prepared_on=prepared_on, demo=demo)


def split_table(result: YearEnd, *, unit: str, demo: bool, prepared_on: date | None) -> ReportTable:
    by_unit = {a.claimant.unit: a for a in result.allocations}
    rows = []
    for n, acc in enumerate(result.accounts, start=1):
        got = by_unit.get(acc.village.code)
        rows.append(Row((str(n), LEVELS["village"], acc.village.name, acc.heads.signed, acc.heads.unsigned,
                         _count(acc.chronic_signed), _count(acc.chronic_unsigned), _count(acc.pilot_heads),
                         _money(acc.budget(result.rules)), *_allocation(result, acc.village.code, got)),
                        key=(acc.village.code,)))
    # The township health centres and the county hospital, allocated or not (their score may be missing).
    others = [("township", township_unit(t), f"{t}卫生院", [a for a in result.accounts if a.village.township == t])
              for t in sorted({a.village.township for a in result.accounts if a.village.township})]
    others.append(("county", "county", "县级牵头医院", result.accounts))
    for level, unit, name, members in others:
        heads = [a.pilot_heads for a in members]
        rows.append(Row(("", LEVELS[level], name, None, None, None, None,
                         NOT_ENTERED if None in heads else sum(heads), None,
                         *_allocation(result, unit, by_unit.get(unit))), key=(unit,)))
    paid = sum((a.earned for a in result.allocations), ZERO)
    kept = returned_to_fund(result.surplus.total, result.allocations) if result.surplus else None
    rows.append(Row(("", "合计", "", sum(a.heads.signed for a in result.accounts),
                     sum(a.heads.unsigned for a in result.accounts), None, None, _count(result.area_heads),
                     _money(result.surplus.outpatient_budget if result.surplus else None), None,
                     _money(result.surplus.total if result.surplus and result.surplus.total > 0 else None),
                     _money(paid if result.allocations else None), _money(kept if result.allocations else None)),
                    total=True, key=("total",)))
    header = [[HeaderCell("序号", rowspan=2), HeaderCell("级别", rowspan=2), HeaderCell("单位", rowspan=2),
               HeaderCell("两病门诊就诊人数", colspan=2), HeaderCell("常见慢性病就诊人数", colspan=2),
               HeaderCell("试点人数", rowspan=2), HeaderCell("门诊结算总额（元）", rowspan=2),
               HeaderCell("考核实际得分比", rowspan=2), HeaderCell("应分结余（满分）", rowspan=2),
               HeaderCell("考核后所得", rowspan=2), HeaderCell("扣减回归包干基金", rowspan=2)],
              [HeaderCell("签约"), HeaderCell("未签约"), HeaderCell("签约"), HeaderCell("未签约")]]
    return ReportTable(
        title=f"{result.rules.county}门诊特殊疾病结余分配表（村、镇、县）", header=header,
        formats=(TEXT, TEXT, TEXT, COUNT, COUNT, COUNT, COUNT, COUNT, MONEY, PERCENT, MONEY, MONEY, MONEY),
        rows=rows, period=_period(result), unit=unit, notes=_notes(result), form_label="结余分配",
        prepared_on=prepared_on, demo=demo)


def _count(value: int | None) -> int | str:
    return NOT_ENTERED if value is None else value


def _allocation(result: YearEnd, unit: str, got) -> tuple:
    score = result.scores.get(unit)
    shown = NOT_ENTERED if score is None else score
    if got is None:
        return shown, None, None, None
    return shown, got.entitled, got.earned, got.returned


def _period(result: YearEnd) -> str:
    return f"{result.start.year}年1月至{result.end.month}月" + ("（年终决算）" if result.end.month == 12 else "")


def _notes(result: YearEnd) -> list[str]:
    r = result.rules
    notes = [
        f"依据：{r.name}（{r.source}）：两病签约{r.two_diseases.signed}元/人（门诊{r.two_diseases.signed_outpatient}"
        f"+家庭医生签约{r.two_diseases.signed_family_doctor}），未签约{r.two_diseases.unsigned}元/人；常见慢性病签约"
        f"{r.chronic.signed}元/人，未签约{r.chronic.unsigned}元/人；住院{r.inpatient_per_head}元/人。",
        f"结余大于0时按村、镇、县 {r.village_share:.0%}：{r.township_share:.0%}：{r.county_share:.0%} 分配："
        "所得 = 考核实际得分比 × 份额 × 人均结余额 × 试点人数，扣减部分回归医共体包干基金；"
        "结余不大于0时超支由医共体包干基金承担。",
        f"试点人群：城乡居民“两病”人员，不含当年新增（{result.pilot.new_this_year} 人）；就诊人数按身份证号计一人，"
        "计入本期最后为其配药的村卫生室。",
        "考核实际得分比：村卫生室、镇卫生院按考核细则（附件2）计算；县级牵头医院由录入。",
    ]
    if result.end.month != 12:
        notes.append("非12月为年度至今的滚动数据，年终决算以12月报表为准。")
    if result.missing:
        shown = "；".join(result.missing[:12]) + ("……" if len(result.missing) > 12 else "")
        notes.append(f"待录入（共 {len(result.missing)} 项）：{shown}")
    return notes
