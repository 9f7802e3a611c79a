"""The township server's own backups (issue 13 item 6): `liangbing-server backup|restore` on SQLite
(online backup + integrity check) and PostgreSQL (pg_dump custom format, checked by a restore into a
scratch database), the clinic's rotation, owner-only files, a damaged backup refused, and the daily
backup thread of `serve`. PostgreSQL from LIANGBING_TEST_PG_URL (tests/sync/conftest.py)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import stat
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from clinic.db.models import Institution, SyncFeed
from sync.server import auth
from sync.server.backup import DailyBackup, backup_server, dashboard_line, last_good_backup, list_server_backups
from sync.server.cli import main as server_cli
from sync.server.feed import append
from sync.server.storage import open_server_database
from tests.ops.helpers import corrupt
from tests.sync.helpers import LiveServer, server_process


def run(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = server_cli(list(args))
    return code, out.getvalue(), err.getvalue()


def add_clinics(url: str, *codes: str) -> None:
    db = open_server_database(url)
    try:
        with db.session("test", write=True) as s:
            for code in codes:
                auth.add_clinic(s, code, f"{code}村卫生室", "1", "临江乡")
    finally:
        db.close()


def clinic_codes(url: str) -> set[str]:
    db = open_server_database(url)
    try:
        with db.session() as s:
            return set(s.scalars(select(Institution.code).where(Institution.code.like("H42%"))))
    finally:
        db.close()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def aside_databases(server_db_url):
    """PostgreSQL: the databases a restore set aside, dropped after the test."""
    yield
    if "://" not in server_db_url:
        return
    admin = create_engine(make_url(server_db_url).set(database="postgres"), isolation_level="AUTOCOMMIT")
    name = make_url(server_db_url).database
    with admin.connect() as conn:
        for (aside,) in conn.execute(text("SELECT datname FROM pg_database WHERE datname LIKE :p"),
                                     {"p": f"{name[:40]}_%"}):
            conn.execute(text(f'DROP DATABASE IF EXISTS "{aside}" WITH (FORCE)'))
    admin.dispose()


def test_server_backup_and_restore_round_trip(server_db_url, tmp_path, aside_databases):
    add_clinics(server_db_url, "H42070400101", "H42070400102")
    folder = tmp_path / "backups"
    code, out, err = run("backup", "--db", server_db_url, "--to", str(folder))
    assert code == 0, err
    assert "已备份到" in out
    made = list_server_backups(server_db_url, folder)
    assert len(made) == 1 and made[0].kind == "manual" and made[0].size > 0
    add_clinics(server_db_url, "H42070400103")                        # written after the backup

    code, out, err = run("restore", "--db", server_db_url, "--from", str(made[0].path), "--dry-run")
    assert code == 0, err
    assert "institution" in out and "liangbing sync --reconcile" in out
    assert clinic_codes(server_db_url) == {"H42070400101", "H42070400102", "H42070400103"}, "dry run changes nothing"

    code, out, err = run("restore", "--db", server_db_url, "--from", str(made[0].path))
    assert code == 0, err
    assert "原数据库已另存为" in out
    assert clinic_codes(server_db_url) == {"H42070400101", "H42070400102"}
    if "://" not in server_db_url:
        aside = list(Path(server_db_url).parent.glob("township.db.before-restore-*"))
        assert len(aside) == 1 and mode(aside[0]) == 0o600
        assert clinic_codes(str(aside[0])) == {"H42070400101", "H42070400102", "H42070400103"}
    else:
        name = make_url(server_db_url).database
        admin = create_engine(make_url(server_db_url).set(database="postgres"))
        with admin.connect() as conn:
            kept = conn.execute(text("SELECT datname FROM pg_database WHERE datname LIKE :p"),
                                {"p": f"{name[:40]}_before_restore_%"}).scalars().all()
            stray = conn.execute(text("SELECT count(*) FROM pg_database WHERE datname LIKE :p"),
                                 {"p": f"{name[:40]}_check_%"}).scalar()
        admin.dispose()
        assert len(kept) == 1 and stray == 0, "the current database is kept aside; scratch ones are dropped"
        kept_url = make_url(server_db_url).set(database=kept[0]).render_as_string(hide_password=False)
        assert clinic_codes(kept_url) == {"H42070400101", "H42070400102", "H42070400103"}


def test_server_backups_are_owner_only(server_db_url, tmp_path):
    old = os.umask(0o022)
    try:
        folder = tmp_path / "new" / "backups"
        outcome = backup_server(server_db_url, folder)
    finally:
        os.umask(old)
    assert mode(outcome.backup.path) == 0o600 and mode(folder) == 0o700
    assert mode(folder / "backup-status.json") == 0o600
    assert not [p for p in folder.iterdir() if p.name.startswith(".")], "no partial file is left behind"


def test_a_damaged_backup_is_refused_by_restore(server_db_url, tmp_path):
    add_clinics(server_db_url, "H42070400101")
    folder = tmp_path / "backups"
    backup = backup_server(server_db_url, folder).backup.path
    damaged = tmp_path / backup.name
    if "://" in server_db_url:
        data = backup.read_bytes()
        damaged.write_bytes(data[: len(data) // 2])                    # a copy cut short
    else:
        damaged.write_bytes(backup.read_bytes())
        corrupt(damaged)
    add_clinics(server_db_url, "H42070400102")
    for extra in (("--dry-run",), ()):
        code, out, err = run("restore", "--db", server_db_url, "--from", str(damaged), *extra)
        assert code != 0 and "Traceback" not in err
        assert len(err.strip().splitlines()) == 1 and "未改动" in err, err
    assert clinic_codes(server_db_url) == {"H42070400101", "H42070400102"}


def test_backup_list_and_last_good_backup(server_db_url, tmp_path):
    folder = tmp_path / "backups"
    assert last_good_backup(server_db_url, folder) is None
    assert "还没有完好的备份" in dashboard_line(server_db_url, folder)
    backup_server(server_db_url, folder, now=datetime(2026, 3, 1, 8, 0))
    second = backup_server(server_db_url, folder, now=datetime(2026, 3, 2, 8, 0)).backup
    last = last_good_backup(server_db_url, folder)
    assert last == second and last.size == second.path.stat().st_size
    line = dashboard_line(server_db_url, folder, now=datetime(2026, 3, 2, 9, 0))
    assert "2026-03-02 08:00" in line and second.path.name in line and "超过一天" not in line
    assert "超过一天" in dashboard_line(server_db_url, folder, now=datetime(2026, 3, 5, 9, 0))
    code, out, _ = run("backup", "--db", server_db_url, "--to", str(folder), "--list")
    assert code == 0 and out.count("  manual  ") == 2 and "共 2 个" in out


def test_server_backups_rotate_like_the_clinics(tmp_path):
    path = tmp_path / "township.db"
    open_server_database(path).close()
    folder = tmp_path / "backups"
    start = datetime(2026, 1, 1, 8, 0)
    for day in range(20):
        backup_server(path, folder, kind="daily", now=start + timedelta(days=day))
    kept = list_server_backups(path, folder)
    assert [b.taken_at for b in kept] == [start + timedelta(days=d) for d in range(19, 5, -1)]   # the 14 latest days


def test_a_failed_backup_is_shown_to_township_staff(tmp_path):
    missing = tmp_path / "gone.db"
    folder = tmp_path / "backups"
    code, _, err = run("backup", "--db", str(missing), "--to", str(folder))
    assert code != 0 and "找不到服务器数据库" in err
    status = json.loads((folder / "backup-status.json").read_text(encoding="utf-8"))
    assert status["ok"] is False
    assert "最近一次备份失败" in dashboard_line(missing, folder)


def test_daily_backup_thread_makes_a_backup_when_none_is_fresh(tmp_path):
    path = tmp_path / "township.db"
    open_server_database(path).close()
    folder = tmp_path / "backups"
    old = backup_server(path, folder, kind="daily", now=datetime.now() - timedelta(days=2)).backup
    daily = DailyBackup(path, folder).start()
    try:
        assert daily.wait_for_passes(1, timeout=120)
    finally:
        daily.stop()
    backups = list_server_backups(path, folder)
    assert len(backups) == 2 and backups[0].kind == "daily" and backups[0].taken_at > old.taken_at
    assert daily.last_error is None


def test_daily_backup_thread_leaves_a_fresh_backup_alone(tmp_path):
    path = tmp_path / "township.db"
    open_server_database(path).close()
    folder = tmp_path / "backups"
    backup_server(path, folder, now=datetime.now() - timedelta(hours=3))
    daily = DailyBackup(path, folder).start()
    try:
        assert daily.wait_for_passes(1, timeout=120)
    finally:
        daily.stop()
    assert len(list_server_backups(path, folder)) == 1
    assert daily.due_in() > timedelta(hours=20)


def test_a_restore_refuses_while_the_server_holds_the_sqlite_file(tmp_path):
    path = tmp_path / "township.db"
    add_clinics(str(path), "H42070400101")
    backup = backup_server(path, tmp_path / "backups").backup.path
    db = open_server_database(path)
    try:
        with db.session() as s:
            assert s.scalar(select(func.count()).select_from(Institution)) >= 1
        code, _, err = run("restore", "--db", str(path), "--from", str(backup))
        assert code != 0 and "正在被使用" in err
    finally:
        db.close()


def test_the_township_dashboard_shows_the_last_good_backup(tmp_path):
    path = tmp_path / "township.db"
    open_server_database(path).close()
    backup = backup_server(path, now=datetime(2026, 3, 2, 8, 0)).backup       # backups/ beside the file
    server = LiveServer.start(str(path))
    try:
        with server.db.session("test", write=True) as s:
            auth.add_account(s, "staff", "乡镇员工", "township", "staff-pass-1")
        web = requests.Session()
        page = web.post(f"{server.url}/login", data={"username": "staff", "password": "staff-pass-1"}, timeout=10)
        assert page.status_code == 200, page.text
        html = web.get(f"{server.url}/township/dashboard", timeout=30).text
    finally:
        server.stop()
    shown = re.search(r"<p id='server-backup'>([^<]*)</p>", html)
    assert shown, html[:2000]
    assert "2026-03-02 08:00" in shown.group(1) and backup.path.name in shown.group(1)
    assert backup.size_label in shown.group(1)


def test_serve_backs_up_at_start_when_no_backup_is_fresh(tmp_path):
    """`liangbing-server serve` in its own process: its daily backup thread makes today's backup."""
    path = tmp_path / "township.db"
    open_server_database(path).close()
    folder = tmp_path / "daily"
    proc, _ = server_process(str(path), None, "--backup-dir", str(folder))
    try:
        deadline = time.monotonic() + 120          # generous: waiting for the thread, not timing it
        while not list_server_backups(path, folder) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    backups = list_server_backups(path, folder)
    assert len(backups) == 1 and backups[0].kind == "daily"


def test_a_clinic_backup_is_refused_by_the_server_restore(db, tmp_path):
    """The same schema, but a village's own file: restoring it would replace every village's data."""
    from clinic.backup import backup_database

    clinic_backup = backup_database(db.path, folder=tmp_path / "clinic-backups", use_settings=False).backup.path
    path = tmp_path / "township.db"
    add_clinics(str(path), "H42070400101")
    code, _, err = run("restore", "--db", str(path), "--from", str(clinic_backup))
    assert code != 0 and "村卫生室的数据库备份" in err
    assert clinic_codes(str(path)) == {"H42070400101"}


def feed_positions(url: str) -> list[int]:
    db = open_server_database(url)
    try:
        with db.session() as s:
            return list(s.scalars(select(SyncFeed.position).order_by(SyncFeed.position)))
    finally:
        db.close()


def add_feed(url: str, n: int) -> None:
    db = open_server_database(url)
    try:
        with db.session("test", write=True) as s:
            append(s, [("catalogue", "drug", f"D{i:04d}-{uuid.uuid4().hex[:6]}", None) for i in range(n)])
    finally:
        db.close()


@pytest.mark.parametrize("before", [3, 0], ids=["feed", "empty-feed"])
def test_after_a_restore_new_feed_items_come_after_every_cursor_clinics_hold(server_db_url, tmp_path,
                                                                           aside_databases, before):
    """Clinics' pull cursors came from the current database; the backup's feed ends earlier. Items the
    restored server appends must still be seen: their positions are past every cursor given out."""
    add_feed(server_db_url, before)
    backup = backup_server(server_db_url, tmp_path / "backups").backup.path
    add_feed(server_db_url, 4)
    handed_out = max(feed_positions(server_db_url))          # the highest cursor a clinic can hold
    code, _, err = run("restore", "--db", server_db_url, "--from", str(backup))
    assert code == 0, err
    restored = feed_positions(server_db_url)
    assert len(restored) == max(before, 1) and min(restored) > handed_out
    add_feed(server_db_url, 1)
    assert max(feed_positions(server_db_url)) > max(restored)


def test_a_half_written_backup_left_by_a_killed_process_is_removed(tmp_path):
    path = tmp_path / "township.db"
    open_server_database(path).close()
    folder = tmp_path / "backups"
    folder.mkdir()
    stale = folder / ".township-20260101-080000-daily.db.partial"
    stale.write_bytes(b"half")
    old = (datetime.now() - timedelta(days=2)).timestamp()
    os.utime(stale, (old, old))
    backup_server(path, folder)
    assert not stale.exists() and len(list_server_backups(path, folder)) == 1
