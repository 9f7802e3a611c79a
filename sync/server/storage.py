"""The township database: the clinic schema in a SQLite file (the default) or PostgreSQL (a county).

The same Alembic chain as a clinic file; a newer schema is refused. SQLite allows one writer, so the
server's own write transactions take a process lock there instead of failing on a busy database.
A SQLite file (and its -wal/-shm, and a folder made for it) is readable by the server's OS user only.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import datetime
from pathlib import Path

from alembic import command
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from clinic.db import audit
from clinic.db.engine import DatabaseError, _pragmas, alembic_config, copy_database
from clinic.owner_only import private_folder, restrict_database


def _sqlite_connect(dbapi_conn, record) -> None:
    _pragmas(dbapi_conn, record)
    # Let SQLAlchemy emit BEGIN itself: pysqlite's own deferred BEGIN would make the first SAVEPOINT
    # of a batch start (and its RELEASE commit) the transaction, breaking all-or-nothing batches.
    dbapi_conn.isolation_level = None


def database_url(target: str | Path) -> str:
    """A PostgreSQL (or any SQLAlchemy) URL as given; anything else is a SQLite file path."""
    text = str(target)
    if "://" in text:
        try:
            make_url(text)
        except ArgumentError:
            raise DatabaseError(f"数据库地址无效：{text}") from None
        return text
    path = Path(text).expanduser().resolve()
    if path.is_dir():
        raise DatabaseError(f"{path} 是文件夹，不是数据库文件")
    private_folder(path.parent)
    return f"sqlite:///{path}"


class ServerDatabase:
    def __init__(self, target: str | Path):
        self.url = database_url(target)
        self.is_sqlite = self.url.startswith("sqlite")
        # UTF-8 on the wire even when the database was made in a "C" locale, so check_encoding can say so
        options = {"connect_args": {"client_encoding": "utf8"}} if self.url.startswith("postgresql") else {}
        self.engine = create_engine(self.url, pool_pre_ping=not self.is_sqlite, **options)
        if self.is_sqlite:
            event.listen(self.engine, "connect", _sqlite_connect)
            event.listen(self.engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN"))
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)
        audit.install(self.sessions)
        self._write_lock = threading.Lock() if self.is_sqlite else None

    @contextmanager
    def session(self, user: str = "server", *, write: bool = False) -> Iterator[Session]:
        """A unit of work that commits on success and rolls back on any error."""
        with self._write_lock if (write and self._write_lock) else nullcontext(), self.sessions() as session:
            session.info.update(user=user, institution_code=None)
            with session.begin():
                yield session

    def close(self) -> None:
        self.engine.dispose()


def check_encoding(db: ServerDatabase) -> None:
    """Names, diagnoses and reasons are Chinese: a PostgreSQL database must store UTF-8 (one made in a
    bare "C" locale is SQL_ASCII and would garble or refuse them)."""
    if db.engine.dialect.name != "postgresql":
        return
    with db.engine.connect() as conn:
        encoding = conn.exec_driver_sql("SHOW server_encoding").scalar()
    if encoding != "UTF8":
        raise DatabaseError(f"PostgreSQL 数据库的编码是 {encoding}，须为 UTF8；请用 "
                            f"createdb -E UTF8 -T template0 重新创建数据库后再启动")


def migrate(db: ServerDatabase) -> None:
    check_encoding(db)
    cfg = alembic_config()
    script = ScriptDirectory.from_config(cfg)
    with db.engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
        tables = set(inspect(conn).get_table_names())
    if current is not None:
        try:
            script.get_revision(current)
        except CommandError:
            raise DatabaseError(f"服务器数据库来自更新版本的软件（架构 {current}），请先升级本软件") from None
    elif tables:
        raise DatabaseError("该数据库不是本软件的数据库（缺少架构版本），未作任何修改")
    if current == script.get_current_head():
        return
    if current is not None and db.is_sqlite:
        path = Path(db.engine.url.database)
        stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
        copy_database(path, path.with_name(f"{path.name}.before-{script.get_current_head()}-{stamp}.bak"))
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def open_server_database(target: str | Path) -> ServerDatabase:
    db = ServerDatabase(target)
    try:
        migrate(db)
        if db.is_sqlite:            # a new file, or one an older release made readable by every account
            restrict_database(db.engine.url.database)
    except Exception:
        db.close()
        raise
    return db
