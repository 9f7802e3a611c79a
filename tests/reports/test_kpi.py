"""The 濉溪 KPI table (seeds/004 附件2) on a small clinic whose figures are known by construction, scored
by hand below; and on the demo-sized report database."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest

from clinic import stock
from clinic.db.models import FollowUp, Patient, Settlement
from clinic.dispensing import dispense_and_settle, refund_purchase
from clinic.idcard import make_id_number
from clinic.prescriptions import LineInput, create_prescription
from clinic.profile import policy_in_force
from clinic.reports import NOT_ENTERED, assess, kpi_table, load_assessment, set_assessment_parameter
from tests.clinic_fixtures import AML, add_drugs, add_patient
from tests.reports.builders import MONTH

ALL_INPUTS = {"chronic_signing": "0.9", "package_completion": "96%", "service_item_completion": "0.97",
              "complaints": 1, "bad_records": "0", "bad_referrals": 2, "bad_claims": 11}


def _visits(s, patient, readings, glucose=None):
    for n, (on, sbp, dbp) in enumerate(readings):
        s.add(FollowUp(patient_id=patient.id, visit_on=on, sbp=sbp, dbp=dbp, doctor_name="王医生",
                       fasting_glucose=D(glucose[n]) if glucose else None))


def _buy(s, patient, on, refund_on=None):
    rx = create_prescription(s, patient, policy_in_force(s, on), entitled={"hypertension"}, prescriber_name="王医生",
                             prescribed_on=on, diagnosis="原发性高血压", lines=[LineInput(AML, D(1), "qd", 28)])
    settlement = dispense_and_settle(s, policy_in_force(s, on), rx, on, days=28, dispenser_name="李药师")
    if refund_on:
        s.flush()       # refund() looks the original up by id, which the flush assigns
        refund_purchase(s, settlement, refund_on, "退药", "李药师")


@pytest.fixture
def small(db):
    """Five 高血压 patients filed before the assessment window (2025-03-01 … 2026-02-28), p1 also 糖尿病;
    p6 filed inside it (当年新增, left out)."""
    quarterly = [date(2025, 4, 10), date(2025, 7, 10), date(2025, 10, 10), date(2026, 1, 10)]
    with db.session("doctor") as s:
        add_drugs(s)
        stock.receive(s, AML, "L1", date(2027, 12, 31), D(1000), date(2024, 11, 1))
        people = []
        for n in range(1, 7):
            diseases = ("hypertension", "diabetes") if n == 1 else ("hypertension",)
            filed = date(2025, 6, 1) if n == 6 else date(2024, 12, 1)
            patient = add_patient(s, diseases=diseases, filed_on=filed, name=f"患者{n}",
                                  id_number=make_id_number("420704", date(1950 + n, 1, 1), n))
            patient.family_doctor_signed = n != 5
            people.append(patient)
        p1, p2, p3, p4, p5, _ = people
        _visits(s, p1, [(d, 128, 82) for d in quarterly[:3]] + [(quarterly[3], 130, 80)],
                glucose=["7.8", "7.1", "6.9", "6.5"])
        _visits(s, p2, [(d, 150, 95) for d in quarterly])
        _visits(s, p3, [(d, 120, 70) for d in quarterly])
        _visits(s, p4, [(date(2025, 9, 1), 135, 85)])
        _visits(s, p5, [(date(2025, 2, 20), 120, 75)])                # before the window
        _buy(s, p1, date(2026, 1, 10))
        _buy(s, p2, date(2025, 12, 1), refund_on=date(2025, 12, 3))  # refunded: not a visit
    return db


def test_worked_example_scores_by_the_documents_formulas(small):
    with small.session() as s:
        result = assess(s, "2026-02", inputs=ALL_INPUTS)
        table = kpi_table(s, "2026-02", inputs=ALL_INPUTS)
    scores = {x.indicator.key: x.score for x in result.scored}
    assert scores == {
        "signing": D("4.00"),                    # 4 signed / 5 → 0.80 × 5
        "chronic_signing": D("4.50"),            # input 0.90 × 5
        "package_completion": D("5.00"),         # 96 % > 95 %: full marks
        "service_item_completion": D("4.85"),    # 0.97 × 5
        "htn_managed": D("1.20"),                # ≥ 4 BP follow-ups: p1 p2 p3 → 3/5 = 0.60 × 2
        "htn_controlled": D("1.80"),             # latest BP < 140/90: p1 p3 p4 → 0.60, not above 60 %: × 3
        "dm_managed": D("2.00"),                 # p1 1/1 > 70 %
        "dm_controlled": D("3.00"),              # p1 latest glucose 6.5 < 7.0
        "complaints": D("4.50"),                 # 5 − 0.5 × 1
        "bad_records": D("5.00"),
        "bad_referrals": D("4.00"),              # 5 − 0.5 × 2
        "bad_claims": D("0.00"),                 # 5 − 0.5 × 11 < 0 → 0
        "visits": D("2.86"),                     # p1 only (p2 refunded) 1/5 = 0.20 / 0.70 × 10
    }
    assert result.earned == D("42.71") and result.share == D("42.71") / 60
    assert table.row("total").cells[-1] == D("42.71")
    assert table.value(("signing",), "计算依据") == "签约 4 / 两病人员 5"


def test_missing_inputs_print_pending_and_are_never_guessed(small):
    with small.session() as s:
        table = kpi_table(s, "2026-02")
        result = assess(s, "2026-02")
    assert [x.indicator.key for x in result.missing] == [
        "chronic_signing", "package_completion", "service_item_completion", "complaints", "bad_records",
        "bad_referrals", "bad_claims"]
    assert result.share is None and result.earned == D("14.86")
    assert table.value(("complaints",), "扣分例数") == NOT_ENTERED
    assert table.value(("complaints",), "得分") == NOT_ENTERED
    assert table.value(("chronic_signing",), "实测率") == NOT_ENTERED
    assert table.row("total").cells[-1] == NOT_ENTERED
    assert any("7 项待录入" in note and "14.86" in note for note in table.notes)


def test_an_input_replaces_a_measurement_from_another_system_and_says_so(small):
    with small.session() as s:
        table = kpi_table(s, "2026-02", inputs={"htn_managed": "75%"})
    assert table.value(("htn_managed",), "得分") == D("2.00")
    assert table.value(("htn_managed",), "计算依据") == "录入（替代本系统测算）"


def test_follow_up_count_for_standard_management_is_a_parameter(small):
    with small.session() as s:
        assert assess(s, "2026-02", inputs={"min_follow_ups": 1}).scored[4].score == D("2.00")   # 4/5 > 70 %
    with small.session("admin") as s:
        set_assessment_parameter(s, load_assessment(), "min_follow_ups", "1")
    with small.session() as s:
        result = assess(s, "2026-02")
    assert result.parameters["min_follow_ups"] == 1 and result.scored[4].score == D("2.00")


@pytest.mark.parametrize(("inputs", "message"), [
    ({"complaints": -1}, "合理投诉例数应为不小于 0 的整数"),
    ({"chronic_signing": "1.2"}, "慢性病人员签约占比应在 0 到 1 之间"),
    ({"chronic_signing": "lots"}, "不是有效的比率"),
    ({"happiness": "1"}, "未知的录入项"),
    ({"min_follow_ups": "0"}, "应为正整数"),
])
def test_bad_inputs_are_refused_with_a_reason(small, inputs, message):
    with small.session() as s, pytest.raises(ValueError, match=message):
        kpi_table(s, "2026-02", inputs=inputs)


def test_kpi_table_groups_indicators_like_the_paper(session):
    table = kpi_table(session, MONTH, inputs=ALL_INPUTS)
    assert table.title == "濉溪县门诊特殊疾病定额支付考核细则"
    assert [(m.row, m.col, m.rowspan) for m in table.merges] == [
        (row, col, 2) for row in (0, 2, 4, 6) for col in (0, 1)]
    scores = [row.cells[-1] for row in table.rows if not row.total]
    assert table.row("total").cells[-1] == sum(scores) and all(isinstance(x, D) for x in scores)
    assert table.row("total").cells[4] == 60


def test_kpi_population_leaves_out_patients_new_in_the_year(small):
    with small.session() as s:
        s.get(Patient, s.query(Patient.id).filter(Patient.name == "患者6").scalar()).family_doctor_signed = False
        assert assess(s, "2026-02").scored[0].basis == "签约 4 / 两病人员 5"
        # A year later nobody is new: p6 (unsigned now) joins the population.
        assert assess(s, "2027-02").scored[0].basis.startswith("签约 4 / 两病人员 6")
        assert s.query(Settlement).count() == 3
