"""Storage: WAL + synchronous=FULL, migrations with a copy first, newer schemas refused, audit events,
UUID keys with the institution code, soft delete."""

from __future__ import annotations

import json
import sqlite3
from datetime import date

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import select

from clinic.db.engine import DatabaseError, alembic_config, open_database
from clinic.db.models import AuditEvent, Base, Patient


def add_patient(session, **kw):
    fields = dict(name="张三", sex="男", birth_date=date(1960, 1, 1), id_number="110101196001010016",
                  insurance="resident")
    fields.update(kw)
    patient = Patient(**fields)
    session.add(patient)
    return patient


def test_database_uses_wal_and_full_synchronous(db):
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2          # FULL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_models_and_migrations_agree(db):
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_synced_rows_get_uuid_and_institution_code(db):
    with db.session("doctor") as s:
        patient = add_patient(s)
    assert len(patient.id) == 36 and patient.institution_code == "H42070400101"


def test_every_change_leaves_an_audit_event_with_changed_fields(db):
    with db.session("doctor") as s:
        patient = add_patient(s)
    with db.session("doctor2") as s:
        s.get(Patient, patient.id).phone = "13800000000"
    with db.session("admin") as s:
        from clinic.db.types import utcnow
        s.get(Patient, patient.id).deleted_at = utcnow()
    with db.session() as s:
        events = s.scalars(select(AuditEvent).where(AuditEvent.entity_id == patient.id)
                           .order_by(AuditEvent.id)).all()
    assert [(e.user_name, e.action) for e in events] == [("doctor", "insert"), ("doctor2", "update"),
                                                          ("admin", "delete")]
    assert json.loads(events[1].changes) == {"phone": [None, "13800000000"]}


def test_a_failed_unit_of_work_writes_nothing(db):
    with pytest.raises(RuntimeError), db.session("doctor") as s:
        add_patient(s)
        s.flush()
        raise RuntimeError("power cut")
    with db.session() as s:
        assert s.scalars(select(Patient)).all() == []
        assert s.scalars(select(AuditEvent).where(AuditEvent.entity == "patient")).all() == []


def test_database_from_first_migration_upgrades_without_loss(tmp_path):
    path = tmp_path / "old.db"
    cfg = alembic_config()
    cfg.set_main_option("sqlalchemy.url", f"sqlite:///{path}")
    command.upgrade(cfg, "0001")
    con = sqlite3.connect(path)
    con.execute("INSERT INTO patient (id, institution_code, created_at, updated_at, name, sex, birth_date, "
                "id_number, insurance, family_doctor_signed, managed_hypertension, managed_diabetes, "
                "pinyin_full, pinyin_initials) VALUES ('p1', 'H1', '2025-01-01', '2025-01-01', '李四', '女', "
                "'1950-02-03', '110101195002030026', 'resident', 1, 1, 0, 'li si', 'ls')")
    con.commit()
    con.close()
    db = open_database(path)
    with db.session() as s:
        patient = s.get(Patient, "p1")
        assert (patient.name, patient.birth_date) == ("李四", date(1950, 2, 3))
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM follow_up").scalar() == 0
    db.close()
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    backups = list(tmp_path.glob(f"old.db.before-{head}-*.bak"))
    assert len(backups) == 1
    assert sqlite3.connect(backups[0]).execute("SELECT name FROM patient").fetchone() == ("李四",)


def test_database_from_a_newer_schema_is_refused(tmp_path):
    path = tmp_path / "new.db"
    open_database(path).close()
    con = sqlite3.connect(path)
    con.execute("UPDATE alembic_version SET version_num = '9999'")
    con.commit()
    con.close()
    with pytest.raises(DatabaseError, match="更新版本"):
        open_database(path)


def test_a_file_that_is_not_a_database_gives_a_clear_message(tmp_path):
    path = tmp_path / "broken.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(DatabaseError, match="损坏"):
        open_database(path)


def test_audit_events_name_rows_whose_key_is_not_an_id(db):
    from clinic.db.models import Setting

    with db.session("admin") as s:
        s.add(Setting(key="printer", value="HP LaserJet"))
    with db.session() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.entity == "setting")
                          .order_by(AuditEvent.id.desc())).first()
    assert (event.entity_id, event.action) == ("printer", "insert")


def test_a_key_longer_than_the_audit_column_is_kept_whole_in_the_changes(db):
    # PostgreSQL enforces varchar(40); a township input's setting key is longer.
    from clinic.db.models import Setting

    key = "township.input.2026.H42070400303.chronic_signed"
    with db.session("staff") as s:
        s.add(Setting(key=key, value="3"))
    with db.session() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.entity == "setting")
                          .order_by(AuditEvent.id.desc())).first()
    assert len(event.entity_id) == 40 and key.startswith(event.entity_id[:-1])
    assert json.loads(event.changes)["entity_id"] == key
