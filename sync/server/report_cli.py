"""`liangbing-server report` and `liangbing-server township-input`: the township reports for scripts and
the county, the same tables as the server's pages (clinic/township/tables.py).

    liangbing-server report monthly|units|dispatch|kpi|capitation|exchange --db URL_OR_PATH --month YYYY-MM
        [--insurance resident|employee|employee_supplementary] [--variant national|shanxi]
        [--township NAME] [--institution CODE] [--programme ID|FILE] -o OUT.pdf|OUT.xlsx
    liangbing-server township-input --db … --year YYYY --unit CODE|镇:NAME|全域 KEY=VALUE …

The file is written whole or not at all (a temporary file renamed into place). Errors are one line on
stderr and a non-zero exit (sync/server/cli.py main).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from clinic.db.engine import DatabaseError
from clinic.reports.scope import parse_month
from clinic.township.area import unit_name
from clinic.township.inputs import all_inputs, save_inputs
from clinic.township.tables import KINDS, VARIANTS, Request, build_tables
from clinic.vocab import INSURANCES
from forms.report_book import render_book
from sync.server.storage import open_server_database


def add_parsers(sub) -> None:
    """Register the subcommands on `liangbing-server`'s parser (sync/server/cli.py)."""
    report = sub.add_parser("report", help="乡镇汇总报表（PDF 或 Excel）")
    report.add_argument("kind", choices=list(KINDS), help=" / ".join(f"{k}：{v}" for k, v in KINDS.items()))
    report.add_argument("--month", required=True, help="统计月份 YYYY-MM")
    report.add_argument("--insurance", choices=list(INSURANCES),
                        help="险种：月报表不填则输出附件4、5、6三张；调度表默认城乡居民")
    report.add_argument("--variant", choices=list(VARIANTS), default="national", help="调度表样式")
    report.add_argument("--township", help="只统计该乡镇的村卫生室")
    report.add_argument("--institution", help="只统计该机构")
    report.add_argument("--programme", help="按人头包干方案编号或文件（默认：唯一生效的方案）")
    report.add_argument("-o", "--output", required=True, help="输出文件 .pdf 或 .xlsx")
    report.set_defaults(handler=run_report)
    entry = sub.add_parser("township-input", help="录入本系统没有的考核、结余数据（与网页“录入与设置”相同）")
    entry.add_argument("--year", type=int, required=True)
    entry.add_argument("--unit", required=True, help="机构编码、镇:乡镇名 或 全域")
    entry.add_argument("values", nargs="+", metavar="KEY=VALUE", help="值留空则删除该项")
    entry.set_defaults(handler=run_input)


def _database(target: str):
    if "://" not in target and not Path(target).expanduser().is_file():
        raise DatabaseError(f"找不到服务器数据库：{target}")
    return open_server_database(target)


def write_atomically(path: Path, data: bytes) -> None:
    path = path.expanduser()
    if path.is_dir():
        raise ValueError(f"{path} 是文件夹，请给出文件名")
    if not path.parent.is_dir():
        raise ValueError(f"输出文件夹不存在：{path.parent}")
    handle, temp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def run_report(args) -> int:
    output = Path(args.output)
    fmt = output.suffix.lower().lstrip(".")
    if fmt not in ("pdf", "xlsx"):
        raise ValueError(f"输出文件应以 .pdf 或 .xlsx 结尾：{args.output}")
    request = Request(kind=args.kind, month=parse_month(args.month), township=args.township,
                      institution=args.institution, insurance=args.insurance, variant=args.variant,
                      programme=args.programme)
    db = _database(args.db)
    try:
        with db.session("report") as s:
            tables = build_tables(s, request)
    finally:
        db.close()
    write_atomically(output, render_book(tables, fmt))
    print(f"已生成 {output}（{KINDS[args.kind]}，{len(tables)} 张表）")
    return 0


def run_input(args) -> int:
    values = {}
    for item in args.values:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"应写成 KEY=VALUE：{item}（可选：{' / '.join(all_inputs())}）")
        values[key.strip()] = value
    db = _database(args.db)
    try:
        with db.session("township-input", write=True) as s:
            unit_name(s, args.unit.strip())
            saved = save_inputs(s, args.year, args.unit.strip(), values)
    finally:
        db.close()
    print(f"{args.year} 年 {args.unit} 已录入：" + ("，".join(f"{k}={v}" for k, v in sorted(saved.items())) or "无"))
    return 0

