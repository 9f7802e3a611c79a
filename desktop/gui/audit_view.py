"""审计日志 for administrators: who changed what, when — filtered by user, record type and date, and
exported to Excel. An export holding patients' ID numbers asks first, and can mask them."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from PySide6.QtCore import QDate, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from clinic.audit_export import ENTITIES
from clinic.sensitive import id_number_warning
from desktop.gui import ops_audit
from desktop.gui.context import AppContext
from desktop.gui.settings_sections import message_label, say
from desktop.gui.style import css_class
from desktop.gui.tables import read_only_table

COLUMNS = ["时间", "操作人", "对象", "记录编号", "操作", "变更内容（字段: 原值 → 新值）"]
DEFAULT_DAYS = 30


def _date(edit: QDateEdit) -> date:
    d = edit.date()
    return date(d.year(), d.month(), d.day())


class AuditView(QWidget):
    loaded = Signal(int)
    exported = Signal(str)

    def __init__(self, ctx: AppContext, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        self.rows = []
        self.user = QComboBox()
        self.user.setObjectName("auditUser")
        self.user.addItem("全部用户", None)
        self.entity = QComboBox()
        self.entity.setObjectName("auditEntity")
        self.entity.addItem("全部对象", None)
        for code, word in ENTITIES.items():
            self.entity.addItem(word, code)
        today = date.today()        # audit events carry the real clock, not the app's (demo) working day
        start = today - timedelta(days=DEFAULT_DAYS)
        self.since, self.until = QDateEdit(QDate(start.year, start.month, start.day)), QDateEdit(
            QDate(today.year, today.month, today.day))
        for edit in (self.since, self.until):
            edit.setCalendarPopup(True)
            edit.setDisplayFormat("yyyy-MM-dd")
        self.query_button = css_class(QPushButton("查询"), "primary")
        self.query_button.clicked.connect(self.refresh)
        self.export_button = QPushButton("导出 Excel…")
        self.export_button.clicked.connect(self.ask_export)
        self.table = read_only_table(COLUMNS, "auditTable", stretch_last=True)
        self.table.setWordWrap(False)
        self.detail = QPlainTextEdit()
        self.detail.setObjectName("auditDetail")
        self.detail.setReadOnly(True)
        self.detail.setMaximumHeight(110)
        self.detail.setPlaceholderText("选中一行查看全部变更内容")
        self.table.itemSelectionChanged.connect(self._show_detail)
        self.status = css_class(QLabel(""), "hint")
        self.message = message_label("auditMessage")
        filters = QHBoxLayout()
        for label, widget in (("用户", self.user), ("对象", self.entity), ("从", self.since), ("到", self.until)):
            filters.addWidget(QLabel(label))
            filters.addWidget(widget)
        filters.addWidget(self.query_button)
        filters.addStretch(1)
        filters.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.addLayout(filters)
        layout.addWidget(self.status)
        layout.addWidget(self.message)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.detail)
        if not ctx.can("audit.view"):
            for widget in (self.query_button, self.export_button):
                widget.setEnabled(False)
            say(self.message, "审计日志仅管理员可查看")

    def filters(self) -> dict:
        return dict(since=_date(self.since), until=_date(self.until), username=self.user.currentData(),
                    entity=self.entity.currentData())

    def refresh(self) -> None:
        if not self.ctx.can("audit.view"):
            return
        filters, user = self.filters(), self.ctx.user
        db = self.ctx.db
        self.ctx.runner.run(lambda: (ops_audit.users(db, user), ops_audit.events(db, user, **filters)), self._show,
                            lambda exc: say(self.message, str(exc)), read_only=True)

    def _show(self, answer) -> None:
        names, rows = answer
        chosen = self.user.currentData()
        self.user.blockSignals(True)
        self.user.clear()
        self.user.addItem("全部用户", None)
        for name in names:
            self.user.addItem(name, name)
        self.user.setCurrentIndex(max(0, self.user.findData(chosen)))
        self.user.blockSignals(False)
        self.rows = rows
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            at, user, _, entity, entity_id, action, changes = row.cells
            for c, text in enumerate((at, user, entity, entity_id, action, changes)):
                item = QTableWidgetItem(text)
                if c == 5:
                    item.setToolTip(text.replace("; ", "\n"))
                self.table.setItem(r, c, item)
        more = f"（只显示最近 {ops_audit.SHOWN} 条，导出可得全部）" if len(rows) >= ops_audit.SHOWN else ""
        self.status.setText(f"{len(rows)} 条记录{more}。审计日志只能追加，不能修改或删除。")
        self.loaded.emit(len(rows))

    def _show_detail(self) -> None:
        r = self.table.currentRow()
        if 0 <= r < len(self.rows):
            at, user, _, entity, entity_id, action, changes = self.rows[r].cells
            lines = [f"{at}　{user}　{action}{entity}　{entity_id}", *changes.split("; ")]
            self.detail.setPlainText("\n".join(lines))

    def ask_export(self) -> None:
        filters, user = self.filters(), self.ctx.user
        say(self.message, "正在准备导出…", "hint")
        self.ctx.runner.run(lambda: ops_audit.export_rows(self.ctx.db, user, **filters), self._confirm,
                            lambda exc: say(self.message, str(exc)), read_only=True)

    def _confirm(self, answer) -> None:
        rows, ids = answer
        mask = False
        if ids:
            box = QMessageBox(QMessageBox.Icon.Warning, "导出含个人信息", id_number_warning(ids) + "。", parent=self)
            full = box.addButton("照常导出", QMessageBox.ButtonRole.AcceptRole)
            masked = box.addButton("遮盖身份证号后导出", QMessageBox.ButtonRole.AcceptRole)
            box.addButton("取消", QMessageBox.ButtonRole.RejectRole)
            box.setDefaultButton(masked)
            box.exec()
            if box.clickedButton() not in (full, masked):
                say(self.message, "已取消导出", "hint")
                return
            mask = box.clickedButton() is masked
        name = f"审计日志_{_date(self.since):%Y%m%d}-{_date(self.until):%Y%m%d}.xlsx"
        path, _ = QFileDialog.getSaveFileName(self, "导出审计日志", str(Path.home() / name), "Excel 工作簿 (*.xlsx)")
        if not path:
            say(self.message, "", "hint")
            return
        self.export_to(rows, Path(path) if path.lower().endswith(".xlsx") else Path(path + ".xlsx"), mask)

    def export_to(self, rows, path: Path, mask: bool) -> None:
        user = self.ctx.user
        self.ctx.runner.run(lambda: ops_audit.export(self.ctx.db, user, rows, path, mask), self._exported,
                            lambda exc: say(self.message, str(exc)))

    def _exported(self, path: Path) -> None:
        say(self.message, f"已导出：{path}", "ok")
        self.exported.emit(str(path))
        self.refresh()               # the export is itself an audit event
