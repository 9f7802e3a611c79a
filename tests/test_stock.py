"""Stock by lot and expiry: first-expiring first, expired lots never dispensed, shortages refused unless
overridden with a reason, refunds, losses and counts — all as an append-only ledger that sums to on-hand."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from clinic.catalogue import load_starter_catalogue
from clinic.db.models import Dispense, Patient, StockLot, StockMovement
from clinic.stock import (
    StockError,
    StockShortage,
    count_correction,
    low_stock,
    near_expiry,
    on_hand,
    receive,
    record_loss,
    return_to_stock,
    take_for_dispense,
)

AMLODIPINE, METFORMIN = "XC08CAS00101", "XA10BAS00101"
TODAY = date(2026, 3, 1)


@pytest.fixture
def pharmacy(db):
    with db.session("pharmacist") as s:
        load_starter_catalogue(s)
    return db


def new_dispense(s, on=TODAY):
    patient = Patient(name="张三", sex="男", birth_date=date(1960, 1, 1), id_number="110101196001010016",
                      insurance="resident")
    s.add(patient)
    s.flush()
    dispense = Dispense(patient_id=patient.id, dispensed_on=on, dispenser_name="李药师")
    s.add(dispense)
    s.flush()
    return dispense.id


def assert_ledger_matches(s, drug_code):
    """Each lot's on-hand is the sum of its movements, and the drug's on-hand the sum of all of them."""
    moves = s.scalars(select(StockMovement).where(StockMovement.drug_code == drug_code)).all()
    for lot in s.scalars(select(StockLot).where(StockLot.drug_code == drug_code)):
        assert lot.on_hand == sum((m.quantity for m in moves if m.lot_id == lot.id), Decimal(0))
    assert on_hand(s, drug_code) == sum((m.quantity for m in moves), Decimal(0))


def test_dispensing_takes_the_first_expiring_lot_first(pharmacy):
    with pharmacy.session("pharmacist") as s:
        late = receive(s, AMLODIPINE, "L-LATE", date(2027, 6, 30), Decimal(28), TODAY, Decimal("0.05"), "某医药公司")
        early = receive(s, AMLODIPINE, "L-EARLY", date(2026, 9, 30), Decimal(20), TODAY)
        moves = take_for_dispense(s, AMLODIPINE, Decimal(30), TODAY, new_dispense(s))
        assert [(m.lot_id, m.quantity, m.kind) for m in moves] == [(early.id, Decimal(-20), "dispense"),
                                                                   (late.id, Decimal(-10), "dispense")]
        assert (early.on_hand, late.on_hand, on_hand(s, AMLODIPINE)) == (0, 18, 18)
        assert_ledger_matches(s, AMLODIPINE)


def test_expired_lots_are_skipped(pharmacy):
    with pharmacy.session("pharmacist") as s:
        expired = receive(s, AMLODIPINE, "L-OLD", date(2026, 2, 28), Decimal(50), date(2025, 3, 1))
        good = receive(s, AMLODIPINE, "L-NEW", date(2027, 2, 28), Decimal(30), TODAY)
        moves = take_for_dispense(s, AMLODIPINE, Decimal(14), TODAY, new_dispense(s))
        assert [m.lot_id for m in moves] == [good.id] and expired.on_hand == 50


def test_a_shortage_is_refused_with_a_message_and_nothing_is_taken(pharmacy):
    with pharmacy.session("pharmacist") as s:
        receive(s, AMLODIPINE, "L-OLD", date(2026, 2, 1), Decimal(50), date(2025, 3, 1))      # expired
        receive(s, AMLODIPINE, "L1", date(2027, 1, 31), Decimal(10), TODAY)
        dispense_id = new_dispense(s)
    with pytest.raises(StockShortage) as caught, pharmacy.session("pharmacist") as s:
        take_for_dispense(s, AMLODIPINE, Decimal(28), TODAY, dispense_id, override_reason="  ")
    assert str(caught.value).startswith("苯磺酸氨氯地平片（5mg）库存不足：需要 28片，可用 10片")
    assert isinstance(caught.value, ValueError)
    with pharmacy.session() as s:
        assert on_hand(s, AMLODIPINE) == 60
        assert s.scalars(select(StockMovement).where(StockMovement.kind == "dispense")).all() == []


def test_an_override_takes_what_there_is_and_records_the_shortfall(pharmacy):
    with pharmacy.session("pharmacist") as s:
        lot = receive(s, AMLODIPINE, "L1", date(2027, 1, 31), Decimal(10), TODAY)
        moves = take_for_dispense(s, AMLODIPINE, Decimal(28), TODAY, new_dispense(s),
                                  override_reason="新到货尚未入库")
        assert [(m.lot_id, m.quantity) for m in moves] == [(lot.id, Decimal(-10)), (None, Decimal(-18))]
        assert moves[1].reason == "新到货尚未入库"
        assert on_hand(s, AMLODIPINE) == -18                 # visibly negative until stock is booked in
        assert_ledger_matches(s, AMLODIPINE)
        new_lot = receive(s, AMLODIPINE, "L2", date(2027, 6, 30), Decimal(100), TODAY)
        assert new_lot.on_hand == 82 and on_hand(s, AMLODIPINE) == 82
        assert_ledger_matches(s, AMLODIPINE)


def test_a_refund_returns_stock_lot_by_lot_once(pharmacy):
    with pharmacy.session("pharmacist") as s:
        a = receive(s, METFORMIN, "A", date(2026, 12, 31), Decimal(30), TODAY)
        b = receive(s, METFORMIN, "B", date(2027, 12, 31), Decimal(30), TODAY)
        dispense_id = new_dispense(s)
        take_for_dispense(s, METFORMIN, Decimal(45), TODAY, dispense_id)
        moves = return_to_stock(s, dispense_id, TODAY, "患者退药")
        assert sorted((m.lot_id, m.quantity, m.kind) for m in moves) == sorted(
            [(a.id, Decimal(30), "return"), (b.id, Decimal(15), "return")])
        assert (a.on_hand, b.on_hand) == (30, 30)
        with pytest.raises(StockError, match="没有可退回的库存"):
            return_to_stock(s, dispense_id, TODAY, "患者退药")
        assert_ledger_matches(s, METFORMIN)


def test_a_refund_after_the_shortfall_was_settled_returns_to_the_settling_lot(pharmacy):
    with pharmacy.session("pharmacist") as s:
        first = receive(s, METFORMIN, "A", date(2026, 12, 31), Decimal(5), TODAY)
        dispense_id = new_dispense(s)
        take_for_dispense(s, METFORMIN, Decimal(8), TODAY, dispense_id, override_reason="急需")
        second = receive(s, METFORMIN, "B", date(2027, 12, 31), Decimal(2), TODAY)   # settles 2 of 3
        assert (second.on_hand, on_hand(s, METFORMIN)) == (0, -1)
        return_to_stock(s, dispense_id, TODAY, "处方作废")
        assert (first.on_hand, second.on_hand, on_hand(s, METFORMIN)) == (5, 2, 7)
        assert_ledger_matches(s, METFORMIN)


def test_loss_and_count_correction_are_movements(pharmacy):
    with pharmacy.session("pharmacist") as s:
        lot = receive(s, METFORMIN, "A", date(2026, 12, 31), Decimal(48), TODAY)
        loss = record_loss(s, lot.id, Decimal(3), TODAY, "破损")
        count = count_correction(s, lot.id, Decimal(40), TODAY, "月末盘点")
        assert (loss.kind, loss.quantity, count.kind, count.quantity) == ("loss", -3, "count", -5)
        assert count_correction(s, lot.id, Decimal(40), TODAY, "复盘").quantity == 0
        assert lot.on_hand == 40
        with pytest.raises(StockError, match="不能报损"):
            record_loss(s, lot.id, Decimal(41), TODAY, "过期")
        with pytest.raises(StockError, match="必须填写原因"):
            record_loss(s, lot.id, Decimal(1), TODAY, "")
        assert_ledger_matches(s, METFORMIN)


def test_receiving_the_same_lot_adds_to_it_and_bad_input_is_refused(pharmacy):
    with pharmacy.session("pharmacist") as s:
        lot = receive(s, METFORMIN, "A", date(2026, 12, 31), Decimal(48), TODAY)
        assert receive(s, METFORMIN, "A", date(2026, 12, 31), "48", TODAY) is lot and lot.on_hand == 96
        with pytest.raises(StockError, match="有效期"):
            receive(s, METFORMIN, "A", date(2027, 1, 31), Decimal(1), TODAY)
        with pytest.raises(StockError, match="浮点数"):
            receive(s, METFORMIN, "B", date(2027, 1, 31), 1.5, TODAY)
        with pytest.raises(StockError, match="大于 0"):
            take_for_dispense(s, METFORMIN, Decimal(0), TODAY, new_dispense(s))
        with pytest.raises(StockError, match="没有编码为 NOPE"):
            receive(s, "NOPE", "A", date(2027, 1, 31), Decimal(1), TODAY)


def test_low_stock_and_near_expiry(pharmacy):
    with pharmacy.session("pharmacist") as s:
        receive(s, METFORMIN, "A", date(2026, 4, 30), Decimal(20), TODAY)
        receive(s, METFORMIN, "B", date(2027, 4, 30), Decimal(20), TODAY)
        empty = receive(s, AMLODIPINE, "C", date(2026, 5, 31), Decimal(5), TODAY)
        record_loss(s, empty.id, Decimal(5), TODAY, "破损")
        low = low_stock(s, Decimal(30))
        soon = near_expiry(s, TODAY, within_days=90)
    assert [(d.code, qty) for d, qty in low] == [(AMLODIPINE, Decimal(0))]   # never-stocked drugs are not listed
    assert [lot.lot_no for lot in soon] == ["A"]
