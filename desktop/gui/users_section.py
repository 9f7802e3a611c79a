"""用户 (administrators): accounts with their role and lockout state; add a user, reset a password,
unlock, change a role, disable or enable; the lockout period after five wrong passwords."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from clinic.users import MAX_FAILED_LOGINS
from clinic.vocab import ROLES
from desktop.gui import ops_users
from desktop.gui.context import AppContext
from desktop.gui.settings_sections import message_label, say
from desktop.gui.tables import read_only_table

COLUMNS = ["用户名", "姓名", "角色", "医保医师编码", "状态"]


class _AccountDialog(QDialog):
    """Add a user (username, name, role, code, password twice) or reset one's password."""

    def __init__(self, ctx: AppContext, username: str | None, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx, self.reset_for = ctx, username
        self.setWindowTitle(f"重置密码 — {username}" if username else "新增用户")
        self.username, self.name, self.code = QLineEdit(), QLineEdit(), QLineEdit()
        self.username.setObjectName("newUsername")
        self.role = QComboBox()
        for code, word in ROLES.items():
            self.role.addItem(word, code)
        self.secret, self.secret2 = QLineEdit(), QLineEdit()
        self.secret.setObjectName("newSecret")
        self.secret2.setObjectName("newSecret2")
        for box in (self.secret, self.secret2):
            box.setEchoMode(QLineEdit.EchoMode.Password)
        form = QFormLayout()
        if username is None:
            form.addRow("用户名", self.username)
            form.addRow("姓名", self.name)
            form.addRow("角色", self.role)
            form.addRow("医保医师编码", self.code)
        form.addRow("新密码/PIN", self.secret)
        form.addRow("再次输入", self.secret2)
        self.message = message_label("accountMessage")
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText("保存")
        buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("取消")
        buttons.accepted.connect(self.save)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(buttons)

    def save(self) -> None:
        if self.secret.text() != self.secret2.text():
            say(self.message, "两次输入的密码不一致")
            self.secret2.setFocus()
            return
        user, secret = self.ctx.user, self.secret.text()
        if self.reset_for:
            username = self.reset_for
            job = lambda: ops_users.reset(self.ctx.db, user, username, secret)     # noqa: E731
        else:
            values = dict(username=self.username.text(), display_name=self.name.text(),
                          role=self.role.currentData(), secret=secret, doctor_code=self.code.text())
            job = lambda: ops_users.add_user(self.ctx.db, user, **values)         # noqa: E731
        self.ok.setEnabled(False)
        say(self.message, "正在保存…", "hint")
        self.ctx.runner.run(job, lambda _: self.accept(), self._failed)

    def _failed(self, exc: Exception) -> None:
        self.ok.setEnabled(True)
        say(self.message, str(exc))


class UsersSection(QWidget):
    loaded = Signal()

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self.rows: list[ops_users.UserRow] = []
        self.table = read_only_table(COLUMNS, "userTable", stretch_last=True)
        self.add_button = QPushButton("新增用户…")
        self.reset_button = QPushButton("重置密码…")
        self.unlock_button = QPushButton("解锁")
        self.toggle_button = QPushButton("停用")
        self.role = QComboBox()
        for code, word in ROLES.items():
            self.role.addItem(word, code)
        self.role_button = QPushButton("改为此角色")
        self.add_button.clicked.connect(lambda: self.open_account(None))
        self.reset_button.clicked.connect(lambda: self.open_account(self.selected()))
        self.unlock_button.clicked.connect(
            lambda: self._act(ops_users.unlock_account, "已解锁：{u}"))
        self.toggle_button.clicked.connect(self._toggle)
        self.role_button.clicked.connect(self._change_role)
        self.table.itemSelectionChanged.connect(self._selection)
        self.lockout = QLineEdit()
        self.lockout.setObjectName("lockoutMinutes")
        self.lockout.setMaximumWidth(70)
        self.lockout_button = QPushButton("保存")
        self.lockout_button.clicked.connect(self._save_lockout)
        self.message = message_label("usersMessage")
        buttons = QHBoxLayout()
        for widget in (self.add_button, self.reset_button, self.unlock_button, self.toggle_button, self.role,
                       self.role_button):
            buttons.addWidget(widget)
        buttons.addStretch(1)
        lock = QHBoxLayout()
        lock.addWidget(QLabel(f"连续输错密码 {MAX_FAILED_LOGINS} 次后锁定账号"))
        lock.addWidget(self.lockout)
        lock.addWidget(QLabel("分钟（管理员可随时解锁）"))
        lock.addWidget(self.lockout_button)
        lock.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)
        layout.addLayout(lock)
        layout.addWidget(self.message)

    def refresh(self) -> None:
        user = self.ctx.user
        self.ctx.runner.run(lambda: ops_users.list_users(self.ctx.db, user), self._show,
                            lambda exc: say(self.message, str(exc)), read_only=True)

    def _show(self, answer) -> None:
        keep = self.selected()
        self.rows, minutes = answer
        self.lockout.setText(str(minutes))
        self.table.setRowCount(len(self.rows))
        for r, row in enumerate(self.rows):
            for c, text in enumerate((row.username, row.display_name, ROLES.get(row.role, row.role),
                                      row.doctor_code, row.state)):
                self.table.setItem(r, c, QTableWidgetItem(text))
        names = [row.username for row in self.rows]
        if names:
            self.table.selectRow(names.index(keep) if keep in names else 0)
        self._selection()
        self.loaded.emit()

    def selected(self) -> str | None:
        r = self.table.currentRow()
        return self.rows[r].username if 0 <= r < len(self.rows) else None

    def _selection(self) -> None:
        r = self.table.currentRow()
        row = self.rows[r] if 0 <= r < len(self.rows) else None
        for button in (self.reset_button, self.unlock_button, self.toggle_button, self.role_button):
            button.setEnabled(row is not None)
        if row is not None:
            self.unlock_button.setEnabled(bool(row.locked_until or row.failed))
            self.toggle_button.setText("停用" if row.active else "启用")
            self.role.setCurrentIndex(self.role.findData(row.role))

    def open_account(self, username: str | None) -> _AccountDialog:
        dialog = _AccountDialog(self.ctx, username, self)
        done = f"已重置 {username} 的密码（账号同时解锁）" if username else "已新增用户"
        dialog.accepted.connect(lambda: (say(self.message, done, "ok"), self.refresh()))
        dialog.open()
        self.account_dialog = dialog
        return dialog

    def _act(self, fn, done: str, *args) -> None:
        username, user = self.selected(), self.ctx.user
        if username is None:
            return
        self.ctx.runner.run(lambda: fn(self.ctx.db, user, username, *args),
                            lambda _: (say(self.message, done.format(u=username), "ok"), self.refresh()),
                            lambda exc: say(self.message, str(exc)))

    def _toggle(self) -> None:
        r = self.table.currentRow()
        if 0 <= r < len(self.rows):
            active = not self.rows[r].active
            self._act(ops_users.enable, "已启用：{u}" if active else "已停用：{u}", active)

    def _change_role(self) -> None:
        role = self.role.currentData()
        self._act(ops_users.change_role, f"已将 {{u}} 改为{ROLES[role]}", role)

    def _save_lockout(self) -> None:
        minutes, user = self.lockout.text(), self.ctx.user
        self.ctx.runner.run(lambda: ops_users.save_lockout(self.ctx.db, user, minutes),
                            lambda _: say(self.message, f"已保存：锁定 {minutes} 分钟", "ok"),
                            lambda exc: say(self.message, str(exc)))
