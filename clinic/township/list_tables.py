"""The 云南 (八) exchange lists (clinic/township/exchange.py) as report tables, one per list, and the
township's KPI summary (each village's and the township's scores on the 附件2 table)."""

from __future__ import annotations

from datetime import date

from clinic.reports.kpi import KpiResult
from clinic.reports.table import NOT_ENTERED, PERCENT, SCORE, TEXT, HeaderCell, ReportTable, Row
from clinic.township.exchange import DUE_DAY, Listed
from clinic.vocab import DISEASES, INSURANCES

LISTS = {
    "added": ("新增人员", "“两病”规范化管理及认定备案新增人员名单", "卫健部门推送医保部门"),
    "removed": ("减少人员", "“两病”规范化管理及认定备案减少人员名单", "卫健部门推送医保部门"),
    "unmarked": ("疑似未标识", "使用“两病”用药或血压血糖异常但未标识人员名单", "医保部门推送卫健部门核实"),
}


def list_table(which: str, items: list[Listed], names: dict[str, str], *, period: str, unit: str, demo: bool,
               prepared_on: date | None) -> ReportTable:
    label, title, direction = LISTS[which]
    day_word = {"added": "纳入日期", "removed": "减少日期", "unmarked": "最近发现日期"}[which]
    rows = [Row((str(n), names.get(i.institution_code, i.institution_code), i.patient.name, i.patient.sex,
                 i.patient.id_number, i.patient.phone or "", INSURANCES.get(i.patient.insurance, i.patient.insurance),
                 DISEASES[i.disease], i.kind, i.day.isoformat() if i.day else "", i.note),
                key=(i.patient.id, i.disease)) for n, i in enumerate(items, start=1)]
    header = [[HeaderCell(t) for t in ("序号", "村卫生室", "姓名", "性别", "身份证号", "联系电话", "险种", "病种",
                                        "类别", day_word, "说明")]]
    notes = [f"依据云南省医保局、卫健委 云医保〔2021〕45号（八）：{direction}，每月{DUE_DAY}日前完成。",
             f"共 {len(rows)} 人次（同一人两病各列一行）。名单含身份证号，请按个人信息保护要求传递和保管。"]
    if which == "removed":
        notes.append("规范化管理标记没有日期：标记被取消只能从月末比上月末的变化看出，减少日期留空。")
    return ReportTable(title=title, header=header, formats=(TEXT,) * 11, rows=rows, period=period, unit=unit,
                       notes=notes, form_label=label, prepared_on=prepared_on, demo=demo, measure="")


def kpi_summary_table(results: list[tuple[str, str, KpiResult]], *, period: str, unit: str, demo: bool,
                      prepared_on: date | None) -> ReportTable:
    """`results`: (级别, 单位, result) per unit, villages then townships."""
    indicators = results[0][2].assessment.indicators
    groups: list[list] = []
    for ind in indicators:
        if groups and groups[-1][0] == ind.no:
            groups[-1][2] += 1
        else:
            groups.append([ind.no, ind.first, 1])
    header = [[HeaderCell("级别", rowspan=2), HeaderCell("单位", rowspan=2),
               *(HeaderCell(first, colspan=span) for _, first, span in groups),
               HeaderCell("合计得分", rowspan=2), HeaderCell("考核实际得分比", rowspan=2),
               HeaderCell("待录入项", rowspan=2)],
              [HeaderCell(f"{ind.second}（{ind.weight:g}）") for ind in indicators]]
    rows = []
    for level, name, result in results:
        scores = [NOT_ENTERED if s.score is None else s.score for s in result.scored]
        missing = "、".join(s.indicator.second for s in result.missing)
        rows.append(Row((level, name, *scores, result.earned if not result.missing else NOT_ENTERED,
                         result.share if result.share is not None else NOT_ENTERED, missing), key=(name,)))
    assessment = results[0][2].assessment
    notes = [f"依据：{assessment.name}（{assessment.source}）；各单位按本单位数据计分，计分方法同单位考核表（附件2）。",
             f"满分 {assessment.total_weight:g} 分；考核实际得分比 = 合计得分 ÷ 满分，用于结余分配。",
             "“待录入”：本系统无此数据的指标，由乡镇卫生院在服务器“录入与设置”页录入后计算。"]
    return ReportTable(title=f"{assessment.name}汇总（各村卫生室、乡镇）", header=header,
                       formats=(TEXT, TEXT) + (SCORE,) * len(indicators) + (SCORE, PERCENT, TEXT), rows=rows,
                       period=period, unit=unit, notes=notes, form_label="考核汇总", prepared_on=prepared_on,
                       demo=demo, measure="单位：分")

