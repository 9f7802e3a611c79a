"""The GUI thread never runs database work (issue 4 item 11; DESIGN.md "The GUI never blocks").

Every SQL statement any engine executes is recorded with the thread that ran it (a SQLAlchemy
`before_cursor_execute` listener on the Engine class, so the engine the app opens itself at start-up
is covered too); then the main screens are driven as a doctor would, and no statement may have
run on the GUI thread."""

from __future__ import annotations

import threading

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLineEdit
from sqlalchemy import event, select
from sqlalchemy.engine import Engine

from clinic.db.models import Patient
from desktop.gui.app import GuiOptions, Startup
from desktop.gui.dispense_dialog import DispenseDialog
from desktop.gui.filing_dialog import FilingDialog
from desktop.gui.followup_tab import FollowUpDialog
from desktop.gui.new_patient import NewPatientDialog
from desktop.gui.patient_page import TABS
from desktop.gui.prescribe_dialog import PrescribeDialog
from tests.gui.a1_helpers import TODAY, child, modal, type_into, wait_idle


class StatementLog:
    def __init__(self):
        self.on_gui: list[str] = []
        self.on_workers = 0
        self.gui_thread = threading.main_thread()

    def __call__(self, conn, cursor, statement, parameters, context, executemany) -> None:
        if threading.current_thread() is self.gui_thread:
            self.on_gui.append(statement.split("\n")[0][:120])
        else:
            self.on_workers += 1


@pytest.fixture
def statements():
    log = StatementLog()
    event.listen(Engine, "before_cursor_execute", log)
    yield log
    event.remove(Engine, "before_cursor_execute", log)


def unfiled_patient(path) -> tuple[str, str]:
    """A demo patient with no filing (so a 认定备案 can be made), read before the test starts."""
    from clinic.db.engine import open_database
    from clinic.db.models import Filing

    db = open_database(path)
    try:
        with db.session() as s:
            return s.execute(select(Patient.id, Patient.name).where(Patient.id.not_in(select(Filing.patient_id)))
                             .limit(1)).one()
    finally:
        db.close()


def test_driving_the_main_screens_runs_no_sql_on_the_gui_thread(qtbot, demo_path, statements):
    patient_id, name = unfiled_patient(demo_path)          # the test's own look-up does not count
    statements.on_gui.clear()
    statements.on_workers = 0
    startup = Startup(GuiOptions(db=demo_path, demo_login=True, today=TODAY), interactive=False)
    startup.start()                                        # opening and migrating the file, the demo login
    qtbot.waitUntil(lambda: startup.window is not None, timeout=20000)
    window, ctx = startup.window, startup.ctx
    try:
        wait_idle(qtbot, ctx)                              # home: today's lists, sync state
        window.show_view("patients")                       # search as you type
        search = child(window.patients, QLineEdit, "patientSearch")
        with qtbot.waitSignal(window.patients.results_shown, timeout=10000):
            type_into(qtbot, search, name[0])
        qtbot.keyClick(search, Qt.Key.Key_Return)
        wait_idle(qtbot, ctx)
        assert window.current_view() == "patient"
        window.open_patient(patient_id)                    # the patient page and every tab
        for index in range(len(TABS)):
            window.patient_page.tabs.setCurrentIndex(index)
            wait_idle(qtbot, ctx)

        filings = window.patient_page.filings              # a 认定备案 saved and submitted
        filings.new_button.click()
        dialog = modal(qtbot, FilingDialog)
        dialog.history_text.setPlainText("头晕2年，多次测量血压 160/100 mmHg，诊断原发性高血压")
        dialog.plan_text.setPlainText("苯磺酸氨氯地平片 5mg 每日1次")
        dialog.submit_button.click()
        wait_idle(qtbot, ctx)
        assert not dialog.isVisible(), dialog.message.text()
        filings.print_button.click()                       # 附件2 rendered for the preview
        wait_idle(qtbot, ctx)
        filings.preview.close()

        followups = window.patient_page.followups          # a follow-up recorded, the chart redrawn
        followups.add_button.click()
        visit = modal(qtbot, FollowUpDialog)
        visit.sbp.setText("150")
        visit.dbp.setText("95")
        visit.save()
        wait_idle(qtbot, ctx)
        assert not visit.isVisible(), visit.message.text()

        for cls in (PrescribeDialog, DispenseDialog):      # the prescribing and dispensing dialogs load
            opened = cls(ctx, patient_id, window)
            opened.open()
            wait_idle(qtbot, ctx)
            opened.reject()

        window.show_view("patients")                       # the new-patient dialog's live ID look-up
        window.patients.new_button.click()
        new = modal(qtbot, NewPatientDialog)
        type_into(qtbot, new.id_number, window.patient_page.details.id_number)
        wait_idle(qtbot, ctx)
        assert new.open_existing.isVisible()
        new.reject()

        for view in ("reports", "stock", "home"):
            window.show_view(view)
            wait_idle(qtbot, ctx)
    finally:
        startup.close()
    assert statements.on_workers > 50                      # the listener saw the app's work …
    assert "\n".join(statements.on_gui) == ""              # … and none of it on the GUI thread
