"""Restoring a backup (issue 7): the current file is kept aside, nothing synced after the backup is
lost (it is written back in the version the township acknowledged), and the report says what was
synced after the backup, what was never synced and which streams will be pulled again. Tested
against a real township server on 127.0.0.1."""

from __future__ import annotations

import hashlib
import shutil
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from clinic.backup import backup_database
from clinic.db.engine import open_database
from clinic.db.models import Patient, Setting, Settlement
from clinic.patients import update_patient
from clinic.restore import RestoreError, plan_restore, restore_backup
from sync.client import sync_once
from sync.server.storage import open_server_database
from sync.transport import RetryPolicy
from tests.clinic_fixtures import AML
from tests.ops.helpers import ROOT, cli, corrupt, count_rows
from tests.sync.helpers import LiveServer, add_patients, enrolled_clinic, make_clinic, sell, server_count

CODE = "H42070400109"
FAST = RetryPolicy(attempts=2, base_delay=0.01, max_delay=0.05)


@pytest.fixture
def server(tmp_path):
    open_server_database(tmp_path / "township.db").close()
    live = LiveServer.start(str(tmp_path / "township.db"))
    yield live
    live.stop()


def synced(db) -> None:
    result = sync_once(db, retry=FAST, force=True)
    assert result.error is None and result.pending == 0, result.error


def test_restore_keeps_records_synced_after_the_backup_and_reports_the_unsynced_ones(server, tmp_path):
    path = tmp_path / "clinic.db"
    clinic = enrolled_clinic(server, path, CODE)
    early = add_patients(clinic, 3)
    synced(clinic)
    backup = backup_database(path).backup.path

    later = add_patients(clinic, 2, start=10)                       # synced after the backup
    sale = sell(clinic, later[0], AML, date(2026, 3, 2), 28)          # money the township has counted
    with clinic.session("doctor") as s:
        update_patient(s, s.get(Patient, early[0]), phone="13911112222")
    synced(clinic)
    unsent = add_patients(clinic, 1, start=20)                      # never synced
    clinic.close()

    plan = plan_restore(path, backup)
    assert set(later) <= set(plan.synced_after) and early[0] in plan.synced_after
    assert sale.id in plan.synced_after and plan.synced_after[sale.id] == "settlement"
    assert unsent[0] in plan.unsynced_after and early[1] not in plan.synced_after
    text = "\n".join(plan.lines())
    assert "备份之后已上传到乡镇的记录" in text and "未上传的修改" in text

    report = restore_backup(path, backup, user="admin")
    assert report.carried == len(plan.synced_after) and not report.not_carried
    assert report.aside.exists() and count_rows(report.aside, "patient") == 6

    db = open_database(path)
    with db.session() as s:
        assert {p for p in later if s.get(Patient, p)} == set(later)
        assert s.get(Patient, early[0]).phone == "13911112222"
        assert s.get(Patient, unsent[0]) is None                     # kept only in the set-aside file
        kept = s.get(Settlement, sale.id)
        assert kept is not None and kept.fund_pay == sale.fund_pay == Decimal("8.40")
    synced(db)                                                       # and the township agrees
    result = sync_once(db, retry=FAST, force=True)
    assert result.conflicts == 0 and result.rejected == 0 and result.pending == 0
    assert server_count(server.db, Patient) == 5
    db.close()


def test_restore_refuses_while_the_database_is_open_and_changes_nothing(tmp_path):
    path = tmp_path / "clinic.db"
    db = make_clinic(path, CODE, drugs=False)
    backup = backup_database(path).backup.path
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(RestoreError, match="正在被使用"):
        restore_backup(path, backup)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert not list(tmp_path.glob("clinic.db.before-restore-*"))
    db.close()


def test_a_damaged_database_is_replaced_by_its_last_good_backup(tmp_path):
    path = tmp_path / "clinic.db"
    db = make_clinic(path, CODE)
    add_patients(db, 40)
    backup = backup_database(path).backup.path
    db.close()
    corrupt(path)
    report = restore_backup(path, backup)
    assert not report.plan.current_readable and "无法读取" in "\n".join(report.lines())
    assert report.aside.exists()
    db = open_database(path)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Patient)) == 40
    db.close()


def test_a_damaged_backup_is_refused_and_the_database_left_alone(tmp_path):
    path = tmp_path / "clinic.db"
    db = make_clinic(path, CODE)
    add_patients(db, 40)
    db.close()
    bad = tmp_path / "bad-backup.db"
    shutil.copyfile(path, bad)
    corrupt(bad)
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(RestoreError, match="无法使用"):
        restore_backup(path, bad)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


def test_a_backup_from_an_older_release_is_upgraded_as_it_is_restored(tmp_path):
    path = tmp_path / "clinic.db"
    make_clinic(path, CODE, drugs=False).close()
    old = tmp_path / "old-backup.db"
    shutil.copyfile(ROOT / "tests" / "upgrade" / "samples" / "schema-0002.db", old)
    restore_backup(path, old)
    db = open_database(path)
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Patient)) == 3
        assert s.get(Setting, "clinic.phone").value == "0711-1234567"
    db.close()


def test_cli_restore_dry_run_changes_nothing_and_restore_prints_the_report(tmp_path):
    path = tmp_path / "clinic.db"
    db = make_clinic(path, CODE, drugs=False)
    backup = backup_database(path).backup.path
    add_patients(db, 2)
    db.close()
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    dry = cli("restore", "--db", str(path), "--from", str(backup), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "将从备份" in dry.stdout and hashlib.sha256(path.read_bytes()).hexdigest() == before
    done = cli("restore", "--db", str(path), "--from", str(backup))
    assert done.returncode == 0, done.stderr
    assert "已从备份" in done.stdout and "原数据库已另存为" in done.stdout
    assert count_rows(path, "patient") == 0
    missing = cli("restore", "--db", str(path), "--from", str(tmp_path / "nope.db"))
    assert missing.returncode != 0 and "找不到备份文件" in missing.stderr and "Traceback" not in missing.stderr
