"""The demo database is marked as demo wherever the command line shows its records (issue 7)."""

from __future__ import annotations

import json
from datetime import date

import pytest

from tests.ops.helpers import add_patients, cli


@pytest.fixture(scope="module")
def demo_db(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "demo.db"
    out = cli("demo", "--db", str(path), "--patients", "8", "--today", "2026-11-23")
    assert out.returncode == 0, out.stderr
    return path


def test_stats_and_today_on_the_demo_database_say_it_is_demo_first(demo_db):
    for command in (("stats",), ("today", "--date", date(2026, 11, 23).isoformat())):
        out = cli(*command, "--db", str(demo_db))
        assert out.returncode == 0, out.stderr
        assert out.stdout.splitlines()[0].startswith("【演示数据库】"), command
    counts = json.loads(cli("stats", "--db", str(demo_db), "--json").stdout)
    assert counts["demo"] is True and counts["patient"] == 8


def test_a_real_clinic_database_is_not_marked(db):
    add_patients(db, 1)
    db.close()
    out = cli("stats", "--db", str(db.path))
    assert out.returncode == 0 and "演示" not in out.stdout
    assert json.loads(cli("stats", "--db", str(db.path), "--json").stdout)["demo"] is False
