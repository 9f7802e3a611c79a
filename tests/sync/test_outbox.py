"""The clinic's outbox and what sync adds to the core, without a server: every record bound for the
township commits with its outbox row; pulled cross-clinic use counts in caps and the refill window."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import insert, select, update

from clinic.db.engine import open_database
from clinic.db.models import (
    ExternalDispense,
    ExternalFundUse,
    OutboxEntry,
    Patient,
    PolicyDocument,
    Prescription,
)
from clinic.db.outbox import enqueue_unsent
from clinic.db.records import parse_record, payload_hash, read_record, write_record
from clinic.dispensing import DispenseError, dispense_and_settle
from clinic.prescriptions import LineInput, create_prescription
from clinic.profile import create_local_institution, policy_in_force, set_policy_setting
from clinic.resources import resources_dir
from clinic.settlement.service import year_to_date
from tests.clinic_fixtures import AML, add_patient
from tests.sync.helpers import make_clinic, outbox

CODE = "H42070400101"
DAY = date(2026, 3, 2)


@pytest.fixture
def clinic(tmp_path):
    db = make_clinic(tmp_path / "clinic.db", CODE)
    yield db
    db.close()


def rows(db, record_id):
    with db.session() as s:
        return s.scalars(select(OutboxEntry).where(OutboxEntry.record_id == record_id)
                         .order_by(OutboxEntry.seq)).all()


def test_a_record_and_its_outbox_row_commit_or_roll_back_together(clinic):
    before = outbox(clinic)
    with pytest.raises(RuntimeError), clinic.session("doctor") as s:
        add_patient(s)
        s.flush()
        raise RuntimeError("power cut before commit")
    assert outbox(clinic) == before
    with clinic.session("doctor") as s:
        patient = add_patient(s)
    [row] = rows(clinic, patient.id)
    assert (row.record_type, row.status, row.base_hash) == ("patient", "pending", None)
    assert json.loads(row.payload)["id_number"] == patient.id_number


def test_an_edit_before_the_push_replaces_the_pending_version(clinic):
    with clinic.session("doctor") as s:
        patient = add_patient(s)
    with clinic.session("doctor") as s:
        s.get(Patient, patient.id).phone = "13900000009"
    [row] = rows(clinic, patient.id)
    assert json.loads(row.payload)["phone"] == "13900000009"


def test_an_edit_after_acknowledgement_is_a_new_version_based_on_the_acknowledged_one(clinic):
    with clinic.session("doctor") as s:
        patient = add_patient(s)
    [first] = rows(clinic, patient.id)
    with clinic.session() as s:
        s.execute(update(OutboxEntry).where(OutboxEntry.seq == first.seq).values(status="acknowledged"))
    with clinic.session("doctor") as s:
        s.get(Patient, patient.id).address = "临江村3组"
    acked, edit = rows(clinic, patient.id)
    assert edit.status == "pending" and edit.base_hash == acked.payload_hash != edit.payload_hash


def test_a_change_to_a_line_makes_its_record_change(clinic):
    with clinic.session("doctor") as s:
        patient = add_patient(s)
        rx = create_prescription(s, patient, policy_in_force(s, DAY), entitled={"hypertension"},
                                 prescriber_name="王医生", prescribed_on=DAY, diagnosis="原发性高血压",
                                 lines=[LineInput(AML, Decimal(1), "qd", 28)])
    with clinic.session("doctor") as s:
        s.get(Prescription, rx.id).lines[0].usage = "每日1次，每次1片，早饭后"
    [row] = rows(clinic, rx.id)
    assert json.loads(row.payload)["lines"][0]["usage"] == "每日1次，每次1片，早饭后"


def test_demo_data_stays_out_of_the_outbox_and_a_demo_file_cannot_enrol(tmp_path):
    from clinic.demo import build_demo
    from sync.client import enrol
    from sync.transport import SyncError

    db = open_database(tmp_path / "demo.db")
    build_demo(db, patients=5, today=DAY)
    assert outbox(db) == 0
    with pytest.raises(SyncError, match="演示数据库"):
        enrol(db, "http://127.0.0.1:9", "ABCD-EFGH-JKLM")
    db.close()


def test_records_written_in_bulk_are_queued_when_the_clinic_enrols(clinic):
    with clinic.session() as s:
        s.execute(insert(Patient.__table__).values(
            id="bulk-1", institution_code=CODE, created_at=DAY, updated_at=DAY, name="李四", sex="女",
            birth_date=date(1950, 2, 3), id_number="110101195002030026", insurance="resident",
            family_doctor_signed=False, managed_hypertension=False, managed_diabetes=False,
            pinyin_full="li si", pinyin_initials="ls"))
    assert rows(clinic, "bulk-1") == []
    with clinic.session() as s:
        enqueue_unsent(s.connection())
    assert [r.status for r in rows(clinic, "bulk-1")] == ["pending"]


def test_a_record_read_back_from_its_json_has_the_same_content_and_hash(clinic, tmp_path):
    with clinic.session("doctor") as s:
        patient = add_patient(s)
        rx = create_prescription(s, patient, policy_in_force(s, DAY), entitled={"hypertension"},
                                 prescriber_name="王医生", prescribed_on=DAY, diagnosis="原发性高血压",
                                 lines=[LineInput(AML, Decimal("0.5"), "bid", 28)])
        s.flush()
        settlement = dispense_and_settle(s, policy_in_force(s, DAY), rx, DAY, days=28, dispenser_name="李药师")
    other = make_clinic(tmp_path / "copy.db", CODE)
    with clinic.session() as s, other.session() as t:
        for kind, record_id in (("patient", patient.id), ("prescription", rx.id),
                                ("dispense", settlement.dispense_id), ("settlement", settlement.id)):
            payload = json.loads(json.dumps(read_record(s.connection(), kind, record_id)))
            row, lines = parse_record(kind, payload)
            write_record(t.connection(), kind, row, lines, exists=False)
            assert payload_hash(read_record(t.connection(), kind, record_id)) == payload_hash(payload)
    assert json.loads(rows(clinic, settlement.id)[0].payload)["diseases"][0]["fund_pay"] == "8.40"
    other.close()


def test_year_to_date_adds_what_other_clinics_paid_so_the_cap_holds_across_clinics(clinic):
    with clinic.session("doctor") as s:
        patient = add_patient(s)
        s.add(ExternalFundUse(patient_id=patient.id, year=2026, disease="hypertension",
                              fund_paid=Decimal("998.00"), deductible_paid=Decimal("0.00")))
        s.add(ExternalFundUse(patient_id=patient.id, year=2025, disease="hypertension",
                              fund_paid=Decimal("500.00"), deductible_paid=Decimal("0.00")))
    with clinic.session("doctor") as s:
        assert year_to_date(s, patient.id, DAY).fund_paid == {"hypertension": Decimal("998.00")}
        rx = create_prescription(s, s.get(Patient, patient.id), policy_in_force(s, DAY), entitled={"hypertension"},
                                 prescriber_name="王医生", prescribed_on=DAY, diagnosis="原发性高血压",
                                 lines=[LineInput(AML, Decimal(1), "qd", 28)])
        s.flush()
        settlement = dispense_and_settle(s, policy_in_force(s, DAY), rx, DAY, days=28, dispenser_name="李药师")
        # DESIGN.md worked example: 998.00 already paid this year → fund 2.00, over cap 10.67
        assert (settlement.fund_pay, settlement.over_cap, settlement.self_pay) == (
            Decimal("2.00"), Decimal("10.67"), Decimal("12.00"))


def test_a_supply_from_another_clinic_counts_in_the_refill_window(clinic):
    with clinic.session("doctor") as s:
        patient = add_patient(s)
        s.add(ExternalDispense(id="line-elsewhere", patient_id=patient.id, institution_code="H42070400202",
                               drug_code=AML, dispensed_on=DAY, quantity=Decimal(28), daily_dose=Decimal(1)))
        rx = create_prescription(s, patient, policy_in_force(s, DAY), entitled={"hypertension"},
                                 prescriber_name="王医生", prescribed_on=DAY, diagnosis="原发性高血压",
                                 lines=[LineInput(AML, Decimal(1), "qd", 84)])
    with pytest.raises(DispenseError, match="重复配药.*还可用 18 天"), clinic.session("doctor") as s:
        dispense_and_settle(s, policy_in_force(s, date(2026, 3, 12)), s.get(Prescription, rx.id),
                            date(2026, 3, 12), days=28, dispenser_name="李药师")
    with clinic.session("doctor") as s:      # 15 days left (seeds/000 附件3): allowed
        dispense_and_settle(s, policy_in_force(s, date(2026, 3, 15)), s.get(Prescription, rx.id),
                            date(2026, 3, 15), days=28, dispenser_name="李药师")


def test_a_policy_the_township_published_applies_from_its_effective_date(tmp_path):
    db = open_database(tmp_path / "c.db")
    with db.session() as s:
        create_local_institution(s, CODE, "卫生室", "1", "ezhou")
        set_policy_setting(s, "ezhou", "payment_standard", "vbp_price")   # the document names no 支付标准
    text = (resources_dir() / "policies" / "ezhou-2022-10-01.toml").read_text(encoding="utf-8")
    text = text.replace('id = "ezhou-2022-10-01"', 'id = "ezhou-2026-07-01"').replace(
        "effective_from = 2022-10-01", "effective_from = 2026-07-01").replace(
        'ordinary = "1000"', 'ordinary = "1200"', 1)
    with db.session() as s:
        s.add(PolicyDocument(id="ezhou-2026-07-01", region="ezhou", effective_from=date(2026, 7, 1), text=text))
    with db.session() as s:
        assert policy_in_force(s, date(2026, 6, 30)).id == "ezhou-2022-10-01"
        later = policy_in_force(s, date(2026, 7, 1))
        assert later.id == "ezhou-2026-07-01" and later.cap("resident", "ordinary") == Decimal("1200")
    db.close()


def test_an_amount_finer_than_a_cent_is_refused_not_rounded(clinic):
    from clinic.db.records import RecordError
    from tests.sync.helpers import sell

    with clinic.session("doctor") as s:
        patient = add_patient(s)
    sold = sell(clinic, patient.id, AML, DAY, 28)
    with clinic.session() as s:
        payload = read_record(s.connection(), "settlement", sold.id)
    assert parse_record("settlement", payload)[0]["fund_pay"] == Decimal("8.40")
    with pytest.raises(RecordError, match="fund_pay 的金额须精确到分"):
        parse_record("settlement", {**payload, "fund_pay": "8.405"})
    with pytest.raises(RecordError, match=r"diseases\[0\]\.fund_pay 的值无效"):
        parse_record("settlement", {**payload, "diseases": [{**payload["diseases"][0], "fund_pay": "NaN"}]})
