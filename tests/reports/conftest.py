"""One township-like report database per test session (tests/reports/builders.py); tests only read it."""

from __future__ import annotations

import pytest

from tests.reports.builders import build_report_db


@pytest.fixture(scope="session")
def report_db(tmp_path_factory):
    return build_report_db(tmp_path_factory.mktemp("reports"))


@pytest.fixture
def session(report_db):
    from clinic.db.engine import open_database

    db = open_database(report_db.path, create=False)
    try:
        with db.sessions() as s:
            yield s
            s.rollback()
    finally:
        db.close()
