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

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class DatabaseError(Exception):
    """The database cannot be opened; the message says why in words a clinic can act on."""


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
    """A consistent copy through SQLite's online backup API (safe while WAL holds recent writes)."""
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


def migrate(db: Database) -> None:
    cfg = alembic_config()
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
    if current is not None:
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        copy_database(db.path, db.path.with_name(f"{db.path.name}.before-{head}-{stamp}.bak"))
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def open_database(path: str | Path, *, create: bool = True) -> Database:
    path = Path(path)
    if not path.exists() and not create:
        raise DatabaseError(f"找不到数据库文件：{path}")
    if path.exists() and path.is_dir():
        raise DatabaseError(f"{path} 是文件夹，不是数据库文件")
    path.parent.mkdir(parents=True, exist_ok=True)
    db = Database(path)
    try:
        migrate(db)
        db.load_local_institution()
    except (SADatabaseError, sqlite3.DatabaseError) as exc:
        db.close()
        text = str(exc.orig if hasattr(exc, "orig") else exc)
        if "locked" in text:
            raise DatabaseError(f"数据库 {path.name} 正被另一个程序占用，请关闭其他窗口后重试") from None
        raise DatabaseError(f"数据库 {path.name} 无法读取（文件可能已损坏）：{text}。请从备份恢复") from None
    except Exception:
        db.close()
        raise
    return db
