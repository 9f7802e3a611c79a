"""Backups (issue 7 "Backups"): online backup API, verified, daily on first start and on exit, rotated
14 daily + 12 monthly, a second folder, and `liangbing backup`."""

from __future__ import annotations

import shutil
import sqlite3
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from clinic.backup import (
    BackupError,
    backup_database,
    backup_on_exit,
    backup_status,
    daily_backup_if_due,
    integrity_problem,
    list_backups,
    rotate,
    save_folders,
)
from clinic.db.models import Patient
from tests.ops.helpers import add_patients, cli, corrupt, count_rows, id_number

DAY1 = datetime(2026, 3, 2, 8, 0)


def test_backup_is_a_consistent_snapshot_taken_while_the_app_has_a_transaction_open(db):
    add_patients(db, 3)
    with db.session("doctor") as s:              # a write in progress, not committed yet
        add_patients_in(s, 100)
        result = backup_database(db.path, now=DAY1)
    assert integrity_problem(result.backup.path) is None
    assert count_rows(result.backup.path, "patient") == 3        # committed rows only, even those still in the WAL
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Patient)) == 4
    header = result.backup.path.read_bytes()[:100]
    assert header[18:20] == b"\x01\x01", "a backup is one self-contained file (no -wal beside it)"


def add_patients_in(session, n: int) -> None:
    from clinic.patients import register_patient

    register_patient(session, name="未提交", id_number=id_number(n))


def test_daily_backup_runs_on_the_first_start_of_each_day_only(db):
    assert daily_backup_if_due(db.path, now=DAY1) is not None
    assert daily_backup_if_due(db.path, now=DAY1 + timedelta(hours=3)) is None
    assert daily_backup_if_due(db.path, now=DAY1 + timedelta(days=1)) is not None
    assert [b.kind for b in list_backups(db.path)] == ["daily", "daily"]


def test_backup_on_exit_only_when_something_was_written_since_the_last_backup(db):
    """Called by the GUI as it exits, before it closes the database."""
    add_patients(db, 1)
    first = backup_on_exit(db.path, now=DAY1)
    assert first is not None and first.backup.kind == "exit"
    assert backup_on_exit(db.path, now=DAY1 + timedelta(minutes=5)) is None      # only read since
    with db.session() as s:
        s.scalar(select(func.count()).select_from(Patient))
    assert backup_on_exit(db.path, now=DAY1 + timedelta(minutes=6)) is None
    time.sleep(0.01)
    add_patients(db, 1, start=1)
    again = backup_on_exit(db.path, now=DAY1 + timedelta(minutes=10))
    assert again is not None and count_rows(again.backup.path, "patient") == 2


def test_rotation_keeps_the_newest_of_each_of_14_days_and_of_each_of_12_months(db):
    """400 days of a clinic: open every fifth day at first, then every day with a start and an exit
    backup for the last three weeks (fewer files than every day, the same rule exercised)."""
    now = datetime(2025, 1, 1, 8, 0)
    for day in range(400):
        if day % 5 == 0 or day >= 379:
            daily_backup_if_due(db.path, now=now)
        if day >= 379:
            backup_database(db.path, kind="exit", now=now + timedelta(hours=9))
        now += timedelta(days=1)
    backups = list_backups(db.path)
    last_day = (now - timedelta(days=1)).date()
    days = sorted({b.taken_at.date() for b in backups}, reverse=True)
    assert days[:14] == [last_day - timedelta(days=i) for i in range(14)]
    # 2025-01 … 2026-02 were spanned: the 12 newest months are kept, January and February 2025 are not
    months = {(b.taken_at.year, b.taken_at.month) for b in backups}
    assert months == {(2025, m) for m in range(3, 13)} | {(2026, 1), (2026, 2)}
    assert len(backups) == len({b.taken_at.date() for b in backups}), "one backup per kept day"
    assert len(backups) == 14 + 10          # the 14 days fall in January and February 2026
    assert all(b.kind == "exit" for b in backups[:14]), "the newest backup of a day is kept"
    assert all(integrity_problem(b.path) is None for b in backups[:3])


def test_a_second_folder_gets_a_verified_copy_and_a_missing_stick_only_warns(db, tmp_path):
    stick = tmp_path / "usb"
    stick.mkdir()
    with db.session("admin") as s:
        save_folders(s, folder=None, second=str(stick))
    result = backup_database(db.path, now=DAY1)
    assert [p.parent for p in result.copies] == [stick] and integrity_problem(result.copies[0]) is None
    assert result.copies[0].read_bytes() == result.backup.path.read_bytes()
    shutil.rmtree(stick)                            # the stick is pulled out
    result = backup_database(db.path, now=DAY1 + timedelta(days=1))
    assert result.copies == [] and "U盘" in result.warnings[0]
    assert integrity_problem(result.backup.path) is None


def test_backup_folders_are_settings_an_administrator_chooses(db, tmp_path):
    with db.session("admin") as s:
        save_folders(s, folder=str(tmp_path / "chosen"), second=None)
    result = backup_database(db.path, now=DAY1)
    assert result.backup.path.parent == tmp_path / "chosen"
    with pytest.raises(BackupError, match="完整路径"), db.session("admin") as s:
        save_folders(s, folder="relative/folder", second=None)


def test_a_damaged_database_is_not_backed_up_and_the_good_backups_are_kept(db):
    add_patients(db, 30)
    good = backup_database(db.path, now=DAY1).backup.path
    db.close()
    corrupt(db.path)
    for day in range(1, 30):                         # a month of failed attempts must not rotate it away
        with pytest.raises(BackupError):
            backup_database(db.path, now=DAY1 + timedelta(days=day))
    assert [b.path for b in list_backups(db.path)] == [good]
    assert not list(good.parent.glob(".*partial"))


def test_the_home_screen_status_warns_when_the_last_backup_is_more_than_a_day_old(db):
    assert backup_status(db.path, DAY1).stale and "还没有" in backup_status(db.path, DAY1).message
    backup_database(db.path, now=DAY1)
    assert not backup_status(db.path, DAY1 + timedelta(hours=20)).stale
    late = backup_status(db.path, DAY1 + timedelta(days=1, hours=1))
    assert late.stale and "已超过一天" in late.message and "2026-03-02 08:00" in late.message


def test_rotation_never_touches_other_files_in_the_folder(db, tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "notes.txt").write_text("医生的笔记")
    (folder / "other-20200101-000000-daily.db").write_bytes(b"")      # another database's backup
    for day in range(20):
        backup_database(db.path, folder=folder, now=DAY1 + timedelta(days=day), use_settings=False)
    assert (folder / "notes.txt").exists() and (folder / "other-20200101-000000-daily.db").exists()
    assert rotate(db.path, folder) == []
    assert len(list_backups(db.path, folder)) == 14          # all in one month: the 14 newest days


def test_cli_backup_to_a_folder_and_list(db, tmp_path):
    add_patients(db, 2)
    out = cli("backup", "--db", str(db.path), "--to", str(tmp_path / "stick"))
    assert out.returncode == 0, out.stderr
    assert "完整性检查通过" in out.stdout
    made = list((tmp_path / "stick").glob("clinic-*-manual.db"))
    assert len(made) == 1 and count_rows(made[0], "patient") == 2
    listed = cli("backup", "--db", str(db.path), "--to", str(tmp_path / "stick"), "--list")
    assert str(made[0]) in listed.stdout


def test_cli_backup_of_a_missing_or_damaged_file_fails_with_one_line(db, tmp_path):
    out = cli("backup", "--db", str(tmp_path / "nope.db"))
    assert out.returncode != 0 and "找不到" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    add_patients(db, 30)
    db.close()
    corrupt(db.path)
    out = cli("backup", "--db", str(db.path))
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and ("完整性" in out.stderr or "无法备份" in out.stderr)


def test_backup_reads_through_a_plain_sqlite_connection_without_writing_the_source(db):
    add_patients(db, 1)
    db.close()
    before = db.path.read_bytes()
    backup_database(db.path, now=DAY1)
    assert db.path.read_bytes() == before
    conn = sqlite3.connect(db.path)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()
