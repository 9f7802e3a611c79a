"""End to end on a FRESH database through the real widgets (issue 4 "What must be shown"):
first-run wizard → login → register a patient → 认定备案 → the township's 医保 reviewer approves it
(a real township server on 127.0.0.1, reached by the app's own background sync pass) → prescribe →
dispense and settle → print (a PDF produced) → the records are queued in the outbox for upload.
And the refusal paths: an invalid 身份证号, a drug outside the 两病 scope, an early refill with its
first allowed date, a missing policy setting."""

from __future__ import annotations

import subprocess
from datetime import date, timedelta
from decimal import Decimal

import pytest
from PySide6.QtCore import Qt
from PySide6.QtPrintSupport import QPrinter
from sqlalchemy import select

from clinic import stock
from clinic.db.models import Dispense, Filing, OutboxEntry, Prescription, Settlement
from clinic.idcard import make_id_number
from desktop.gui.app import GuiOptions, Startup
from desktop.gui.dispense_dialog import DispenseDialog
from desktop.gui.filing_dialog import FilingDialog
from desktop.gui.first_run import FirstRunDialog
from desktop.gui.login import LoginDialog
from desktop.gui.main_window import MainWindow
from desktop.gui.new_patient import NewPatientDialog
from desktop.gui.prescribe_dialog import PrescribeDialog
from desktop.gui.rx_lines import DAYS
from tests.gui.a1_helpers import TODAY, click, modal, type_into, wait_idle

AMLODIPINE = "XC08CAS00101"          # 苯磺酸氨氯地平片 5mg in the bundled starter catalogue
AMOXICILLIN = "XJ01CAS00101"         # 阿莫西林胶囊, an ordinary outpatient drug
ID_NUMBER = make_id_number("420704", date(1956, 5, 3), 12)


@pytest.fixture
def township(tmp_path):
    from sync.server.storage import open_server_database
    from tests.sync.helpers import LiveServer

    path = tmp_path / "township.db"
    open_server_database(path).close()
    server = LiveServer.start(str(path))
    yield server
    server.stop()


def first_run_and_login(qtbot, path, *, region: str = "ezhou") -> Startup:
    startup = Startup(GuiOptions(db=path, today=TODAY), interactive=False)
    startup.start()
    wizard = modal(qtbot, FirstRunDialog)
    type_into(qtbot, wizard.code, "H42070400101")
    type_into(qtbot, wizard.name, "临江村卫生室")
    wizard.region.setCurrentIndex(wizard.region.findData(region))
    type_into(qtbot, wizard.township, "临江乡卫生院")
    type_into(qtbot, wizard.admin, "wangjh")
    type_into(qtbot, wizard.admin_name, "王建华")          # the village doctor is also the administrator
    type_into(qtbot, wizard.secret, "cun-yi-1234")
    type_into(qtbot, wizard.secret2, "cun-yi-1234")
    wizard.save()
    login = modal(qtbot, LoginDialog)
    type_into(qtbot, login.username, "wangjh")
    type_into(qtbot, login.secret, "cun-yi-1234")
    with qtbot.waitSignal(startup.ready, timeout=30000):
        qtbot.keyClick(login.secret, Qt.Key.Key_Return)
    wait_idle(qtbot, startup.ctx)
    return startup


def choose_payment_standard(qtbot, window: MainWindow) -> None:
    """鄂州's document names no 医保支付标准: the administrator chooses its source in 设置 (typed in words)."""
    window.show_view("settings")
    policy = window.page("settings").policy
    qtbot.waitUntil(lambda: policy.view is not None, timeout=20000)
    assert [row.key for row in policy.view.missing] == ["payment_standard"]
    policy.set_value("payment_standard", "中选价")
    with qtbot.waitSignal(policy.loaded, timeout=20000):
        policy.save_button.click()
    assert policy.view.missing == [] and "本地设置已齐全" in policy.missing.text()


def register_patient(qtbot, window: MainWindow, *, managed: bool = False) -> None:
    """F2 on the patients page; a mistyped number is explained before anything is saved."""
    window.show_view("patients")
    click(qtbot, window.patients.new_button)
    dialog = modal(qtbot, NewPatientDialog)
    type_into(qtbot, dialog.id_number, ID_NUMBER[:17] + ("0" if ID_NUMBER[17] != "0" else "1"))
    assert "校验码" in dialog.id_info.text()                   # the Chinese reason, live
    type_into(qtbot, dialog.name, "赵桂兰")
    dialog.save()
    wait_idle(qtbot, window.ctx)
    assert dialog.isVisible() and "校验码" in dialog.message.text()
    type_into(qtbot, dialog.id_number, ID_NUMBER)
    assert dialog.id_info.text().startswith("女 · 1956年05月03日生 · 69岁")
    type_into(qtbot, dialog.phone, "13907110001")
    dialog.managed_h.setChecked(managed)              # under public-health 规范化管理 for hypertension
    with qtbot.waitSignal(window.patient_page.loaded, timeout=20000):
        dialog.save()
    wait_idle(qtbot, window.ctx)
    assert window.current_view() == "patient" and window.patient_page.name.text() == "赵桂兰"


def file_initial(qtbot, window: MainWindow) -> None:
    page = window.patient_page
    page.tabs.setCurrentWidget(page.filings)
    click(qtbot, page.filings.new_button)
    dialog = modal(qtbot, FilingDialog)
    dialog.history_text.setPlainText("头晕头痛3年，多次测量血压 160/100 mmHg，诊断原发性高血压2级")
    dialog.plan_text.setPlainText("苯磺酸氨氯地平片 5mg 每日1次")
    type_into(qtbot, dialog.icd10, "I10")
    click(qtbot, dialog.submit_button)
    wait_idle(qtbot, window.ctx)
    assert page.filings.rows[0].state_text == "已提交"
    assert page.entitled.text().startswith("今日未享受")


def sync_now(qtbot, window: MainWindow) -> None:
    window.show_view("home")
    wait_idle(qtbot, window.ctx)
    click(qtbot, window.home.sync_button)
    wait_idle(qtbot, window.ctx)
    assert window.sync_state.online is True, window.sync_state.last_error


def pick(qtbot, dialog: PrescribeDialog, text: str, code: str) -> None:
    """Type into the drug picker as the doctor does, wait until the list shows the drug first (not the
    answer to a half-typed query), press Enter."""
    dialog.picker.search.clear()
    qtbot.keyClicks(dialog.picker.search, text)
    qtbot.waitUntil(lambda: bool(dialog.picker.options) and dialog.picker.options[0].code == code, timeout=10000)
    with qtbot.waitSignal(dialog.checked, timeout=10000):
        qtbot.keyClick(dialog.picker.search, Qt.Key.Key_Return)


def prescribe(qtbot, window: MainWindow) -> None:
    page = window.patient_page
    page.tabs.setCurrentWidget(page.prescriptions)
    click(qtbot, page.prescriptions.new_button)
    dialog = modal(qtbot, PrescribeDialog)
    qtbot.waitUntil(lambda: dialog.info is not None and bool(dialog.picker.options), timeout=10000)
    pick(qtbot, dialog, "amxl", AMOXICILLIN)                   # 阿莫西林: not a 两病 drug
    assert "超范围用药：阿莫西林胶囊 不属于“两病”用药，请按普通门诊开具" in dialog.lines.details.text()
    assert not dialog.save_button.isEnabled()
    dialog.lines.remove(0)
    pick(qtbot, dialog, "bhsaldp", AMLODIPINE)                 # 苯磺酸氨氯地平片 by pinyin initials
    dialog.lines.table.cellWidget(0, DAYS).setValue(30)
    qtbot.waitUntil(lambda: dialog.checked_up_to_date() and dialog.save_button.isEnabled(), timeout=10000)
    with qtbot.waitSignal(dialog.saved, timeout=20000):       # saved, and the dialog closes (deleted)
        click(qtbot, dialog.save_button)
    wait_idle(qtbot, window.ctx)
    assert page.prescriptions.rows and page.prescriptions.rows[0].state == "有效"


def dispense_settle_and_print(qtbot, window: MainWindow, tmp_path) -> None:
    page = window.patient_page
    page.tabs.setCurrentWidget(page.dispensing)
    click(qtbot, page.dispensing.dispense_button)
    dialog = modal(qtbot, DispenseDialog)
    qtbot.waitUntil(lambda: dialog.confirm_button.isEnabled(), timeout=20000)
    assert dialog.view.values["total"].text() == "1.80"       # 30 × 0.06 (sample price), Ezhou 居民 60 %
    assert dialog.view.values["fund_pay"].text() == "1.08"
    with qtbot.waitSignal(dialog.settled, timeout=20000):
        click(qtbot, dialog.confirm_button)
    with qtbot.waitSignal(dialog.pdf_shown, timeout=20000) as shown:
        click(qtbot, dialog.print_receipt)
    preview = shown.args[0]
    printer = QPrinter(QPrinter.PrinterMode.HighResolution)   # the system printer, here a PDF file
    printer.setOutputFormat(QPrinter.OutputFormat.PdfFormat)
    printed = tmp_path / "printed-receipt.pdf"
    printer.setOutputFileName(str(printed))
    with qtbot.waitSignal(preview.printed, timeout=30000):
        preview.print_on(printer)
    assert printed.stat().st_size > 1000
    source = tmp_path / "receipt.pdf"
    source.write_bytes(preview.pdf)
    text = subprocess.run(["pdftotext", "-layout", str(source), "-"], capture_output=True, text=True,
                          check=True).stdout
    assert "赵桂兰" in text and "苯磺酸氨氯地平片" in text and "1.08" in text
    preview.close()
    dialog.reject()
    wait_idle(qtbot, window.ctx)


def test_fresh_clinic_register_file_approve_prescribe_dispense_print_and_queue(qtbot, tmp_path, township):
    path = tmp_path / "clinic.db"
    startup = first_run_and_login(qtbot, path)
    window, ctx = startup.window, startup.ctx
    try:
        # Set-up outside this screens: the township enrols the clinic, the first delivery arrives.
        from sync.client import enrol

        enrol(ctx.db, township.url, township.add_clinic("H42070400101"))
        with ctx.db.session("wangjh") as s:
            stock.receive(s, AMLODIPINE, "A2601", date(2027, 12, 31), Decimal(500), TODAY)
        window.refresh_sync_state()
        choose_payment_standard(qtbot, window)

        register_patient(qtbot, window)
        patient_id = window.patient_page.patient_id
        file_initial(qtbot, window)

        sync_now(qtbot, window)                                # the filing reaches the township …
        from sync.server.review import approve_filing

        with ctx.db.session() as s:
            filing_id = s.scalar(select(Filing.id).where(Filing.patient_id == patient_id))
        approve_filing(township.db, filing_id, "reviewer", "同意备案")
        sync_now(qtbot, window)                                # … and its approval comes back
        window.open_patient(patient_id)
        wait_idle(qtbot, ctx)
        page = window.patient_page
        assert page.filings.rows[0].state_text == "已通过"
        assert page.entitled.text().startswith("今日享受“两病”待遇：高血压（普通）")

        prescribe(qtbot, window)
        dispense_settle_and_print(qtbot, window, tmp_path)

        # An early refill the same day: refused, with the first allowed date in words.
        click(qtbot, page.dispensing.dispense_button)
        again = modal(qtbot, DispenseDialog)
        qtbot.waitUntil(lambda: again.refusal.isVisible() and again.refusal.text() != "", timeout=20000)
        assert again.refusal.text().startswith("重复配药：苯磺酸氨氯地平片 上次所配药量还可用 30 天")
        first = TODAY + timedelta(days=30 - 15)               # seeds/000 附件3 注意2: ≤ 15 days left
        assert again.first_allowed.text().startswith(f"最早可配日期：{first:%Y年%m月%d日}")
        assert not again.confirm_button.isEnabled()
        again.reject()

        # Everything made today waits in the outbox for the next upload, and the home screen says so.
        with ctx.db.session() as s:
            queued = {row.record_type: row.status for row in s.scalars(select(OutboxEntry).where(
                OutboxEntry.status == "pending"))}
            assert queued.keys() >= {"prescription", "dispense", "settlement"}
            assert s.scalar(select(Settlement.state).where(Settlement.patient_id == patient_id)) == "settled_offline"
            assert s.scalar(select(Dispense.id).where(Dispense.patient_id == patient_id)) is not None
            assert s.scalar(select(Prescription.id).where(Prescription.patient_id == patient_id)) is not None
        window.refresh_sync_state()
        window.show_view("home")
        wait_idle(qtbot, ctx)
        unsent = next(box for title, box in window.home.boxes.items() if title.startswith("结算待上传"))
        assert unsent.count() == 1 and unsent.item(0).text().startswith("赵桂兰")
        assert f"待上传 {window.sync_state.pending} 条" in window.sync_label.text()
        assert window.sync_state.pending >= 3
        assert window.home.backup_text.text().startswith("最近一次完好的备份：")     # the day's first start
        assert list((path.parent / "backups").glob("clinic-*-daily.db"))
    finally:
        startup.close()
    assert list((path.parent / "backups").glob("clinic-*-exit.db"))       # and on exit, after the day's work


def test_a_missing_policy_setting_is_named_and_nothing_is_settled_until_it_is_filled_in(qtbot, tmp_path):
    """吕梁 (seeds/002) leaves the refill window, the ratios and the caps to the 统筹区: the screens name
    the missing setting instead of guessing a figure, and no settlement is written."""
    startup = first_run_and_login(qtbot, tmp_path / "lvliang.db", region="lvliang")
    window, ctx = startup.window, startup.ctx
    try:
        assert window.home.status.text().startswith(
            "今日工作无法加载：政策“吕梁市“两病”门诊用药保障”缺少本地设置：续配窗口")
        with ctx.db.session("wangjh") as s:
            stock.receive(s, AMLODIPINE, "A2601", date(2027, 12, 31), Decimal(500), TODAY)
        register_patient(qtbot, window, managed=True)       # 吕梁 entitles managed patients without a filing
        assert window.patient_page.entitled.text().startswith("今日享受“两病”待遇：高血压（普通）")
        prescribe(qtbot, window)
        page = window.patient_page
        page.tabs.setCurrentWidget(page.dispensing)
        click(qtbot, page.dispensing.dispense_button)
        dialog = modal(qtbot, DispenseDialog)
        qtbot.waitUntil(lambda: dialog.refusal.isVisible() and dialog.refusal.text() != "", timeout=20000)
        assert "缺少本地设置：续配窗口" in dialog.refusal.text()
        assert "请管理员在设置中填写" in dialog.refusal.text()
        assert not dialog.confirm_button.isEnabled()
        dialog.reject()
        with ctx.db.session() as s:
            assert s.scalar(select(Settlement.id)) is None
    finally:
        startup.close()
