"""设置 → 医保政策与本地设置: the administrator sets how far back a purchase may be entered (补录,
clinic/dispensing.py); a doctor sees it but cannot change it."""

from __future__ import annotations

from datetime import date

from clinic.dispensing import backdate_days
from desktop.gui.settings_page import SettingsPage
from tests.gui.b_helpers import finish_b_tasks, install_app_fonts, make_ctx, settle  # noqa: F401 (an autouse fixture)


def _page(qtbot, qapp, db, role: str) -> SettingsPage:
    install_app_fonts(qapp)
    page = SettingsPage(make_ctx(db, role, date(2026, 3, 15)))
    qtbot.addWidget(page)
    page.show()
    with qtbot.waitSignal(page.policy.loaded, timeout=20000):
        page.refresh()
    settle(qtbot, page.ctx)
    return page


def test_administrator_sets_the_backdating_limit(qtbot, qapp, db):
    page = _page(qtbot, qapp, db, "admin")
    assert page.policy.backdate.value() == 7                 # the product default until changed
    page.policy.backdate.setValue(3)
    with qtbot.waitSignal(page.policy.loaded, timeout=20000):
        page.policy.backdate_button.click()
    assert "补录期限已设为 3 天" in page.policy.message.text()
    with db.session() as s:
        assert backdate_days(s) == 3


def test_a_doctor_cannot_change_the_backdating_limit(qtbot, qapp, db):
    page = _page(qtbot, qapp, db, "doctor")
    assert not page.policy.backdate.isEnabled() and not page.policy.backdate_button.isEnabled()
