"""设置: clinic profile and the policy's local settings (what is missing highlighted), township
server and printer; for administrators also users, backups and the audit log.

Only a 管理员 sees the administrator tabs (clinic/permissions.py); others see the profile and policy
read-only, and may choose this PC's printer.
"""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QTabWidget, QVBoxLayout, QWidget

from desktop.gui import ops_settings, pdf_preview
from desktop.gui.audit_view import AuditView
from desktop.gui.backup_section import BackupSection
from desktop.gui.connection_sections import PrinterSection, ServerSection
from desktop.gui.context import AppContext
from desktop.gui.opening_balance_section import OpeningBalanceSection
from desktop.gui.settings_sections import PolicySection, ProfileSection
from desktop.gui.style import css_class
from desktop.gui.users_section import UsersSection


class SettingsPage(QWidget):
    clinic_renamed = Signal(str)        # for the window title and status bar
    enrolled = Signal(str)

    def __init__(self, ctx: AppContext, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        self.profile = ProfileSection(ctx)
        self.policy = PolicySection(ctx)
        self.server = ServerSection(ctx)
        self.printer = PrinterSection(ctx)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("settingsTabs")
        clinic = QWidget()
        row = QHBoxLayout(clinic)
        self.profile.setMinimumWidth(420)      # a full clinic name and policy name stay readable
        row.addWidget(self.profile, 0)
        row.addWidget(self.policy, 1)
        self.tabs.addTab(clinic, "机构与医保政策")
        connect = QWidget()
        column = QVBoxLayout(connect)
        column.addWidget(self.server)
        column.addWidget(self.printer)
        column.addStretch(1)
        self.tabs.addTab(connect, "服务器与打印机")
        self.users = UsersSection(ctx) if ctx.can("users.manage") else None
        self.backup = BackupSection(ctx) if ctx.can("settings.edit") else None
        self.audit = AuditView(ctx) if ctx.can("audit.view") else None
        self.opening = OpeningBalanceSection(ctx) if ctx.can("opening_balance.import") else None
        for section, title in ((self.users, "用户"), (self.backup, "备份与恢复"), (self.audit, "审计日志"),
                               (self.opening, "期初余额")):
            if section is not None:
                self.tabs.addTab(section, title)
        layout = QVBoxLayout(self)
        layout.addWidget(css_class(QLabel("设置"), "title"))
        if not ctx.can("settings.edit"):
            layout.addWidget(css_class(QLabel("只有管理员可以修改机构信息和政策设置；此处仅供查看。"), "hint"))
        layout.addWidget(self.tabs, 1)
        self.profile.saved.connect(self._profile_saved)
        self.server.enrolled.connect(self.enrolled.emit)
        self.tabs.currentChanged.connect(lambda _: self._refresh_current())
        # The chosen printer must be known before anything prints, even if this page is never opened.
        ctx.runner.run(lambda: ops_settings.printer_name(ctx.db),
                       lambda name: pdf_preview.set_default_printer(name or None), lambda exc: None, read_only=True)

    def sections(self) -> list:
        return [s for s in (self.profile, self.policy, self.server, self.printer, self.users, self.backup, self.audit,
                            self.opening) if s is not None]

    def refresh(self) -> None:
        self.profile.refresh()
        self.policy.refresh()
        self._refresh_current()

    def _refresh_current(self) -> None:
        index = self.tabs.currentIndex()
        current = self.tabs.widget(index)
        if index == 1:
            self.server.refresh()
            self.printer.refresh()
        elif current in (self.users, self.backup, self.audit):
            current.refresh()

    def _profile_saved(self, profile) -> None:
        self.policy.refresh()                 # a new region brings another policy and its settings
        self.clinic_renamed.emit(profile.name)
