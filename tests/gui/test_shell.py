"""Start-up and the main window through the real widgets (issue 4 items 1, 11; issue 7 items 4, 5):
a new database opens the first-run wizard, then login; wrong passwords lock the account; the screen
locks when idle; roles hide what they may not do; the demo database is marked as demo."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QApplication, QComboBox, QLabel, QLineEdit, QPushButton

from clinic.db.engine import open_database
from desktop.gui.app import GuiOptions, Startup
from desktop.gui.first_run import FirstRunDialog
from desktop.gui.login import LoginDialog
from desktop.gui.main_window import MainWindow
from tests.gui.a1_helpers import (
    ADMIN,
    DOCTOR,
    PHARMACIST,
    SECRET,
    TODAY,
    add_staff,
    child,
    click,
    make_ctx,
    modal,
    type_into,
    wait_idle,
)


def start(qtbot, options: GuiOptions) -> Startup:
    startup = Startup(options, interactive=False)
    startup.start()
    return startup


def login(qtbot, dialog: LoginDialog, username: str, secret: str) -> None:
    type_into(qtbot, dialog.username, username)
    type_into(qtbot, dialog.secret, secret)
    qtbot.keyClick(dialog.secret, Qt.Key.Key_Return)


def test_new_database_runs_the_first_run_wizard_then_login_opens_the_main_window(qtbot, tmp_path):
    path = tmp_path / "new-clinic.db"
    startup = start(qtbot, GuiOptions(db=path, today=TODAY))
    try:
        wizard = modal(qtbot, FirstRunDialog)
        type_into(qtbot, wizard.code, "H42070400199")
        type_into(qtbot, wizard.name, "临江村卫生室")
        wizard.region.setCurrentIndex(wizard.region.findData("ezhou"))
        type_into(qtbot, wizard.secret, "adminpass")
        type_into(qtbot, wizard.secret2, "adminpasX")
        wizard.save()
        assert wizard.message.text() == "两次输入的密码不一致"
        type_into(qtbot, wizard.secret2, "adminpass")
        wizard.save()
        dialog = modal(qtbot, LoginDialog)
        assert "临江村卫生室" in dialog.windowTitle()
        with qtbot.waitSignal(startup.ready, timeout=20000):
            login(qtbot, dialog, "admin", "adminpass")
        window = startup.window
        assert isinstance(window, MainWindow)
        assert window.windowTitle() == "两病门诊用药保障 — 临江村卫生室"
        assert not window.demo_label.isVisible()
        assert "管理员" in window.user_label.text()
        assert not window.nav.item(4).isHidden()            # 设置: the administrator's
        wait_idle(qtbot, startup.ctx)
    finally:
        startup.close()
    db = open_database(path, create=False)                  # the wizard's profile and catalogue were saved
    try:
        from clinic.profile import local_institution
        with db.session() as s:
            assert local_institution(s).region == "ezhou"
            from sqlalchemy import func, select

            from clinic.db.models import Drug
            assert s.scalar(select(func.count()).select_from(Drug)) > 10
    finally:
        db.close()


def test_wrong_password_says_so_and_five_in_a_row_show_the_lockout_message(qtbot, db):
    add_staff(db)
    ctx = make_ctx(db, user=None)
    dialog = LoginDialog(ctx)
    qtbot.addWidget(dialog)
    dialog.show()
    for _ in range(4):
        login(qtbot, dialog, "doctor", "wrong-pass")
        wait_idle(qtbot, ctx)
        assert dialog.message.text().startswith("用户名或密码错误")
        assert dialog.secret.text() == ""
    login(qtbot, dialog, "doctor", "wrong-pass")
    wait_idle(qtbot, ctx)
    assert "已锁定" in dialog.message.text() and "doctor" in dialog.message.text()
    login(qtbot, dialog, "doctor", SECRET)                 # even the right password waits out the lock
    wait_idle(qtbot, ctx)
    assert "已锁定" in dialog.message.text()
    assert ctx.user is None and dialog.isVisible()


def test_idle_screen_locks_hides_the_records_and_only_a_login_uncovers_them(qtbot, db):
    add_staff(db)
    ctx = make_ctx(db, user=DOCTOR)
    window = MainWindow(ctx, idle_minutes=0.002)             # 120 ms of no input
    qtbot.addWidget(window)
    window.show()
    window.show_view("patients")
    wait_idle(qtbot, ctx)
    qtbot.waitUntil(lambda: window.current_view() == "locked", timeout=5000)
    dialog = modal(qtbot, LoginDialog)
    assert "锁定" in dialog.windowTitle()
    assert dialog.username.text() == "doctor"
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)               # Esc must not uncover the records
    assert dialog.isVisible() and window.current_view() == "locked"
    window.idle_lock.timer.setInterval(60_000)
    login(qtbot, dialog, "pharmacist", SECRET)               # someone else sits down
    wait_idle(qtbot, ctx)
    qtbot.waitUntil(lambda: window.current_view() == "home", timeout=5000)
    assert ctx.user.role == "pharmacist"
    assert "李秀英" in window.user_label.text()
    assert not window.patients.new_button.isEnabled()        # a pharmacist does not register patients


def test_roles_hide_what_they_may_not_do(qtbot, demo_db):
    seen = {}
    for user in (DOCTOR, PHARMACIST, ADMIN):
        ctx = make_ctx(demo_db, user=user, demo=True)
        window = MainWindow(ctx)
        qtbot.addWidget(window)
        nav = {window.nav.item(i).text(): not window.nav.item(i).isHidden() for i in range(window.nav.count())}
        filings = window.patient_page.filings
        seen[user.role] = (nav["设置"], window.patients.new_button.isEnabled(), not filings.new_button.isHidden(),
                           not window.patient_page.followups.add_button.isHidden())
        wait_idle(qtbot, ctx)
        window.close()
    assert seen == {"doctor": (False, True, True, True), "pharmacist": (False, False, False, False),
                    "admin": (True, True, True, True)}


def test_demo_database_is_marked_in_the_title_and_the_status_bar(qtbot, demo_path):
    startup = start(qtbot, GuiOptions(db=demo_path, demo_login=True, today=TODAY))
    try:
        qtbot.waitUntil(lambda: startup.window is not None, timeout=20000)
        window = startup.window
        assert "演示数据库" in window.windowTitle()
        assert window.demo_label.isVisible() and "演示" in window.demo_label.text()
        assert window.findChild(QLabel, "demoBanner").isVisible()
        assert startup.ctx.user.username == "doctor"
        wait_idle(qtbot, startup.ctx)
    finally:
        startup.close()


def test_demo_login_is_refused_on_a_real_clinic_database(qtbot, db):
    path = db.path
    db.close()
    startup = start(qtbot, GuiOptions(db=path, demo_login=True))
    with qtbot.waitSignal(startup.finished, timeout=20000) as signal:
        pass
    assert signal.args == [1]
    assert startup.error == "--demo-login 只能用于 liangbing demo 生成的演示数据库"
    startup.close()


def test_the_bundled_cjk_font_is_registered_and_is_the_application_font(qapp):
    family = QApplication.font().family()
    assert family in QFontDatabase.families()
    assert QFontDatabase.applicationFontFamilies(0) or family.startswith("Droid")
    assert "Droid Sans Fallback" in family


def test_home_lists_open_the_patient_with_one_click(qtbot, demo_db):
    ctx = make_ctx(demo_db, user=DOCTOR, demo=True)
    window = MainWindow(ctx)
    qtbot.addWidget(window)
    window.resize(1366, 768)
    window.show()
    wait_idle(qtbot, ctx)
    lists = [box for box in window.home.boxes.values() if box.count() and box.item(0).data(Qt.ItemDataRole.UserRole)]
    assert lists, "the demo clinic has work today"
    box = lists[0]
    item = box.item(0)
    rect = box.visualItemRect(item)
    qtbot.mouseClick(box.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    wait_idle(qtbot, ctx)
    assert window.current_view() == "patient"
    assert window.patient_page.patient_id == item.data(Qt.ItemDataRole.UserRole)
    assert window.patient_page.name.text() == item.text().split("　")[0]


def test_patients_keyboard_only_type_down_enter_opens_the_patient(qtbot, demo_db):
    ctx = make_ctx(demo_db, user=DOCTOR, demo=True)
    window = MainWindow(ctx)
    qtbot.addWidget(window)
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.current_view() == "patients"
    search = child(window.patients, QLineEdit, "patientSearch")
    wait_idle(qtbot, ctx)
    assert window.patients.rows and window.patients.status.text().startswith("最近配过药的")   # before typing
    surname = window_first_surname(demo_db)
    type_into(qtbot, search, surname)
    qtbot.waitUntil(lambda: window.patients.status.text().startswith("找到"), timeout=10000)
    assert window.patients.rows and all(surname in r.name for r in window.patients.rows)
    qtbot.keyClick(search, Qt.Key.Key_Down)
    qtbot.keyClick(window.patients.table, Qt.Key.Key_Return)
    wait_idle(qtbot, ctx)
    assert window.current_view() == "patient"
    assert window.patient_page.patient_id in {r.id for r in window.patients.rows}
    qtbot.keyClick(window.patient_page, Qt.Key.Key_Left, Qt.KeyboardModifier.AltModifier)
    assert window.current_view() == "patients"


def window_first_surname(db) -> str:
    from sqlalchemy import select

    from clinic.db.models import Patient
    with db.session() as s:
        return s.scalar(select(Patient.name).order_by(Patient.name).limit(1))[0]


def test_first_run_refuses_an_empty_profile_in_chinese(qtbot, tmp_path):
    ctx = make_ctx(open_database(tmp_path / "x.db"), user=None)
    wizard = FirstRunDialog(ctx)
    qtbot.addWidget(wizard)
    wizard.show()
    click(qtbot, wizard.findChild(QPushButton) or wizard.findChildren(QPushButton)[0])
    assert wizard.message.text() == "请填写机构编码和机构名称"
    assert wizard.findChild(QComboBox) is not None
    ctx.db.close()


def test_the_same_user_unlocking_finds_the_open_dialog_as_it_was_left(qtbot, db):
    from clinic.idcard import make_id_number
    from clinic.patients import register_patient
    from desktop.gui.followup_tab import FollowUpDialog

    add_staff(db)
    with db.session("doctor") as s:
        patient, _ = register_patient(s, name="钱秀英", id_number=make_id_number("420704", TODAY.replace(1950), 8))
    ctx = make_ctx(db, user=DOCTOR)
    window = MainWindow(ctx)
    qtbot.addWidget(window)
    window.show()
    window.open_patient(patient.id)
    wait_idle(qtbot, ctx)
    window.patient_page.tabs.setCurrentWidget(window.patient_page.followups)
    click(qtbot, window.patient_page.followups.add_button)
    visit = modal(qtbot, FollowUpDialog)
    type_into(qtbot, visit.sbp, "148")
    window.lock()                                        # what Ctrl+L and the idle timer do
    dialog = modal(qtbot, LoginDialog)
    assert not visit.isVisible() and window.current_view() == "locked"
    login(qtbot, dialog, "doctor", SECRET)
    wait_idle(qtbot, ctx)
    assert window.current_view() == "patient"
    assert visit.isVisible() and visit.sbp.text() == "148"
    visit.reject()
