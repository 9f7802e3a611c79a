"""备案 tab: the patient's filings with their state and history (newest first, superseded and rejected
ones kept), the selected filing's 附件2 content, and the actions its state allows: new 认定备案,
变更备案 of an approved one, edit / submit a draft, reopen a rejected one, print 附件2."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from desktop.gui import ops_filings
from desktop.gui.context import AppContext
from desktop.gui.filing_dialog import FilingDialog
from desktop.gui.ops_filings import FilingRow
from desktop.gui.style import css_class, show_error
from desktop.gui.tables import read_only_table

COLUMNS = ("备案日期", "类型", "病种", "状态", "说明")
STATE_COLOURS = {"approved": "#2e7d32", "rejected": "#b00020", "submitted": "#7a5a00", "superseded": "#777777"}


class FilingsTab(QWidget):
    changed = Signal()
    loaded = Signal()
    pdf_ready = Signal(bytes)         # the last 附件2 rendered (tests and the preview read it)

    def __init__(self, ctx: AppContext, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        self.patient_id: str | None = None
        self.rows: list[FilingRow] = []
        self.dialog: FilingDialog | None = None
        self.preview: QWidget | None = None          # the PdfPreviewDialog, once printed
        can_edit = ctx.can("filing.edit")
        self.new_button = css_class(QPushButton("新建认定备案 (F7)"), "primary")
        self.new_button.setObjectName("newFiling")
        self.new_button.setShortcut("F7")
        self.change_button = QPushButton("变更备案")
        self.change_button.setObjectName("changeFiling")
        self.edit_button = QPushButton("修改草稿")
        self.edit_button.setObjectName("editFiling")
        self.submit_button = QPushButton("提交审核")
        self.submit_button.setObjectName("submitFiling")
        self.reopen_button = QPushButton("重新打开修改")
        self.reopen_button.setObjectName("reopenFiling")
        self.print_button = QPushButton("打印附件2 (Ctrl+P)")
        self.print_button.setObjectName("printFiling")
        self.print_button.setShortcut("Ctrl+P")
        for button in (self.new_button, self.change_button, self.edit_button, self.submit_button, self.reopen_button):
            button.setVisible(can_edit)
        self.new_button.clicked.connect(lambda: self._open_dialog("initial", None))
        self.change_button.clicked.connect(lambda: self._open_dialog("change", self.selected()))
        self.edit_button.clicked.connect(lambda: self._open_dialog("edit", self.selected()))
        self.submit_button.clicked.connect(self.submit)
        self.reopen_button.clicked.connect(self.reopen)
        self.print_button.clicked.connect(self.print_form)
        self.table = read_only_table(list(COLUMNS), "filingTable", stretch_last=True)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.detail = QTextBrowser()
        self.detail.setObjectName("filingDetail")
        self.status = css_class(QLabel(""), "hint")
        self.status.setWordWrap(True)
        buttons = QHBoxLayout()
        for button in (self.new_button, self.change_button, self.edit_button, self.submit_button,
                       self.reopen_button, self.print_button):
            buttons.addWidget(button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 3)
        layout.addWidget(self.detail, 2)
        self._selection_changed()

    # -- loading -----------------------------------------------------------------------------------

    def set_patient(self, patient_id: str) -> None:
        self.patient_id = patient_id
        self.rows = []
        self.table.setRowCount(0)
        self.refresh()

    def refresh(self, select_id: str | None = None) -> None:
        if not self.patient_id:
            return
        patient_id = self.patient_id
        self.ctx.runner.run(lambda: (patient_id, ops_filings.history(self.ctx.db, patient_id)),
                            lambda answer: self._show(*answer, select_id), self._failed, read_only=True)

    def _failed(self, exc: Exception) -> None:
        self.status.setText(f"备案记录无法加载：{exc}")
        self.loaded.emit()

    def _show(self, patient_id: str, rows: list[FilingRow], select_id: str | None) -> None:
        if patient_id != self.patient_id:
            return
        self.rows = rows
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            cells = (f"{row.filed_on}", row.kind_text, row.disease_text, row.state_text, row.note)
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c == 3 and row.state in STATE_COLOURS:
                    item.setForeground(QBrush(QColor(STATE_COLOURS[row.state])))
                self.table.setItem(r, c, item)
        index = next((i for i, row in enumerate(rows) if row.id == select_id), 0)
        if rows:
            self.table.selectRow(index)
        live = [r for r in rows if r.state in ("draft", "submitted", "approved") and r.change_reason != "cured"]
        self.status.setText("尚无备案。发现“两病”患者须办理认定备案，审核通过后开始享受待遇。" if not rows else
                            f"共 {len(rows)} 条备案记录（含历史），在办或有效 {len(live)} 条")
        self._selection_changed()
        self.loaded.emit()

    # -- selection and actions ---------------------------------------------------------------------

    def selected(self) -> FilingRow | None:
        row = self.table.currentRow()
        return self.rows[row] if 0 <= row < len(self.rows) and self.table.selectedItems() else None

    def _selection_changed(self) -> None:
        row = self.selected()
        self.change_button.setEnabled(bool(row and row.can_change))
        self.edit_button.setEnabled(bool(row and row.state == "draft"))
        self.submit_button.setEnabled(bool(row and row.state == "draft"))
        self.reopen_button.setEnabled(bool(row and row.state == "rejected"))
        self.print_button.setEnabled(row is not None)
        self.new_button.setEnabled(self.patient_id is not None)
        self.detail.setHtml(_detail_html(row) if row else "")

    def _open_dialog(self, mode: str, base: FilingRow | None) -> None:
        if self.patient_id is None or (mode != "initial" and base is None):
            return
        self.dialog = FilingDialog(self.ctx, self.patient_id, self.rows, mode=mode, base=base, parent=self)
        self.dialog.saved.connect(self._saved)
        self.dialog.open()

    def _saved(self, row: FilingRow) -> None:
        self.refresh(select_id=row.id)
        self.changed.emit()

    def _act(self, work, done_text: str) -> None:
        row = self.selected()
        if row is None:
            return
        db, user = self.ctx.db, self.ctx.user
        self.ctx.runner.run(lambda: work(db, user, row.id),
                            lambda saved: (self.status.setText(done_text), self._saved(saved)),
                            lambda exc: self.status.setText(str(exc)))

    def submit(self) -> None:
        self._act(ops_filings.submit, "已提交医保经办机构审核，审核结果将通过同步回到本机")

    def reopen(self) -> None:
        self._act(ops_filings.reopen, "已重新打开为草稿，请按驳回原因修改后再次提交")

    def print_form(self) -> None:
        row = self.selected()
        if row is None:
            return
        self.status.setText("正在生成附件2 审定表…")
        self.ctx.runner.run(lambda: ops_filings.form_pdf(self.ctx.db, row.id), self._show_pdf,
                            lambda exc: show_error(self, exc), read_only=True)

    def _show_pdf(self, answer: tuple[bytes, str]) -> None:
        from desktop.gui.pdf_preview import PdfPreviewDialog  # pdfium: only when printing

        pdf, title = answer
        self.status.setText("")
        self.pdf_ready.emit(pdf)
        self.preview = PdfPreviewDialog(pdf, title, self)
        self.preview.open()


def _esc(text: str) -> str:
    return (text or "—").replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\n", "<br>")


def _detail_html(row: FilingRow) -> str:
    parts = [f"<b>{row.kind_text}</b>　{row.disease_text}　ICD-10：{_esc(row.icd10)}　状态：{row.state_text}",
             f"<b>病史及诊断：</b>{_esc(row.history_diagnosis)}　<i>签字：{_esc(row.history_signer)}</i>",
             f"<b>治疗方案：</b>{_esc(row.treatment_plan)}　<i>签字：{_esc(row.plan_signer)}</i>"]
    if row.hospital_opinion:
        parts.append(f"<b>医院意见：</b>{_esc(row.hospital_opinion)}")
    if row.reject_reason:
        parts.append(f"<span style='color:#b00020'><b>驳回原因：</b>{_esc(row.reject_reason)}</span>")
    return "<br>".join(parts)
