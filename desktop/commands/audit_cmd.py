"""`liangbing audit export --db PATH --user ADMIN -o OUT.xlsx [--since D] [--until D] [--mask-ids | --yes]`
`liangbing audit show …` (both for administrators only, clinic/audit_export.py) and `liangbing audit verify
--db PATH` (anyone: is the tamper-evident chain intact? clinic/audit_chain.py): the audit log.

The administrator's password is read from the LIANGBING_PASSWORD environment variable or asked for.
The log holds patients' ID numbers: an export that would contain them stops with a warning unless
--yes confirms it or --mask-ids hides them (PIPL, issue 7)."""

from __future__ import annotations

import getpass
import os
import sys
from datetime import date


def register(sub) -> None:
    audit = sub.add_parser("audit", help="审计日志：查看、导出（仅管理员）")
    actions = audit.add_subparsers(dest="audit_action", required=True)
    for name, text in (("show", "显示审计日志"), ("export", "导出审计日志为 Excel（.xlsx）")):
        p = actions.add_parser(name, help=text)
        p.add_argument("--db", required=True)
        p.add_argument("--user", required=True, help="管理员用户名（密码取自 LIANGBING_PASSWORD 或提示输入）")
        p.add_argument("--since", type=date.fromisoformat, default=None, metavar="YYYY-MM-DD")
        p.add_argument("--until", type=date.fromisoformat, default=None, metavar="YYYY-MM-DD")
        p.add_argument("--who", default=None, help="只看这个用户的操作")
        p.add_argument("--entity", default=None, help="只看这类记录，如 patient、settlement、user_account")
        if name == "export":
            p.add_argument("-o", "--output", required=True, metavar="OUT.xlsx")
            p.add_argument("--yes", action="store_true", help="确认导出含身份证号的内容")
            p.add_argument("--mask-ids", action="store_true", help="隐去身份证号中间 8 位")
        else:
            p.add_argument("--limit", type=int, default=50)
        p.set_defaults(handler=run)
    check = actions.add_parser("verify", help="核对审计日志是否完整（未被改写、删除或截断）")
    check.add_argument("--db", required=True)
    check.set_defaults(handler=verify)


def verify(args) -> int:
    """`liangbing audit verify --db PATH`: 完整：N 条审计记录 (exit 0), or one line per finding (exit 1)."""
    from clinic.audit_chain import stored_ack
    from clinic.audit_chain import verify as verify_chain
    from clinic.db.engine import open_database

    db = open_database(args.db, create=False)
    try:
        with db.engine.connect() as conn:
            report = verify_chain(conn, stored_ack(conn))
    finally:
        db.close()
    if report.intact:
        print(f"完整：{report.events} 条审计记录")
        return 0
    for finding in report.findings:
        print(finding, file=sys.stderr)
    print(f"审计日志不完整：共 {report.events} 条记录，发现 {len(report.findings)} 处问题", file=sys.stderr)
    return 1


def _password() -> str:
    secret = os.environ.get("LIANGBING_PASSWORD")
    if secret is not None:
        return secret
    if not sys.stdin.isatty():
        raise ValueError("请在环境变量 LIANGBING_PASSWORD 中提供管理员密码")
    return getpass.getpass("管理员密码：")


def run(args) -> int:
    from clinic.audit_export import audit_events, export_audit_xlsx, id_numbers_in
    from clinic.db.engine import open_database
    from clinic.sensitive import id_number_warning
    from clinic.users import authenticate

    secret = _password()
    db = open_database(args.db, create=False)
    try:
        with db.session(args.user) as s:
            admin = authenticate(s, args.user, secret)
        with db.session(args.user) as s:
            rows = audit_events(s, admin.role, since=args.since, until=args.until, user=args.who, entity=args.entity,
                                limit=None if args.audit_action == "export" else args.limit)
            if args.audit_action == "show":
                for row in rows:
                    print("  ".join(str(c) for c in row.cells))
                print(f"共 {len(rows)} 条")
                return 0
            ids = id_numbers_in(rows)
            if ids and not (args.yes or args.mask_ids):
                raise ValueError(f"{id_number_warning(len(ids))}；确认导出请加 --yes，"
                                 "或加 --mask-ids 隐去身份证号中间 8 位")
            path = export_audit_xlsx(s, admin.username, admin.role, args.output, rows, mask_ids=args.mask_ids)
    finally:
        db.close()
    if ids and not args.mask_ids:
        print(f"注意：{id_number_warning(len(ids))}", file=sys.stderr)
    print(f"已导出审计日志 {len(rows)} 条：{path}")
    return 0
