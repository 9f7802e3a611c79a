"""处方 tab of the patient page: the patient's continuous prescriptions (active, expired, stopped with
the reason) with their lines; 新处方, 续方, 停用 with a reason, and 打印附件3 (both copies, one job)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.gui import ops_prescribe
from desktop.gui.context import AppContext
from desktop.gui.pdf_open import open_pdf
from desktop.gui.prescribe_dialog import PrescribeDialog
from desktop.gui.style import css_class

COLUMNS = ["开方日期", "有效期至", "状态", "临床诊断", "医生", "已配药"]
GREY = QBrush(QColor("#777777"))


class StopDialog(QDialog):
    """停用处方: the reason is required; a refusal is shown here."""

    stopped = Signal()

    def __init__(self, ctx: AppContext, row: ops_prescribe.PrescriptionRow, parent=None):
        super().__init__(parent)
        self.ctx, self.row = ctx, row
        self.setWindowTitle("停用处方")
        self.reason = QLineEdit()
        self.reason.setObjectName("stopReason")
        self.reason.setPlaceholderText("如：病情变化调整用药、患者转诊、不良反应")
        self.message = css_class(QLabel(""), "error")
        self.message.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText("停用")
        self.ok.setEnabled(False)
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("取消")
        self.buttons.accepted.connect(self.stop)
        self.buttons.rejected.connect(self.reject)
        self.reason.textChanged.connect(lambda text: self.ok.setEnabled(bool(text.strip())))
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"停用 {row.prescribed_on} 开具的处方（{row.diagnosis}）。停用后不能再凭此处方配药。"))
        layout.addWidget(QLabel("停用原因 *"))
        layout.addWidget(self.reason)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)

    def stop(self) -> None:
        if not self.ok.isEnabled():
            return
        self.ok.setEnabled(False)
        user, reason, rx_id = self.ctx.user, self.reason.text(), self.row.id
        self.ctx.runner.run(lambda: ops_prescribe.stop(self.ctx.db, user, rx_id, reason), self._done, self._failed)

    def _done(self, _=None) -> None:
        self.stopped.emit()
        self.accept()

    def _failed(self, exc: Exception) -> None:
        self.message.setText(str(exc))
        self.ok.setEnabled(True)


class PrescriptionsTab(QWidget):
    changed = Signal()
    loaded = Signal()
    pdf_shown = Signal(object)          # the print preview, once open

    def __init__(self, ctx: AppContext, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        self.patient_id: str | None = None
        self.rows: list[ops_prescribe.PrescriptionRow] = []
        self._select_id: str | None = None
        can_edit = ctx.can("prescription.edit")
        self.new_button = css_class(QPushButton("新处方 (Ctrl+N)"), "primary")
        self.new_button.setShortcut("Ctrl+N")
        self.renew_button = QPushButton("续方 (Ctrl+R)")
        self.renew_button.setShortcut("Ctrl+R")
        self.stop_button = QPushButton("停用…")
        self.print_button = QPushButton("打印附件3 (Ctrl+P)")
        self.print_button.setShortcut("Ctrl+P")
        self.new_button.clicked.connect(self.new_prescription)
        self.renew_button.clicked.connect(self.renew)
        self.stop_button.clicked.connect(self.stop)
        self.print_button.clicked.connect(self.print_form)
        self.new_button.setEnabled(can_edit)
        self.status = css_class(QLabel(""), "hint")
        self.status.setObjectName("rxStatus")
        self.status.setWordWrap(True)
        self.tree = QTreeWidget()
        self.tree.setObjectName("prescriptions")
        self.tree.setColumnCount(len(COLUMNS))
        self.tree.setHeaderLabels(COLUMNS)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setRootIsDecorated(True)
        self.tree.header().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.tree.header().setStretchLastSection(True)
        self.tree.currentItemChanged.connect(lambda *_: self._update_buttons())
        bar = QHBoxLayout()
        for button in (self.new_button, self.renew_button, self.stop_button, self.print_button):
            bar.addWidget(button)
        bar.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.status)
        layout.addWidget(self.tree, 1)
        self._update_buttons()
        self.status.hide()

    def _say(self, text: str) -> None:
        self.status.setText(text)
        self.status.setVisible(bool(text))

    def set_patient(self, patient_id: str) -> None:
        if patient_id != self.patient_id:
            self._say("")
        self.patient_id = patient_id
        self.refresh()

    def refresh(self) -> None:
        if not self.patient_id:
            return
        patient_id, today = self.patient_id, self.ctx.today()
        self.ctx.runner.run(lambda: (patient_id, ops_prescribe.prescription_rows(self.ctx.db, patient_id, today)),
                            self._show, self._failed, read_only=True)

    def _failed(self, exc: Exception) -> None:
        self._say(f"无法读取处方：{exc}")
        self.loaded.emit()

    def _show(self, answer) -> None:
        patient_id, rows = answer
        if patient_id != self.patient_id:
            return
        keep = self._select_id or (self.current().id if self.current() else None)
        self._select_id = None
        self.rows = rows
        self.tree.clear()
        selected = None
        for row in rows:
            item = QTreeWidgetItem([str(row.prescribed_on), str(row.valid_until), row.state, row.diagnosis,
                                    row.prescriber, f"{row.dispenses} 次"])
            item.setData(0, Qt.ItemDataRole.UserRole, row.id)
            for line in row.lines:
                item.addChild(QTreeWidgetItem([line]))
            if not row.active:
                for column in range(len(COLUMNS)):
                    item.setForeground(column, GREY)
            self.tree.addTopLevelItem(item)       # a line spans the row only once it is in the tree
            for index in range(item.childCount()):
                item.child(index).setFirstColumnSpanned(True)
            item.setExpanded(row.active or row.id == keep)
            if row.id == keep or (selected is None and keep is None):
                selected = item
        if selected is None and self.tree.topLevelItemCount():
            selected = self.tree.topLevelItem(0)
        if selected is not None:
            self.tree.setCurrentItem(selected)
        if not rows:
            self._say("尚无连续处方。患者备案通过后可开具（Ctrl+N）")
        self._update_buttons()
        self.loaded.emit()

    def current(self) -> ops_prescribe.PrescriptionRow | None:
        item = self.tree.currentItem()
        if item is None:
            return None
        if item.parent() is not None:
            item = item.parent()
        rx_id = item.data(0, Qt.ItemDataRole.UserRole)
        return next((row for row in self.rows if row.id == rx_id), None)

    def _update_buttons(self) -> None:
        row, can_edit = self.current(), self.ctx.can("prescription.edit")
        self.renew_button.setEnabled(bool(row) and can_edit)
        self.stop_button.setEnabled(bool(row) and can_edit and row.state == "有效")
        self.print_button.setEnabled(bool(row))

    # ---------------------------------------------------------------- actions

    def _open_dialog(self, renew_id: str | None) -> PrescribeDialog:
        dialog = PrescribeDialog(self.ctx, self.patient_id, self, renew_id=renew_id)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.saved.connect(self._saved)
        dialog.open()
        return dialog

    def new_prescription(self) -> PrescribeDialog | None:
        if self.patient_id and self.ctx.can("prescription.edit"):
            return self._open_dialog(None)
        return None

    def renew(self) -> PrescribeDialog | None:
        row = self.current()
        if row and self.ctx.can("prescription.edit"):
            return self._open_dialog(row.id)
        return None

    def _saved(self, prescription_id: str) -> None:
        self._select_id = prescription_id
        self._say("处方已保存。请打印附件3（一式两份，Ctrl+P），请患者在“处方申请人”处签字，一份交患者。")
        self.refresh()
        self.changed.emit()

    def stop(self) -> StopDialog | None:
        row = self.current()
        if row is None or not self.stop_button.isEnabled():
            return None
        dialog = StopDialog(self.ctx, row, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.stopped.connect(lambda: (self._say("处方已停用"), self.refresh(), self.changed.emit()))
        dialog.open()
        return dialog

    def print_form(self) -> None:
        row = self.current()
        if row is None:
            return
        rx_id = row.id
        open_pdf(self.ctx, self, lambda: ops_prescribe.prescription_pdf(self.ctx.db, rx_id),
                 f"附件3 连续处方 {row.prescribed_on}", self.pdf_shown.emit)
