"""退费: its own action with a required reason. The refund is a new settlement with the amounts negated
(clinic.dispensing.refund_purchase): the fund's payment goes back to the patient's annual cap and the
drugs go back to their lots. Afterwards the 退费单 can be printed."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QDialog, QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout

from desktop.gui import ops_dispense, ops_refund
from desktop.gui.context import AppContext
from desktop.gui.pdf_open import open_pdf
from desktop.gui.settlement_view import money
from desktop.gui.style import css_class, restyle


class RefundDialog(QDialog):
    refunded = Signal(object)          # ops_refund.SettlementRow of the new 退费单
    pdf_shown = Signal(object)

    def __init__(self, ctx: AppContext, row: ops_refund.SettlementRow, parent=None):
        super().__init__(parent)
        self.ctx, self.row = ctx, row
        self.refund_row: ops_refund.SettlementRow | None = None
        self.setWindowTitle("退费")
        facts = QFormLayout()
        facts.addRow("结算单号", QLabel(row.receipt_no))
        facts.addRow("结算日期", QLabel(str(row.settled_on)))
        drugs = QLabel(row.drugs)
        drugs.setWordWrap(True)
        facts.addRow("药品", drugs)
        facts.addRow("金额", QLabel(f"费用总额 {money(row.total)} 元，基金支付 {money(row.fund_pay)} 元，"
                                  f"个人自付 {money(row.self_pay)} 元"))
        explain = css_class(QLabel(f"退费日期 {ctx.today()}。将生成一张金额为负的退费单（原结算单保留），基金支付额退回"
                                   "患者本年度额度，药品退回原批次库存。"), "hint")
        explain.setWordWrap(True)
        self.reason = QLineEdit()
        self.reason.setObjectName("refundReason")
        self.reason.setPlaceholderText("如：患者退药、结算录入错误")
        self.message = css_class(QLabel(""), "error")
        self.message.setObjectName("message")
        self.message.setWordWrap(True)
        self.ok = css_class(QPushButton("确认退费"), "primary")
        self.ok.setObjectName("confirmRefund")
        self.ok.setEnabled(False)
        self.ok.setDefault(True)
        self.print_button = css_class(QPushButton("打印退费单 (Ctrl+P)"), "primary")
        self.print_button.setShortcut("Ctrl+P")
        self.print_button.hide()
        self.close_button = QPushButton("取消 (Esc)")
        self.reason.textChanged.connect(lambda text: self.ok.setEnabled(bool(text.strip()) and self.refund_row is None))
        self.ok.clicked.connect(self.refund)
        self.print_button.clicked.connect(self.print_receipt)
        self.close_button.clicked.connect(self.reject)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        for button in (self.print_button, self.ok, self.close_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addLayout(facts)
        layout.addWidget(explain)
        layout.addWidget(QLabel("退费原因 *"))
        layout.addWidget(self.reason)
        layout.addWidget(self.message)
        layout.addLayout(buttons)
        self.resize(620, 300)

    def refund(self) -> None:
        if not self.ok.isEnabled():
            return
        self.ok.setEnabled(False)
        self.reason.setEnabled(False)
        user, today, reason, settlement_id = self.ctx.user, self.ctx.today(), self.reason.text(), self.row.id
        self.ctx.runner.run(lambda: ops_refund.refund(self.ctx.db, user, settlement_id, reason, today),
                            self._done, self._failed)

    def _done(self, row: ops_refund.SettlementRow) -> None:
        self.refund_row = row
        self.message.setProperty("class", "ok")
        restyle(self.message)
        self.message.setText(f"已退费，退费单号 {row.receipt_no}（退回基金 {money(-row.fund_pay)} 元，"
                             f"退还患者 {money(-row.self_pay)} 元），已排队等待上传")
        self.ok.hide()
        self.close_button.setText("关闭 (Esc)")
        self.print_button.show()
        self.print_button.setDefault(True)
        self.refunded.emit(row)

    def _failed(self, exc: Exception) -> None:
        self.message.setText(f"未退费：{exc}" if isinstance(exc, ValueError | PermissionError)
                             else f"退费失败（没有保存任何记录）：{type(exc).__name__}: {exc}")
        self.reason.setEnabled(True)
        self.ok.setEnabled(bool(self.reason.text().strip()))

    def print_receipt(self) -> None:
        if self.refund_row is not None:
            settlement_id = self.refund_row.id
            open_pdf(self.ctx, self, lambda: ops_dispense.receipt_pdf(self.ctx.db, settlement_id),
                     f"退费单 {self.refund_row.receipt_no}", self.pdf_shown.emit)
