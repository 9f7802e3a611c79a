"""设置 page through the real widgets on a real database: missing policy settings highlighted then saved,
the clinic profile, users (add, reset, unlock), backups, enrolment with a real township server, and the
audit log showing the changes made here."""

from __future__ import annotations

from datetime import date

import openpyxl
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog, QMessageBox

from clinic.db.engine import open_database
from clinic.db.models import Setting
from clinic.patients import register_patient
from clinic.profile import create_local_institution, local_institution
from clinic.users import MAX_FAILED_LOGINS, authenticate, create_user, login_state
from desktop.gui.settings_page import SettingsPage
from desktop.gui.settings_sections import GIVEN_FG, MISSING_BG, REJECTED_BG
from tests.gui.b_helpers import finish_b_tasks, install_app_fonts, make_ctx, settle  # noqa: F401 (an autouse fixture)

TODAY = date(2026, 3, 15)


@pytest.fixture
def lvliang_db(tmp_path):
    """A village clinic under the 吕梁 policy, whose document leaves ratios, caps and more to the clinic."""
    database = open_database(tmp_path / "lvliang.db")
    with database.session("setup") as s:
        create_local_institution(s, "J14110200101", "离石区信义镇村卫生室", "1", "lvliang", None, "信义镇卫生院")
    database.load_local_institution()
    with database.session("setup") as s:
        create_user(s, "admin", "管理员", "admin", "admin1234")
        create_user(s, "doctor", "王医生", "doctor", "demo1234")
    yield database
    database.close()


def open_page(qtbot, qapp, db, role="admin") -> SettingsPage:
    install_app_fonts(qapp)
    ctx = make_ctx(db, role, TODAY)
    page = SettingsPage(ctx)
    qtbot.addWidget(page)
    page.resize(1366, 768)
    page.show()
    with qtbot.waitSignal(page.policy.loaded, timeout=20000):
        page.refresh()
    settle(qtbot, ctx)
    return page


def show_tab(qtbot, page: SettingsPage, title: str) -> None:
    index = [page.tabs.tabText(i) for i in range(page.tabs.count())].index(title)
    page.tabs.setCurrentIndex(index)
    settle(qtbot, page.ctx)


def test_missing_policy_settings_are_highlighted_then_saved(qtbot, qapp, lvliang_db):
    page = open_page(qtbot, qapp, lvliang_db)
    policy = page.policy
    missing = {row.key for row in policy.view.missing}
    assert {"ratios.resident.1", "caps.resident.ordinary", "secondary_factor",
            "prescription.refill_window_days"} <= missing
    assert f"还有 {len(missing)} 项本地设置未填写" in policy.missing.text()
    r = policy.row_of("ratios.resident.1")
    assert policy.table.item(r, 0).background().color() == MISSING_BG
    assert policy.table.item(r, 1).flags() & Qt.ItemFlag.ItemIsEditable
    # What the document gives (吕梁: 起付标准 30 元) is shown, not editable.
    given = policy.row_of("deductible")
    assert policy.table.item(given, 1).text() == "30"
    assert not policy.table.item(given, 1).flags() & Qt.ItemFlag.ItemIsEditable
    assert policy.table.item(given, 0).foreground().color() == GIVEN_FG
    page.grab().save("/tmp/b_settings_policy.png")

    # A ratio above 1 is refused: the row is marked, and nothing of this save is stored.
    policy.set_value("caps.resident.ordinary", "1000")
    policy.set_value("ratios.resident.1", "1.5")
    policy.save_button.click()
    qtbot.waitUntil(lambda: "0 到 1" in policy.message.text(), timeout=20000)
    assert policy.table.item(policy.row_of("ratios.resident.1"), 0).background().color() == REJECTED_BG
    with lvliang_db.session() as s:
        assert s.get(Setting, "policy.lvliang.caps.resident.ordinary") is None

    policy.set_value("ratios.resident.1", "0.55")
    with qtbot.waitSignal(policy.loaded, timeout=20000):
        policy.save_button.click()
    assert policy.message.text() == "本地设置已保存"
    with lvliang_db.session() as s:
        assert s.get(Setting, "policy.lvliang.ratios.resident.1").value == "0.55"
        assert s.get(Setting, "policy.lvliang.caps.resident.ordinary").value == "1000"
    saved = [row for row in policy.view.rows if row.key == "ratios.resident.1"][0]
    assert saved.source == "local" and saved.value == "0.55"
    assert len(policy.view.missing) == len(missing) - 2
    settle(qtbot, page.ctx)


def test_the_audit_log_shows_a_settings_change_and_exports_it(qtbot, qapp, lvliang_db, tmp_path, monkeypatch):
    with lvliang_db.session("doctor") as s:
        register_patient(s, name="张三", id_number="420704196001010016", insurance="resident")
    page = open_page(qtbot, qapp, lvliang_db)
    page.policy.set_value("secondary_factor", "0.5")
    with qtbot.waitSignal(page.policy.loaded, timeout=20000):
        page.policy.save_button.click()
    show_tab(qtbot, page, "审计日志")
    audit = page.audit
    qtbot.waitUntil(lambda: audit.table.rowCount() > 0, timeout=20000)
    texts = [[audit.table.item(r, c).text() for c in range(6)] for r in range(audit.table.rowCount())]
    change = [t for t in texts if t[2] == "设置" and "policy.lvliang.secondary_factor" in t[5]]
    assert change and change[0][1] == "admin" and change[0][4] == "新增" and "value: None → 0.5" in change[0][5]
    page.grab().save("/tmp/b_settings_audit.png")
    # Filter by user: the doctor's patient registration only.
    audit.user.setCurrentIndex(audit.user.findData("doctor"))
    with qtbot.waitSignal(audit.loaded, timeout=20000):
        audit.query_button.click()
    assert {audit.table.item(r, 1).text() for r in range(audit.table.rowCount())} == {"doctor"}
    assert any(audit.table.item(r, 2).text() == "患者" for r in range(audit.table.rowCount()))

    # The export holds the patient's ID number: the user is asked, and chooses to mask it.
    target = tmp_path / "audit.xlsx"
    asked = []

    def choose_masked(box):
        asked.append(box.text())
        box.buttons()[1].click()        # 遮盖身份证号后导出
        return 0
    monkeypatch.setattr(QMessageBox, "exec", choose_masked)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, **k: (str(target), ""))
    with qtbot.waitSignal(audit.exported, timeout=20000):
        audit.export_button.click()
    assert asked and "1 个身份证号" in asked[0]
    cells = [str(c) for row in openpyxl.load_workbook(target).active.iter_rows(values_only=True) for c in row if c]
    assert any("420704********0016" in c for c in cells)
    assert not any("420704196001010016" in c for c in cells)
    settle(qtbot, page.ctx)


def test_profile_changes_are_saved_and_the_code_is_kept(qtbot, qapp, lvliang_db):
    page = open_page(qtbot, qapp, lvliang_db)
    profile = page.profile
    qtbot.waitUntil(lambda: profile.name.text() != "", timeout=20000)
    assert profile.code.text() == "J14110200101"
    profile.name.setText("离石区信义镇信义村卫生室")
    with qtbot.waitSignal(page.clinic_renamed, timeout=20000) as renamed:
        profile.save_button.click()
    assert renamed.args == ["离石区信义镇信义村卫生室"] and page.ctx.clinic_name == renamed.args[0]
    with lvliang_db.session() as s:
        assert local_institution(s).name == "离石区信义镇信义村卫生室"
        assert local_institution(s).code == "J14110200101"
    profile.name.setText("  ")
    profile.save_button.click()
    qtbot.waitUntil(lambda: "不能为空" in profile.message.text(), timeout=20000)
    settle(qtbot, page.ctx)


def test_an_administrator_adds_a_user_and_unlocks_a_locked_one(qtbot, qapp, lvliang_db):
    for _ in range(MAX_FAILED_LOGINS):
        with pytest.raises(ValueError), lvliang_db.session("doctor") as s:
            authenticate(s, "doctor", "wrong")
    with lvliang_db.session() as s:
        assert login_state(s, "doctor")[1] is not None
    page = open_page(qtbot, qapp, lvliang_db)
    show_tab(qtbot, page, "用户")
    users = page.users
    qtbot.waitUntil(lambda: len(users.rows) == 2, timeout=20000)
    r = [row.username for row in users.rows].index("doctor")
    assert users.table.item(r, 4).text().startswith("已锁定至")
    page.grab().save("/tmp/b_settings_users.png")
    users.table.selectRow(r)
    assert users.unlock_button.isEnabled()
    with qtbot.waitSignal(users.loaded, timeout=20000):
        users.unlock_button.click()
    assert users.table.item(r, 4).text() == "启用" and "已解锁" in users.message.text()
    # The doctor forgot the password: the administrator sets a new one.
    reset = users.open_account("doctor")
    reset.secret.setText("5678")
    reset.secret2.setText("5678")
    with qtbot.waitSignal(users.loaded, timeout=20000):
        reset.ok.click()
    assert "已重置 doctor 的密码" in users.message.text()
    with lvliang_db.session() as s:
        assert authenticate(s, "doctor", "5678").username == "doctor"

    dialog = users.open_account(None)
    dialog.username.setText("pharmacist")
    dialog.name.setText("李药师")
    dialog.role.setCurrentIndex(dialog.role.findData("pharmacist"))
    dialog.secret.setText("1234")
    dialog.secret2.setText("1235")
    dialog.ok.click()
    assert "不一致" in dialog.message.text()
    dialog.secret2.setText("1234")
    with qtbot.waitSignal(users.loaded, timeout=20000):
        dialog.ok.click()
    assert [row.username for row in users.rows] == ["admin", "doctor", "pharmacist"]
    with lvliang_db.session() as s:
        assert authenticate(s, "pharmacist", "1234").role == "pharmacist"
    # The last administrator cannot be demoted.
    users.table.selectRow(0)
    users.role.setCurrentIndex(users.role.findData("doctor"))
    users.role_button.click()
    qtbot.waitUntil(lambda: "至少保留一名管理员" in users.message.text(), timeout=20000)
    settle(qtbot, page.ctx)


def test_backup_now_writes_a_verified_backup_and_lists_it(qtbot, qapp, lvliang_db, tmp_path):
    page = open_page(qtbot, qapp, lvliang_db)
    show_tab(qtbot, page, "备份与恢复")
    backup = page.backup
    qtbot.waitUntil(lambda: backup.state is not None, timeout=20000)
    assert "还没有任何备份" in backup.status.text()
    usb = tmp_path / "usb"
    backup.second.setText(str(usb))             # not plugged in yet
    backup.save_button.click()
    qtbot.waitUntil(lambda: "不可用" in backup.message.text(), timeout=20000)
    usb.mkdir()
    with qtbot.waitSignal(backup.backed_up, timeout=30000) as done:
        backup.backup_button.click()
    assert "校验完好" in done.args[0] and str(usb) in done.args[0]
    qtbot.waitUntil(lambda: backup.table.rowCount() == 1, timeout=20000)
    assert backup.table.item(0, 1).text() == "手动"
    assert list(usb.glob("lvliang-*-manual.db"))
    assert "最近一次完好的备份" in backup.status.text()
    page.grab().save("/tmp/b_settings_backup.png")
    settle(qtbot, page.ctx)


def test_enrolling_with_the_township_server(qtbot, qapp, tmp_path):
    from sync.server.storage import open_server_database
    from tests.sync.helpers import LiveServer, make_clinic

    open_server_database(tmp_path / "township.db").close()
    server = LiveServer.start(str(tmp_path / "township.db"))
    try:
        db = make_clinic(tmp_path / "clinic.db", "H42070400109", drugs=False)
        with db.session("setup") as s:
            create_user(s, "admin", "管理员", "admin", "admin1234")
        page = open_page(qtbot, qapp, db)
        show_tab(qtbot, page, "服务器与打印机")
        section = page.server
        assert "尚未接入" in section.state.text()
        section.url.setText(server.url)
        section.code.setText("wrong-code")
        section.enrol_button.click()
        qtbot.waitUntil(lambda: "接入失败" in section.message.text(), timeout=30000)
        section.code.setText(server.add_clinic("H42070400109", "临江村卫生室"))
        with qtbot.waitSignal(page.enrolled, timeout=30000) as enrolled:
            section.enrol_button.click()
        assert enrolled.args == ["临江村卫生室"]
        qtbot.waitUntil(lambda: "已接入" in section.state.text(), timeout=20000)
        assert server.url in section.state.text()
        qtbot.wait(50)
        page.grab().save("/tmp/b_settings_server.png")
        settle(qtbot, page.ctx)
        db.close()
    finally:
        server.stop()


def test_a_doctor_sees_settings_read_only_and_no_admin_tabs(qtbot, qapp, lvliang_db):
    page = open_page(qtbot, qapp, lvliang_db, "doctor")
    titles = [page.tabs.tabText(i) for i in range(page.tabs.count())]
    assert titles == ["机构与医保政策", "服务器与打印机"]
    assert not page.policy.save_button.isEnabled() and not page.profile.save_button.isEnabled()
    r = page.policy.row_of("ratios.resident.1")
    assert not page.policy.table.item(r, 1).flags() & Qt.ItemFlag.ItemIsEditable
    assert page.policy.table.item(r, 0).background().color() == MISSING_BG     # still shown as missing
    settle(qtbot, page.ctx)


def test_restoring_a_backup_says_what_happens_then_brings_the_backup_back(qtbot, qapp, lvliang_db, monkeypatch):
    with lvliang_db.session("doctor") as s:
        register_patient(s, name="张三", id_number="420704196001010016", insurance="resident")
    page = open_page(qtbot, qapp, lvliang_db)
    show_tab(qtbot, page, "备份与恢复")
    backup = page.backup
    with qtbot.waitSignal(backup.backed_up, timeout=30000):
        backup.backup_button.click()
    qtbot.waitUntil(lambda: backup.table.rowCount() == 1, timeout=20000)
    with lvliang_db.session("doctor") as s:          # written after the backup, never synced
        register_patient(s, name="李四", id_number="110101199003070011", insurance="resident")
    asked = []
    monkeypatch.setattr(QMessageBox, "question",
                        lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.Yes)
    backup.table.selectRow(0)
    with qtbot.waitSignal(backup.restored, timeout=30000) as restored:
        backup.restore_button.click()
    assert asked and "当前数据库会先另存" in asked[0]
    assert "备份之后未上传的修改 1 条（患者 1）" in asked[0]         # what will be lost from the live file
    assert any("原数据库已另存为" in line for line in restored.args[0])
    # The same Database object now reads the restored file: 张三 is there, 李四 (after the backup) is not.
    from clinic.db.models import Patient
    with lvliang_db.session() as s:
        names = {p.name for p in s.query(Patient)}
    assert names == {"张三"}
    aside = list(lvliang_db.path.parent.glob("lvliang.db.before-restore-*"))
    assert len(aside) == 1
    settle(qtbot, page.ctx)
