"""附件7 (seeds/000): 参保人员“两病”情况统计表 — one row per 填报单位 (the clinic a patient is registered
at), with the patients under 高血压 and 糖尿病 management at month end split 门诊重慢病 (重症 tier) and
普通, each disease's 合计, and 总计; then a 合计 row over all units.

Who counts (clinic/reports/cases.py), for every insurance type: an approved filing in force at month
end (tier from it), or public-health 规范化管理 without a filing (普通).
总计 = 高血压合计 + 糖尿病合计, i.e. 人·病种 like the form's columns; a patient with both diseases is
in both. On the township server each village clinic is one row; a clinic with no such patients still
gets a row when the scope names it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date

from sqlalchemy.orm import Session

from clinic.reports.cases import cases_on
from clinic.reports.scope import (
    Scope,
    as_month,
    as_scope,
    institution_names,
    is_demo,
    month_end,
    month_label,
    report_region,
    reporting_unit,
)
from clinic.reports.table import COUNT, TEXT, HeaderCell, ReportTable, Row
from clinic.vocab import DISEASES


def units_table(session: Session, month: date | str, scope: Scope | Sequence[str] | None = None, *,
                prepared_on: date | None = None) -> ReportTable:
    scope = as_scope(scope)
    month = as_month(month)
    end = month_end(month)
    region = report_region(session, end, scope)
    counts = Counter((c.institution_code, c.disease, c.tier) for c in cases_on(session, end, scope))
    codes = sorted(set(scope.institutions or ()) | {code for code, _, _ in counts})
    names = institution_names(session)

    rows = []
    for n, code in enumerate(codes, start=1):
        rows.append(Row((n, names.get(code, code), *_figures(counts, code)), key=(code,)))
    totals = [sum(row.cells[i] for row in rows) for i in range(2, 9)]
    rows.append(Row((None, "合计", *totals), total=True, key=("total",)))

    header = [[HeaderCell("序号", rowspan=2), HeaderCell("填报单位", rowspan=2),
               *(HeaderCell(f"纳入“{word}”管理人员情况统计（人数）", colspan=3) for word in DISEASES.values()),
               HeaderCell("总计", rowspan=2)],
              [HeaderCell(text) for word in DISEASES.values() for text in ("门诊重慢病", f"普通{word}", "合计")]]
    notes = ["统计口径：月末“两病”认定备案在有效期内（按备案病种分门诊重慢病/普通），或已纳入基层规范化管理"
             "未备案者（计入普通）；含各险种。",
             "同时患高血压、糖尿病者在两病中各计一次，总计为两病合计之和（人·病种）。"]
    return ReportTable(
        title=f"{region.city}参保人员“两病”情况统计表", header=header, formats=(TEXT, TEXT) + (COUNT,) * 7,
        rows=rows, period=month_label(month), unit=reporting_unit(session, scope), notes=notes,
        form_label="附件7", prepared_on=prepared_on or date.today(), demo=is_demo(session), measure="单位：人")


def _figures(counts: Counter, code: str) -> list[int]:
    figures = []
    for disease in DISEASES:
        severe, ordinary = counts[(code, disease, "severe")], counts[(code, disease, "ordinary")]
        figures += [severe, ordinary, severe + ordinary]
    return [*figures, figures[2] + figures[5]]
