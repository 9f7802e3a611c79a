"""Start-up on an empty clinic file with backups beside it (issue 13 item 4): the damaged-file message
box names the newest backup and the restore command; no first-run wizard, nothing written to the file."""

from __future__ import annotations

from datetime import datetime

from PySide6.QtWidgets import QApplication

from clinic.backup import backup_database
from desktop.gui import app as gui_app
from desktop.gui.app import GuiOptions, Startup
from desktop.gui.first_run import FirstRunDialog
from tests.gui.a1_helpers import TODAY
from tests.ops.helpers import add_patients


def test_gui_refuses_an_empty_clinic_file_with_backups(qtbot, db, monkeypatch):
    add_patients(db, 2)
    newest = backup_database(db.path, now=datetime(2026, 3, 2, 8, 0)).backup.path
    db.close()
    db.path.write_bytes(b"")
    shown: list[tuple[str, str]] = []
    monkeypatch.setattr(gui_app.QMessageBox, "critical", lambda parent, title, text: shown.append((title, text)))
    startup = Startup(GuiOptions(db=db.path, today=TODAY), interactive=True)
    with qtbot.waitSignal(startup.finished, timeout=20000) as finished:
        startup.start()
    startup.runner.wait()
    assert finished.args == [1]
    assert len(shown) == 1, shown
    title, text = shown[0]
    assert title == "无法启动" and "空文件" in text and str(newest) in text and "liangbing restore" in text
    assert not any(isinstance(w, FirstRunDialog) and w.isVisible() for w in QApplication.topLevelWidgets())
    assert db.path.stat().st_size == 0
