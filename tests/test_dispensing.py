"""Continuous prescriptions and dispensing: the refill window (seeds/000 附件3), 重复配药, 超量配药,
超范围用药 (seeds/003 national plan (十一)), stock by lot, settlement stored, refunds."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from clinic import stock
from clinic.db.models import Prescription, Settlement, StockMovement
from clinic.dispensing import DispenseError, dispense_and_settle, refund_purchase, running_out
from clinic.prescriptions import LineInput, PrescriptionError, create_prescription, quantity_for
from clinic.profile import policy_in_force
from clinic.settlement.service import RefundError, year_to_date
from tests.clinic_fixtures import AML, AMX, MET, add_drugs, add_patient

DAY0 = date(2026, 3, 2)


@pytest.fixture
def clinic(db):
    with db.session("doctor") as s:
        add_drugs(s)
        patient = add_patient(s)
        stock.receive(s, AML, "L1", date(2027, 12, 31), Decimal(1000), date(2026, 1, 5))
        stock.receive(s, MET, "M1", date(2027, 12, 31), Decimal(1000), date(2026, 1, 5))
    return db, patient.id


def prescribe(s, patient_id, lines=None, on=DAY0, days=84):
    from clinic.db.models import Patient
    return create_prescription(
        s, s.get(Patient, patient_id), policy_in_force(s, on), entitled={"hypertension"},
        prescriber_name="王医生", prescribed_on=on, diagnosis="原发性高血压",
        lines=lines or [LineInput(AML, Decimal(1), "qd", days)])


def dispense(s, rx, on, days=28, **kw):
    return dispense_and_settle(s, policy_in_force(s, on), s.get(Prescription, rx.id), on, days=days,
                               dispenser_name="李药师", **kw)


def test_quantity_follows_dose_frequency_and_days():
    assert quantity_for(Decimal(1), "bid", 28) == 56
    assert quantity_for(Decimal("0.5"), "qd", 7) == 4           # half tablets round up to whole tablets
    assert quantity_for(Decimal(2), "qw", 28) == 8


def test_prescription_longer_than_24_weeks_is_refused(clinic):
    # seeds/000 二(一)5 处方量最长不超过24周
    db, pid = clinic
    with pytest.raises(PrescriptionError, match="最长处方周期"), db.session() as s:
        prescribe(s, pid, days=169)
    with db.session() as s:
        assert prescribe(s, pid, days=168).valid_until == DAY0 + timedelta(days=167)


def test_drug_outside_the_two_diseases_is_refused_as_out_of_scope(clinic):
    db, pid = clinic
    with pytest.raises(PrescriptionError, match="超范围用药"), db.session() as s:
        prescribe(s, pid, lines=[LineInput(AMX, Decimal(1), "tid", 7)])
    with pytest.raises(PrescriptionError, match="未享受糖尿病"), db.session() as s:
        prescribe(s, pid, lines=[LineInput(MET, Decimal(1), "bid", 28)])


def test_dispense_settles_and_stores_the_result(clinic):
    db, pid = clinic
    with db.session() as s:
        rx = prescribe(s, pid)
        settlement = dispense(s, rx, DAY0)
    assert (settlement.total, settlement.fund_pay, settlement.self_pay) == (
        Decimal("14.00"), Decimal("8.40"), Decimal("5.60"))
    with db.session() as s:
        assert year_to_date(s, pid, DAY0).fund_paid == {"hypertension": Decimal("8.40")}
        assert stock.on_hand(s, AML) == Decimal(972)


def test_refill_allowed_only_when_at_most_15_days_are_left(clinic):
    # seeds/000 附件3 注意2: 上一次剩余用药量不超过15日（含）
    db, pid = clinic
    with db.session() as s:
        rx = prescribe(s, pid)
        dispense(s, rx, DAY0)                                    # 28 days: runs out on DAY0 + 28
    with pytest.raises(DispenseError) as err, db.session() as s:
        dispense(s, rx, DAY0 + timedelta(days=12))               # 16 days left
    assert "重复配药" in str(err.value) and str(DAY0 + timedelta(days=13)) in str(err.value)
    with db.session() as s:
        dispense(s, rx, DAY0 + timedelta(days=13))               # exactly 15 days left: allowed


def test_over_quantity_beyond_the_prescription_is_refused(clinic):
    db, pid = clinic
    with db.session() as s:
        rx = prescribe(s, pid, days=28)
    with pytest.raises(DispenseError, match="超量配药"), db.session() as s:
        dispense(s, rx, DAY0, days=56)


def test_dispense_outside_the_prescription_period_is_refused(clinic):
    db, pid = clinic
    with db.session() as s:
        rx = prescribe(s, pid, days=28)
    with pytest.raises(DispenseError, match="有效期"), db.session() as s:
        dispense(s, rx, DAY0 + timedelta(days=28))


def test_dispense_beyond_stock_needs_a_recorded_override(clinic):
    db, pid = clinic
    with db.session() as s:
        rx = prescribe(s, pid, lines=[LineInput(AML, Decimal(40), "qd", 28)])
    with pytest.raises(stock.StockShortage), db.session() as s:
        dispense(s, rx, DAY0)
    with db.session() as s:
        settlement = dispense(s, rx, DAY0, override_reason="患者急需，库存待补")
        dispense_id = settlement.dispense_id
    with db.session() as s:
        moves = s.scalars(select(StockMovement).where(StockMovement.dispense_id == dispense_id)).all()
        assert sum(m.quantity for m in moves) == -1120
        assert any(m.reason == "患者急需，库存待补" for m in moves)


def test_refund_is_a_new_record_that_reverses_the_original(clinic):
    db, pid = clinic
    with db.session() as s:
        rx = prescribe(s, pid)
        original = dispense(s, rx, DAY0)
    with db.session() as s:
        reversal = refund_purchase(s, s.get(Settlement, original.id), DAY0, "患者退药", "李药师")
    assert reversal.reverses_id == original.id and reversal.fund_pay == Decimal("-8.40")
    assert reversal.receipt_no.startswith("TF")
    with db.session() as s:
        assert s.get(Settlement, original.id).fund_pay == Decimal("8.40")       # never edited
        assert year_to_date(s, pid, DAY0).fund_paid == {"hypertension": Decimal("0.00")}
        assert stock.on_hand(s, AML) == Decimal(1000)
        # the refunded supply no longer blocks a refill
        dispense(s, rx, DAY0 + timedelta(days=1))
    with pytest.raises(RefundError, match="已退费"), db.session() as s:
        refund_purchase(s, s.get(Settlement, original.id), DAY0, "再退", "李药师")


def test_cap_is_counted_from_the_years_stored_settlements(clinic):
    db, pid = clinic
    with db.session() as s:
        rx = prescribe(s, pid, lines=[LineInput(AML, Decimal(60), "qd", 28)])   # 1680 tablets = 840.00
        stock.receive(s, AML, "L2", date(2027, 12, 31), Decimal(5000), DAY0)
        first = dispense(s, rx, DAY0)
    assert first.fund_pay == Decimal("504.00")
    with db.session() as s:
        rx2 = prescribe(s, pid, lines=[LineInput(AML, Decimal(60), "qd", 28)], on=DAY0 + timedelta(days=20))
        second = dispense(s, rx2, DAY0 + timedelta(days=20))
    assert second.fund_pay == Decimal("496.00")                   # 1000 − 504 left in the resident cap
    assert second.diseases[0].cap_remaining == 0


def test_morning_list_shows_supply_running_out(clinic):
    db, pid = clinic
    with db.session() as s:
        rx = prescribe(s, pid)
        dispense(s, rx, DAY0)
        soon = running_out(s, DAY0 + timedelta(days=20), within_days=15)
    assert [(r.patient_id, r.days_left) for r in soon] == [(pid, 8)]
