"""Helpers for helper B's GUI tests (reports, stock, settings, PDF preview): a real clinic database
with a logged-in user, and waiting until background tasks have finished."""

from __future__ import annotations

from datetime import date

import pytest

from desktop.gui.context import AppContext, UserInfo
from desktop.gui.tasks import TaskRunner

USERS = {"admin": UserInfo("admin", "管理员", "admin"), "doctor": UserInfo("doctor", "王医生", "doctor"),
         "pharmacist": UserInfo("pharmacist", "李药师", "pharmacist")}
CONTEXTS: list[AppContext] = []


def make_ctx(db, role: str = "admin", today: date = date(2026, 3, 15)) -> AppContext:
    ctx = AppContext(db=db, runner=TaskRunner(), user=USERS[role], clinic_name="测试卫生室", today=lambda: today)
    CONTEXTS.append(ctx)
    return ctx


def settle(qtbot, ctx: AppContext, timeout: int = 20000) -> None:
    """Wait until every background task has finished and its result has reached the widgets."""
    qtbot.waitUntil(lambda: not ctx.runner.busy, timeout=timeout)
    qtbot.wait(10)


@pytest.fixture(autouse=True)
def finish_b_tasks(qtbot):
    """Import into a test module: after each test, passed or failed, every task of its contexts (and of
    the PDF preview's own worker) has finished before widgets and database files are torn down."""
    yield
    from desktop.gui import pdf_preview

    for ctx in CONTEXTS:
        ctx.runner.wait()
    if pdf_preview._runner is not None:
        pdf_preview._runner.wait()
    qtbot.wait(20)
    CONTEXTS.clear()


def install_app_fonts(qapp) -> None:
    """The bundled CJK font and the stylesheet, as the app installs them (screenshots show Chinese)."""
    from desktop.gui.style import install_fonts
    install_fonts(qapp)
