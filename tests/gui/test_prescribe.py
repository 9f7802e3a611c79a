"""Prescribing through the real widgets on a real SQLite file: the quantity from dose × frequency × days,
the policy's limits checked live and explained in words (seeds/000 二(一)5: ≤ 24 weeks, 两病 drugs
only; 附件3 注意2: the refill window with the first allowed day), a missing local setting reported,
renewing, stopping with a reason, and 附件3 printed as both copies in one PDF."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from PySide6.QtCore import Qt
from sqlalchemy import select

from clinic.db.models import Prescription
from desktop.gui import ops_dispense, ops_prescribe
from desktop.gui.context import UserInfo
from desktop.gui.drug_picker import PRIORITY, STOCK, USE
from desktop.gui.prescribe_dialog import PrescribeDialog
from desktop.gui.prescriptions_tab import PrescriptionsTab
from desktop.gui.rx_lines import DAYS, DOSE, FREQ, QTY, VERDICT
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
    yield db, patient_id
    db.close()


def open_dialog(qtbot, ctx, patient_id, **kw) -> PrescribeDialog:
    dialog = PrescribeDialog(ctx, patient_id, **kw)
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitUntil(lambda: dialog.info is not None and bool(dialog.picker.options), timeout=10000)
    return dialog


def pick(qtbot, dialog: PrescribeDialog, text: str) -> None:
    """Type into the picker's search box as the doctor does, wait for the list, press Enter."""
    dialog.picker.search.clear()
    with qtbot.waitSignal(dialog.picker.loaded, timeout=5000):
        qtbot.keyClicks(dialog.picker.search, text)
    with qtbot.waitSignal(dialog.checked, timeout=5000):
        qtbot.keyClick(dialog.picker.search, Qt.Key.Key_Return)


def set_line(qtbot, dialog: PrescribeDialog, row: int, *, dose=None, frequency=None, days=None) -> None:
    table = dialog.lines.table
    with qtbot.waitSignal(dialog.checked, timeout=5000):
        if dose is not None:
            table.cellWidget(row, DOSE).setValue(dose)
        if frequency is not None:
            box = table.cellWidget(row, FREQ)
            box.setCurrentIndex(box.findData(frequency))
        if days is not None:
            table.cellWidget(row, DAYS).setValue(days)


def test_quantity_is_dose_times_frequency_times_days_in_whole_units(qtbot, clinic):
    db, patient_id = clinic
    ctx = make_ctx(db)
    dialog = open_dialog(qtbot, ctx, patient_id)
    pick(qtbot, dialog, "bhs")                         # 苯磺酸氨氯地平片 by its pinyin initials
    assert dialog.lines.table.item(0, 0).text() == "苯磺酸氨氯地平片 5mg"
    set_line(qtbot, dialog, 0, dose=0.5, frequency="bid", days=30)
    # 0.5 片 × 2 a day × 30 days = 30 片; the package is 28片/盒
    assert dialog.lines.table.item(0, QTY).text() == "30片（1盒又2片）"
    set_line(qtbot, dialog, 0, dose=1, frequency="qd", days=84)
    assert dialog.lines.table.item(0, QTY).text() == "84片（3盒）"
    assert dialog.lines.table.item(0, VERDICT).text() == "✓ 可开具"
    assert dialog.save_button.isEnabled()
    with qtbot.waitSignal(dialog.saved, timeout=10000) as saved:
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    with db.session() as s:
        rx = s.get(Prescription, saved.args[0])
        assert [(x.drug_code, x.dose, x.frequency, x.days, x.quantity) for x in rx.lines] == [
            (AML, Decimal(1), "qd", 84, Decimal(84))]
        assert rx.prescriber_name == "王医生" and rx.valid_until == date(2026, 5, 24)


def test_prescription_longer_than_24_weeks_is_refused_live_with_the_limit_in_words(qtbot, clinic):
    db, patient_id = clinic
    dialog = open_dialog(qtbot, make_ctx(db), patient_id)
    assert "处方最长 24周（自今天起最多 168 天）" in dialog.limits.text()
    pick(qtbot, dialog, "bhs")
    set_line(qtbot, dialog, 0, days=169)
    assert dialog.lines.table.item(0, VERDICT).text() == "✗ 不能开具"
    assert "超过政策规定的最长处方周期（24w" in dialog.lines.details.text()
    assert "最多 168 天" in dialog.lines.details.text()
    assert not dialog.save_button.isEnabled()
    set_line(qtbot, dialog, 0, days=168)
    assert dialog.save_button.isEnabled() and dialog.lines.details.text() == ""


def test_drugs_outside_the_two_diseases_or_an_unfiled_disease_are_refused(qtbot, clinic):
    db, patient_id = clinic
    dialog = open_dialog(qtbot, make_ctx(db), patient_id)
    pick(qtbot, dialog, "amx")                         # 阿莫西林胶囊: not a 两病 drug
    assert dialog.picker.table.item(0, USE).text() == "非两病用药"
    assert "超范围用药：阿莫西林胶囊 不属于“两病”用药，请按普通门诊开具" in dialog.lines.details.text()
    assert not dialog.save_button.isEnabled()
    dialog.lines.remove(0)
    pick(qtbot, dialog, "ejsg")                        # 盐酸二甲双胍片 for a patient filed for 高血压 only
    assert dialog.picker.table.item(0, USE).text() == "糖尿病·未备案"
    assert "患者未享受糖尿病“两病”待遇" in dialog.lines.details.text()
    assert not dialog.save_button.isEnabled()


def test_early_refill_shows_the_first_allowed_date_in_words(qtbot, clinic):
    db, patient_id = clinic
    by_code = {o.code: o for o in ops_prescribe.search_drugs(db, "", TODAY)}
    rx = ops_prescribe.save(db, DOCTOR, patient_id, TODAY, diagnosis="原发性高血压",
                            lines=[ops_prescribe.LineDraft(by_code[AML], Decimal(1), "qd", 28)])
    ops_dispense.confirm(db, DOCTOR, rx, 28, TODAY)     # supply until 2026-03-30; refill from 03-15
    dialog = open_dialog(qtbot, make_ctx(db, today=date(2026, 3, 5)), patient_id)
    pick(qtbot, dialog, "bhs")
    text = dialog.lines.details.text()
    assert "上次所配药量还可用 25 天，须剩余不超过 15 天方可配药：最早 2026年03月15日 可配" in text
    assert dialog.lines.table.item(0, VERDICT).text() == "⚠ 注意"


def test_missing_policy_setting_is_reported_and_blocks_prescribing(qtbot, tmp_path):
    # 云南 leaves the longest prescription to each 统筹区 (seeds/003): nothing may be prescribed until set.
    db, patient_id = make_clinic(tmp_path / "yn.db", region="yunnan")
    try:
        dialog = open_dialog(qtbot, make_ctx(db), patient_id)
        assert dialog.blocker.isVisible()
        assert "缺少本地设置：长处方最长用药周期" in dialog.blocker.text()
        assert "无法核对续配时间" in dialog.limits.text()
        pick(qtbot, dialog, "bhs")
        assert not dialog.save_button.isEnabled()
    finally:
        db.close()


def test_renew_stops_the_old_prescription_and_stop_needs_a_reason(qtbot, clinic):
    db, patient_id = clinic
    by_code = {o.code: o for o in ops_prescribe.search_drugs(db, "", TODAY)}
    old = ops_prescribe.save(db, DOCTOR, patient_id, date(2026, 1, 5), diagnosis="原发性高血压",
                             lines=[ops_prescribe.LineDraft(by_code[AML], Decimal(1), "qd", 84)])
    ctx = make_ctx(db)
    tab = PrescriptionsTab(ctx)
    qtbot.addWidget(tab)
    with qtbot.waitSignal(tab.loaded, timeout=10000):
        tab.set_patient(patient_id)
    dialog = tab.renew()
    qtbot.waitUntil(lambda: dialog.info is not None and dialog.checked_up_to_date(), timeout=10000)
    assert "续方：原处方 2026-01-05" in dialog.header.text()
    assert dialog.lines.table.cellWidget(0, DAYS).value() == 84
    with qtbot.waitSignal(tab.loaded, timeout=10000):
        qtbot.mouseClick(dialog.save_button, Qt.MouseButton.LeftButton)
    assert [row.state for row in tab.rows] == ["有效", "已停用（续方）"]
    with db.session() as s:
        new = s.scalars(select(Prescription).where(Prescription.renews_id == old)).one()
        assert new.prescribed_on == TODAY
    stop = tab.stop()                                  # a child of the tab, deleted when it closes
    assert not stop.ok.isEnabled()                     # no reason, no stop
    stop.reason.insert("不良反应，换药")             # what a pinyin IME commits
    with qtbot.waitSignal(tab.loaded, timeout=10000):
        qtbot.mouseClick(stop.ok, Qt.MouseButton.LeftButton)
    assert tab.rows[0].state == "已停用（不良反应，换药）"


def test_print_attachment_3_gives_both_copies_in_one_pdf(qtbot, clinic, tmp_path):
    db, patient_id = clinic
    by_code = {o.code: o for o in ops_prescribe.search_drugs(db, "", TODAY)}
    ops_prescribe.save(db, DOCTOR, patient_id, TODAY, diagnosis="原发性高血压",
                       lines=[ops_prescribe.LineDraft(by_code[AML], Decimal(1), "qd", 84)])
    ctx = make_ctx(db)
    tab = PrescriptionsTab(ctx)
    qtbot.addWidget(tab)
    with qtbot.waitSignal(tab.loaded, timeout=10000):
        tab.set_patient(patient_id)
    with qtbot.waitSignal(tab.pdf_shown, timeout=20000) as shown:
        qtbot.mouseClick(tab.print_button, Qt.MouseButton.LeftButton)
    preview = shown.args[0]
    text = pdf_text(preview.pdf, tmp_path)
    assert text.count("慢性病用药连续（外配）处方") == 2
    assert "医疗机构留存" in text and "患者留存" in text
    assert "苯磺酸氨氯地平片" in text and "84片" in text
    wait_idle(qtbot, ctx)
    preview.close()


def test_a_pharmacist_cannot_prescribe(qtbot, clinic):
    db, patient_id = clinic
    tab = PrescriptionsTab(make_ctx(db, user=UserInfo("pharmacist", "李药师", "pharmacist")))
    qtbot.addWidget(tab)
    with qtbot.waitSignal(tab.loaded, timeout=10000):
        tab.set_patient(patient_id)
    assert not tab.new_button.isEnabled() and tab.new_prescription() is None


def test_picker_orders_by_the_four_priorities_of_the_policy_and_shows_stock(qtbot, tmp_path):
    # 达州 (seeds/001 二(三)): 甲类, 国家基本药物, 一致性评价, 集采中选 — in that order, then stock.
    db, patient_id = make_clinic(tmp_path / "dz.db", region="dazhou", diseases=("hypertension", "diabetes"))
    try:
        dialog = open_dialog(qtbot, make_ctx(db), patient_id)
        picker = dialog.picker
        assert "甲类 → 基药 → 一致性评价 → 集采" in picker.priority.text()
        names = [picker.table.item(r, 0).text() for r in range(picker.table.rowCount())]
        assert names == ["盐酸二甲双胍片 0.5g", "苯磺酸氨氯地平片 5mg", "硝苯地平缓释片 20mg"]
        assert picker.table.item(0, PRIORITY).text() == "甲类、基药、一致性评价、集采"
        assert picker.table.item(1, PRIORITY).text() == "甲类、基药、一致性评价"
        assert [picker.table.item(r, STOCK).text() for r in range(3)] == ["1000片", "1000片", "无库存"]
    finally:
        db.close()


def test_keyboard_only_prescribing_type_enter_enter(qtbot, clinic):
    db, patient_id = clinic
    dialog = open_dialog(qtbot, make_ctx(db), patient_id)
    pick(qtbot, dialog, "bhs")                         # type, Enter: the drug is on the prescription
    dose = dialog.lines.table.cellWidget(0, DOSE)
    assert dialog.focusWidget() is dose                 # …and the cursor is in its dose
    with qtbot.waitSignal(dialog.saved, timeout=10000):
        qtbot.keyClick(dose, Qt.Key.Key_Return)        # Enter: saved
    with db.session() as s:
        assert [x.quantity for x in s.scalars(select(Prescription)).one().lines] == [Decimal(28)]
