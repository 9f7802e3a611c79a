"""Backups of the township server's database (issue 13 item 6): every village's patients and claims
live here, and the reviewer's decisions exist nowhere else.

- SQLite: clinic/backup.py does it as for a clinic file (online backup API, `PRAGMA integrity_check`,
  rotation 14 daily + 12 monthly, owner-only files): `township-20260302-080000-daily.db`.
- PostgreSQL: `pg_dump --format=custom` of an exported snapshot, whose row counts were taken in the
  same snapshot; the dump is restored into a scratch database (created and dropped here) and every
  table's row count must match before the file gets its final name `NAME-…-daily.dump`. Same rotation.
- A file named like a backup is always a good one (checked before it was renamed), so the newest such
  file is the last good backup (`last_good_backup`, shown on the township dashboard).
- `DailyBackup` is the thread `liangbing-server serve` runs: a backup at start when the last good one
  is more than a day old, then one a day. A failure is written to `backup-status.json` in the folder
  (for the dashboard) and retried an hour later; the server keeps serving.

The backup folder: `--backup-dir`, else `backups/` beside a SQLite file, else (PostgreSQL) the server
user's data folder. Restoring: sync/server/restore.py.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from clinic import backup as clinic_backup
from clinic.owner_only import create_private_file, private_folder, restrict

log = logging.getLogger("liangbing.server.backup")

DUMP_SUFFIX = ".dump"
STATUS_FILE = "backup-status.json"
EVERY = timedelta(days=1)
RETRY_AFTER = timedelta(hours=1)
PG_TIMEOUT = 6 * 3600                    # seconds: a county's database dumps in minutes, not hours


class ServerBackupError(Exception):
    """A backup or restore could not be done; the message says why in one Chinese line."""


@dataclass(frozen=True)
class ServerBackup:
    path: Path
    taken_at: datetime                   # local time, from the file name
    size: int                            # bytes
    kind: str

    @property
    def label(self) -> str:
        return f"{self.taken_at:%Y-%m-%d %H:%M}"

    @property
    def size_label(self) -> str:
        return f"{self.size / 1024 / 1024:.1f} MB" if self.size >= 1024 * 1024 else f"{self.size / 1024:.0f} KB"


@dataclass(frozen=True)
class Target:
    """The database being backed up and how its backup files are named."""

    url: str                             # a SQLAlchemy URL
    path: Path | None                    # the SQLite file, None for PostgreSQL

    @property
    def is_sqlite(self) -> bool:
        return self.path is not None

    @property
    def name(self) -> str:
        return self.path.stem if self.path else make_url(self.url).database

    @property
    def suffix(self) -> str:
        return ".db" if self.path else DUMP_SUFFIX

    @property
    def anchor(self) -> Path:
        """What clinic/backup.py calls the database path (only its name and folder are used)."""
        return self.path or Path(self.name)


def target(db: str | Path) -> Target:
    """A PostgreSQL URL, a sqlite:/// URL or a SQLite file path, as `--db` takes them."""
    text_ = str(db)
    if "://" not in text_:
        return Target(f"sqlite:///{Path(text_).expanduser().resolve()}", Path(text_).expanduser().resolve())
    try:
        url = make_url(text_)
    except ArgumentError:
        raise ServerBackupError(f"数据库地址无效：{text_}") from None
    if url.get_backend_name() == "sqlite":
        if not url.database:
            raise ServerBackupError("内存数据库无法备份")
        return Target(text_, Path(url.database).expanduser().resolve())
    if url.get_backend_name() != "postgresql" or not url.database:
        raise ServerBackupError(f"只能备份 SQLite 文件或 PostgreSQL 数据库：{url.render_as_string()}")
    return Target(text_, None)


def default_folder(t: Target) -> Path:
    if t.path is not None:
        return t.path.parent / "backups"
    from platformdirs import user_data_dir

    return Path(user_data_dir("liangbing", appauthor=False)) / "server-backups"


def _folder(t: Target, folder: str | Path | None) -> Path:
    return Path(folder).expanduser() if folder else default_folder(t)


# -- listing ---------------------------------------------------------------------------------------

def list_server_backups(db: str | Path, folder: str | Path | None = None) -> list[ServerBackup]:
    """The finished (checked) backups of this database, newest first."""
    t = target(db)
    found = []
    for b in clinic_backup.list_backups(t.anchor, _folder(t, folder), stem=t.name, suffix=t.suffix):
        try:
            found.append(ServerBackup(b.path, b.taken_at, b.path.stat().st_size, b.kind))
        except FileNotFoundError:        # rotated away while we looked
            continue
    return found


def last_good_backup(db: str | Path, folder: str | Path | None = None) -> ServerBackup | None:
    """The newest good backup (time, file, size), or None: what the township dashboard shows."""
    backups = list_server_backups(db, folder)
    return backups[0] if backups else None


def last_failure(db: str | Path, folder: str | Path | None = None) -> str | None:
    """Why the latest backup attempt failed, if it did (the status file the backups write)."""
    try:
        status = json.loads((_folder(target(db), folder) / STATUS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return None if status.get("ok") else f"{status.get('at', '')} {status.get('error', '')}".strip()


def dashboard_line(db: str | Path, folder: str | Path | None = None, now: datetime | None = None) -> str:
    """One line for township staff: the last good backup, and a warning when it is old or failing."""
    last, failed = last_good_backup(db, folder), last_failure(db, folder)
    if last is None:
        text_ = "服务器数据库还没有完好的备份，请运行 liangbing-server backup"
    else:
        text_ = f"最近一次完好的服务器备份：{last.label}，{last.path.name}（{last.size_label}）"
        if (now or datetime.now()) - last.taken_at > EVERY + RETRY_AFTER:
            text_ += "，已超过一天"
    return f"{text_}；最近一次备份失败：{failed}" if failed else text_


def dashboard_status(app_state) -> str:
    """`dashboard_line` for a running server: its database, and the folder `serve --backup-dir` chose."""
    return dashboard_line(app_state.db.url, getattr(app_state, "backup_dir", None))


def _write_status(folder: Path, *, ok: bool, at: datetime, error: str = "", path: Path | None = None) -> None:
    status = {"ok": ok, "at": f"{at:%Y-%m-%d %H:%M}", "error": error, "file": str(path) if path else None}
    try:
        private_folder(folder)
        partial = folder / f".{STATUS_FILE}.partial"
        create_private_file(partial)
        partial.write_text(json.dumps(status, ensure_ascii=False), encoding="utf-8")
        os.replace(partial, folder / STATUS_FILE)
    except OSError as exc:               # the status is a courtesy; the backup's own outcome stands
        log.warning("无法写入备份状态文件 %s：%s", folder / STATUS_FILE, exc)


# -- making ----------------------------------------------------------------------------------------

@dataclass
class BackupOutcome:
    backup: ServerBackup
    removed: list[Path]
    tables: int = 0                      # PostgreSQL: tables whose row counts the check compared


def backup_server(db: str | Path, folder: str | Path | None = None, *, kind: str = "manual",
                  now: datetime | None = None) -> BackupOutcome:
    """Back up now, check it, rotate the folder; records the outcome in the folder's status file."""
    t, now = target(db), (now or datetime.now()).replace(microsecond=0)
    folder = _folder(t, folder)
    _remove_stale_partials(t, folder)
    try:
        if t.is_sqlite:
            outcome = _backup_sqlite(t, folder, kind, now)
        else:
            outcome = _backup_postgresql(t, folder, kind, now)
    except (ServerBackupError, clinic_backup.BackupError) as exc:
        _write_status(folder, ok=False, at=now, error=str(exc))
        raise ServerBackupError(str(exc)) from None
    _write_status(folder, ok=True, at=now, path=outcome.backup.path)
    return outcome


def _remove_stale_partials(t: Target, folder: Path) -> None:
    """Half-written backups a killed process left (a backup in progress is hours younger)."""
    if not folder.is_dir():
        return
    cutoff = datetime.now().timestamp() - EVERY.total_seconds()
    for partial in folder.glob(f".{t.name}-*{t.suffix}.partial"):
        try:
            if partial.stat().st_mtime < cutoff:
                partial.unlink()
        except OSError:
            continue


def _backup_sqlite(t: Target, folder: Path, kind: str, now: datetime) -> BackupOutcome:
    if not t.path.is_file():
        raise ServerBackupError(f"找不到服务器数据库：{t.path}")
    result = clinic_backup.backup_database(t.path, folder=folder, kind=kind, now=now, use_settings=False)
    path = result.backup.path
    return BackupOutcome(ServerBackup(path, result.backup.taken_at, path.stat().st_size, kind), result.removed)


# -- PostgreSQL --------------------------------------------------------------------------------------

def pg_environment(url: str | URL, database: str | None = None) -> dict[str, str]:
    """libpq's variables for pg_dump/pg_restore: the password never appears on a command line."""
    url = make_url(url)
    env = dict(os.environ)
    for var, value in (("PGHOST", url.host), ("PGPORT", url.port), ("PGUSER", url.username),
                       ("PGPASSWORD", url.password), ("PGDATABASE", database or url.database),
                       ("PGSSLMODE", url.query.get("sslmode"))):
        if value:
            env[var] = str(value)
    return env


def run_pg_tool(args: list[str], env: dict[str, str]) -> None:
    try:
        done = subprocess.run(args, env=env, capture_output=True, text=True, timeout=PG_TIMEOUT)
    except FileNotFoundError:
        raise ServerBackupError(f"找不到 {args[0]}：请安装 PostgreSQL 客户端工具（与服务器同一主版本）") from None
    except subprocess.TimeoutExpired:
        raise ServerBackupError(f"{args[0]} 超时") from None
    if done.returncode != 0:
        detail = next((line for line in done.stderr.splitlines() if line.strip()), f"退出码 {done.returncode}")
        raise ServerBackupError(f"{args[0]} 失败：{detail.strip()}")


def pg_engine(url: str | URL, database: str | None = None, **options) -> Engine:
    url = make_url(url)
    if database:
        url = url.set(database=database)
    return create_engine(url, connect_args={"client_encoding": "utf8"}, **options)


def table_counts(conn) -> dict[str, int]:
    """Rows in every table of the public schema (PostgreSQL quoting)."""
    names = sorted(inspect(conn).get_table_names())
    return {name: conn.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one() for name in names}


def scratch_name(base: str, purpose: str) -> str:
    return f"{base[:40]}_{purpose}_{uuid.uuid4().hex[:8]}"


@contextmanager
def scratch_database(url: str | URL, name: str, *, keep: Callable[[], bool] = lambda: False) -> Iterator[str]:
    """A new, empty database with the same encoding and collation as the one `url` names; dropped on
    leaving unless `keep()` says otherwise (a restore that renamed it into place)."""
    admin = pg_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            collate, ctype = conn.execute(text("SELECT datcollate, datctype FROM pg_database "
                                               "WHERE datname = current_database()")).one()
            conn.execute(text(f"CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0 "
                              f"LC_COLLATE '{collate}' LC_CTYPE '{ctype}'"))
    except SQLAlchemyError as exc:
        raise ServerBackupError(f"无法创建用于检查的临时数据库（数据库角色需有 CREATEDB 权限）："
                                f"{_first_line(exc)}") from None
    finally:
        admin.dispose()                 # no session of ours stays on the database meanwhile (a restore renames it)
    try:
        yield name
    finally:
        try:
            if not keep():
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        except SQLAlchemyError as exc:
            log.warning("无法删除临时数据库 %s：%s", name, _first_line(exc))
        admin.dispose()


def _first_line(exc: BaseException) -> str:
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def restore_dump(url: str | URL, dump: Path, database: str) -> None:
    """pg_restore the whole archive into `database`, all or nothing."""
    run_pg_tool(["pg_restore", "--no-owner", "--no-privileges", "--exit-on-error", "--single-transaction",
                 "--dbname", database, str(dump)], pg_environment(url, database))


def _backup_postgresql(t: Target, folder: Path, kind: str, now: datetime) -> BackupOutcome:
    name = clinic_backup.backup_name(t.name, now, kind, DUMP_SUFFIX)
    partial = folder / f".{name}.partial"
    engine = pg_engine(t.url, isolation_level="REPEATABLE READ")
    try:
        private_folder(folder)
        create_private_file(partial)
        with engine.connect() as conn:   # counts and dump see the same snapshot, whatever is written meanwhile
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            expected = table_counts(conn)
            run_pg_tool(["pg_dump", "--format=custom", f"--snapshot={snapshot}", "--file", str(partial)],
                        pg_environment(t.url))
    except SQLAlchemyError as exc:
        partial.unlink(missing_ok=True)
        raise ServerBackupError(f"无法备份数据库 {t.name}：{_first_line(exc)}") from None
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise ServerBackupError(f"无法写入备份文件夹 {folder}：{exc.strerror or exc}") from None
    except ServerBackupError:
        partial.unlink(missing_ok=True)
        raise
    finally:
        engine.dispose()
    try:
        clinic_backup.finish(partial, folder / name, check=lambda p: dump_problem(t.url, p, expected))
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise ServerBackupError(f"无法写入备份文件夹 {folder}：{exc.strerror or exc}") from None
    final = folder / name
    restrict(final)
    removed = clinic_backup.rotate(t.anchor, folder, stem=t.name, suffix=DUMP_SUFFIX)
    return BackupOutcome(ServerBackup(final, now, final.stat().st_size, kind), removed, len(expected))


def dump_problem(url: str, dump: Path, expected: dict[str, int]) -> str | None:
    """None when the dump restores into a scratch database with exactly the expected row counts."""
    try:
        with scratch_database(url, scratch_name(make_url(url).database, "check")) as scratch:
            restore_dump(url, dump, scratch)
            engine = pg_engine(url, scratch)
            try:
                with engine.connect() as conn:
                    got = table_counts(conn)
            finally:
                engine.dispose()
    except (ServerBackupError, SQLAlchemyError) as exc:
        return str(exc) if isinstance(exc, ServerBackupError) else _first_line(exc)
    wrong = [f"{table} {expected.get(table)}≠{got.get(table)}" for table in sorted(set(expected) | set(got))
             if expected.get(table) != got.get(table)]
    return f"恢复后行数不符：{'，'.join(wrong[:5])}" if wrong else None


# -- the daily backup while the server runs -----------------------------------------------------------

class DailyBackup:
    """A daemon thread: back up when the last good backup is older than `every`, then sleep until the
    next one is due (an hour after a failure). `stop()` ends it at once."""

    def __init__(self, db: str | Path, folder: str | Path | None = None, *, every: timedelta = EVERY,
                 clock: Callable[[], datetime] = datetime.now):
        self.db, self.folder, self.every, self.clock = db, folder, every, clock
        self.passes = 0                              # checks done (for tests and the log)
        self.last_error: str | None = None
        self.checked = threading.Condition()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="liangbing-daily-backup", daemon=True)

    def due_in(self) -> timedelta:
        last = last_good_backup(self.db, self.folder)
        return timedelta(0) if last is None else last.taken_at + self.every - self.clock()

    def check_once(self) -> ServerBackup | None:
        """Back up if one is due; the backup made, else None."""
        if self.due_in() > timedelta(0):
            return None
        outcome = backup_server(self.db, self.folder, kind="daily", now=self.clock())
        log.info("服务器数据库已备份到 %s（检查通过）", outcome.backup.path)
        return outcome.backup

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.check_once()
                self.last_error = None
                wait = max(self.due_in(), timedelta(minutes=1))
            except Exception as exc:    # a failed backup must not stop the server; it is retried
                self.last_error = str(exc)
                log.error("服务器数据库备份失败：%s", exc)
                wait = RETRY_AFTER
            with self.checked:
                self.passes += 1
                self.checked.notify_all()
            self._stop.wait(wait.total_seconds())

    def wait_for_passes(self, count: int, timeout: float) -> bool:
        with self.checked:
            return self.checked.wait_for(lambda: self.passes >= count, timeout)

    def start(self) -> DailyBackup:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
