"""`liangbing gui --demo-login --view V --screenshot OUT.png` (issue 4 item 12): every view renders at
1366×768 on the demo database, with no label or button narrower than its text (nothing clipped), and
the command refuses, in one line, what it cannot do."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QAbstractButton, QLabel, QWidget

from desktop.gui.app import ALL_VIEWS, PATIENT_VIEWS, SCREEN, GuiOptions, Startup
from tests.gui.a1_helpers import TODAY, liangbing


def clipped(root: QWidget) -> list[str]:
    """Visible labels and buttons smaller than the text they hold (word-wrapped labels excepted: they
    grow downwards, and an empty label holds nothing to clip)."""
    found = []
    for widget in root.findChildren(QWidget):
        if not widget.isVisibleTo(root) or not isinstance(widget, QLabel | QAbstractButton):
            continue
        if isinstance(widget, QLabel) and (widget.wordWrap() or not widget.text() or widget.pixmap() is not None
                                           and not widget.pixmap().isNull()):
            continue
        hint = widget.minimumSizeHint() if isinstance(widget, QLabel) else widget.sizeHint()
        if widget.width() + 1 < hint.width() or widget.height() + 1 < hint.height():
            text = widget.text() if hasattr(widget, "text") else ""
            found.append(f"{type(widget).__name__} {text!r} {widget.width()}x{widget.height()} < "
                         f"{hint.width()}x{hint.height()}")
    return found


@pytest.mark.parametrize("view", ALL_VIEWS)
def test_every_view_renders_at_1366x768_without_clipped_text(qtbot, demo_path, tmp_path, view):
    out = tmp_path / f"{view}.png"
    startup = Startup(GuiOptions(db=demo_path, demo_login=True, view=view, screenshot=out, today=TODAY),
                      interactive=False)
    with qtbot.waitSignal(startup.finished, timeout=60000) as signal:
        startup.start()
    try:
        assert signal.args == [0], startup.error
        image = QImage(str(out))
        assert (image.width(), image.height()) == SCREEN
        window = startup.window
        assert window.size().toTuple() == SCREEN
        shown = startup.dialog if view in ("prescribe", "dispense") else window
        if shown is not window:
            assert shown.isVisible()
            assert shown.width() <= SCREEN[0] and shown.height() <= SCREEN[1] - 40    # room for the title bar
        expected = "patient" if view in PATIENT_VIEWS else view
        assert window.current_view() == expected
        assert clipped(shown) == []
    finally:
        startup.close()


def test_the_command_saves_a_screenshot_and_exits_0(demo_path, tmp_path):
    out = tmp_path / "home.png"
    done = liangbing("gui", "--db", str(demo_path), "--demo-login", "--view", "home", "--today", "2026-03-16",
                     "--screenshot", str(out))
    assert done.returncode == 0, done.stderr
    image = QImage(str(out))
    assert (image.width(), image.height()) == SCREEN


def test_the_command_refuses_demo_login_on_a_clinic_database_in_one_line(qapp, db, tmp_path, capsys):
    from desktop.cli import main

    path = db.path
    db.close()
    code = main(["gui", "--db", str(path), "--demo-login", "--screenshot", str(tmp_path / "x.png")])
    assert code != 0
    assert capsys.readouterr().err == "liangbing: --demo-login 只能用于 liangbing demo 生成的演示数据库\n"
    assert not (tmp_path / "x.png").exists()


def test_the_command_refuses_a_screenshot_without_demo_login(tmp_path, capsys):
    from desktop.cli import main

    code = main(["gui", "--db", str(tmp_path / "none.db"), "--screenshot", str(tmp_path / "x.png")])
    assert code != 0
    assert capsys.readouterr().err == "liangbing: --screenshot 须与 --demo-login 一起使用\n"
    assert not (tmp_path / "none.db").exists()


def test_the_command_refuses_a_missing_demo_database_without_creating_it(qapp, tmp_path, capsys):
    from desktop.cli import main

    code = main(["gui", "--db", str(tmp_path / "none.db"), "--demo-login", "--screenshot", str(tmp_path / "x.png")])
    assert code != 0
    assert capsys.readouterr().err.startswith(f"liangbing: 找不到数据库文件：{tmp_path / 'none.db'}")
    assert not (tmp_path / "none.db").exists()


def test_the_command_offers_exactly_the_views_the_app_can_render():
    from desktop.commands.gui_cmd import VIEWS

    assert sorted(VIEWS) == sorted(ALL_VIEWS)
