"""What the 报表 page runs in the worker: build a report for a month (clinic/reports), render it to
PDF or XLSX (forms/), write the export. No Qt here.

The computations and renderers belong to clinic/reports and forms/; this module names the reports
the page offers, the figures each needs from the user (参保人数 of the area for 附件4–6, the 濉溪 KPI
table's inputs: the system does not hold them, so they are typed in, never guessed), and counts ID
numbers in an export before it is written (issue 7).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from clinic.db.engine import Database
from clinic.permissions import require
from clinic.reports import (
    INSURED_KEYS,
    ReportTable,
    dispatch_table,
    kpi_table,
    load_assessment,
    monthly_table,
    units_table,
)
from clinic.sensitive import find_id_numbers
from desktop.gui.context import UserInfo

RATE, COUNT = "rate", "count"


@dataclass(frozen=True)
class ReportKind:
    key: str
    label: str
    build: Callable[..., ReportTable]           # (session, month, prepared_on, inputs) -> ReportTable
    inputs: Callable[[], dict[str, tuple[str, str]]] = dict     # key → (label, RATE | COUNT)
    inputs_title: str = ""


def _insured_inputs() -> dict[str, tuple[str, str]]:
    return {key: (label, COUNT) for key, label in INSURED_KEYS.items()}


def _kpi_inputs() -> dict[str, tuple[str, str]]:
    return {ind.key: (ind.cases_word or ind.second, COUNT) if ind.counts_cases else (ind.second, RATE)
            for ind in load_assessment().indicators if ind.measure is None}


def _monthly(insurance: str):
    return lambda s, month, today, given: monthly_table(s, month, insurance, insured=given, prepared_on=today)


def _dispatch(variant: str):
    return lambda s, month, today, given: dispatch_table(s, month, variant=variant, prepared_on=today)


INSURED_TITLE = "参保人数（本系统只有本机构的患者，全地区参保人数请按医保部门数据填写；留空显示“待录入”）"
REPORT_KINDS = (
    ReportKind("monthly.resident", "附件4 城乡居民“两病”月报表", _monthly("resident"), _insured_inputs, INSURED_TITLE),
    ReportKind("monthly.employee", "附件5 城镇职工“两病”月报表", _monthly("employee"), _insured_inputs, INSURED_TITLE),
    ReportKind("monthly.employee_supplementary", "附件6 城镇职工补充“两病”月报表",
               _monthly("employee_supplementary"), _insured_inputs, INSURED_TITLE),
    ReportKind("units", "附件7 参保人员“两病”情况统计表",
               lambda s, month, today, given: units_table(s, month, prepared_on=today)),
    ReportKind("dispatch.national", "“两病”门诊用药保障情况调度表（国家/云南）", _dispatch("national")),
    ReportKind("dispatch.shanxi", "山西“两病”门诊用药保障情况调度表（吕梁）", _dispatch("shanxi")),
    ReportKind("kpi", "濉溪 门诊特殊疾病定额支付考核表（“两病”）",
               lambda s, month, today, given: kpi_table(s, month, inputs=given, prepared_on=today),
               _kpi_inputs, "考核表录入项（本系统没有的数据，由乡镇卫生院填写；留空显示“待录入”）"),
)
KINDS = {kind.key: kind for kind in REPORT_KINDS}


def build(db: Database, user: UserInfo, key: str, month: date, today: date,
          given: dict[str, str] | None = None) -> ReportTable:
    """The report for `month`; `given` holds the user's inputs as typed (clinic/reports checks them)."""
    require(user.role, "report.view")
    kind = KINDS[key]
    with db.session(user.username) as s:
        return kind.build(s, month, today, {k: v for k, v in (given or {}).items() if str(v).strip()})


def id_numbers_in(report: ReportTable) -> int:
    """How many distinct 身份证号 (checksum-valid) the report's cells hold."""
    found: set[str] = set()
    for row in report.rows:
        for cell in row.cells:
            if isinstance(cell, str):
                found |= find_id_numbers(cell)
    return len(found)


def render(report: ReportTable, fmt: str) -> bytes:
    if fmt == "pdf":
        from forms.report_pdf import render_pdf
        return render_pdf(report)
    if fmt == "xlsx":
        from forms.report_xlsx import render_xlsx
        return render_xlsx(report)
    raise ValueError(f"不支持的导出格式：{fmt}（可选 pdf / xlsx）")


def export(report: ReportTable, path: Path) -> Path:
    """Write the report to `path` (format from its extension) whole or not at all."""
    fmt = path.suffix.lower().lstrip(".")
    data = render(report, fmt)
    temp = path.with_name(f".{path.name}.partial")
    try:
        temp.write_bytes(data)
        temp.replace(path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise OSError(f"无法写入 {path}：{exc.strerror or exc}") from None
    return path


def file_name(report: ReportTable, key: str, month: date, fmt: str) -> str:
    label = KINDS[key].label
    label = label.split(" ")[0] if label.startswith("附件") else label
    safe = "".join(ch for ch in label if ch not in '\\/:*?"<>|“”（）() ')
    return f"{safe}_{month:%Y-%m}{'_演示' if report.demo else ''}.{fmt}"
