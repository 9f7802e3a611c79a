"""The 配药结算 tab: purchases with receipt numbers and amounts, 配药结算 from the tab, and 退费 as its own
action with a required reason — a negative settlement that reverses the original (DESIGN.md: claims
are append-only facts), queued for upload, shown in the history, its 退费单 printable."""

from __future__ import annotations

from decimal import Decimal

import pytest
from PySide6.QtCore import Qt
from sqlalchemy import select

from clinic import stock
from clinic.db.models import OutboxEntry, Settlement
from clinic.settlement.service import year_to_date
from desktop.gui import ops_dispense, ops_prescribe
from desktop.gui.dispensing_tab import DispensingTab
from tests.gui.a2_helpers import (
    AML,
    DOCTOR,
    TODAY,
    finish_background_work,  # noqa: F401 (autouse fixture)
    make_clinic,
    make_ctx,
    pdf_text,
    wait_idle,
)


@pytest.fixture
def clinic(tmp_path):
    db, patient_id = make_clinic(tmp_path / "clinic.db")
    by_code = {o.code: o for o in ops_prescribe.search_drugs(db, "", TODAY)}
    ops_prescribe.save(db, DOCTOR, patient_id, TODAY, diagnosis="原发性高血压",
                       lines=[ops_prescribe.LineDraft(by_code[AML], Decimal(1), "qd", 84)])
    yield db, patient_id
    db.close()


def open_tab(qtbot, ctx, patient_id) -> DispensingTab:
    tab = DispensingTab(ctx)
    qtbot.addWidget(tab)
    tab.show()
    with qtbot.waitSignal(tab.loaded, timeout=10000):
        tab.set_patient(patient_id)
    return tab


def cells(tab: DispensingTab, row: int) -> list[str]:
    return [tab.table.item(row, c).text() for c in range(tab.table.columnCount())]


def test_dispensing_from_the_tab_adds_the_purchase_to_the_history(qtbot, clinic):
    db, patient_id = clinic
    tab = open_tab(qtbot, make_ctx(db), patient_id)
    assert tab.rows == [] and tab.status.text() == "尚无配药结算记录"
    dialog = tab.dispense()
    with qtbot.waitSignal(dialog.previewed, timeout=10000):
        pass                                                     # the whole prescription: 84 days
    assert dialog.days.value() == 84
    with qtbot.waitSignal(dialog.previewed, timeout=10000):
        dialog.days.setValue(28)
    with qtbot.waitSignal(tab.loaded, timeout=10000):
        qtbot.mouseClick(dialog.confirm_button, Qt.MouseButton.LeftButton)
    row = cells(tab, 0)
    assert row[:9] == [str(TODAY), "H42070400101-20260302-0001", "结算", "14.00", "8.40", "5.60", "5.60", "待上传",
                       "王医生"]
    assert row[9] == "苯磺酸氨氯地平片×28片"
    dialog.close()


def test_refund_needs_a_reason_and_creates_a_negative_settlement_in_the_history(qtbot, clinic, tmp_path):
    db, patient_id = clinic
    rx = ops_dispense.setup(db, patient_id, TODAY).prescriptions[0].id
    original = ops_dispense.confirm(db, DOCTOR, rx, 28, TODAY)
    ctx = make_ctx(db)
    tab = open_tab(qtbot, ctx, patient_id)
    assert tab.refund_button.isEnabled()
    dialog = tab.refund()
    assert not dialog.ok.isEnabled()                             # no reason, no refund
    dialog.reason.insert("   ")
    assert not dialog.ok.isEnabled()
    dialog.reason.clear()
    dialog.reason.insert("患者退药")                               # what a pinyin IME commits
    with qtbot.waitSignal(tab.loaded, timeout=10000):
        qtbot.mouseClick(dialog.ok, Qt.MouseButton.LeftButton)
    refund_no = dialog.refund_row.receipt_no
    assert refund_no == "TFH42070400101-20260302-0001"
    assert [r.receipt_no for r in tab.rows] == [refund_no, original.receipt_no]
    refund_cells, original_cells = cells(tab, 0), cells(tab, 1)
    assert refund_cells[2:7] == ["退费", "-14.00", "-8.40", "-5.60", "-5.60"]
    assert refund_cells[10] == f"原结算单 {original.receipt_no}，原因：患者退药"
    assert original_cells[10] == f"已退费（退费单 {refund_no}）"
    tab.table.selectRow(1)
    assert not tab.refund_button.isEnabled()                     # a settlement is refunded only once
    with db.session() as s:
        reversal = s.scalars(select(Settlement).where(Settlement.reverses_id == original.settlement_id)).one()
        assert (reversal.total, reversal.fund_pay, reversal.self_pay) == (
            Decimal("-14.00"), Decimal("-8.40"), Decimal("-5.60"))
        assert reversal.refund_reason == "患者退药"
        assert s.scalars(select(OutboxEntry).where(OutboxEntry.record_id == reversal.id,
                                                   OutboxEntry.status == "pending")).one().record_type == "settlement"
        assert year_to_date(s, patient_id, TODAY).fund_paid == {"hypertension": Decimal("0.00")}
        assert stock.on_hand(s, AML) == Decimal(1000)           # the tablets went back to their lot
    with qtbot.waitSignal(dialog.pdf_shown, timeout=20000) as shown:
        qtbot.mouseClick(dialog.print_button, Qt.MouseButton.LeftButton)
    text = pdf_text(shown.args[0].pdf, tmp_path)
    assert "“两病”门诊用药退费单" in text and refund_no in text and "患者退药" in text
    wait_idle(qtbot, ctx)
    shown.args[0].close()
    dialog.close()


def test_reprint_gives_the_selected_receipt(qtbot, clinic, tmp_path):
    db, patient_id = clinic
    rx = ops_dispense.setup(db, patient_id, TODAY).prescriptions[0].id
    settled = ops_dispense.confirm(db, DOCTOR, rx, 28, TODAY)
    ctx = make_ctx(db)
    tab = open_tab(qtbot, ctx, patient_id)
    with qtbot.waitSignal(tab.pdf_shown, timeout=20000) as shown:
        qtbot.mouseClick(tab.reprint_button, Qt.MouseButton.LeftButton)
    text = pdf_text(shown.args[0].pdf, tmp_path)
    assert "“两病”门诊用药结算单" in text and settled.receipt_no in text
    wait_idle(qtbot, ctx)
    shown.args[0].close()
