"""Open a clinic database: SQLite in WAL mode with synchronous=FULL (village PCs lose power), foreign
keys on, migrated to the current schema (the file is copied first), refused if its schema is newer."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import create_engine, event, inspect, select
from sqlalchemy.exc import DatabaseError as SADatabaseError
from sqlalchemy.orm import Session, sessionmaker

from clinic.db import audit, outbox
from clinic.db.models import Institution
from clinic.owner_only import create_private_file, private_folder, restrict, restrict_database

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class DatabaseError(Exception):
    """The database cannot be opened; the message says why in words a clinic can act on (one line).
    `last_backup` is the newest good backup when one exists, for the GUI to offer restoring it."""

    def __init__(self, message: str, *, path: Path | None = None, last_backup: Path | None = None):
        super().__init__(message)
        self.path, self.last_backup = path, last_backup


class DatabaseCorrupt(DatabaseError):
    """The file is damaged (or not a database at all)."""


class DatabaseLocked(DatabaseError):
    """Another program holds the file."""


class MigrationFailed(DatabaseError):
    """Upgrading the schema failed; the original file is unchanged."""


def alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def _pragmas(dbapi_conn, _record) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


def copy_database(source: Path, target: Path) -> None:
    """A consistent copy through SQLite's online backup API (safe while WAL holds recent writes),
    readable by this OS user only."""
    if not target.exists():
        create_private_file(target)
    restrict(target)
    src = sqlite3.connect(source)
    try:
        dst = sqlite3.connect(target)
        with dst:
            src.backup(dst)
        dst.close()
    finally:
        src.close()


class Database:
    def __init__(self, path: Path):
        self.path = path
        self.engine = create_engine(f"sqlite:///{path}")
        event.listen(self.engine, "connect", _pragmas)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        audit.install(self.sessions)
        outbox.install(self.sessions)      # records bound for the township commit with their outbox row
        self.institution_code: str | None = None

    @contextmanager
    def session(self, user: str = "system") -> Iterator[Session]:
        """A unit of work: commits on success, rolls back on any error (nothing half-written)."""
        with self.sessions() as session:
            session.info.update(user=user, institution_code=self.institution_code)
            with session.begin():
                yield session

    def load_local_institution(self) -> None:
        with self.sessions() as session:
            self.institution_code = session.scalar(select(Institution.code).where(Institution.is_local))

    def close(self) -> None:
        self.engine.dispose()


def migrate(db: Database, cfg: Config | None = None) -> None:
    """Bring the file to the newest schema. An existing file is copied first (kept as `.bak`), and the
    upgrade runs on a working copy that replaces the original's content in one SQLite transaction
    only after it succeeded and passed `integrity_check`: a failed upgrade leaves the original as it was."""
    cfg = cfg or alembic_config()
    script = ScriptDirectory.from_config(cfg)
    head = script.get_current_head()
    with db.engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
        tables = set(inspect(conn).get_table_names())
    if current is not None:
        try:
            script.get_revision(current)
        except CommandError:
            raise DatabaseError(
                f"数据库 {db.path.name} 来自更新版本的软件（架构 {current}），请先升级本软件；文件未作任何修改"
            ) from None
    elif tables:
        raise DatabaseError(f"{db.path.name} 不是本软件的数据库（缺少架构版本），未作任何修改")
    if current == head:
        return
    if current is None:                 # a new, empty file: nothing to protect
        with db.engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "head")
        return
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    copy_database(db.path, db.path.with_name(f"{db.path.name}.before-{head}-{stamp}.bak"))
    work = db.path.with_name(f".{db.path.name}.upgrading-{stamp}")
    db.engine.dispose()
    try:
        copy_database(db.path, work)
        engine = create_engine(f"sqlite:///{work}")
        try:
            with engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, "head")
        finally:
            engine.dispose()
        problem = _integrity_problem(work)
        if problem:
            raise RuntimeError(f"升级后的完整性检查未通过：{problem}")
        copy_database(work, db.path)    # the backup API writes the destination in one transaction
    except Exception as exc:
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        raise MigrationFailed(
            f"数据库 {db.path.name} 升级到架构 {head} 失败（{detail[0] if detail else type(exc).__name__}），"
            f"原文件未作任何修改，请联系技术支持", path=db.path) from exc
    finally:
        for leftover in (work, Path(f"{work}-wal"), Path(f"{work}-shm"), Path(f"{work}-journal")):
            leftover.unlink(missing_ok=True)


def _integrity_problem(path: Path) -> str | None:
    from clinic.backup import integrity_problem

    return integrity_problem(path)


def _with_backup_offer(message: str, path: Path) -> tuple[str, Path | None]:
    """The message, plus the newest good backup and the command that restores it, if there is one."""
    from clinic.backup import last_good_backup

    try:
        last = last_good_backup(path)
    except OSError:
        last = None
    if last is None:
        return f"{message}；未找到备份", None
    return (f"{message}；最近一次完好的备份是 {last.label}（{last.path}），"
            f"可用 liangbing restore --db \"{path}\" --from \"{last.path}\" 恢复", last.path)


def _classify(exc: BaseException, path: Path) -> DatabaseError:
    text = str(getattr(exc, "orig", None) or exc)
    if "locked" in text or "busy" in text:
        return DatabaseLocked(f"数据库 {path.name} 正被另一个程序占用，请关闭其他窗口或程序后重试", path=path)
    if "unable to open" in text:
        return DatabaseLocked(f"无法打开数据库 {path.name}（文件被占用或没有访问权限）", path=path)
    message, last = _with_backup_offer(f"数据库 {path.name} 已损坏，无法读取（{text}）", path)
    return DatabaseCorrupt(message, path=path, last_backup=last)


def check_readable(path: Path) -> None:
    """Before anything else touches the file: SQLite's quick check, so a damaged file is reported as
    such when it is opened rather than as an odd error in the middle of the day's work."""
    try:
        conn = sqlite3.connect(path, timeout=5)
        try:
            conn.execute("PRAGMA busy_timeout=5000")
            rows = conn.execute("PRAGMA quick_check").fetchall()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise _classify(exc, path) from None
    if rows != [("ok",)]:
        message, last = _with_backup_offer(f"数据库 {path.name} 已损坏（完整性检查：{rows[0][0]}）", path)
        raise DatabaseCorrupt(message, path=path, last_backup=last)


SQLITE_HEADER = b"SQLite format 3\x00"


def check_not_empty(path: Path) -> None:
    """A file that is there but empty or without SQLite's header is a lost database (a failed copy, a
    disk error, a sync tool), never a new clinic: SQLite would write an empty schema into it and the
    clinic would start from nothing while its backups sit beside it. A new clinic is created only
    where no file exists."""
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise DatabaseLocked(f"无法打开数据库 {path.name}（{exc.strerror or exc}）", path=path) from None
    if head == SQLITE_HEADER:
        return
    what = "是空文件（0 字节）" if not head else "没有 SQLite 数据库文件头"
    message, last = _with_backup_offer(f"数据库 {path.name} {what}，已损坏，不能当作新诊所打开", path)
    if last is None:
        message += f"；如确要新建诊所数据库，请先删除或改名文件 {path}"
    raise DatabaseCorrupt(message, path=path, last_backup=last)


def open_database(path: str | Path, *, create: bool = True, migrations: Config | None = None) -> Database:
    path = Path(path)
    if not path.exists() and not create:
        raise DatabaseError(f"找不到数据库文件：{path}", path=path)
    if path.exists() and path.is_dir():
        raise DatabaseError(f"{path} 是文件夹，不是数据库文件", path=path)
    private_folder(path.parent)           # a folder made for the database is owner-only too
    if path.exists():
        check_not_empty(path)
        check_readable(path)
    db = Database(path)
    try:
        migrate(db, migrations)
        db.load_local_institution()
        restrict_database(path)          # a new file, or one an older release left readable by all
    except (SADatabaseError, sqlite3.DatabaseError) as exc:
        db.close()
        raise _classify(exc, path) from None
    except Exception:
        db.close()
        raise
    return db
