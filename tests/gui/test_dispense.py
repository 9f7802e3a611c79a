"""Dispensing and settling through the real widgets on a real SQLite file: the split shown before
confirming is the settlement engine's (seeds/000 二(一)4: ratios, the secondary disease at 50 %, the
annual cap), the refusals are shown in words (重复配药 with the first allowed day, 超量配药, a missing
policy setting, too little stock), the settlement is queued for upload, and a refund is a negative
settlement in the history."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from PySide6.QtCore import Qt
from sqlalchemy import select

from clinic.db.models import Dispense, ExternalFundUse, Filing, OutboxEntry, Patient, Settlement
from clinic.entitlements import entitlements
from clinic.filings import approve, new_change_filing, submit
from clinic.money import fmt
from clinic.profile import policy_in_force
from clinic.settlement import Item, Purchase, settle
from desktop.gui import ops_dispense, ops_prescribe
from desktop.gui.dispense_dialog import DispenseDialog
from tests.gui.a2_helpers import (
    AML,
    DOCTOR,
    MET,
    NIF,
    TODAY,
    finish_background_work,  # noqa: F401 (autouse fixture)
    make_clinic,
    make_ctx,
    pdf_text,
    wait_idle,
)


@pytest.fixture
def clinic(tmp_path):
    db, patient_id = make_clinic(tmp_path / "clinic.db", diseases=("hypertension", "diabetes"))
    yield db, patient_id
    db.close()


def prescribe(db, patient_id, lines, on=TODAY, days=84) -> str:
    by_code = {o.code: o for o in ops_prescribe.search_drugs(db, "", on)}
    return ops_prescribe.save(db, DOCTOR, patient_id, on, diagnosis="原发性高血压；2型糖尿病", lines=[
        ops_prescribe.LineDraft(by_code[code], Decimal(dose), frequency, days) for code, dose, frequency in lines])


def open_dialog(qtbot, ctx, patient_id, days: int | None = None) -> DispenseDialog:
    dialog = DispenseDialog(ctx, patient_id)
    qtbot.addWidget(dialog)
    dialog.show()
    with qtbot.waitSignal(dialog.previewed, timeout=10000):
        pass
    if days is not None and dialog.days.value() != days:
        with qtbot.waitSignal(dialog.previewed, timeout=10000):
            dialog.days.setValue(days)
    return dialog


def shown(dialog: DispenseDialog, key: str) -> str:
    return dialog.view.values[key].text()


def disease_row(dialog: DispenseDialog, row: int) -> list[str]:
    table = dialog.view.diseases
    return [table.item(row, c).text() for c in range(table.columnCount())]


def test_split_shown_before_confirming_is_the_settlement_engines(qtbot, clinic):
    db, patient_id = clinic
    prescribe(db, patient_id, [(AML, 1, "qd"), (MET, 1, "bid")])
    dialog = open_dialog(qtbot, make_ctx(db), patient_id, days=28)
    # The same purchase settled directly: 28 amlodipine at 0.50; 56 metformin at 0.20, standard 0.15.
    with db.session() as s:
        policy = policy_in_force(s, TODAY)
        expected = settle(policy, Purchase(
            date=TODAY, insurance="resident", contribution=None,
            filings=entitlements(s, s.get(Patient, patient_id), policy, TODAY), institution_level="1",
            prescriber_level=None, items=(
                Item(AML, "苯磺酸氨氯地平片", "hypertension", Decimal(28), Decimal("0.50")),
                Item(MET, "盐酸二甲双胍片", "diabetes", Decimal(56), Decimal("0.20"), Decimal("0.15")))))
    for key in ("total", "policy_range", "over_standard", "out_of_scope", "deductible", "fund_pay", "self_pay",
                "major_illness_eligible"):
        assert shown(dialog, key) == fmt(getattr(expected, key)), key
    # 60 % for the primary disease; the secondary at 50 % of its ratio (seeds/000 二(一)4(4)).
    assert (shown(dialog, "total"), shown(dialog, "fund_pay"), shown(dialog, "self_pay")) == (
        "25.20", "10.92", "14.28")
    assert disease_row(dialog, 0) == ["高血压（普通·主要）", "60%", "14.00", "0.00", "8.40", "0.00", "0.00",
                                      "1000.00", "991.60"]
    assert disease_row(dialog, 1) == ["糖尿病（普通·次要）", "30%", "8.40", "0.00", "2.52", "0.00", "0.00",
                                      "1000.00", "997.48"]
    with qtbot.waitSignal(dialog.settled, timeout=10000) as done:
        qtbot.keyClick(dialog.days, Qt.Key.Key_Return)          # Enter confirms
    assert done.args[0].first_under_prescription and dialog.print_rx.isVisible()
    with db.session() as s:
        stored = s.get(Settlement, done.args[0].settlement_id)
        assert (stored.total, stored.fund_pay, stored.self_pay) == (expected.total, expected.fund_pay,
                                                                    expected.self_pay)
        # the settlement, its dispense and the stock movements commit with their outbox rows
        queued = {(e.record_type, e.record_id) for e in s.scalars(select(OutboxEntry).where(
            OutboxEntry.status == "pending"))}
        assert ("settlement", stored.id) in queued and ("dispense", stored.dispense_id) in queued


def test_year_to_date_use_and_the_cap_left_are_shown(qtbot, tmp_path):
    # DESIGN.md worked example: 998.00 already paid this year → fund 2.00, over cap 10.67, self 12.00.
    db, patient_id = make_clinic(tmp_path / "cap.db")
    try:
        with db.session() as s:
            s.add(ExternalFundUse(patient_id=patient_id, year=2026, disease="hypertension",
                                  fund_paid=Decimal("998.00"), deductible_paid=Decimal("0.00")))
        prescribe(db, patient_id, [(AML, 1, "qd")])
        dialog = open_dialog(qtbot, make_ctx(db), patient_id, days=28)
        assert disease_row(dialog, 0) == ["高血压（普通·主要）", "60%", "14.00", "0.00", "2.00", "10.67", "998.00",
                                          "1000.00", "0.00"]
        assert (shown(dialog, "fund_pay"), shown(dialog, "self_pay"), shown(dialog, "major_illness_eligible")) == (
            "2.00", "12.00", "12.00")
    finally:
        db.close()


def test_a_pharmacy_pays_at_the_level_of_the_prescribing_institution(qtbot, tmp_path):
    # seeds/000 二(一)4(5): 定点零售药店 uses the ratio of the institution that wrote the prescription.
    db, patient_id = make_clinic(tmp_path / "pharmacy.db", level="pharmacy")
    try:
        prescribe(db, patient_id, [(AML, 1, "qd")])
        dialog = open_dialog(qtbot, make_ctx(db), patient_id, days=28)
        assert dialog.level.isVisible() and "定点零售药店" in dialog.header.text()
        assert disease_row(dialog, 0)[1:5] == ["60%", "14.00", "0.00", "8.40"]        # 一级 prescriber
        with qtbot.waitSignal(dialog.previewed, timeout=10000):
            dialog.level.setCurrentIndex(dialog.level.findData("2"))
        assert disease_row(dialog, 0)[1:5] == ["50%", "14.00", "0.00", "7.00"]        # 二级 prescriber
    finally:
        db.close()


def test_early_refill_is_refused_with_the_first_allowed_date(qtbot, clinic):
    db, patient_id = clinic
    rx = prescribe(db, patient_id, [(AML, 1, "qd")])
    ops_dispense.confirm(db, DOCTOR, rx, 28, TODAY)             # lasts until 2026-03-30
    dialog = open_dialog(qtbot, make_ctx(db, today=date(2026, 3, 5)), patient_id, days=28)
    assert "重复配药：苯磺酸氨氯地平片 上次所配药量还可用 25 天，须剩余不超过 15 天方可续配" in dialog.refusal.text()
    assert dialog.first_allowed.text() == "最早可配日期：2026年03月15日（还需等 10 天）"
    assert not dialog.confirm_button.isEnabled()
    with db.session() as s:
        assert len(s.scalars(select(Dispense)).all()) == 1     # the preview stored nothing
    allowed = open_dialog(qtbot, make_ctx(db, today=date(2026, 3, 15)), patient_id, days=28)
    assert allowed.refusal.text() == "" and allowed.confirm_button.isEnabled()


def test_more_than_the_prescription_still_covers_is_refused(qtbot, clinic):
    db, patient_id = clinic
    prescribe(db, patient_id, [(AML, 1, "qd")], days=28)
    dialog = open_dialog(qtbot, make_ctx(db), patient_id)
    assert dialog.days.value() == 28 and dialog.confirm_button.isEnabled()
    with qtbot.waitSignal(dialog.previewed, timeout=10000):
        dialog.days.setValue(30)
    assert "超量配药：苯磺酸氨氯地平片 本处方剩余可配 28片，本次 30 天需 30片" in dialog.refusal.text()
    assert not dialog.confirm_button.isEnabled()


def test_a_disease_no_longer_entitled_is_refused_as_out_of_scope(qtbot, clinic):
    # The diabetes filing ends with an approved 痊愈 change: its drug may no longer be settled as 两病.
    db, patient_id = clinic
    prescribe(db, patient_id, [(AML, 1, "qd"), (MET, 1, "bid")], on=date(2026, 2, 2))
    with db.session("reviewer") as s:
        diabetes = s.scalars(select(Filing).where(Filing.patient_id == patient_id,
                                                  Filing.disease == "diabetes")).one()
        cured = new_change_filing(s, diabetes, reason="cured", filed_on=date(2026, 3, 1),
                                  history_diagnosis="血糖长期正常，停药观察", history_signer="王医生",
                                  treatment_plan="饮食运动", plan_signer="王医生")
        submit(s, cured, datetime(2026, 3, 1, 9))
        approve(s, cured, datetime(2026, 3, 1, 10))
    dialog = open_dialog(qtbot, make_ctx(db), patient_id, days=28)
    assert "超范围用药：患者 2026-03-02 未享受糖尿病“两病”待遇，不能按“两病”配 盐酸二甲双胍片" in dialog.refusal.text()
    assert not dialog.confirm_button.isEnabled()


def test_missing_policy_setting_is_named_and_nothing_is_settled(qtbot, tmp_path):
    # 吕梁 gives no payment ratio (seeds/002): settlement refuses, naming the setting, until it is filled in.
    settings = {"prescription.refill_window_days": "15", "caps.resident.ordinary": "1000",
                "caps.resident.severe": "2000", "secondary_factor": "0.5"}
    db, patient_id = make_clinic(tmp_path / "ll.db", region="lvliang", settings=settings)
    try:
        prescribe(db, patient_id, [(AML, 1, "qd")])
        dialog = open_dialog(qtbot, make_ctx(db), patient_id, days=28)
        assert "缺少本地设置：城乡居民一级及以下医疗机构报销比例（ratios.resident.1）" in dialog.refusal.text()
        assert not dialog.confirm_button.isEnabled()
        with db.session() as s:
            assert s.scalars(select(Settlement)).all() == []
    finally:
        db.close()


def test_too_little_stock_needs_a_stated_reason(qtbot, clinic):
    db, patient_id = clinic
    prescribe(db, patient_id, [(NIF, 1, "qd")])                 # 硝苯地平缓释片: none in stock
    dialog = open_dialog(qtbot, make_ctx(db), patient_id, days=28)
    assert "库存不足" in dialog.refusal.text() and dialog.override.isVisible()
    assert not dialog.confirm_button.isEnabled()
    with qtbot.waitSignal(dialog.previewed, timeout=10000):
        dialog.override.insert("药品已到货尚未入库")
    assert dialog.refusal.text() == "" and dialog.confirm_button.isEnabled()
    with qtbot.waitSignal(dialog.settled, timeout=10000) as done:
        qtbot.mouseClick(dialog.confirm_button, Qt.MouseButton.LeftButton)
    with db.session() as s:
        dispense = s.get(Dispense, s.get(Settlement, done.args[0].settlement_id).dispense_id)
        assert dispense.override_reason == "药品已到货尚未入库"


def test_receipt_prints_after_settling(qtbot, clinic, tmp_path):
    db, patient_id = clinic
    prescribe(db, patient_id, [(AML, 1, "qd")])
    ctx = make_ctx(db)
    dialog = open_dialog(qtbot, ctx, patient_id, days=28)
    with qtbot.waitSignal(dialog.settled, timeout=10000) as done:
        qtbot.mouseClick(dialog.confirm_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(dialog.pdf_shown, timeout=20000) as opened:
        qtbot.mouseClick(dialog.print_receipt, Qt.MouseButton.LeftButton)
    text = pdf_text(opened.args[0].pdf, tmp_path)
    assert "“两病”门诊用药结算单" in text and done.args[0].receipt_no in text and "8.40" in text
    wait_idle(qtbot, ctx)
    opened.args[0].close()


def test_a_purchase_from_a_power_cut_is_entered_for_its_own_day_within_the_limit(qtbot, clinic):
    # clinic/dispensing.py: 补录 at most ledger.backdate_days (7) days back; its year's whole ledger counts.
    from PySide6.QtCore import QDate

    db, patient_id = clinic
    prescribe(db, patient_id, [(AML, 1, "qd")], on=TODAY - timedelta(days=10))
    dialog = open_dialog(qtbot, make_ctx(db), patient_id, days=28)
    with qtbot.waitSignal(dialog.previewed, timeout=10000):
        dialog.on.setDate(QDate.fromString(str(TODAY - timedelta(days=8)), "yyyy-MM-dd"))
    assert "早于补录期限：本机构只允许补录 7 天以内" in dialog.refusal.text()
    assert not dialog.confirm_button.isEnabled()
    with qtbot.waitSignal(dialog.previewed, timeout=10000):
        dialog.on.setDate(QDate.fromString(str(TODAY - timedelta(days=5)), "yyyy-MM-dd"))
    assert dialog.refusal.text() == "" and dialog.confirm_button.isEnabled()
    with qtbot.waitSignal(dialog.settled, timeout=10000):
        dialog.confirm()
    with db.session() as s:
        [settlement] = s.scalars(select(Settlement)).all()
        assert settlement.settled_on == TODAY - timedelta(days=5)
        assert s.get(Dispense, settlement.dispense_id).dispensed_on == TODAY - timedelta(days=5)
