"""`liangbing report monthly|units|dispatch|kpi --db PATH --month YYYY-MM -o OUT.pdf|OUT.xlsx`: the
monthly reports (clinic/reports) as a PDF for printing or an XLSX workbook, by the output's extension.

    report monthly  --insurance resident|employee|employee_supplementary   附件4/5/6
    report units                                                           附件7
    report dispatch [--variant national|shanxi] [--insurance …|all]        调度表
    report kpi                                                             濉溪 KPI 考核表
Figures the clinic does not hold are given with --input KEY=VALUE (repeatable), e.g. 参保人数
`--input ordinary.hypertension=1200`, or a KPI input `--input complaints=1`; without them the
report prints 待录入. --institution CODE (repeatable) restricts a database of several clinics.
Errors end with one line on stderr and a non-zero exit (desktop/cli.py).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

KINDS = ("monthly", "units", "dispatch", "kpi")
FORMATS = (".pdf", ".xlsx")


def register(sub) -> None:
    p = sub.add_parser("report", help="生成月报表：附件4/5/6、附件7、调度表、濉溪考核表（PDF 或 XLSX）")
    p.add_argument("kind", help="monthly 附件4/5/6 | units 附件7 | dispatch 调度表 | kpi 考核表")
    p.add_argument("--db", required=True)
    p.add_argument("--month", required=True, metavar="YYYY-MM")
    p.add_argument("--insurance", default=None, help="resident | employee | employee_supplementary（调度表另可 all）")
    p.add_argument("--variant", default="national", help="调度表样式：national（国家/云南）| shanxi（山西）")
    p.add_argument("--input", action="append", default=[], metavar="KEY=VALUE", help="录入本系统没有的数据")
    p.add_argument("--institution", action="append", default=None, metavar="CODE", help="只统计这些机构")
    p.add_argument("-o", "--output", required=True, metavar="OUT.pdf|OUT.xlsx")
    p.set_defaults(handler=run)


def parse_inputs(items: list[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ValueError(f"--input 应写成 KEY=VALUE：{item!r}")
        if key.strip() in found:
            raise ValueError(f"--input 重复：{key.strip()}")
        found[key.strip()] = value.strip()
    return found


def build_table(session, kind: str, month, insurance: str | None, variant: str, inputs: dict[str, str],
                institutions: list[str] | None):
    from clinic.reports import dispatch_table, kpi_table, monthly_table, units_table

    if kind == "monthly":
        if insurance is None:
            raise ValueError("月报表须指定 --insurance（resident / employee / employee_supplementary）")
        return monthly_table(session, month, insurance, institutions, insured=inputs)
    if inputs and kind != "kpi":
        raise ValueError(f"{kind} 报表没有录入项，请去掉 --input")
    if kind == "units":
        if insurance is not None:
            raise ValueError("附件7 统计全部险种，不接受 --insurance")
        return units_table(session, month, institutions)
    if kind == "dispatch":
        chosen = "resident" if insurance is None else None if insurance == "all" else insurance
        return dispatch_table(session, month, institutions, variant=variant, insurance=chosen)
    if insurance is not None:
        raise ValueError("考核表的险种由考核文件规定，不接受 --insurance")
    return kpi_table(session, month, institutions, inputs=inputs)


def run(args) -> int:
    from clinic.db.engine import open_database
    from clinic.reports import parse_month

    if args.kind not in KINDS:
        raise ValueError(f"报表类型无效：{args.kind!r}（可选：{' / '.join(KINDS)}）")
    month = parse_month(args.month)
    out = Path(args.output)
    if out.suffix.lower() not in FORMATS:
        raise ValueError(f"输出文件扩展名应为 .pdf 或 .xlsx：{out.name}")
    if not out.parent.is_dir():
        raise ValueError(f"输出目录不存在：{out.parent}")
    if args.kind != "dispatch" and args.variant != "national":
        raise ValueError("--variant 只用于调度表（dispatch）")
    inputs = parse_inputs(args.input)
    if not Path(args.db).is_file():
        raise ValueError(f"找不到数据库文件：{args.db}")
    db = open_database(args.db, create=False)
    try:
        with db.session() as s:
            table = build_table(s, args.kind, month, args.insurance, args.variant, inputs, args.institution)
    finally:
        db.close()
    if out.suffix.lower() == ".pdf":
        from forms.report_pdf import render_pdf
        data = render_pdf(table)
    else:
        from forms.report_xlsx import render_xlsx
        data = render_xlsx(table)
    _write_atomically(out, data)
    label = f"{table.form_label} " if table.form_label else ""
    print(f"已生成{label}{table.title}（{table.period}{'，演示数据' if table.demo else ''}）：{out}")
    return 0


def _write_atomically(out: Path, data: bytes) -> None:
    """Write beside the target and rename over it: an earlier file is never left half-written."""
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, out)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise ValueError(f"无法写入 {out}：{exc.strerror or exc}") from None
