"""`liangbing-server backup` and `liangbing-server restore` (sync/server/backup.py, restore.py):

    liangbing-server backup --db URL_OR_PATH [--to DIR] [--list]
    liangbing-server restore --db URL_OR_PATH --from FILE [--dry-run]
    liangbing-server serve … [--backup-dir DIR] [--no-daily-backup]   (a daily backup while serving)

Errors are one line on stderr and a non-zero exit (sync/server/cli.py main).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

from sync.server.backup import DailyBackup, backup_server, list_server_backups, target


def add_parsers(sub) -> None:
    """Register the subcommands on `liangbing-server`'s parser (sync/server/cli.py)."""
    backup = sub.add_parser("backup", help="备份服务器数据库（SQLite 在线备份 / PostgreSQL pg_dump，检查后轮换保留）")
    backup.add_argument("--to", default=None, metavar="DIR",
                        help="备份文件夹（默认：SQLite 文件旁的 backups/，PostgreSQL 为本用户数据文件夹）")
    backup.add_argument("--list", action="store_true", help="只列出已有的完好备份")
    backup.set_defaults(handler=run_backup)
    restore = sub.add_parser("restore", help="从备份恢复服务器数据库（先检查备份；当前数据库先另存）")
    restore.add_argument("--from", dest="source", required=True, metavar="FILE")
    restore.add_argument("--dry-run", action="store_true", help="只检查备份并显示记录数变化，不改动数据库")
    restore.set_defaults(handler=run_restore)
    serve = sub.choices["serve"]
    serve.add_argument("--backup-dir", metavar="DIR",
                       help="每日自动备份的文件夹（默认：SQLite 文件旁的 backups/；PostgreSQL 须指定才会自动备份）")
    serve.add_argument("--no-daily-backup", action="store_true", help="不在运行时每日自动备份（另有备份安排时）")


def run_backup(args) -> int:
    if args.list:
        backups = list_server_backups(args.db, args.to)
        for b in backups:
            print(f"{b.label}  {b.kind:7}  {b.size_label:>9}  {b.path}")
        print(f"共 {len(backups)} 个完好的备份" if backups else "还没有任何备份")
        return 0
    outcome = backup_server(args.db, args.to)
    checked = f"恢复到临时数据库核对了 {outcome.tables} 张表的行数" if outcome.tables else "完整性检查通过"
    print(f"已备份到 {outcome.backup.path}（{outcome.backup.size_label}，{checked}）")
    if outcome.removed:
        print(f"按保留规则（最近 14 天每天一份、最近 12 个月每月一份）删除旧备份 {len(outcome.removed)} 个")
    return 0


def run_restore(args) -> int:
    from sync.server.restore import restore_server

    for line in restore_server(args.db, args.source, dry_run=args.dry_run).lines():
        print(line)
    return 0


@contextmanager
def daily_backups(args, app=None) -> Iterator[DailyBackup | None]:
    """Around `serve`: the daily backup thread runs while the server does. The folder is kept on
    `app.state.backup_dir` so the dashboard shows the backups of the folder actually used."""
    if app is not None:
        app.state.backup_dir = args.backup_dir
    if args.no_daily_backup:
        yield None
        return
    if args.backup_dir is None and not target(args.db).is_sqlite:
        # A county's dumps can be large: they go where the administrator says, not somewhere implicit.
        print("注意：PostgreSQL 数据库未指定 --backup-dir，运行时不会每日自动备份", file=sys.stderr)
        yield None
        return
    daily = DailyBackup(args.db, args.backup_dir).start()
    try:
        yield daily
    finally:
        daily.stop()
