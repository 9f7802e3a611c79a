"""Restoring the township server's database from a backup (issue 13 item 6).

Only a backup that passes its check is restored, and the current database is never lost:
- SQLite: the file must pass `PRAGMA integrity_check` and be this software's database; the current
  file (with its -wal/-shm) is renamed aside, a copy of the backup takes its place and is migrated if
  it is older; anything failing puts the original back.
- PostgreSQL: the dump is restored into a new database first (all or nothing) and migrated there;
  only then is the current database renamed aside (`NAME_before_restore_…`, kept until someone drops
  it) and the new one renamed into its place. Renaming needs the server stopped (no other sessions).
`--dry-run` does the same checks and shows each table's rows now and in the backup, changing nothing.

After a restore the clinics still hold, as acknowledged, what they pushed since the backup:
`liangbing sync --reconcile` on each clinic sends those records again (the report says so). They also
hold pull cursors up to the current database's last feed position, which the backup's feed never
reached: the restored feed is renumbered to start after it (`_move_feed_past`), so every clinic pulls
the restored feed again (items are built when pulled: the current versions) and sees every new item.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from clinic.db.engine import DatabaseError, copy_database
from clinic.db.types import utcnow
from clinic.owner_only import restrict_database
from clinic.restore import RestoreError, _companions, _in_use, _move, _self_contained, check_backup_file
from sync.server.backup import (
    ServerBackupError,
    _first_line,
    pg_engine,
    pg_environment,
    restore_dump,
    run_pg_tool,
    scratch_database,
    scratch_name,
    table_counts,
    target,
)
from sync.server.storage import open_server_database

CLINIC_QUERY = "SELECT count(*) FROM institution WHERE is_local"       # a clinic's own file names itself
NOT_SERVER = "{name} 是村卫生室的数据库备份，不是乡镇服务器的，当前数据库未改动"
UNKNOWN_FEED_GAP = 1_000_000     # positions skipped when the current database cannot be read
FEED_MARKER = ("review", "restored", "-")   # a position holder no pull turns into an item (unknown kind)
RECONCILE = "请在每个村卫生室运行 liangbing sync --reconcile，重新上传备份之后已上传过的记录"
MAINTENANCE_DATABASES = ("postgres", "template1")
SESSION_POLLS = 30                       # × 0.1 s


@dataclass
class ServerRestoreReport:
    backup: Path
    dry_run: bool
    now: dict[str, int] = field(default_factory=dict)          # table → rows in the current database
    then: dict[str, int] = field(default_factory=dict)         # table → rows in the backup
    aside: str | None = None                                   # where the current database was kept

    def lines(self) -> list[str]:
        head = (f"将从备份 {self.backup.name} 恢复（检查通过；当前数据库会先另存）：" if self.dry_run
                else f"已从备份 {self.backup.name} 恢复（检查通过）")
        out = [head]
        if self.aside:
            out.append(f"原数据库已另存为 {self.aside}")
        changed = [f"{t} {self.now.get(t, 0)} → {self.then.get(t, 0)}"
                   for t in sorted(set(self.now) | set(self.then)) if self.now.get(t, 0) != self.then.get(t, 0)]
        out.append(("记录数变化：" + "，".join(changed)) if changed else "各表记录数与当前数据库相同")
        out.append(RECONCILE)
        return out


def restore_server(db: str | Path, source: str | Path, *, dry_run: bool = False) -> ServerRestoreReport:
    t, source = target(db), Path(source).expanduser().resolve()
    if not source.is_file():
        raise ServerBackupError(f"找不到备份文件：{source}")
    if t.is_sqlite:
        return _restore_sqlite(t.path, source, dry_run)
    return _restore_postgresql(t.url, source, dry_run)


def _feed_end(engine) -> int | None:
    """The last feed position of a database, None when it cannot be read."""
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT coalesce(max(position), 0) FROM sync_feed")).scalar_one()
    except SQLAlchemyError:
        return None


def _move_feed_past(engine, current_end: int | None) -> None:
    """Renumber the restored feed so that its positions, and every one appended later, are greater than
    any cursor a clinic got from the current database."""
    with engine.begin() as conn:
        first, last = conn.execute(text("SELECT min(position), coalesce(max(position), 0) FROM sync_feed")).one()
        end = current_end if current_end is not None else last + UNKNOWN_FEED_GAP
        if first is not None and first > end:
            return                                  # already past every cursor
        offset = max(end, last) + 1
        if first is not None:
            conn.execute(text("UPDATE sync_feed SET position = position + :o"), {"o": offset})
        else:                                       # an empty feed: the next position would be 1
            stream, kind, entity = FEED_MARKER
            conn.execute(text("INSERT INTO sync_feed (position, stream, kind, entity_id, target_institution, "
                              "created_at) VALUES (:p, :s, :k, :e, NULL, :t)"),
                         {"p": end + 1, "s": stream, "k": kind, "e": entity, "t": utcnow()})
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT setval(pg_get_serial_sequence('sync_feed', 'position'), "
                              "(SELECT max(position) FROM sync_feed))"))


# -- SQLite ------------------------------------------------------------------------------------------

def _sqlite_counts(path: Path) -> dict[str, int]:
    if not path.is_file():
        return {}
    conn = sqlite3.connect(f"file:{path.as_posix()}?mode=ro", uri=True, timeout=5)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                            "AND name NOT LIKE 'sqlite_%' ORDER BY name")]
        return {name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in names}
    except sqlite3.Error:
        return {}                       # a damaged current file: nothing to compare with
    finally:
        conn.close()


def _restore_sqlite(path: Path, source: Path, dry_run: bool) -> ServerRestoreReport:
    if source == path:
        raise ServerBackupError("备份文件就是当前数据库，无需恢复")
    try:
        check_backup_file(source)
    except RestoreError as exc:
        raise ServerBackupError(f"{exc}，当前数据库未改动") from None
    conn = sqlite3.connect(f"file:{source.as_posix()}?mode=ro", uri=True, timeout=5)
    try:
        if conn.execute(CLINIC_QUERY).fetchone()[0]:
            raise ServerBackupError(NOT_SERVER.format(name=source.name))
    finally:
        conn.close()
    report = ServerRestoreReport(source, dry_run, _sqlite_counts(path), _sqlite_counts(source))
    if dry_run:
        return report
    if path.exists() and _in_use(path):
        raise ServerBackupError(f"数据库 {path.name} 正在被使用：请先停止 liangbing-server serve 再恢复")
    aside = None
    if path.exists():
        aside = path.with_name(f"{path.name}.before-restore-{datetime.now():%Y%m%d-%H%M%S}")
        _move(path, aside)
        _self_contained(aside)
        restrict_database(aside)
        report.aside = str(aside)
    try:
        current_end = None
        if aside:
            engine = create_engine(f"sqlite:///{aside}")
            current_end = _feed_end(engine)
            engine.dispose()
        copy_database(source, path)
        db = open_server_database(path)         # migrates an older backup; refuses a newer one
        try:
            _move_feed_past(db.engine, current_end)
        finally:
            db.close()
    except (DatabaseError, SQLAlchemyError, sqlite3.Error, OSError) as exc:
        for companion in _companions(path):
            companion.unlink(missing_ok=True)
        if aside:
            _move(aside, path)
        raise ServerBackupError(f"恢复失败，原数据库未改动：{_first_line(exc)}") from None
    return report


# -- PostgreSQL --------------------------------------------------------------------------------------

def _pg_counts(url: str, database: str | None = None) -> dict[str, int]:
    engine = pg_engine(url, database)
    try:
        with engine.connect() as conn:
            return table_counts(conn)
    finally:
        engine.dispose()


def _maintenance_engine(url: str):
    """A connection to another database of the cluster: a database cannot be renamed from inside."""
    for name in MAINTENANCE_DATABASES:
        engine = pg_engine(url, name, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect():
                return engine
        except SQLAlchemyError:
            engine.dispose()
    raise ServerBackupError("无法连接 postgres 或 template1 数据库，无法改名；请由数据库管理员操作")


def _sessions_on(conn, database: str) -> int:
    """Other sessions on the database; one that just disconnected may take a moment to leave."""
    for _ in range(SESSION_POLLS):
        count = conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = :d AND pid <> "
                                  "pg_backend_pid()"), {"d": database}).scalar_one()
        if not count:
            return 0
        time.sleep(0.1)
    return count


def _restore_postgresql(url: str, source: Path, dry_run: bool) -> ServerRestoreReport:
    current = make_url(url).database
    try:                                # is it a pg_dump archive at all?
        run_pg_tool(["pg_restore", "--list", str(source)], pg_environment(url))
    except ServerBackupError as exc:
        raise ServerBackupError(f"{source.name} 不是可用的 pg_dump 备份（{exc}），当前数据库未改动") from None
    renamed: list[bool] = []
    with scratch_database(url, scratch_name(current, "restore"), keep=lambda: bool(renamed)) as fresh:
        try:
            restore_dump(url, source, fresh)
        except ServerBackupError as exc:
            raise ServerBackupError(f"备份文件 {source.name} 无法恢复（{exc}），当前数据库未改动") from None
        fresh_url = make_url(url).set(database=fresh).render_as_string(hide_password=False)
        try:
            open_server_database(fresh_url).close()     # this software's schema, migrated if older
        except DatabaseError as exc:
            raise ServerBackupError(f"备份文件 {source.name} 无法使用（{exc}），当前数据库未改动") from None
        engine = pg_engine(url, fresh)
        try:
            with engine.connect() as conn:
                if conn.execute(text(CLINIC_QUERY)).scalar_one():
                    raise ServerBackupError(NOT_SERVER.format(name=source.name))
        finally:
            engine.dispose()
        report = ServerRestoreReport(source, dry_run, _pg_counts(url), _pg_counts(url, fresh))
        if dry_run:
            return report
        for name in (current, fresh):
            engine = pg_engine(url, name)
            try:
                if name == current:
                    current_end = _feed_end(engine)
                else:
                    _move_feed_past(engine, current_end)
            finally:
                engine.dispose()
        aside = f"{current[:40]}_before_restore_{datetime.now():%Y%m%d%H%M%S}"
        admin = _maintenance_engine(url)
        try:
            with admin.connect() as conn:
                others = _sessions_on(conn, current)
                if others:
                    raise ServerBackupError(f"数据库 {current} 正在被使用（{others} 个连接）："
                                            "请先停止 liangbing-server serve 再恢复")
                _sessions_on(conn, fresh)       # our own checks' sessions on it are closing
                conn.execute(text(f'ALTER DATABASE "{current}" RENAME TO "{aside}"'))
                try:
                    conn.execute(text(f'ALTER DATABASE "{fresh}" RENAME TO "{current}"'))
                except SQLAlchemyError:
                    conn.execute(text(f'ALTER DATABASE "{aside}" RENAME TO "{current}"'))
                    raise
                renamed.append(True)
        except SQLAlchemyError as exc:
            raise ServerBackupError(f"恢复失败，原数据库未改动：{_first_line(exc)}") from None
        finally:
            admin.dispose()
        report.aside = f"数据库 {aside}（确认无误后可用 dropdb 删除）"
        return report
