"""The main window: navigation on the left (首页 / 患者 / 报表 / 药品库存 / 设置), the pages in a stack, and
a status bar with who is logged in, the clinic, the DEMO marker and the sync state.

It also owns the idle lock (the pages are hidden and a login is asked for) and the background sync
pass, which runs every few minutes when this PC is connected to a township server."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QStackedWidget,
    QWidget,
)

from clinic.vocab import ROLES
from desktop.gui import ops_sync
from desktop.gui.context import AppContext
from desktop.gui.home import HomePage
from desktop.gui.login import IdleLock, LoginDialog
from desktop.gui.patient_page import PatientPage
from desktop.gui.patients import PatientsPage
from desktop.gui.style import css_class, show_error

SYNC_EVERY_MINUTES = 5
# name → (navigation label, the permission that shows it, or None for everyone)
NAV = {"home": ("首页", None), "patients": ("患者", None), "reports": ("报表", "report.view"),
       "stock": ("药品库存", None), "settings": ("设置", ("settings.edit", "users.manage", "audit.view"))}
VIEWS = (*NAV, "patient")


def make_page(name: str, ctx: AppContext) -> QWidget:
    """Pages made on first visit: start-up stays fast (they pull in reportlab, openpyxl, pdfium). Plain
    import statements, so the PyInstaller bundle finds them."""
    if name == "reports":
        from desktop.gui.reports_page import ReportsPage
        return ReportsPage(ctx)
    if name == "stock":
        from desktop.gui.stock_page import StockPage
        return StockPage(ctx)
    if name == "settings":
        from desktop.gui.settings_page import SettingsPage
        return SettingsPage(ctx)
    raise KeyError(name)


def window_title(ctx: AppContext) -> str:
    title = f"两病门诊用药保障 — {ctx.clinic_name or '未设置机构'}"
    return f"{title} — 【演示数据库·虚构数据】" if ctx.is_demo else title


class MainWindow(QMainWindow):
    closed = Signal()

    def __init__(self, ctx: AppContext, *, idle_minutes: float | None = None, sync_every: float = SYNC_EVERY_MINUTES):
        super().__init__()
        self.ctx = ctx
        self.setWindowTitle(window_title(ctx))
        self.setMinimumSize(1024, 640)
        self.nav = QListWidget()
        self.nav.setObjectName("nav")
        self.nav.setFixedWidth(132)
        self.nav.currentRowChanged.connect(self._nav_changed)
        self.stack = QStackedWidget()
        self.locked_cover = css_class(QLabel("屏幕已锁定，请重新登录"), "title")
        self.locked_cover.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack.addWidget(self.locked_cover)
        central = QWidget()
        row = QHBoxLayout(central)
        row.setContentsMargins(0, 0, 0, 0)
        row.setSpacing(0)
        row.addWidget(self.nav)
        row.addWidget(self.stack, 1)
        self.setCentralWidget(central)
        self._status_bar()
        self.pages: dict[str, QWidget] = {}
        self._build_pages()
        self._shortcuts()
        ctx.runner.error.connect(lambda exc: show_error(self, exc))
        ctx.runner.busy_changed.connect(self.busy.setVisible)

        self.idle_lock = IdleLock(**({"minutes": idle_minutes} if idle_minutes is not None else {}), parent=self)
        self.idle_lock.locked.connect(self.lock)
        QApplication.instance().installEventFilter(self.idle_lock)
        self._login: LoginDialog | None = None
        self._previous_username = ctx.user.username if ctx.user else None
        self._before_lock = "home"
        self._hidden: list[QWidget] = []
        self.sync_timer = QTimer(self, interval=int(sync_every * 60_000))
        self.sync_timer.timeout.connect(self.sync_now)
        self.sync_timer.start()
        self._syncing = False
        self.refresh_sync_state()
        QTimer.singleShot(0, self.sync_now)          # a pass at start, once the window is up

    # -- layout ------------------------------------------------------------------------------------

    def _status_bar(self) -> None:
        bar = self.statusBar()
        self.user_label = QLabel()
        self.user_label.setObjectName("statusUser")
        self.clinic_label = QLabel(self.ctx.clinic_name)
        self.demo_label = css_class(QLabel("演示数据库（虚构数据）"), "demo")
        self.demo_label.setObjectName("demoMarker")
        self.demo_label.setVisible(self.ctx.is_demo)
        self.sync_label = QLabel("同步状态：读取中…")
        self.sync_label.setObjectName("syncState")
        self.busy = css_class(QLabel("处理中…"), "hint")
        self.busy.hide()
        bar.addWidget(self.user_label)
        bar.addWidget(self.clinic_label)
        bar.addWidget(self.busy)
        bar.addPermanentWidget(self.sync_label)
        bar.addPermanentWidget(self.demo_label)

    def _build_pages(self) -> None:
        """(Re)built on login, so every page sets its buttons for the role now logged in."""
        for page in self.pages.values():
            self.stack.removeWidget(page)
            page.deleteLater()
        ctx = self.ctx
        self.home = HomePage(ctx)
        self.patients = PatientsPage(ctx)
        self.patient_page = PatientPage(ctx)
        self.pages = {"home": self.home, "patients": self.patients, "patient": self.patient_page}
        for page in self.pages.values():
            self.stack.addWidget(page)
        self.home.open_patient.connect(self.open_patient)
        self.home.sync_requested.connect(lambda: self.sync_now(force=True))
        self.patients.open_patient.connect(self.open_patient)
        self.patient_page.back.connect(lambda: self.show_view("patients"))
        self.nav.blockSignals(True)
        self.nav.clear()
        for name, (label, permission) in NAV.items():
            item = QListWidgetItem(label)
            item.setData(Qt.ItemDataRole.UserRole, name)
            self.nav.addItem(item)
            allowed = permission is None or any(ctx.can(p) for p in
                                                ((permission,) if isinstance(permission, str) else permission))
            item.setHidden(not allowed)
        self.nav.blockSignals(False)
        user = ctx.user
        self.user_label.setText(f"当前用户：{user.display_name}（{ROLES.get(user.role, user.role)}）" if user else "")
        self.show_view("home")

    def _shortcuts(self) -> None:
        for number, name in enumerate(NAV, start=1):
            QShortcut(QKeySequence(f"Ctrl+{number}"), self, activated=lambda n=name: self.show_view(n))
        QShortcut(QKeySequence("Ctrl+F"), self, activated=lambda: self.show_view("patients"))
        QShortcut(QKeySequence("Ctrl+L"), self, activated=self.lock)

    # -- navigation --------------------------------------------------------------------------------

    def _nav_changed(self, row: int) -> None:
        item = self.nav.item(row)
        if item is not None:
            self.show_view(item.data(Qt.ItemDataRole.UserRole))

    def page(self, name: str) -> QWidget:
        if name not in self.pages:
            self.pages[name] = make_page(name, self.ctx)
            self.stack.addWidget(self.pages[name])
        return self.pages[name]

    def show_view(self, name: str) -> None:
        if name in NAV and self.nav.item(list(NAV).index(name)).isHidden():
            return                                   # the role may not open it (a shortcut was pressed)
        page = self.page(name)
        self.stack.setCurrentWidget(page)
        nav_name = "patients" if name == "patient" else name
        self.nav.blockSignals(True)
        self.nav.setCurrentRow(list(NAV).index(nav_name))
        self.nav.blockSignals(False)
        if name != "patient" and hasattr(page, "refresh"):
            page.refresh()

    def current_view(self) -> str:
        return next((n for n, p in self.pages.items() if p is self.stack.currentWidget()), "locked")

    def open_patient(self, patient_id: str) -> None:
        self.patient_page.set_patient(patient_id)
        self.show_view("patient")

    # -- idle lock ---------------------------------------------------------------------------------

    def lock(self) -> None:
        if self._login is not None:
            return
        self._before_lock = self.current_view()
        self._hidden = [w for w in QApplication.topLevelWidgets()         # dialogs over the records, too
                        if w is not self and w.isVisible() and w.isWindow() and w.isModal()]
        for widget in self._hidden:
            widget.hide()
        self.stack.setCurrentWidget(self.locked_cover)
        self.nav.setEnabled(False)
        self._login = LoginDialog(self.ctx, self, locked=True)
        self._login.logged_in.connect(self._unlocked)
        self._login.open()

    def _unlocked(self, user) -> None:
        previous = self._previous_username
        self._login = None
        self.nav.setEnabled(True)
        self.idle_lock.timer.start()
        hidden, self._hidden = self._hidden, []
        if previous is not None and previous != user.username:
            for dialog in hidden:                   # another person: the previous one's open dialogs close
                dialog.reject() if isinstance(dialog, QDialog) else dialog.close()
            self._build_pages()                     # … and the pages are rebuilt for the new role
        else:
            self.show_view(self._before_lock if self._before_lock != "locked" else "home")
            for dialog in hidden:                   # the same person carries on where they were
                dialog.show()
        self._previous_username = user.username

    # -- sync --------------------------------------------------------------------------------------

    def refresh_sync_state(self) -> None:
        self.ctx.runner.run(lambda: ops_sync.state(self.ctx.db), self.show_sync_state, lambda exc: None,
                            read_only=True)

    def sync_now(self, force: bool = False) -> None:
        """A pass in the background pool, when enrolled; never blocks typing or saving."""
        if self._syncing:
            return
        self._syncing = True
        if getattr(self, "sync_state", None) is not None and self.sync_state.enrolled:
            self.sync_label.setText("同步：正在同步…")

        def done(state: ops_sync.SyncState) -> None:
            self._syncing = False
            self.show_sync_state(state)
            if state.enrolled and self.current_view() == "patient":
                self.patient_page.refresh()         # review results may have changed a filing

        def failed(exc: Exception) -> None:
            self._syncing = False
            self.sync_label.setText(f"同步失败：{exc}")

        self.ctx.runner.run(lambda: ops_sync.run_pass(self.ctx.db, force=force), done, failed, pool="background")

    def show_sync_state(self, state: ops_sync.SyncState) -> None:
        self.sync_state = state
        self.sync_label.setText(state.summary)
        self.sync_label.setToolTip(state.last_error or "")
        self.home.show_sync_state(state)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        QApplication.instance().removeEventFilter(self.idle_lock)
        self.sync_timer.stop()
        super().closeEvent(event)
        self.closed.emit()
