"""`liangbing gui [--db PATH] [--demo-login] [--view V] [--screenshot OUT.png] [--today YYYY-MM-DD]`: the
desktop app. With --screenshot it renders the view at 1366×768 once every background task has finished,
saves the PNG and exits 0 (docs and tests; --demo-login only on a database `liangbing demo` built).
`filings` and `followups` are the demo patient's page on that tab; `settings` logs in as the demo admin."""

from __future__ import annotations

from datetime import date
from pathlib import Path

VIEWS = ("home", "patients", "patient", "filings", "followups", "prescribe", "dispense", "reports", "stock",
         "settings")


def register(sub) -> None:
    p = sub.add_parser("gui", help="打开桌面程序")
    p.add_argument("--db", type=Path, default=None, help="诊所数据库文件（默认：用户数据目录下的 clinic.db）")
    p.add_argument("--demo-login", action="store_true", help="以演示医生身份登录（仅限演示数据库）")
    p.add_argument("--view", choices=VIEWS, default=None, help="登录后打开的页面")
    p.add_argument("--screenshot", type=Path, default=None, metavar="OUT.png", help="保存该页面截图后退出")
    p.add_argument("--today", type=date.fromisoformat, default=None, help="以该日期为“今天”（YYYY-MM-DD）")
    p.set_defaults(handler=run)


def run(args) -> int:
    import os

    if args.screenshot is not None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")     # a screenshot needs no display
    from desktop.gui.app import GuiOptions, default_db_path, run_gui

    if args.screenshot is not None and not args.demo_login:
        raise ValueError("--screenshot 须与 --demo-login 一起使用")
    if args.screenshot is not None and args.screenshot.suffix.lower() != ".png":
        raise ValueError(f"截图文件须为 .png：{args.screenshot}")
    return run_gui(GuiOptions(db=args.db or default_db_path(), demo_login=args.demo_login, view=args.view,
                              screenshot=args.screenshot, today=args.today))
