"""Health management: follow-ups with plausible readings, guideline control targets, and the morning
lists of overdue follow-ups and of patients who look like 两病 but are not entitled (seeds/003 (八))."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from clinic.db.models import Dispense, DispenseLine, Drug, Patient
from clinic.filings import approve, new_change_filing, new_initial_filing, submit
from clinic.health import (
    CONTROLLED,
    UNCONTROLLED,
    UNKNOWN,
    HealthError,
    control_status,
    overdue_follow_ups,
    record_follow_up,
    suspected_unfiled,
)
from clinic.policy import resolve_policy

EZHOU = resolve_policy("ezhou", date(2026, 1, 1))
YUNNAN = resolve_policy("yunnan", date(2026, 1, 1))
TODAY = date(2026, 6, 1)


def add_patient(session, name="张三", id_number="110101196001010016", **kw):
    patient = Patient(name=name, sex="男", birth_date=date(1960, 1, 1), id_number=id_number,
                      insurance="resident", **kw)
    session.add(patient)
    session.flush()
    return patient


def file_approved(session, patient, disease="hypertension", filed_on=date(2026, 1, 5)):
    filing = new_initial_filing(session, patient, disease=disease, tier="ordinary", primary=True, icd10=None,
                                history_diagnosis="确诊", treatment_plan="口服药", history_signer="王医生",
                                plan_signer="王医生", filed_on=filed_on)
    submit(session, filing, datetime(2026, 1, 6))
    return approve(session, filing, datetime(2026, 1, 6))


def visit(session, patient, visit_on, **readings):
    return record_follow_up(session, patient, visit_on=visit_on, doctor_name="王医生", **readings)


def dispense(session, patient, dispensed_on, drug_class="antihypertensive", code="XC09CAA001"):
    if session.get(Drug, code) is None:
        session.add(Drug(code=code, generic_name="药品" + code, spec="5mg", form="片剂", unit="片",
                         drug_class=drug_class, retail_price=Decimal("0.50")))
    record = Dispense(patient_id=patient.id, dispensed_on=dispensed_on, dispenser_name="王医生")
    record.lines.append(DispenseLine(
        position=1, drug_code=code, drug_name="药品" + code, spec="5mg", disease="hypertension",
        quantity=Decimal("28"), daily_dose=Decimal("1"), unit_price=Decimal("0.50"), line_total=Decimal("14.00"),
        policy_range=Decimal("14.00"), over_standard=Decimal("0.00")))
    session.add(record)
    session.flush()
    return record


def test_next_follow_up_defaults_to_one_quarter_later(db):
    with db.session() as s:
        patient = add_patient(s)
        first = visit(s, patient, date(2026, 3, 1), sbp=150, dbp=92, adherence="regular")
        assert first.next_visit_on == date(2026, 5, 30)
        monthly = record_follow_up(s, patient, visit_on=date(2026, 4, 1), doctor_name="王医生", interval_days=30)
        assert monthly.next_visit_on == date(2026, 5, 1)


@pytest.mark.parametrize("readings, message", [
    (dict(sbp=350, dbp=90), "收缩压 350 mmHg 不合理"),
    (dict(sbp=140, dbp=20), "舒张压 20 mmHg 不合理"),
    (dict(sbp=80, dbp=120), "应高于舒张压"),
    (dict(sbp=140), "同时填写"),
    (dict(fasting_glucose="0.5"), "空腹血糖 0.5 mmol/L 不合理"),
    (dict(fasting_glucose="45"), "空腹血糖 45 mmol/L 不合理"),
    (dict(hba1c="25"), "糖化血红蛋白 25 % 不合理"),
    (dict(adherence="sometimes"), "服药依从性无效"),
    (dict(next_visit_on=date(2026, 2, 1)), "应晚于本次随访日期"),
])
def test_implausible_readings_are_refused(db, readings, message):
    with db.session() as s:
        patient = add_patient(s)
        with pytest.raises(HealthError, match=message):
            visit(s, patient, date(2026, 3, 1), **readings)


def test_control_follows_the_primary_care_guideline_targets(db):
    with db.session() as s:
        patient = add_patient(s)
        assert control_status(s, patient).bp == UNKNOWN
        visit(s, patient, date(2026, 1, 1), sbp=139, dbp=89, fasting_glucose="6.9")
        status = control_status(s, patient)
        assert (status.bp, status.glucose, status.last_visit_on) == (CONTROLLED, CONTROLLED, date(2026, 1, 1))
        visit(s, patient, date(2026, 2, 1), sbp=140, dbp=80, fasting_glucose="7.0")
        assert (control_status(s, patient).bp, control_status(s, patient).glucose) == (UNCONTROLLED, UNCONTROLLED)
        visit(s, patient, date(2026, 3, 1), sbp=130, dbp=90)
        assert control_status(s, patient).bp == UNCONTROLLED


def test_glucose_control_uses_hba1c_when_no_fasting_glucose_was_taken(db):
    with db.session() as s:
        patient = add_patient(s)
        visit(s, patient, date(2026, 1, 1), fasting_glucose="8.2")
        visit(s, patient, date(2026, 2, 1), hba1c="6.8")
        visit(s, patient, date(2026, 3, 1), sbp=128, dbp=78)     # a blood-pressure-only visit
        status = control_status(s, patient)
        assert (status.bp, status.glucose, status.last_visit_on) == (CONTROLLED, CONTROLLED, date(2026, 3, 1))


def test_overdue_list_has_late_and_never_visited_patients_longest_waiting_first(db):
    with db.session() as s:
        late = add_patient(s, "李四", "110101196001010024")
        file_approved(s, late, filed_on=date(2025, 6, 1))
        visit(s, late, date(2026, 1, 2), sbp=135, dbp=85)                      # due 2026-04-02
        never = add_patient(s, "王五", "110101196001010032")
        file_approved(s, never, "diabetes", filed_on=date(2026, 2, 1))
        on_time = add_patient(s, "赵六", "110101196001010040")
        file_approved(s, on_time)
        visit(s, on_time, date(2026, 5, 1), sbp=128, dbp=80)
        add_patient(s, "钱七", "110101196001010059")                               # not under management
        rows = overdue_follow_ups(s, TODAY)
        assert [(r.patient.name, r.due_on, r.days_overdue) for r in rows] == [
            ("王五", date(2026, 2, 1), 120), ("李四", date(2026, 4, 2), 60)]
        assert "从未随访" in rows[0].reason and "已逾期 60 天" in rows[1].reason


def test_managed_patients_without_a_filing_are_followed_up_too(db):
    with db.session() as s:
        managed = add_patient(s, managed_hypertension=True)
        visit(s, managed, date(2026, 1, 10), sbp=150, dbp=95)
        assert [r.patient.id for r in overdue_follow_ups(s, TODAY)] == [managed.id]


def test_cured_patients_leave_the_overdue_list(db):
    with db.session() as s:
        patient = add_patient(s)
        first = file_approved(s, patient)
        cured = new_change_filing(s, first, reason="cured", filed_on=date(2026, 2, 1))
        submit(s, cured, datetime(2026, 2, 2))
        approve(s, cured, datetime(2026, 2, 2))
        assert overdue_follow_ups(s, TODAY) == []


def test_patients_given_two_bing_drugs_or_abnormal_readings_without_entitlement_are_suspected(db):
    with db.session() as s:
        drugs_and_bp = add_patient(s, "李四", "110101196001010024")
        dispense(s, drugs_and_bp, date(2026, 3, 1))
        dispense(s, drugs_and_bp, date(2026, 4, 1))
        visit(s, drugs_and_bp, date(2026, 4, 1), sbp=165, dbp=95)
        sugar = add_patient(s, "王五", "110101196001010032")
        visit(s, sugar, date(2026, 5, 20), fasting_glucose="8.4", sbp=128, dbp=80)
        metformin = add_patient(s, "赵六", "110101196001010040")
        dispense(s, metformin, date(2026, 5, 1), "antidiabetic", "XA10BAA001")
        rows = suspected_unfiled(s, EZHOU, TODAY)
        assert [(r.patient.name, r.disease, r.last_seen_on) for r in rows] == [
            ("李四", "hypertension", date(2026, 4, 1)),        # drugs and abnormal readings: surest
            ("王五", "diabetes", date(2026, 5, 20)),
            ("赵六", "diabetes", date(2026, 5, 1))]
        assert rows[0].reason == "配降压药 2 次；血压异常 1 次（最近 2026-04-01 165/95 mmHg），尚未享受高血压待遇"


def test_entitled_patients_old_evidence_and_other_drugs_are_not_suspected(db):
    with db.session() as s:
        filed = add_patient(s, "李四", "110101196001010024")
        file_approved(s, filed)
        dispense(s, filed, date(2026, 3, 1))
        visit(s, filed, date(2026, 3, 1), sbp=160, dbp=100)
        long_ago = add_patient(s, "王五", "110101196001010032")
        dispense(s, long_ago, TODAY - timedelta(days=400))
        aspirin = add_patient(s, "赵六", "110101196001010040")
        dispense(s, aspirin, date(2026, 5, 1), "other", "XB01ACA001")
        assert suspected_unfiled(s, EZHOU, TODAY) == []
        assert [r.patient.name for r in suspected_unfiled(s, EZHOU, TODAY, since_days=500)] == ["王五"]


def test_managed_patients_are_not_suspected_where_the_policy_entitles_them(db):
    with db.session() as s:
        managed = add_patient(s, managed_hypertension=True)
        dispense(s, managed, date(2026, 5, 1))
        assert [r.disease for r in suspected_unfiled(s, EZHOU, TODAY)] == ["hypertension"]
        assert suspected_unfiled(s, YUNNAN, TODAY) == []


def test_a_pending_filing_is_shown_on_the_suspected_list(db):
    with db.session() as s:
        patient = add_patient(s)
        new_initial_filing(s, patient, disease="hypertension", tier="ordinary", primary=True, icd10=None,
                           history_diagnosis="确诊", treatment_plan="口服药", filed_on=date(2026, 5, 1))
        dispense(s, patient, date(2026, 5, 2))
        assert [r.filing_state for r in suspected_unfiled(s, EZHOU, TODAY)] == ["draft"]
