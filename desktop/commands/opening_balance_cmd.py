"""`liangbing opening-balance import --db PATH --file F.xlsx|F.csv --user ADMIN`: import 期初余额 from
the previous system (clinic/opening_balances.py), administrators only; the password is read from
LIANGBING_PASSWORD or asked for, as `liangbing audit` does. Prints the report; exits 0 when every row
was imported, 2 when some were refused, 1 when the file as a whole could not be read (nothing written)."""

from __future__ import annotations

import getpass
import os
import sys
from datetime import date


def register(sub) -> None:
    p = sub.add_parser("opening-balance", help="期初余额：从原系统导入患者本年统筹已支付和起付线已付（仅管理员）")
    actions = p.add_subparsers(dest="opening_action", required=True)
    imp = actions.add_parser("import", help="从 .xlsx 或 .csv 导入（身份证号、病种、年度、统筹基金已支付、起付线已付）")
    imp.add_argument("--db", required=True)
    imp.add_argument("--file", required=True, metavar="F.xlsx|F.csv")
    imp.add_argument("--user", required=True, help="管理员用户名（密码取自 LIANGBING_PASSWORD 或提示输入）")
    imp.add_argument("--today", type=date.fromisoformat, default=None, help="以该日期为“今天”（YYYY-MM-DD）")
    imp.set_defaults(handler=run)


def _password() -> str:
    secret = os.environ.get("LIANGBING_PASSWORD")
    if secret is not None:
        return secret
    if not sys.stdin.isatty():
        raise ValueError("请在环境变量 LIANGBING_PASSWORD 中提供管理员密码")
    return getpass.getpass("管理员密码：")


def run(args) -> int:
    from clinic.db.engine import open_database
    from clinic.opening_balances import import_opening_balances
    from clinic.users import authenticate

    secret = _password()
    db = open_database(args.db, create=False)
    try:
        with db.session(args.user) as s:
            admin = authenticate(s, args.user, secret)
        with db.session(admin.username) as s:
            report = import_opening_balances(s, args.file, user=admin.username, role=admin.role, today=args.today)
    finally:
        db.close()
    print(report.summary())
    return 2 if report.refused else 0
