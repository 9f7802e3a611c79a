"""Files only this OS user may read (issue 13 item 4): the server database, the clinic database and its
-wal/-shm, backups and token files are 0600 in 0700 folders (the Windows ACL half runs only on Windows
and is not tested here); and an empty or headerless clinic file is a lost database, never a new clinic."""

from __future__ import annotations

import os
import stat
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from clinic.backup import backup_database
from clinic.db.engine import DatabaseCorrupt, open_database
from sync.server.storage import open_server_database
from sync.token_store import FileStore
from tests.ops.helpers import add_patients, cli, cli_process, count_rows

pytestmark = pytest.mark.skipif(os.name == "nt", reason="POSIX modes; Windows gets an ACL (icacls)")


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def permissive_umask():
    """The usual umask, so a file left to the defaults is readable by every account (0644)."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_server_database_is_owner_only(tmp_path):
    path = tmp_path / "server-data" / "township.db"
    db = open_server_database(path)
    try:
        with db.session() as s:                # the pool keeps this connection open: -wal and -shm stay
            s.execute(text("SELECT count(*) FROM alembic_version"))
        companions = [p for p in (Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()]
        assert companions, "WAL mode keeps a -wal and -shm beside an open database"
        assert mode(path) == 0o600 and all(mode(p) == 0o600 for p in companions)
        assert mode(path.parent) == 0o700, "the folder made for the database"
    finally:
        db.close()


def test_an_existing_server_database_readable_by_all_is_made_owner_only(tmp_path):
    path = tmp_path / "township.db"
    open_server_database(path).close()
    os.chmod(path, 0o644)
    open_server_database(path).close()
    assert mode(path) == 0o600


def test_clinic_database_and_its_companions_are_owner_only(db):
    add_patients(db, 2)
    files = [db.path, Path(f"{db.path}-wal"), Path(f"{db.path}-shm")]
    assert all(p.exists() and mode(p) == 0o600 for p in files), [oct(mode(p)) for p in files if p.exists()]
    db.close()
    os.chmod(db.path, 0o644)                    # as an older release left it
    open_database(db.path).close()
    assert mode(db.path) == 0o600


def test_clinic_backups_are_owner_only(db, tmp_path):
    add_patients(db, 2)
    old = backup_database(db.path, now=datetime(2026, 3, 1, 8, 0)).backup.path
    os.chmod(old, 0o644)                         # an older release's backup
    os.chmod(old.parent, 0o755)
    usb = tmp_path / "usb"
    usb.mkdir()
    result = backup_database(db.path, second=usb, now=datetime(2026, 3, 2, 8, 0))
    assert mode(result.backup.path) == 0o600 and mode(result.copies[0]) == 0o600
    assert mode(old) == 0o600 and mode(old.parent) == 0o700, "the default backups/ folder is the app's own"
    chosen = tmp_path / "chosen" / "deep"
    made = backup_database(db.path, folder=chosen, use_settings=False).backup.path
    assert mode(made) == 0o600 and mode(chosen) == 0o700


def test_clinic_token_file_is_owner_only(tmp_path):
    folder = tmp_path / "secrets"
    folder.mkdir(mode=0o755)
    store = FileStore(folder)
    leftover = store._path("ref1").with_suffix(".partial")
    leftover.write_text("half", encoding="utf-8")
    os.chmod(leftover, 0o644)                    # a crash left a partial readable by all
    store.set("ref1", "secret-token")
    assert store.get("ref1") == "secret-token"
    assert mode(store._path("ref1")) == 0o600 and mode(folder) == 0o700


# -- an empty or headerless clinic file -------------------------------------------------------------

def _with_backups(db) -> Path:
    add_patients(db, 3)
    backup_database(db.path, now=datetime(2026, 3, 1, 8, 0))
    newest = backup_database(db.path, now=datetime(2026, 3, 2, 8, 0)).backup.path
    db.close()
    for companion in (Path(f"{db.path}-wal"), Path(f"{db.path}-shm")):
        companion.unlink(missing_ok=True)
    return newest


def _assert_refused_on_the_command_line(path: Path, newest: Path, content: bytes) -> None:
    out = cli_process("stats", "--db", str(path))
    assert out.returncode != 0 and "Traceback" not in out.stderr, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "已损坏" in lines[0] and str(newest) in lines[0] and "2026-03-02 08:00" in lines[0]
    assert f'liangbing restore --db "{path}" --from "{newest}"' in lines[0]
    assert out.stdout == ""
    assert path.read_bytes() == content, "refusing must not write into the file"
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0


def test_empty_clinic_file_with_backups_is_refused(db):
    newest = _with_backups(db)
    db.path.write_bytes(b"")
    _assert_refused_on_the_command_line(db.path, newest, b"")
    assert db.path.stat().st_size == 0
    with pytest.raises(DatabaseCorrupt, match="空文件") as caught:
        open_database(db.path)
    assert caught.value.last_backup == newest and db.path.stat().st_size == 0


def test_headerless_clinic_file_with_backups_is_refused(db):
    newest = _with_backups(db)
    content = b"\x00" * 4096                       # a disk or copy tool that wrote zeros
    db.path.write_bytes(content)
    _assert_refused_on_the_command_line(db.path, newest, content)
    with pytest.raises(DatabaseCorrupt, match="文件头"):
        open_database(db.path)


def test_empty_clinic_file_without_backups_is_refused_and_says_how_to_start_afresh(tmp_path):
    path = tmp_path / "clinic.db"
    path.write_bytes(b"")
    out = cli("stats", "--db", str(path))
    assert out.returncode != 0
    assert "未找到备份" in out.stderr and "删除或改名" in out.stderr and str(path) in out.stderr
    assert path.stat().st_size == 0


def test_a_new_clinic_is_created_where_no_file_exists(tmp_path):
    path = tmp_path / "new" / "clinic.db"
    open_database(path).close()
    assert path.stat().st_size > 0 and path.read_bytes()[:16] == b"SQLite format 3\x00"
    assert mode(path) == 0o600 and mode(path.parent) == 0o700


def test_the_restore_command_named_in_the_refusal_brings_the_clinic_back(db):
    newest = _with_backups(db)
    db.path.write_bytes(b"")
    out = cli("restore", "--db", str(db.path), "--from", str(newest))
    assert out.returncode == 0, out.stderr
    reopened = open_database(db.path, create=False)
    try:
        assert count_rows(db.path, "patient") == 3
    finally:
        reopened.close()
