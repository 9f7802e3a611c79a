"""Sync fixtures: a real township server on 127.0.0.1 (uvicorn in a thread, a free port) on SQLite, and
on PostgreSQL when LIANGBING_TEST_PG_URL names a database whose role may create databases (.ci/run
sets it); real clinic SQLite files. Everything stops by itself."""

from __future__ import annotations

import os
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.sync.helpers import LiveServer

PG_URL = os.environ.get("LIANGBING_TEST_PG_URL")
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.skipif(
    not PG_URL, reason="LIANGBING_TEST_PG_URL is not set: no PostgreSQL to run the server tests on "
                       "(.ci/run starts one and sets it)"))]


@pytest.fixture(scope="session")
def pg_template():
    """A migrated template database; each test copies it (CREATE DATABASE … TEMPLATE is fast)."""
    from sync.server.storage import open_server_database

    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"lb_template_{os.getpid()}"
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
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
    admin, template = request.getfixturevalue("pg_template")
    name = f"lb_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
    yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def server(server_db_url):
    live = LiveServer.start(server_db_url)
    yield live
    live.stop()
