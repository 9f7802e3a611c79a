"""`liangbing backup --db PATH [--to DIR] [--list]` and `liangbing restore --db PATH --from FILE [--dry-run]`
(clinic/backup.py, clinic/restore.py). Errors end with one line on stderr and a non-zero exit."""

from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    backup = sub.add_parser("backup", help="备份数据库（SQLite 在线备份 + 完整性检查，自动轮换保留）")
    backup.add_argument("--db", required=True)
    backup.add_argument("--to", default=None, metavar="DIR", help="备份到这个文件夹（默认：设置中的备份位置）")
    backup.add_argument("--list", action="store_true", help="只列出已有的备份")
    backup.set_defaults(handler=run_backup)

    restore = sub.add_parser("restore", help="从备份恢复数据库（原文件先另存，备份之后已上传的记录重新写入）")
    restore.add_argument("--db", required=True)
    restore.add_argument("--from", dest="source", required=True, metavar="FILE")
    restore.add_argument("--dry-run", action="store_true", help="只显示恢复会带来的变化，不动任何文件")
    restore.set_defaults(handler=run_restore)


def run_backup(args) -> int:
    from clinic.backup import backup_database, backup_status, list_backups

    db = Path(args.db)
    if not db.is_file():
        raise ValueError(f"找不到数据库文件：{db}")
    if args.list:
        backups = list_backups(db, Path(args.to) if args.to else None)
        for b in backups:
            print(f"{b.label}  {b.kind:7}  {b.path}")
        print(backup_status(db).message if not args.to else f"共 {len(backups)} 个备份")
        return 0
    if args.to:
        result = backup_database(db, folder=Path(args.to), use_settings=False)
    else:
        result = backup_database(db)
    print(f"已备份到 {result.backup.path}（完整性检查通过）")
    for copy in result.copies:
        print(f"已复制到第二备份位置 {copy}（完整性检查通过）")
    if result.removed:
        print(f"按保留规则（最近 14 天每天一份、最近 12 个月每月一份）删除旧备份 {len(result.removed)} 个")
    for warning in result.warnings:
        print(f"注意：{warning}")
    return 0


def run_restore(args) -> int:
    from clinic.restore import plan_restore, restore_backup

    if args.dry_run:
        plan = plan_restore(args.db, args.source)
        print(f"将从备份 {plan.backup.name} 恢复 {args.db}（原文件先另存）：")
        for line in plan.lines():
            print(f"  {line}")
        return 0
    report = restore_backup(args.db, args.source, user="liangbing restore")
    for line in report.lines():
        print(line)
    return 0
