"""Start the GUI: fonts, the clinic database (opened in the background, created when new), the
first-run wizard on a new file, login (or the demo doctor), the main window; and for docs and tests,
a screenshot of one view once every background task has finished.

`run_gui(options) -> exit code`. `Startup` is the same sequence as an object, so tests can drive it
through the real dialogs without a second event loop."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QGuiApplication, QPainter, QPixmap
from PySide6.QtWidgets import QApplication, QDialog, QMessageBox, QWidget
from shiboken6 import isValid

from clinic import backup
from desktop.gui import ops_home, ops_patient, ops_session
from desktop.gui.context import AppContext, UserInfo
from desktop.gui.first_run import FirstRunDialog
from desktop.gui.login import LoginDialog
from desktop.gui.main_window import VIEWS, MainWindow
from desktop.gui.style import install_fonts
from desktop.gui.tasks import TaskRunner

SCREEN = (1366, 768)                 # the village PC's screen: every view must fit it
DIALOG_VIEWS = ("prescribe", "dispense")
TAB_VIEWS = {"filings": 1, "followups": 4}          # the demo patient's page on that tab
ALL_VIEWS = (*VIEWS, *DIALOG_VIEWS, *TAB_VIEWS)
PATIENT_VIEWS = ("patient", *DIALOG_VIEWS, *TAB_VIEWS)
SETTLE_MS = 150                      # quiet time after the last task before a screenshot is taken


def default_db_path() -> Path:
    """LIANGBING_DB, else the user's data folder (platformdirs), so a plain start finds the clinic."""
    if os.environ.get("LIANGBING_DB"):
        return Path(os.environ["LIANGBING_DB"])
    from platformdirs import user_data_dir

    return Path(user_data_dir("liangbing", appauthor=False)) / "clinic.db"


@dataclass
class GuiOptions:
    db: Path
    demo_login: bool = False
    view: str | None = None
    screenshot: Path | None = None
    today: date | None = None
    idle_minutes: float | None = None


class StartupError(Exception):
    """Start-up stopped: the message is for the user (and one line on stderr)."""


class Startup(QObject):
    """open → [first-run wizard] → login | demo doctor → main window → [view] → [screenshot]."""

    finished = Signal(int)           # exit code, when the app should end (screenshot taken, error, cancel)
    ready = Signal(object)           # the MainWindow, once shown

    def __init__(self, options: GuiOptions, runner: TaskRunner | None = None, *, interactive: bool = True):
        """`interactive`: errors also in a message box (not for screenshots and tests)."""
        super().__init__()
        self.options = options
        self.runner = runner or TaskRunner(self)
        self.interactive = interactive and options.screenshot is None
        self.ctx: AppContext | None = None
        self.window: MainWindow | None = None
        self.dialog: QDialog | None = None
        self.error: str | None = None

    def start(self) -> None:
        if self.options.view is not None and self.options.view not in ALL_VIEWS:
            self.fail(f"未知视图：{self.options.view}（可选：{' / '.join(ALL_VIEWS)}）")
            return
        path = self.options.db
        if self.options.demo_login and not path.exists():
            self.fail(f"找不到数据库文件：{path}（先运行 liangbing demo --db {path}）")
            return
        self.runner.run(lambda: ops_session.open_clinic(path), self._opened, self.fail)

    def fail(self, exc: Exception | str) -> None:
        self.error = str(exc)
        if self.interactive:
            QMessageBox.critical(self.window, "无法启动", self.error)
        self.finished.emit(1)

    def _opened(self, answer) -> None:
        db, state = answer
        today: Callable[[], date] = (lambda: self.options.today) if self.options.today else date.today
        self.ctx = AppContext(db=db, runner=self.runner, is_demo=state["is_demo"], clinic_name=state["clinic_name"],
                              today=today)
        if self.options.demo_login:
            if not state["is_demo"]:
                self.fail("--demo-login 只能用于 liangbing demo 生成的演示数据库")
                return
            # The demo doctor; the settings are the administrator's, so that view logs in as the demo admin.
            who = ops_session.DEMO_ADMIN if self.options.view == "settings" else ops_session.DEMO_DOCTOR
            self.runner.run(lambda: ops_session.demo_login(db, who), self._logged_in, self.fail)
            return
        if self.options.screenshot is not None:
            self.fail("截图须配合 --demo-login 使用（无人值守时无法登录）")
            return
        if not state["configured"]:
            self.dialog = FirstRunDialog(self.ctx)
            self.dialog.accepted.connect(self._login)
            self.dialog.rejected.connect(lambda: self.finished.emit(0))
            self.dialog.open()
            return
        self._login()

    def _login(self) -> None:
        self.dialog = LoginDialog(self.ctx)
        self.dialog.logged_in.connect(self._logged_in)
        self.dialog.rejected.connect(lambda: self.finished.emit(0))
        self.dialog.open()

    def _logged_in(self, user: UserInfo) -> None:
        self.ctx.user = user
        self.window = MainWindow(self.ctx, idle_minutes=self.options.idle_minutes)
        self.window.resize(*SCREEN)
        self.window.closed.connect(lambda: self.finished.emit(0))
        self.window.show()
        self.ready.emit(self.window)
        view = self.options.view
        if view in PATIENT_VIEWS:
            today = self.ctx.today()
            self.runner.run(lambda: ops_patient.demo_patient(self.ctx.db, today), self._show_patient, self.fail,
                            read_only=True)
        elif view and view != "home":              # the window opens on home, already loading
            self.window.show_view(view)
        if self.options.screenshot is None:         # the first start of the day backs up (issue 7 item 2)
            db = self.ctx.db
            self.runner.run(lambda: ops_home.daily_backup(db), self.window.home.show_backup,
                            self.window.home.backup_failed, pool="background")
        self._maybe_screenshot()

    def _show_patient(self, patient_id: str) -> None:
        self.window.open_patient(patient_id)
        view = self.options.view
        if view in TAB_VIEWS:
            self.window.patient_page.tabs.setCurrentIndex(TAB_VIEWS[view])
        if view in DIALOG_VIEWS:
            from desktop.gui.dispense_dialog import DispenseDialog
            from desktop.gui.prescribe_dialog import PrescribeDialog

            cls = PrescribeDialog if view == "prescribe" else DispenseDialog
            self.dialog = cls(self.ctx, patient_id, self.window)
            self.dialog.open()

    # -- screenshots -------------------------------------------------------------------------------

    def _maybe_screenshot(self) -> None:
        if self.options.screenshot is None:
            return
        self._quiet = 0
        self._timer = QTimer(self, interval=50)
        self._timer.timeout.connect(self._poll)
        self._timer.start()

    def _poll(self) -> None:
        """Wait until no task has run for SETTLE_MS (a task's answer may start the next one)."""
        self._quiet = 0 if self.runner.busy else self._quiet + 50
        if self._quiet >= SETTLE_MS:
            self._timer.stop()
            try:
                save_screenshot(self.window, self.dialog if self.options.view in DIALOG_VIEWS else None,
                                self.options.screenshot)
            except OSError as exc:
                self.fail(f"无法保存截图 {self.options.screenshot}：{exc.strerror or exc}")
                return
            self.finished.emit(0)

    def close(self) -> None:
        """Close the window, back up if anything was written since the last backup, close the file."""
        for widget in (self.dialog, self.window):
            if widget is not None and isValid(widget):
                widget.close()
        failed: list[Exception] = []
        if self.window is not None and self.options.screenshot is None:
            path = self.ctx.db.path
            self.runner.run(lambda: backup.backup_on_exit(path), None, failed.append, pool="background")
        self.runner.wait()
        QApplication.processEvents()                 # deliver the answers of the last tasks
        if self.ctx is not None:
            self.ctx.db.close()
        if failed and self.interactive:
            QMessageBox.warning(None, "退出时备份失败",
                                f"{failed[0]}\n\n数据库本身未受影响；请在“设置—备份”中立即备份。")


def save_screenshot(window: QWidget, dialog: QWidget | None, path: Path) -> None:
    """The window at 1366×768; a dialog view is drawn centred over it, as the doctor sees it."""
    QApplication.processEvents()
    picture = window.grab()
    if dialog is not None and dialog.isVisible():
        over = dialog.grab()
        painter = QPainter(picture)
        painter.fillRect(picture.rect(), QColor(0, 0, 0, 70))        # the window dimmed behind the dialog
        painter.drawPixmap((picture.width() - over.width()) // 2, max(0, (picture.height() - over.height()) // 2),
                           over)
        painter.end()
    path.parent.mkdir(parents=True, exist_ok=True)
    if not QPixmap(picture).save(str(path), "PNG"):
        raise OSError(f"无法写入 {path}")


def make_app(argv: list[str] | None = None) -> QApplication:
    app = QApplication.instance()
    if app is None:                  # a 125 % or 150 % Windows screen scales by its true factor, no rounding
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        app = QApplication(argv or [sys.argv[0]])
    app.setApplicationName("liangbing")
    app.setApplicationDisplayName("两病门诊用药保障")
    install_fonts(app)
    return app


def run_gui(options: GuiOptions) -> int:
    """Run the app until the window closes (or the screenshot is saved); returns the exit code.
    A start-up failure raises StartupError with the reason (the command line prints one line)."""
    app = make_app()
    startup = Startup(options)
    code: list[int] = []
    startup.finished.connect(lambda c: (code.append(c), app.exit(c)))
    app.setQuitOnLastWindowClosed(False)        # between the wizard and the login no window is open
    QTimer.singleShot(0, startup.start)
    result = app.exec()
    startup.close()
    if startup.error and not startup.interactive:
        raise StartupError(startup.error)
    return code[0] if code else result
