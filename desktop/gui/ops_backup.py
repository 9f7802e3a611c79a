"""What the 备份 section of 设置 runs in the worker: the backups there are, backing up now, and the
two folders (the second one typically a USB stick). Backups themselves are clinic/backup.py. No Qt."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from clinic import backup
from clinic.db.engine import Database
from clinic.permissions import require
from desktop.gui.context import UserInfo

KIND_WORDS = {"daily": "每日自动", "exit": "退出时", "manual": "手动"}


@dataclass(frozen=True)
class BackupRow:
    label: str               # when, local time
    kind: str                # in Chinese
    path: str
    size_kb: int


@dataclass(frozen=True)
class BackupState:
    message: str
    stale: bool
    folder: str               # where backups go now
    folder_setting: str       # the administrator's choice ("" = the default beside the database)
    second: str               # "" when none is set
    second_missing: bool      # set, but not plugged in / not there
    backups: list[BackupRow]


def state(db: Database) -> BackupState:
    status = backup.backup_status(db.path)
    folder, second = backup.primary_folder(db.path), backup.second_folder(db.path)
    rows = [BackupRow(b.label, KIND_WORDS.get(b.kind, b.kind), str(b.path), max(1, b.path.stat().st_size // 1024))
            for b in backup.list_backups(db.path)]
    chosen = backup.read_setting(db.path, backup.FOLDER_SETTING) or ""
    return BackupState(status.message, status.stale, str(folder), chosen, str(second or ""),
                       second is not None and not second.is_dir(), rows)


def backup_now(db: Database) -> str:
    """A manual backup, verified; the words to show (including a missing USB stick)."""
    result = backup.backup_database(db.path, kind="manual")
    text = f"已备份并校验完好：{result.backup.path}"
    if result.copies:
        text += f"；已复制到 {result.copies[0].parent}"
    return "；".join([text, *result.warnings])


def save_folders(db: Database, user: UserInfo, folder: str, second: str) -> BackupState:
    require(user.role, "settings.edit")
    for text in (folder, second):
        if text.strip() and Path(text.strip()).is_absolute() and Path(text.strip()).is_file():
            raise backup.BackupError(f"{text} 是文件，请选择文件夹")
    with db.session(user.username) as s:
        backup.save_folders(s, folder=folder, second=second)
    return state(db)


def restore_plan(db: Database, backup_file: Path) -> list[str]:
    """What restoring `backup_file` would do, read-only: records synced since (re-written from the
    township's versions), changes never synced (kept only in the set-aside file), streams re-pulled."""
    from clinic.restore import plan_restore

    return plan_restore(db.path, backup_file).lines()


def restore(db: Database, user: UserInfo, backup_file: Path) -> list[str]:
    """Restore in place. This app's connections are closed first (restore refuses a file in use); the
    same Database object then reconnects to the restored file, so every page keeps working."""
    from clinic.restore import restore_backup

    require(user.role, "settings.edit")
    db.engine.dispose()
    report = restore_backup(db.path, backup_file, user=user.username)
    db.engine.dispose()            # no connection may outlive the file it was opened on
    db.load_local_institution()
    return report.lines()
