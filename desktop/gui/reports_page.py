"""报表: choose a month and a report (附件4–7, 调度表, 濉溪考核表) → see it, print it, export XLSX or PDF.

Reports are computed in the worker (ops_reports) and kept, so printing and exporting show exactly the
figures on screen. Exports holding 身份证号 ask before writing (personal information, PIPL).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from PySide6.QtCore import QDate, Signal
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from clinic.reports import ReportTable
from desktop.gui import ops_reports
from desktop.gui.context import AppContext
from desktop.gui.pdf_preview import PdfPreviewDialog
from desktop.gui.report_table import ReportGrid
from desktop.gui.style import css_class


def previous_month(today: date) -> date:
    return date(today.year - 1, 12, 1) if today.month == 1 else date(today.year, today.month - 1, 1)


class ReportsPage(QWidget):
    report_shown = Signal(object)          # the ReportTable now on screen
    exported = Signal(str)                 # path written

    def __init__(self, ctx: AppContext, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        self.report: ReportTable | None = None
        self.shown_key = ""
        self.month = QDateEdit()
        self.month.setObjectName("reportMonth")
        self.month.setDisplayFormat("yyyy年MM月")
        start = previous_month(ctx.today())      # reports go up at the start of the month for the last one
        self.month.setDate(QDate(start.year, start.month, 1))
        self.kind = QComboBox()
        self.kind.setObjectName("reportKind")
        for kind in ops_reports.REPORT_KINDS:
            self.kind.addItem(kind.label, kind.key)
        self.kind.currentIndexChanged.connect(self._kind_changed)
        self.generate_button = css_class(QPushButton("生成 (F5)"), "primary")
        self.generate_button.setShortcut("F5")
        self.generate_button.clicked.connect(self.refresh)
        self.preview_button = QPushButton("打印预览 (Ctrl+P)")
        self.preview_button.setShortcut(QKeySequence.StandardKey.Print)
        self.preview_button.clicked.connect(self.preview)
        self.xlsx_button = QPushButton("导出 Excel (Ctrl+E)")
        self.xlsx_button.setShortcut("Ctrl+E")
        self.xlsx_button.clicked.connect(lambda: self.ask_export("xlsx"))
        self.pdf_button = QPushButton("导出 PDF")
        self.pdf_button.clicked.connect(lambda: self.ask_export("pdf"))
        self.inputs = QGroupBox()
        self.inputs_grid = QGridLayout(self.inputs)
        self.inputs_grid.setColumnStretch(6, 1)
        self.input_edits = {}
        self.typed: dict[str, dict[str, str]] = {}
        self.heading = css_class(QLabel(""), "title")
        self.heading.setWordWrap(True)
        self.status = css_class(QLabel(""), "hint")
        self.status.setObjectName("reportStatus")
        self.status.setWordWrap(True)
        self.table = ReportGrid()
        self.notes = QPlainTextEdit()
        self.notes.setObjectName("reportNotes")
        self.notes.setReadOnly(True)
        self.notes.setMaximumHeight(84)

        top = QHBoxLayout()
        top.addWidget(QLabel("月份"))
        top.addWidget(self.month)
        top.addWidget(QLabel("报表"))
        top.addWidget(self.kind, 1)
        top.addWidget(self.generate_button)
        actions = QHBoxLayout()
        for button in (self.preview_button, self.xlsx_button, self.pdf_button):
            actions.addWidget(button)
        actions.addWidget(self.status, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(css_class(QLabel("报表"), "title"))
        layout.addLayout(top)
        layout.addWidget(self.inputs)
        layout.addLayout(actions)
        layout.addWidget(self.heading)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.notes)
        self.setTabOrder(self.month, self.kind)
        self.setTabOrder(self.kind, self.generate_button)
        self._kind_changed()
        self._set_actions()
        if not ctx.can("report.view"):
            for widget in (self.month, self.kind, self.generate_button):
                widget.setEnabled(False)
            self._say("当前账号无权查看报表", "error")

    def _kind_changed(self) -> None:
        """Show the inputs this report needs (if any), keeping what was typed for each report."""
        self._remember_inputs()
        kind = ops_reports.KINDS[self.kind.currentData()]
        while self.inputs_grid.count():
            item = self.inputs_grid.takeAt(0)
            if item.widget() is not None:
                item.widget().hide()            # gone now, not only when the deferred delete runs
                item.widget().deleteLater()
        self.input_edits: dict[str, QLineEdit] = {}
        fields = kind.inputs()
        typed = self.typed.get(kind.key, {})
        for i, (key, (label, how)) in enumerate(fields.items()):
            edit = QLineEdit(typed.get(key, ""))
            edit.setObjectName(f"input_{key}")
            edit.setPlaceholderText("如 92% 或 0.92" if how == ops_reports.RATE else "整数")
            edit.setMaximumWidth(130)
            edit.returnPressed.connect(self.refresh)
            self.input_edits[key] = edit
            self.inputs_grid.addWidget(QLabel(label), i // 3, (i % 3) * 2)
            self.inputs_grid.addWidget(edit, i // 3, (i % 3) * 2 + 1)
        self.inputs.setTitle(kind.inputs_title)
        self.inputs.setVisible(bool(fields))
        self.shown_inputs = kind.key

    def _remember_inputs(self) -> None:
        if getattr(self, "shown_inputs", None):
            self.typed[self.shown_inputs] = {key: edit.text() for key, edit in self.input_edits.items()}

    def _set_actions(self) -> None:
        ready = self.report is not None
        for button in (self.preview_button, self.xlsx_button, self.pdf_button):
            button.setEnabled(ready)

    def selected_month(self) -> date:
        day = self.month.date()
        return date(day.year(), day.month(), 1)

    def given(self) -> dict[str, str]:
        """The inputs as typed; clinic/reports checks them and says which one is wrong."""
        return {key: edit.text().strip() for key, edit in self.input_edits.items() if edit.text().strip()}

    def refresh(self) -> None:
        if not self.ctx.can("report.view"):
            return
        key, month, today, given = self.kind.currentData(), self.selected_month(), self.ctx.today(), self.given()
        self._say(f"正在生成 {month:%Y年%m月} 的报表…")
        self.generate_button.setEnabled(False)
        user = self.ctx.user
        self.ctx.runner.run(lambda: ops_reports.build(self.ctx.db, user, key, month, today, given),
                            lambda report: self._show(key, report), self._failed, read_only=True)

    def _show(self, key: str, report: ReportTable) -> None:
        self.report, self.shown_key = report, key
        self.generate_button.setEnabled(True)
        self.heading.setText(f"{report.form_label}　{report.title}" if report.form_label else report.title)
        demo = "　【演示数据，非真实报表】" if report.demo else ""
        self._say(f"统计月份：{report.period}　填报单位：{report.unit}{demo}")
        self.table.show_report(report)
        self.notes.setPlainText("\n".join(f"说明{n}：{note}" for n, note in enumerate(report.notes, start=1)))
        self._set_actions()
        self.report_shown.emit(report)

    def _say(self, text: str, kind: str = "hint") -> None:
        self.status.setText(text)
        self.status.setProperty("class", kind)
        self.status.style().polish(self.status)

    def _failed(self, exc: Exception) -> None:
        self.generate_button.setEnabled(self.ctx.can("report.view"))
        self._say(str(exc) if isinstance(exc, ValueError | LookupError | OSError) else f"出错：{exc}", "error")

    # ------------------------------------------------------------ print and export

    def preview(self) -> None:
        report = self.report
        if report is None:
            return
        self.status.setText("正在生成打印预览…")
        self.ctx.runner.run(lambda: ops_reports.render(report, "pdf"), self._open_preview, self._failed,
                            read_only=True)

    def _open_preview(self, pdf: bytes) -> None:
        self.status.setText("")
        dialog = PdfPreviewDialog(pdf, self.report.title if self.report else "报表", self)
        dialog.open()
        self.preview_dialog = dialog

    def ask_export(self, fmt: str) -> None:
        report = self.report
        if report is None:
            return
        ids = ops_reports.id_numbers_in(report)
        if ids and not self.confirm_personal_data(ids):
            return
        start = Path.home() / ops_reports.file_name(report, self.shown_key, self.selected_month(), fmt)
        what = "Excel 工作簿 (*.xlsx)" if fmt == "xlsx" else "PDF 文件 (*.pdf)"
        path, _ = QFileDialog.getSaveFileName(self, "导出报表", str(start), what)
        if path:
            target = Path(path)
            self.export_to(target if target.suffix.lower() == f".{fmt}" else target.with_suffix(f".{fmt}"))

    def confirm_personal_data(self, count: int) -> bool:
        answer = QMessageBox.warning(
            self, "导出含个人信息",
            f"此报表含 {count} 个身份证号，属于个人敏感信息。导出的文件请妥善保管，不要通过微信、U盘随意传递。\n\n"
            "确定导出吗？", QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
            QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def export_to(self, path: Path) -> None:
        report = self.report
        assert report is not None
        self.status.setText(f"正在导出到 {path}…")
        self.ctx.runner.run(lambda: ops_reports.export(report, path), self._exported, self._failed)

    def _exported(self, path: Path) -> None:
        self._say(f"已导出：{path}", "ok")
        self.exported.emit(str(path))
