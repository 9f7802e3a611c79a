"""Login per user, and the idle lock: after a few idle minutes the window is covered and the same
user (or another) must log in again. Shared PCs in a clinic are used by family members too."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QVBoxLayout,
)

from desktop.gui import ops_session
from desktop.gui.context import AppContext, UserInfo
from desktop.gui.style import css_class

IDLE_MINUTES = 10


class LoginDialog(QDialog):
    logged_in = Signal(object)

    def __init__(self, ctx: AppContext, parent=None, *, locked: bool = False):
        super().__init__(parent)
        self.ctx = ctx
        self.locked = locked
        self.setWindowTitle("屏幕已锁定 — 请重新登录" if locked else f"登录 — {ctx.clinic_name}")
        self.username = QLineEdit(ctx.user.username if locked and ctx.user else "")
        self.username.setObjectName("username")
        self.secret = QLineEdit()
        self.secret.setObjectName("secret")
        self.secret.setEchoMode(QLineEdit.EchoMode.Password)
        self.message = css_class(QLabel(""), "error")
        self.message.setObjectName("message")
        form = QFormLayout()
        form.addRow("用户名", self.username)
        form.addRow("密码/PIN", self.secret)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("登录")
        buttons.accepted.connect(self.try_login)
        layout = QVBoxLayout(self)
        if ctx.is_demo:
            layout.addWidget(QLabel("演示数据库：医生 doctor / demo1234，管理员 admin / admin1234"))
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(buttons)
        (self.secret if self.username.text() else self.username).setFocus()

    def reject(self) -> None:
        if not self.locked:           # Esc on a locked screen must not uncover the records
            super().reject()

    def try_login(self) -> None:
        username, secret = self.username.text().strip(), self.secret.text()
        if not username or not secret:
            self.message.setText("请输入用户名和密码")
            return
        self.message.setText("正在登录…")
        self.ctx.runner.run(lambda: ops_session.login(self.ctx.db, username, secret), self._ok, self._failed)

    def _ok(self, user: UserInfo) -> None:
        self.ctx.user = user
        self.logged_in.emit(user)
        self.accept()

    def _failed(self, exc: Exception) -> None:
        self.secret.clear()
        self.message.setText(str(exc))


class IdleLock(QObject):
    """Counts user input application-wide; emits `locked` after `minutes` without any."""

    locked = Signal()
    _INPUT = {QEvent.Type.KeyPress, QEvent.Type.MouseButtonPress, QEvent.Type.Wheel}

    def __init__(self, minutes: float = IDLE_MINUTES, parent: QObject | None = None):
        super().__init__(parent)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.setInterval(int(minutes * 60_000))
        self.timer.timeout.connect(self.locked.emit)
        self.timer.start()

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() in self._INPUT:
            self.timer.start()
        return False
