"""Opening a damaged or busy file, and a failed upgrade (issue 7 "Crash safety", "Upgrades"): a clear
one-line message naming the last good backup, never a traceback, and nothing changed."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import subprocess
import sys
import time
from datetime import datetime

import pytest
from alembic.config import Config

from clinic.backup import backup_database
from clinic.db.engine import (
    MIGRATIONS,
    DatabaseCorrupt,
    DatabaseLocked,
    MigrationFailed,
    open_database,
)
from tests.ops.helpers import ROOT, add_patients, cli, cli_process, corrupt, count_rows


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_damaged_file_names_the_last_good_backup_and_how_to_restore_it(db):
    add_patients(db, 30)
    good = backup_database(db.path, now=datetime(2026, 3, 2, 8, 0)).backup.path
    db.close()
    corrupt(db.path)
    before = digest(db.path)
    with pytest.raises(DatabaseCorrupt) as caught:
        open_database(db.path)
    message = str(caught.value)
    assert "已损坏" in message and "2026-03-02 08:00" in message and "liangbing restore" in message
    assert "\n" not in message and caught.value.last_backup == good
    assert digest(db.path) == before, "opening a damaged file must not write to it"


def test_a_damaged_file_without_backups_says_so(db):
    add_patients(db, 30)
    db.close()
    corrupt(db.path)
    with pytest.raises(DatabaseCorrupt, match="未找到备份") as caught:
        open_database(db.path)
    assert caught.value.last_backup is None


def test_a_file_with_a_garbled_header_is_reported_as_damaged(tmp_path):
    path = tmp_path / "clinic.db"
    path.write_bytes(b"\x00garbage" * 4096)
    with pytest.raises(DatabaseCorrupt, match="已损坏"):
        open_database(path)


def test_cli_on_a_damaged_file_prints_one_line_and_no_traceback(db):
    add_patients(db, 30)
    backup_database(db.path)
    db.close()
    corrupt(db.path)
    for run, command in ((cli_process, ("stats", "--db", str(db.path))), (cli, ("today", "--db", str(db.path)))):
        out = run(*command)
        assert out.returncode != 0 and "Traceback" not in out.stderr, out.stderr
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and "已损坏" in lines[0] and "liangbing restore" in lines[0]


LOCKER = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA locking_mode=EXCLUSIVE")
conn.execute("BEGIN EXCLUSIVE")
conn.execute("CREATE TABLE IF NOT EXISTS held (x)")
print("locked", flush=True)
time.sleep(60)
"""


@pytest.fixture
def locked_file(db):
    """Another program holds the database exclusively (a second copy of the app, a sync tool)."""
    add_patients(db, 2)
    db.close()
    holder = subprocess.Popen([sys.executable, "-c", LOCKER, str(db.path)], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    yield db.path
    holder.kill()
    holder.wait()


def test_a_file_another_program_holds_gives_a_clear_message(locked_file):
    started = time.monotonic()
    with pytest.raises(DatabaseLocked, match="正被另一个程序占用"):
        open_database(locked_file)
    assert time.monotonic() - started < 30


def test_cli_on_a_locked_file_prints_one_line(locked_file):
    out = cli("stats", "--db", str(locked_file))
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines() == [out.stderr.strip()] and "占用" in out.stderr


BROKEN_MIGRATION = '''"""a migration that fails half-way

Revision ID: 9999
Revises: {head}
"""
from alembic import op
import sqlalchemy as sa

revision = "9999"
down_revision = "{head}"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("half_done", sa.Column("id", sa.Integer(), primary_key=True))
    op.execute("DELETE FROM setting")
    op.execute("INSERT INTO patient (id) VALUES ('not enough columns')")


def downgrade() -> None:
    pass
'''


def test_a_failed_migration_leaves_the_original_file_untouched(db, tmp_path):
    """The next release's upgrade breaks half-way: the clinic's file is exactly as it was."""
    add_patients(db, 5)
    with db.session("admin") as s:
        from clinic.db.models import Setting

        s.add(Setting(key="clinic.phone", value="0711-1234567"))
    db.close()
    head = sqlite3.connect(db.path).execute("SELECT version_num FROM alembic_version").fetchone()[0]
    scripts = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    (scripts / "versions" / "9999_broken.py").write_text(BROKEN_MIGRATION.format(head=head), encoding="utf-8")
    cfg = Config()
    cfg.set_main_option("script_location", str(scripts))
    before = digest(db.path)
    with pytest.raises(MigrationFailed, match="原文件未作任何修改") as caught:
        open_database(db.path, migrations=cfg)
    assert "\n" not in str(caught.value)
    assert digest(db.path) == before
    conn = sqlite3.connect(db.path)
    assert conn.execute("SELECT version_num FROM alembic_version").fetchone()[0] == head
    assert conn.execute("SELECT count(*) FROM sqlite_master WHERE name = 'half_done'").fetchone()[0] == 0
    conn.close()
    assert count_rows(db.path, "setting") >= 1 and count_rows(db.path, "patient") == 5
    assert not [p for p in db.path.parent.iterdir() if ".upgrading-" in p.name], "the work copy is removed"
    reopened = open_database(db.path)                     # today's release still opens it
    reopened.close()


def test_a_successful_upgrade_keeps_a_copy_of_the_file_as_it_was(tmp_path):
    sample = ROOT / "tests" / "upgrade" / "samples" / "schema-0002.db"
    path = tmp_path / "clinic.db"
    shutil.copyfile(sample, path)
    open_database(path).close()
    kept = list(tmp_path.glob("clinic.db.before-*.bak"))
    assert len(kept) == 1 and dump(kept[0]) == dump(sample)


def dump(path) -> list[str]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return list(conn.iterdump())
    finally:
        conn.close()
