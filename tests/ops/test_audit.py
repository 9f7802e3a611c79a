"""The audit trail (issue 7): append-only in the database itself, viewable and exportable by
administrators only; an export holding ID numbers warns first (PIPL)."""

from __future__ import annotations

import json
import os
import sqlite3
import uuid
from datetime import date, datetime

import pytest
from openpyxl import load_workbook
from sqlalchemy import delete, func, select, text, update
from sqlalchemy.exc import IntegrityError

from clinic.audit_export import audit_events, export_audit_xlsx, id_numbers_in
from clinic.db.models import AuditEvent, Patient
from clinic.patients import soft_delete_patient, update_patient
from clinic.permissions import PermissionDenied
from clinic.sensitive import find_id_numbers, mask_id_numbers
from clinic.users import create_user
from tests.ops.helpers import add_patients, cli, id_number


def test_audit_events_cannot_be_changed_or_deleted_even_with_plain_sql(db):
    add_patients(db, 1)
    for statement in (update(AuditEvent).values(user_name="someone else"), delete(AuditEvent)):
        with pytest.raises(IntegrityError, match="审计日志只能追加"), db.session() as s:
            s.execute(statement)
    conn = sqlite3.connect(db.path)
    with pytest.raises(sqlite3.IntegrityError, match="审计日志只能追加"):
        conn.execute("DELETE FROM audit_event")
    conn.close()
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent)) > 0


def test_the_append_only_triggers_exist_at_the_newest_schema(db):
    """A later batch migration of audit_event would drop them on SQLite: this catches it."""
    with db.session() as s:
        names = set(s.scalars(text("SELECT name FROM sqlite_master WHERE type = 'trigger'")))
    assert {"audit_event_no_update", "audit_event_no_delete"} <= names


def test_who_changed_what_and_when_is_recorded_for_an_edit_and_a_deletion(db):
    (pid,) = add_patients(db, 1)
    with db.session("doctor-wang") as s:
        update_patient(s, s.get(Patient, pid), phone="13900000002")
    with db.session("doctor-wang") as s:
        soft_delete_patient(s, s.get(Patient, pid), "重复建档")
    with db.session() as s:
        rows = audit_events(s, "admin", entity="patient")
    assert [r.action for r in rows] == ["delete", "update", "insert"]
    assert rows[1].user == "doctor-wang" and "13800000001 → 13900000002" in rows[1].changes
    assert "reason: None → 重复建档" in rows[0].changes, "the reason rides on the event (no later UPDATE)"


def test_only_administrators_view_or_export_the_log(db, tmp_path):
    for role in ("doctor", "pharmacist"):
        with pytest.raises(PermissionDenied), db.session() as s:
            audit_events(s, role)
        with pytest.raises(PermissionDenied), db.session() as s:
            export_audit_xlsx(s, "x", role, tmp_path / "a.xlsx", [])
    assert not (tmp_path / "a.xlsx").exists()


def test_export_writes_every_event_to_excel_and_logs_the_export(db, tmp_path):
    add_patients(db, 3)
    with db.session("admin") as s:
        rows = audit_events(s, "admin", since=date(2000, 1, 1))
        path = export_audit_xlsx(s, "admin", "admin", tmp_path / "审计日志.xlsx", rows)
    sheet = load_workbook(path).active
    values = list(sheet.values)
    assert values[0][:6] == ("时间", "操作人", "机构编码", "对象", "记录编号", "操作")
    # 设置: the fixture's administrator chose the 支付标准 source (鄂州方案 names none)
    assert len(values) == 1 + len(rows) and {v[3] for v in values[1:]} == {"患者", "机构", "设置"}
    assert id_number(0) in json.dumps(values, ensure_ascii=False)
    with db.session() as s:
        export = s.scalar(select(AuditEvent).where(AuditEvent.action == "export"))
    assert export.user_name == "admin" and json.loads(export.changes)["rows"] == [None, len(rows)]


def test_masked_export_holds_no_whole_id_number(db, tmp_path):
    add_patients(db, 3)
    with db.session("admin") as s:
        rows = audit_events(s, "admin")
        assert len(id_numbers_in(rows)) == 3
        path = export_audit_xlsx(s, "admin", "admin", tmp_path / "masked.xlsx", rows, mask_ids=True)
    text_of_file = json.dumps(list(load_workbook(path).active.values), ensure_ascii=False)
    assert not find_id_numbers(text_of_file)
    assert mask_id_numbers(id_number(0)) in text_of_file


def test_id_numbers_are_recognised_by_their_checksum():
    good = id_number(7)
    wrong_check = good[:17] + ("0" if good[17] != "0" else "1")
    found = find_id_numbers(f"患者 {good}，另有 {wrong_check} 和 uuid 00000000-0000-4000-8000-000000000001")
    assert found == {good}
    assert mask_id_numbers(good) == good[:6] + "********" + good[-4:]


@pytest.fixture
def admin_db(db):
    with db.session("setup") as s:
        create_user(s, "admin", "管理员", "admin", "admin1234")
        create_user(s, "doctor", "王医生", "doctor", "doctor123")
    add_patients(db, 2)
    db.close()
    return db.path


def test_cli_export_with_id_numbers_stops_with_a_warning_unless_confirmed(admin_db, tmp_path):
    out_file = tmp_path / "audit.xlsx"
    env = {"LIANGBING_PASSWORD": "admin1234"}
    refused = cli("audit", "export", "--db", str(admin_db), "--user", "admin", "-o", str(out_file), env=env)
    assert refused.returncode != 0 and "身份证号" in refused.stderr and "--yes" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1 and not out_file.exists()
    done = cli("audit", "export", "--db", str(admin_db), "--user", "admin", "-o", str(out_file), "--yes", env=env)
    assert done.returncode == 0, done.stderr
    assert "身份证号" in done.stderr and out_file.exists()
    masked = cli("audit", "export", "--db", str(admin_db), "--user", "admin", "-o", str(tmp_path / "m.xlsx"),
                 "--mask-ids", env=env)
    assert masked.returncode == 0 and not find_id_numbers(json.dumps(
        list(load_workbook(tmp_path / "m.xlsx").active.values), ensure_ascii=False))


def test_cli_audit_needs_an_administrators_password(admin_db, tmp_path):
    for user, password, reason in (("doctor", "doctor123", "无权"), ("admin", "wrong-pass", "密码错误")):
        out = cli("audit", "show", "--db", str(admin_db), "--user", user, env={"LIANGBING_PASSWORD": password})
        assert out.returncode != 0 and reason in out.stderr and "Traceback" not in out.stderr


PG_URL = os.environ.get("LIANGBING_TEST_PG_URL")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


@pytest.mark.skipif(not PG_URL and not IN_CI, reason="LIANGBING_TEST_PG_URL is not set (.ci/run sets it)")
def test_the_township_database_on_postgresql_keeps_its_audit_log_append_only():
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import DBAPIError

    from sync.server.storage import open_server_database

    assert PG_URL, "CI is set but LIANGBING_TEST_PG_URL is not"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    name = f"lb_audit_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" ENCODING \'UTF8\' TEMPLATE template0'))
    try:
        server = open_server_database(make_url(PG_URL).set(database=name).render_as_string(hide_password=False))
        with server.session("reviewer", write=True) as s:
            s.execute(AuditEvent.__table__.insert().values(
                at=datetime(2026, 3, 2, 8, 0), user_name="reviewer", entity="filing", entity_id="x",
                action="update", changes="{}"))
        for statement in (update(AuditEvent).values(user_name="someone else"), delete(AuditEvent)):
            with pytest.raises(DBAPIError, match="审计日志只能追加"), server.session("x", write=True) as s:
                s.execute(statement)
        with server.session("x") as s:
            assert s.scalar(select(func.count()).select_from(AuditEvent)) == 1
        server.close()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
