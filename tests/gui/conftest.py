"""Fixtures for the GUI tests (pytest-qt, QT_QPA_PLATFORM=offscreen): the bundled fonts as the app
installs them, a demo clinic built once per session and copied for each test that writes, and fresh
clinic files. Helpers' own builders live in tests/gui/<helper>_helpers.py."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

DEMO_TODAY = date(2026, 3, 16)
DEMO_PATIENTS = 40


@pytest.fixture(scope="session", autouse=True)
def app_fonts(qapp):
    """The bundled CJK font and the stylesheet, so widgets measure Chinese text as on a clinic PC."""
    from desktop.gui.style import install_fonts

    install_fonts(qapp)
    yield


@pytest.fixture(autouse=True)
def finish_a1_tasks(qtbot):
    """After each test, passed or not, every task of the contexts a1_helpers made finishes and delivers
    its answer before widgets and files are torn down (a worker must never signal into a deleted object)."""
    yield
    from tests.gui.a1_helpers import CONTEXTS

    for ctx in CONTEXTS:
        ctx.runner.wait()
    qtbot.wait(20)
    CONTEXTS.clear()
    from PySide6.QtWidgets import QApplication

    for widget in QApplication.topLevelWidgets():      # no window or dialog outlives its test
        if widget.isVisible():
            widget.close()


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory) -> Path:
    """A small demo clinic (`liangbing demo`'s builder), made once; tests copy it."""
    from clinic.db.engine import open_database
    from clinic.demo import build_demo

    path = tmp_path_factory.mktemp("demo") / "demo.db"
    db = open_database(path)
    try:
        build_demo(db, patients=DEMO_PATIENTS, today=DEMO_TODAY)
    finally:
        db.close()
    return path


@pytest.fixture
def demo_path(demo_template, tmp_path) -> Path:
    """This test's own copy of the demo clinic."""
    from clinic.db.engine import copy_database

    path = tmp_path / "demo.db"
    copy_database(demo_template, path)
    return path


@pytest.fixture
def demo_db(demo_path):
    from clinic.db.engine import open_database

    db = open_database(demo_path)
    yield db
    db.close()
