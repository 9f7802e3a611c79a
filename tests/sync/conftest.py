"""Sync fixtures: a real township server on 127.0.0.1 (uvicorn in a thread, a free port) on SQLite, and
on PostgreSQL when LIANGBING_TEST_PG_URL names a database whose role may create databases (.ci/run
sets it; with CI=true a missing URL fails the PostgreSQL half instead of skipping it); real clinic
SQLite files. Everything stops by itself."""

from __future__ import annotations

import os
import time
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from tests.sync.helpers import IN_CI, NO_PG, PG_URL, LiveServer

# On a developer's machine the PostgreSQL half is skipped without a database; in CI it must run.
BACKENDS = ["sqlite", "postgresql" if IN_CI else pytest.param("postgresql", marks=pytest.mark.skipif(
    not PG_URL, reason=NO_PG))]


@pytest.fixture(scope="session")
def pg_template():
    """A migrated template database; each test copies it (CREATE DATABASE … TEMPLATE is fast)."""
    from sync.server.storage import open_server_database

    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"lb_template_{os.getpid()}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        # UTF8 whatever locale the cluster was made with (a bare container's is C: SQL_ASCII)
        conn.execute(text(f'CREATE DATABASE "{name}" ENCODING \'UTF8\' TEMPLATE template0 '
                          f"LC_COLLATE 'C' LC_CTYPE 'C'"))
    open_server_database(make_url(PG_URL).set(database=name).render_as_string(hide_password=False)).close()
    yield admin, name
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=BACKENDS)
def server_db_url(request, tmp_path):
    """A fresh, migrated township database: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        from sync.server.storage import open_server_database

        path = tmp_path / "township.db"
        open_server_database(path).close()
        yield str(path)
        return
    if not PG_URL:
        pytest.fail(f"CI is set but {NO_PG}")
    admin, template = request.getfixturevalue("pg_template")
    name = f"lb_test_{uuid.uuid4().hex[:12]}"
    for attempt in range(50):
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
            break
        except OperationalError as exc:     # the template's last session may still be closing
            if "being accessed by other users" not in str(exc) or attempt == 49:
                raise
            time.sleep(0.1)
    yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def server(server_db_url):
    live = LiveServer.start(server_db_url)
    yield live
    live.stop()
