"""Builders for helper A1's GUI tests (start-up, main window, patient page, walkthrough): contexts on
real clinic files, staff accounts, and waiting for the task runner and for dialogs."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QInputMethodEvent
from PySide6.QtWidgets import QApplication, QDialog, QWidget

from clinic.users import create_user
from desktop.gui.context import AppContext, UserInfo
from desktop.gui.tasks import TaskRunner

ROOT = Path(__file__).resolve().parents[2]
TODAY = date(2026, 3, 16)
ADMIN = UserInfo("admin", "管理员", "admin")
DOCTOR = UserInfo("doctor", "王建华", "doctor")
PHARMACIST = UserInfo("pharmacist", "李秀英", "pharmacist")
SECRET = "pass1234"


def add_staff(db) -> None:
    """A doctor and a pharmacist (password SECRET) in a clinic that has only its administrator."""
    with db.session("admin") as s:
        create_user(s, DOCTOR.username, DOCTOR.display_name, "doctor", SECRET)
        create_user(s, PHARMACIST.username, PHARMACIST.display_name, "pharmacist", SECRET)


CONTEXTS: list[AppContext] = []          # finished after each test (conftest.finish_a1_tasks)


def make_ctx(db, user: UserInfo | None = DOCTOR, today: date = TODAY, *, demo: bool = False) -> AppContext:
    ctx = AppContext(db=db, runner=TaskRunner(), user=user, clinic_name="临江村卫生室", is_demo=demo,
                     today=lambda: today)
    CONTEXTS.append(ctx)
    return ctx


def wait_idle(qtbot, ctx: AppContext, timeout: int = 20000) -> None:
    """Until every background task has finished and its answer has reached the widgets; twice, over a
    short pause, because an answer may start the next task."""
    for _ in range(2):
        qtbot.waitUntil(lambda: not ctx.runner.busy, timeout=timeout)
        qtbot.wait(20)


def modal(qtbot, cls: type[QDialog] | None = None, timeout: int = 10000) -> QDialog:
    """The dialog (of `cls`) that has been opened and is showing."""
    found: list[QDialog] = []

    def showing() -> bool:
        found[:] = [w for w in QApplication.topLevelWidgets()
                    if isinstance(w, QDialog) and w.isVisible() and (cls is None or isinstance(w, cls))]
        return bool(found)

    qtbot.waitUntil(showing, timeout=timeout)
    return found[-1]


def child(parent: QWidget, cls: type, name: str):
    widget = parent.findChild(cls, name)
    assert widget is not None, f"{parent.__class__.__name__} has no {cls.__name__} named {name}"
    return widget


def type_into(qtbot, widget, text: str) -> None:
    """Keys for ASCII; Chinese arrives as a pinyin IME delivers it, an input-method commit."""
    widget.setFocus()
    widget.clear()
    if text.isascii():
        qtbot.keyClicks(widget, text)
    else:
        event = QInputMethodEvent("", [])
        event.setCommitString(text)
        QApplication.sendEvent(widget, event)


def click(qtbot, button) -> None:
    assert button.isVisible() and button.isEnabled(), f"{button.text()} is not clickable"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def liangbing(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """The real command line in its own process (offscreen Qt)."""
    return subprocess.run([sys.executable, "-m", "desktop.cli", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "QT_QPA_PLATFORM": "offscreen"})
