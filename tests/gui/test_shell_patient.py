"""The patient page through its real widgets (issue 4 item 4): details and their correction, filings
with state and history (认定备案, 变更备案, a rejection reopened, 附件2 printed), and follow-ups with the
blood-pressure and glucose chart. Rules are clinic/filings.py's and clinic/health.py's (seeds/000
items 9–11); these tests check that the page shows their reasons and saves what they accept."""

from __future__ import annotations

import subprocess
from datetime import date, datetime

import pytest
from sqlalchemy import select

from clinic import filings as rules
from clinic.db.models import Filing, OutboxEntry, Patient
from clinic.idcard import make_id_number
from clinic.patients import register_patient
from desktop.gui.filing_dialog import FilingDialog
from desktop.gui.followup_tab import FollowUpDialog
from desktop.gui.patient_info import PatientEditDialog
from desktop.gui.patient_page import PatientPage
from tests.gui.a1_helpers import DOCTOR, PHARMACIST, TODAY, click, make_ctx, modal, type_into, wait_idle

HISTORY = "头晕头痛3年，多次测量血压 160/100 mmHg，诊断原发性高血压2级"
PLAN = "苯磺酸氨氯地平片 5mg 每日1次，低盐饮食"


@pytest.fixture
def patient_id(db) -> str:
    with db.session("doctor") as s:
        patient, _ = register_patient(s, name="赵桂兰", id_number=make_id_number("420704", date(1956, 5, 3), 12),
                                      phone="13907110001", address="临江乡吉祥村3组", insured_place="鄂州市华容区")
        return patient.id


@pytest.fixture
def page(qtbot, db, patient_id):
    ctx = make_ctx(db, DOCTOR)
    widget = PatientPage(ctx)
    qtbot.addWidget(widget)
    widget.resize(1234, 700)
    widget.show()
    widget.set_patient(patient_id)
    wait_idle(qtbot, ctx)
    widget.tabs.setCurrentWidget(widget.filings)            # most tests file; others switch tabs as a user does
    return widget


def filings_of(db, patient_id) -> list[Filing]:
    with db.session() as s:
        return list(s.scalars(select(Filing).where(Filing.patient_id == patient_id).order_by(Filing.created_at)))


def fill_filing(qtbot, dialog: FilingDialog, history=HISTORY, plan=PLAN) -> None:
    dialog.history_text.setPlainText(history)
    dialog.plan_text.setPlainText(plan)
    type_into(qtbot, dialog.icd10, "I10")


def test_header_shows_who_and_that_nothing_is_entitled_before_a_filing(page):
    assert page.name.text() == "赵桂兰"
    assert f"身份证号 {make_id_number('420704', date(1956, 5, 3), 12)}" in page.facts.text()
    assert "城乡居民" in page.facts.text()
    assert page.entitled.text().startswith("今日未享受“两病”待遇")
    assert page.info.values["address"].text() == "临江乡吉祥村3组"


def test_initial_filing_with_the_form_fields_is_saved_submitted_and_queued_for_upload(qtbot, page, db, patient_id):
    tab = page.filings
    assert "尚无备案" in tab.status.text()
    click(qtbot, tab.new_button)
    dialog = modal(qtbot, FilingDialog)
    assert dialog.disease.currentData() == "hypertension" and dialog.primary.isChecked()
    assert dialog.history_signer.text() == DOCTOR.display_name
    fill_filing(qtbot, dialog)
    click(qtbot, dialog.submit_button)
    wait_idle(qtbot, page.ctx)
    assert not dialog.isVisible()
    (filing,) = filings_of(db, patient_id)
    assert (filing.kind, filing.state, filing.icd10, filing.history_signer, filing.filed_on) == (
        "initial", "submitted", "I10", DOCTOR.display_name, TODAY)
    assert filing.history_diagnosis == HISTORY and filing.treatment_plan == PLAN
    row = tab.rows[0]
    assert (row.kind_text, row.state_text) == ("认定备案", "已提交")
    assert "等待医保经办审核" in tab.table.item(0, 4).text()
    assert HISTORY in tab.detail.toPlainText()
    with db.session() as s:                                  # bound for the township with its record
        assert s.scalar(select(OutboxEntry.status).where(OutboxEntry.record_id == filing.id)) == "pending"


def test_submitting_without_a_signature_names_the_missing_field_and_keeps_the_dialog_open(qtbot, page, db,
                                                                                          patient_id):
    click(qtbot, page.filings.new_button)
    dialog = modal(qtbot, FilingDialog)
    fill_filing(qtbot, dialog)
    dialog.history_signer.clear()
    click(qtbot, dialog.submit_button)
    wait_idle(qtbot, page.ctx)
    assert dialog.isVisible()
    assert dialog.message.text() == "审定表尚未填写完整：病史及诊断签字"
    assert dialog.history_signer.hasFocus()
    assert filings_of(db, patient_id) == []                 # all or nothing: no draft left behind
    click(qtbot, dialog.draft_button)                        # a draft may be unsigned
    wait_idle(qtbot, page.ctx)
    (draft,) = filings_of(db, patient_id)
    assert draft.state == "draft" and draft.history_signer is None
    assert page.filings.rows[0].state_text == "草稿"


def test_a_second_initial_filing_for_the_same_disease_is_refused_in_chinese(qtbot, page, db, patient_id):
    click(qtbot, page.filings.new_button)
    first = modal(qtbot, FilingDialog)
    fill_filing(qtbot, first)
    click(qtbot, first.submit_button)
    wait_idle(qtbot, page.ctx)
    click(qtbot, page.filings.new_button)
    second = modal(qtbot, FilingDialog)
    assert second.disease.currentData() == "diabetes"       # the disease not yet filed is offered
    second.disease.setCurrentIndex(second.disease.findData("hypertension"))
    fill_filing(qtbot, second)
    click(qtbot, second.submit_button)
    wait_idle(qtbot, page.ctx)
    assert second.message.text() == "该患者高血压已有尚在办理中的备案，请办理变更备案，不能重复认定"
    assert len(filings_of(db, patient_id)) == 1


def approve_on_review(db, patient_id, *, reject_reason: str | None = None) -> None:
    """The 医保 reviewer's decision, as the township's review stream brings it back (same rules)."""
    with db.session("reviewer") as s:
        filing = s.scalars(select(Filing).where(Filing.patient_id == patient_id, Filing.state == "submitted")).one()
        if reject_reason:
            rules.reject(s, filing, datetime(2026, 3, 17, 9), reject_reason)
        else:
            rules.approve(s, filing, datetime(2026, 3, 17, 9), "同意")


def test_change_filing_needs_a_new_plan_for_a_medication_change_and_keeps_the_history(qtbot, page, db, patient_id):
    click(qtbot, page.filings.new_button)
    dialog = modal(qtbot, FilingDialog)
    fill_filing(qtbot, dialog)
    click(qtbot, dialog.submit_button)
    wait_idle(qtbot, page.ctx)
    approve_on_review(db, patient_id)
    page.refresh()
    wait_idle(qtbot, page.ctx)
    assert page.entitled.text().startswith("今日享受“两病”待遇：高血压（普通）")
    assert page.filings.change_button.isEnabled()
    click(qtbot, page.filings.change_button)
    change = modal(qtbot, FilingDialog)
    click(qtbot, change.submit_button)                       # no default reason: 痊愈 would end the entitlement
    assert change.message.text() == "请选择变更原因（痊愈、病情进展、新病种或用药改变）"
    change.reason.setCurrentIndex(change.reason.findData("medication"))
    assert change.plan_text.toPlainText() == PLAN
    click(qtbot, change.submit_button)
    wait_idle(qtbot, page.ctx)
    assert change.message.text() == "用药改变须填写新的治疗方案"
    assert change.plan_text.hasFocus()
    change.plan_text.setPlainText("缬沙坦胶囊 80mg 每日1次")
    click(qtbot, change.submit_button)
    wait_idle(qtbot, page.ctx)
    assert not change.isVisible()
    first, second = filings_of(db, patient_id)
    assert (second.kind, second.change_reason, second.state, second.supersedes_id) == (
        "change", "medication", "submitted", first.id)
    assert second.history_diagnosis == HISTORY and second.history_signer == first.history_signer
    assert [r.kind_text for r in page.filings.rows] == ["变更备案（用药改变）", "认定备案"]
    assert page.filings.rows[1].state_text == "已通过"


def test_a_rejected_filing_shows_the_reason_and_can_be_reopened_corrected_and_resubmitted(qtbot, page, db,
                                                                                          patient_id):
    click(qtbot, page.filings.new_button)
    dialog = modal(qtbot, FilingDialog)
    fill_filing(qtbot, dialog)
    click(qtbot, dialog.submit_button)
    wait_idle(qtbot, page.ctx)
    approve_on_review(db, patient_id, reject_reason="缺少近三个月的血压测量记录")
    page.refresh()
    wait_idle(qtbot, page.ctx)
    tab = page.filings
    assert tab.table.item(0, 4).text() == "驳回原因：缺少近三个月的血压测量记录"
    assert "驳回原因" in tab.detail.toPlainText()
    assert tab.reopen_button.isEnabled() and not tab.edit_button.isEnabled()
    click(qtbot, tab.reopen_button)
    wait_idle(qtbot, page.ctx)
    assert tab.rows[0].state == "draft" and tab.edit_button.isEnabled()
    click(qtbot, tab.edit_button)
    edit = modal(qtbot, FilingDialog)
    assert edit.history_text.toPlainText() == HISTORY
    edit.history_text.setPlainText(HISTORY + "；2026-01至03月血压记录 158/98、162/100、155/96 mmHg")
    click(qtbot, edit.submit_button)
    wait_idle(qtbot, page.ctx)
    (filing,) = filings_of(db, patient_id)
    assert filing.state == "submitted" and "162/100" in filing.history_diagnosis
    assert filing.reject_reason == "缺少近三个月的血压测量记录"         # the reviewer's reason is kept


def test_print_attachment_2_produces_the_form_with_the_patient_and_the_embedded_font(qtbot, page, tmp_path):
    click(qtbot, page.filings.new_button)
    dialog = modal(qtbot, FilingDialog)
    fill_filing(qtbot, dialog)
    click(qtbot, dialog.submit_button)
    wait_idle(qtbot, page.ctx)
    with qtbot.waitSignal(page.filings.pdf_ready, timeout=20000) as signal:
        click(qtbot, page.filings.print_button)
    wait_idle(qtbot, page.ctx)
    path = tmp_path / "form.pdf"
    path.write_bytes(signal.args[0])
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    assert "参保人员“两病”门诊用药保障审定表" in text
    assert "赵桂兰" in text and "头晕头痛3年" in text
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    assert all(line.split()[-5] == "yes" for line in fonts.splitlines()[2:])      # every font embedded
    assert page.filings.preview is not None and page.filings.preview.isVisible()
    page.filings.preview.close()


def test_follow_up_is_recorded_and_drawn_and_an_implausible_reading_is_refused(qtbot, page, db, patient_id):
    tab = page.followups
    page.tabs.setCurrentWidget(tab)
    assert tab.status.text() == "尚无随访记录" and tab.chart.points == {"sbp": 0, "dbp": 0, "glucose": 0}
    click(qtbot, tab.add_button)
    dialog = modal(qtbot, FollowUpDialog)
    type_into(qtbot, dialog.sbp, "85")
    type_into(qtbot, dialog.dbp, "95")
    dialog.save()
    wait_idle(qtbot, page.ctx)
    assert dialog.message.text() == "收缩压（85）应高于舒张压（95），是否填反了？"
    assert dialog.sbp.hasFocus()
    type_into(qtbot, dialog.sbp, "152")
    type_into(qtbot, dialog.glucose, "7.6")
    dialog.save()
    wait_idle(qtbot, page.ctx)
    assert not dialog.isVisible()
    assert tab.chart.points == {"sbp": 1, "dbp": 1, "glucose": 1}
    assert tab.table.item(0, 1).text() == "152/95"
    assert tab.table.item(0, 1).foreground().color().name() == "#b00020"      # above 140/90: red
    assert tab.table.item(0, 5).text() == "2026-06-14"                        # a quarter later by default
    assert page.control.text().startswith("血压未达标，血糖未达标（上次随访 2026-03-16）")
    assert page.control.property("class") == "error"


def test_patient_details_are_corrected_with_the_registration_checks(qtbot, page, db, patient_id):
    page.tabs.setCurrentWidget(page.info)
    click(qtbot, page.info.edit_button)
    dialog = modal(qtbot, PatientEditDialog)
    assert dialog.name.text() == "赵桂兰"
    type_into(qtbot, dialog.phone, "12345")
    dialog.save()
    wait_idle(qtbot, page.ctx)
    assert dialog.message.text().startswith("联系电话 12345 无效")
    type_into(qtbot, dialog.phone, "13907110002")
    dialog.save()
    wait_idle(qtbot, page.ctx)
    assert not dialog.isVisible()
    assert page.info.values["phone"].text() == "13907110002"
    with db.session() as s:
        assert s.get(Patient, patient_id).phone == "13907110002"


def test_a_pharmacist_sees_the_filings_but_cannot_make_them(qtbot, db, patient_id):
    ctx = make_ctx(db, PHARMACIST)
    page = PatientPage(ctx)
    qtbot.addWidget(page)
    page.set_patient(patient_id)
    wait_idle(qtbot, ctx)
    assert page.filings.new_button.isHidden() and page.followups.add_button.isHidden()
    assert page.info.edit_button.isHidden()
    assert not page.filings.print_button.isHidden()
