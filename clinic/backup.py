"""Backups of a clinic database (issue 7): the only copy of records not yet synced lives on a PC that
loses power and catches viruses.

- Taken with SQLite's online backup API (a consistent snapshot even while the app writes), written to
  a hidden `.partial` file, checked with `PRAGMA integrity_check`, and only then given its final name:
  a file named like a backup is always a good one.
- Automatic: the first start of each day (`daily_backup_if_due`) and on exit (`backup_on_exit`),
  both called by the GUI; by hand with `liangbing backup`.
- Rotated like `restic forget --keep-daily 14 --keep-monthly 12`: the newest backup of each of the
  14 latest days that have one, and of each of the 12 latest months. Rotation runs only after a new
  backup passed its check, so a corrupt database never pushes good backups out.
- A second folder (a USB stick) gets a verified copy when it is plugged in; when it is not, the
  backup still succeeds and says so.

Folders: `backups/` beside the database unless the settings `backup.folder` / `backup.second_folder`
say otherwise (an administrator sets them with `save_folders`). Backup files are owner-only from their
first byte, and so is a folder this module creates (clinic/owner_only.py).

The township server's backups (sync/server/backup.py) use the same naming, listing, checking and
rotation: its PostgreSQL dumps are `NAME-…-daily.dump` (`stem`, `suffix`), checked by their own test.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from clinic.owner_only import create_private_file, private_folder, restrict

KEEP_DAILY = 14
KEEP_MONTHLY = 12
FOLDER_SETTING = "backup.folder"
SECOND_FOLDER_SETTING = "backup.second_folder"
STALE_AFTER = timedelta(days=1)          # the home screen warns when the newest backup is older
KINDS = ("daily", "exit", "manual")
_STAMP = "%Y%m%d-%H%M%S"


class BackupError(Exception):
    """A backup could not be made or checked; the message says why, in Chinese, in one line."""


@dataclass(frozen=True)
class BackupInfo:
    path: Path
    taken_at: datetime                   # local time, from the file name
    kind: str

    @property
    def label(self) -> str:
        return f"{self.taken_at:%Y-%m-%d %H:%M}"


@dataclass
class BackupResult:
    backup: BackupInfo
    copies: list[Path] = field(default_factory=list)       # verified copies in the second folder
    removed: list[Path] = field(default_factory=list)      # rotated out
    warnings: list[str] = field(default_factory=list)      # e.g. the USB stick is not plugged in


@dataclass(frozen=True)
class BackupStatus:
    last: BackupInfo | None
    stale: bool

    @property
    def message(self) -> str:
        if self.last is None:
            return "还没有任何备份，请立即备份"
        text = f"最近一次完好的备份：{self.last.label}"
        return f"{text}，已超过一天，请立即备份" if self.stale else text


# -- where backups live ----------------------------------------------------------------------------

def read_setting(db_path: Path, key: str) -> str | None:
    """A setting read straight from the file (read-only), so a backup needs no open Database."""
    try:
        conn = sqlite3.connect(f"file:{Path(db_path).as_posix()}?mode=ro", uri=True, timeout=5)
    except sqlite3.Error:
        return None
    try:
        row = conn.execute("SELECT value FROM setting WHERE key = ?", (key,)).fetchone()
    except sqlite3.Error:               # no setting table yet (a new or very old file), or unreadable
        return None
    finally:
        conn.close()
    return row[0] if row and row[0] else None


def primary_folder(db_path: Path) -> Path:
    chosen = read_setting(db_path, FOLDER_SETTING)
    return Path(chosen) if chosen else Path(db_path).resolve().parent / "backups"


def second_folder(db_path: Path) -> Path | None:
    chosen = read_setting(db_path, SECOND_FOLDER_SETTING)
    return Path(chosen) if chosen else None


def backup_name(stem: str, taken_at: datetime, kind: str, suffix: str = ".db") -> str:
    return f"{stem}-{taken_at.strftime(_STAMP)}-{kind}{suffix}"


def _pattern(stem: str, suffix: str = ".db") -> re.Pattern:
    return re.compile(rf"^{re.escape(stem)}-(\d{{8}}-\d{{6}})-({'|'.join(KINDS)}){re.escape(suffix)}$")


def list_backups(db_path: Path, folder: Path | None = None, *, stem: str | None = None,
                 suffix: str = ".db") -> list[BackupInfo]:
    """The finished (verified) backups of this database in `folder`, newest first. `stem` and `suffix`
    name other backups than `STEM-…-KIND.db` of a clinic file (the server's PostgreSQL dumps)."""
    folder = Path(folder) if folder else primary_folder(db_path)
    if not folder.is_dir():
        return []
    pattern, found = _pattern(stem or Path(db_path).stem, suffix), []
    for entry in folder.iterdir():
        match = pattern.match(entry.name)
        if match and entry.is_file():
            found.append(BackupInfo(entry, datetime.strptime(match.group(1), _STAMP), match.group(2)))
    return sorted(found, key=lambda b: (b.taken_at, b.path.name), reverse=True)


def last_good_backup(db_path: Path, folders: Iterable[Path] = ()) -> BackupInfo | None:
    """The newest backup in the primary folder (or the given folders)."""
    candidates = [b for folder in (list(folders) or [None]) for b in list_backups(db_path, folder)]
    return max(candidates, key=lambda b: b.taken_at, default=None)


def backup_status(db_path: Path, now: datetime | None = None) -> BackupStatus:
    """For the home screen: the last good backup and whether it is more than a day old."""
    last = last_good_backup(db_path)
    now = now or datetime.now()
    return BackupStatus(last, last is None or now - last.taken_at > STALE_AFTER)


def save_folders(session, *, folder: str | None, second: str | None) -> None:
    """An administrator's choice of backup folders (None or "" = the default / no second folder)."""
    from clinic.db.models import Setting

    for key, value in ((FOLDER_SETTING, folder), (SECOND_FOLDER_SETTING, second)):
        value = (value or "").strip()
        if value and not Path(value).is_absolute():
            raise BackupError(f"备份位置须为完整路径（如 E:\\两病备份），收到：{value}")
        row = session.get(Setting, key)
        if not value:
            if row is not None:
                session.delete(row)
        elif row is None:
            session.add(Setting(key=key, value=value))
        else:
            row.value = value


# -- making and checking ---------------------------------------------------------------------------

def integrity_problem(path: Path) -> str | None:
    """None when `PRAGMA integrity_check` says ok, else its first complaint (or why it could not run)."""
    try:
        conn = sqlite3.connect(f"file:{Path(path).as_posix()}?mode=ro", uri=True, timeout=5)
        try:
            rows = conn.execute("PRAGMA integrity_check").fetchall()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        return str(exc)
    return None if rows == [("ok",)] else str(rows[0][0])


def snapshot(source: Path, target: Path) -> None:
    """SQLite online backup of `source` into a new owner-only file `target`, stored as one
    self-contained file."""
    create_private_file(target)
    src = sqlite3.connect(source, timeout=10)
    try:
        dst = sqlite3.connect(target)
        try:
            src.backup(dst)
            dst.execute("PRAGMA journal_mode=DELETE")       # no -wal beside a backup file
        finally:
            dst.close()
    finally:
        src.close()


def _fsync(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def finish(partial: Path, final: Path, check=integrity_problem) -> None:
    """Give a checked backup its final name (on disk first); a failed check deletes it instead.
    `check(path)` returns None or what is wrong (SQLite's integrity check unless told otherwise)."""
    problem = check(partial)
    if problem is not None:
        partial.unlink(missing_ok=True)
        raise BackupError(f"备份未通过完整性检查（{problem}），数据库可能已损坏；原有备份均已保留")
    _fsync(partial)
    os.replace(partial, final)


def backup_database(db_path: str | Path, *, folder: Path | None = None, second: Path | None = None,
                    kind: str = "manual", now: datetime | None = None, use_settings: bool = True) -> BackupResult:
    """Back up now, check it, copy it to the second folder, then rotate both folders. Folders not
    given come from the settings, unless `use_settings` is False (a one-off backup to a chosen folder)."""
    db_path = Path(db_path)
    if not db_path.is_file():
        raise BackupError(f"找不到数据库文件：{db_path}")
    folder = Path(folder) if folder else primary_folder(db_path)
    second = Path(second) if second else second_folder(db_path) if use_settings else None
    now = now or datetime.now()
    name = backup_name(db_path.stem, now, kind)
    partial = folder / f".{name}.partial"
    try:
        private_folder(folder)
        snapshot(db_path, partial)
        finish(partial, folder / name)
    except sqlite3.Error as exc:
        partial.unlink(missing_ok=True)
        raise BackupError(f"无法备份数据库 {db_path.name}：{exc}") from None
    except OSError as exc:
        raise BackupError(f"无法写入备份文件夹 {folder}：{exc.strerror or exc}") from None
    result = BackupResult(BackupInfo(folder / name, now.replace(microsecond=0), kind))
    result.removed += rotate(db_path, folder)
    restrict_backups(db_path, folder)
    if second is not None:
        _copy_to_second(db_path, result, second)
    return result


def _copy_to_second(db_path: Path, result: BackupResult, second: Path) -> None:
    if not second.is_dir():
        result.warnings.append(f"第二备份位置 {second} 不可用（U盘未插入？），本次只备份到 {result.backup.path.parent}")
        return
    target = second / result.backup.path.name
    partial = second / f".{target.name}.partial"
    try:
        create_private_file(partial)
        shutil.copyfile(result.backup.path, partial)      # into the owner-only file: its mode stays
        finish(partial, target)
    except (OSError, BackupError) as exc:
        partial.unlink(missing_ok=True)
        result.warnings.append(f"复制到第二备份位置 {second} 失败：{getattr(exc, 'strerror', None) or exc}")
        return
    result.copies.append(target)
    result.removed += rotate(db_path, second)


def restrict_backups(db_path: Path, folder: Path, *, stem: str | None = None, suffix: str = ".db") -> None:
    """Backups an older release left readable by every account become owner-only, and so does the
    default `backups/` folder beside the database (a folder a person chose is left as it is)."""
    for b in list_backups(db_path, folder, stem=stem, suffix=suffix):
        restrict(b.path)
    if Path(folder).resolve() == Path(db_path).resolve().parent / "backups":
        restrict(folder)


def rotate(db_path: Path, folder: Path, keep_daily: int = KEEP_DAILY, keep_monthly: int = KEEP_MONTHLY, *,
           stem: str | None = None, suffix: str = ".db") -> list[Path]:
    """Delete the backups that neither the daily nor the monthly rule keeps; returns them."""
    backups = list_backups(db_path, folder, stem=stem, suffix=suffix)       # newest first
    keep: set[Path] = {backups[0].path} if backups else set()
    for width, count in ((lambda b: b.taken_at.date(), keep_daily), (lambda b: (b.taken_at.year, b.taken_at.month),
                                                                    keep_monthly)):
        seen = set()
        for b in backups:
            bucket = width(b)
            if bucket not in seen and len(seen) < count:
                seen.add(bucket)
                keep.add(b.path)
    removed = []
    for b in backups:
        if b.path not in keep:
            b.path.unlink(missing_ok=True)
            removed.append(b.path)
    return removed


# -- the automatic backups the GUI asks for --------------------------------------------------------

def daily_backup_if_due(db_path: str | Path, *, folder: Path | None = None, second: Path | None = None,
                        now: datetime | None = None) -> BackupResult | None:
    """On start: back up unless today already has a backup. Returns None when none was due."""
    db_path, now = Path(db_path), now or datetime.now()
    last = last_good_backup(db_path, [folder] if folder else ())
    if last is not None and last.taken_at.date() == now.date():
        return None
    return backup_database(db_path, folder=folder, second=second, kind="daily", now=now)


def backup_on_exit(db_path: str | Path, *, folder: Path | None = None, second: Path | None = None,
                   now: datetime | None = None) -> BackupResult | None:
    """On exit, before the app closes the database: back up unless nothing was written since the
    newest backup (the database and WAL file times say so; closing checkpoints and touches them)."""
    db_path = Path(db_path)
    last = last_good_backup(db_path, [folder] if folder else ())
    if last is not None:
        written = max(p.stat().st_mtime for p in (db_path, Path(f"{db_path}-wal")) if p.exists())
        if written < last.path.stat().st_mtime:
            return None
    return backup_database(db_path, folder=folder, second=second, kind="exit", now=now)
