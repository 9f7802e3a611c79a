"""Upgrades (issue 7): a database from every earlier released schema opens with today's code, is
migrated to the newest schema without losing a row or a cent, and keeps working. The samples were
made with the real migrations stopped at each revision (make_samples.py) and are committed."""

from __future__ import annotations

import shutil
import sqlite3
from decimal import Decimal

import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import func, select

from clinic.db.engine import alembic_config, open_database
from clinic.db.models import AuditEvent, FollowUp, Patient, Prescription, Setting, Settlement
from clinic.users import authenticate
from tests.upgrade.make_samples import PASSWORD, PATIENTS, REVISIONS, SAMPLES, SETTLEMENT_ID

HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_there_is_a_sample_for_every_revision_before_the_newest():
    script = ScriptDirectory.from_config(alembic_config())
    earlier = sorted(rev.revision for rev in script.walk_revisions() if rev.revision != HEAD)
    assert earlier == list(REVISIONS), "a release added a migration: run python -m tests.upgrade.make_samples"
    for revision in REVISIONS:
        conn = sqlite3.connect(SAMPLES / f"schema-{revision}.db")
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == (revision,)
        conn.close()


@pytest.fixture(params=REVISIONS)
def upgraded(request, tmp_path):
    path = tmp_path / "clinic.db"
    shutil.copyfile(SAMPLES / f"schema-{request.param}.db", path)
    db = open_database(path)
    yield request.param, db
    db.close()


def test_a_database_from_every_earlier_schema_opens_at_the_newest(upgraded):
    _, db = upgraded
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Patient)) == len(PATIENTS)
        assert {p.id_number for p in s.scalars(select(Patient))} == {p[2] for p in PATIENTS}
        assert db.institution_code == "H42070400101"
        assert s.scalar(select(func.count()).select_from(Prescription)) == 1
    conn = db.engine.raw_connection()
    try:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchone() == (HEAD,)
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        conn.close()


def test_money_survives_every_upgrade_to_the_cent(upgraded):
    """The worked example of DESIGN.md, stored by an older release: 14.00 total, 8.40 fund, 5.60 self."""
    _, db = upgraded
    with db.session() as s:
        settlement = s.get(Settlement, SETTLEMENT_ID)
        assert (settlement.total, settlement.fund_pay, settlement.self_pay) == (
            Decimal("14.00"), Decimal("8.40"), Decimal("5.60"))
        assert settlement.diseases[0].cap_remaining == Decimal("991.60")


def test_staff_of_an_older_release_still_log_in(upgraded):
    _, db = upgraded
    with db.session("doctor") as s:
        assert authenticate(s, "doctor", PASSWORD).role == "doctor"


def test_records_from_later_revisions_are_kept_too(upgraded):
    revision, db = upgraded
    with db.session() as s:
        follow_ups = s.scalar(select(func.count()).select_from(FollowUp))
        phone = s.get(Setting, "clinic.phone")
        audit = s.scalar(select(func.count()).select_from(AuditEvent))
    assert follow_ups == (1 if revision >= "0002" else 0)
    assert (phone.value if phone else None) == ("0711-1234567" if revision >= "0002" else None)
    assert audit >= 1


def test_an_upgraded_database_takes_new_work(upgraded):
    from clinic.patients import register_patient

    _, db = upgraded
    with db.session("doctor") as s:
        patient, created = register_patient(s, name="赵六", id_number="420704197001010010")
    assert created
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Patient)) == len(PATIENTS) + 1
