"""配药结算 tab of the patient page: every purchase and refund with its receipt number and amounts, the
upload state, 配药结算 (DispenseDialog), 退费 with a reason (RefundDialog) and reprinting a receipt."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.gui import ops_dispense, ops_refund
from desktop.gui.context import AppContext
from desktop.gui.dispense_dialog import DispenseDialog
from desktop.gui.pdf_open import open_pdf
from desktop.gui.refund_dialog import RefundDialog
from desktop.gui.settlement_view import RIGHT, money
from desktop.gui.style import css_class
from desktop.gui.tables import read_only_table

COLUMNS = ["日期", "单号", "类型", "费用总额", "基金支付", "个人自付", "大病保险可申报", "上传", "经办人",
           "药品（数量）", "备注"]
DRUGS, NOTE = 9, 10
REFUND_COLOUR = QBrush(QColor("#b00020"))


class DispensingTab(QWidget):
    changed = Signal()
    loaded = Signal()
    pdf_shown = Signal(object)

    def __init__(self, ctx: AppContext, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        self.patient_id: str | None = None
        self.rows: list[ops_refund.SettlementRow] = []
        self._select_id: str | None = None
        self.dispense_button = css_class(QPushButton("配药结算 (Ctrl+D)"), "primary")
        self.dispense_button.setShortcut("Ctrl+D")
        self.refund_button = QPushButton("退费…")
        self.reprint_button = QPushButton("重打结算单 (Ctrl+P)")
        self.reprint_button.setShortcut("Ctrl+P")
        self.dispense_button.clicked.connect(self.dispense)
        self.refund_button.clicked.connect(self.refund)
        self.reprint_button.clicked.connect(self.reprint)
        self.dispense_button.setEnabled(ctx.can("dispense"))
        self.status = css_class(QLabel(""), "hint")
        self.status.setObjectName("dispenseStatus")
        self.status.setWordWrap(True)
        self.table = read_only_table(COLUMNS, "settlements", stretch=(DRUGS, NOTE))
        self.table.itemSelectionChanged.connect(self._update_buttons)
        bar = QHBoxLayout()
        for button in (self.dispense_button, self.refund_button, self.reprint_button):
            bar.addWidget(button)
        bar.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)
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
        patient_id = self.patient_id
        self.ctx.runner.run(lambda: (patient_id, ops_refund.history(self.ctx.db, patient_id)), self._show,
                            self._failed, read_only=True)

    def _failed(self, exc: Exception) -> None:
        self._say(f"无法读取配药结算记录：{exc}")
        self.loaded.emit()

    def _show(self, answer) -> None:
        patient_id, rows = answer
        if patient_id != self.patient_id:
            return
        keep = self._select_id or (self.current().id if self.current() else None)
        self._select_id = None
        self.rows = rows
        self.table.setRowCount(len(rows))
        selected = 0
        for r, row in enumerate(rows):
            cells = [str(row.settled_on), row.receipt_no, "退费" if row.is_refund else "结算", money(row.total),
                     money(row.fund_pay), money(row.self_pay), money(row.major_illness_eligible), row.state,
                     row.operator, row.drugs, row.note]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if 3 <= c <= 6:
                    item.setTextAlignment(RIGHT)
                if row.is_refund:
                    item.setForeground(REFUND_COLOUR)
                if c in (DRUGS, NOTE):
                    item.setToolTip(text)
                self.table.setItem(r, c, item)
            if row.id == keep:
                selected = r
        if rows:
            self.table.selectRow(selected)
        elif not self.status.text():
            self._say("尚无配药结算记录")
        self._update_buttons()
        self.loaded.emit()

    def current(self) -> ops_refund.SettlementRow | None:
        r = self.table.currentRow()
        return self.rows[r] if 0 <= r < len(self.rows) and self.table.selectedItems() else None

    def _update_buttons(self) -> None:
        row = self.current()
        self.refund_button.setEnabled(bool(row) and row.refundable and self.ctx.can("refund"))
        self.reprint_button.setEnabled(bool(row))
        self.reprint_button.setText("重打退费单 (Ctrl+P)" if row and row.is_refund else "重打结算单 (Ctrl+P)")

    # ---------------------------------------------------------------- actions

    def dispense(self) -> DispenseDialog | None:
        if not self.patient_id or not self.ctx.can("dispense"):
            return None
        dialog = DispenseDialog(self.ctx, self.patient_id, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.settled.connect(self._settled)
        dialog.open()
        return dialog

    def _settled(self, done: ops_dispense.Done) -> None:
        self._select_id = done.settlement_id
        self._say(f"已结算 {done.receipt_no}：基金支付 {money(done.fund_pay)} 元，个人自付 "
                            f"{money(done.self_pay)} 元")
        self.refresh()
        self.changed.emit()

    def refund(self) -> RefundDialog | None:
        row = self.current()
        if row is None or not self.refund_button.isEnabled():
            return None
        dialog = RefundDialog(self.ctx, row, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.refunded.connect(self._refunded)
        dialog.open()
        return dialog

    def _refunded(self, row: ops_refund.SettlementRow) -> None:
        self._select_id = row.id
        self._say(f"已退费：退费单 {row.receipt_no}")
        self.refresh()
        self.changed.emit()

    def reprint(self) -> None:
        row = self.current()
        if row is None:
            return
        settlement_id = row.id
        open_pdf(self.ctx, self, lambda: ops_dispense.receipt_pdf(self.ctx.db, settlement_id),
                 f"{'退费单' if row.is_refund else '结算单'} {row.receipt_no}", self.pdf_shown.emit)
