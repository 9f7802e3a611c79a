"""配药结算: the lines of the active prescription for the days chosen, and — before the doctor confirms —
the fund/self split per disease from the real settlement engine, the year's fund use and the cap left,
and the 大病保险-eligible amount. Refusals (early refill with its first allowed day, out of scope, 超量,
a missing policy setting, too little stock) are shown here in words. Confirming dispenses and settles
in one transaction; then the receipt (and 附件3 for a new prescription) can be printed."""

from __future__ import annotations

import html
from datetime import date

from PySide6.QtCore import QDate, QTimer, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
)

from clinic.vocab import LEVELS
from desktop.gui import ops_dispense, ops_prescribe
from desktop.gui.context import AppContext
from desktop.gui.pdf_open import fit_to_screen, open_pdf
from desktop.gui.settlement_view import SettlementView, money
from desktop.gui.style import css_class, restyle

PREVIEW_DELAY_MS = 200


class DispenseDialog(QDialog):
    ready = Signal()
    previewed = Signal()
    settled = Signal(object)             # ops_dispense.Done
    pdf_shown = Signal(object)           # the PdfPreviewDialog

    def __init__(self, ctx: AppContext, patient_id: str, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        self.patient_id = patient_id
        self.info: ops_dispense.DispenseSetup | None = None
        self.preview: ops_dispense.Preview | None = None
        self.settlement: ops_dispense.Done | None = None
        self._generation = 0
        self._previewed_generation = -1
        self._last_inputs: tuple | None = None
        self.setWindowTitle("配药结算")
        self.header = QLabel("正在加载…")
        self.header.setObjectName("dispenseHeader")
        self.header.setWordWrap(True)
        self.prescription = QComboBox()
        self.prescription.setObjectName("prescription")
        self.days = QSpinBox()
        self.days.setObjectName("days")
        self.days.setRange(1, 366)
        self.days.setSuffix(" 天")
        self.covers = css_class(QLabel(""), "hint")
        # 补录: a purchase from a power cut or a paper record, dated back within the clinic's limit
        # (clinic/dispensing.py refuses beyond it, with the earliest allowed day).
        self.on = QDateEdit()
        self.on.setObjectName("purchaseDate")
        self.on.setDisplayFormat("yyyy-MM-dd")
        self.on.setCalendarPopup(True)
        today = ctx.today()
        self.on.setDateRange(QDate(today.year, today.month, today.day).addDays(-90),
                             QDate(today.year, today.month, today.day))
        self.on.setDate(QDate(today.year, today.month, today.day))
        self.on.setToolTip("默认今天；停电或纸质记录补录时改为实际配药日期（不得超过本机构的补录期限）")
        self.level_label = QLabel("外配处方开具机构级别")
        self.level = QComboBox()
        for code, words in LEVELS.items():
            self.level.addItem(words, code)
        self.refusal = css_class(QLabel(""), "error")
        self.refusal.setObjectName("refusal")
        self.refusal.setWordWrap(True)
        self.first_allowed = QLabel("")
        self.first_allowed.setObjectName("firstAllowed")
        self.first_allowed.setStyleSheet("font-size: 12pt; font-weight: bold; color: #b00020;")
        self.override = QLineEdit()
        self.override.setObjectName("overrideReason")
        self.override.setPlaceholderText("库存不足时须填写超库存配药原因（如：药品已到货尚未入库）")
        self.view = SettlementView()
        self.status_line = css_class(QLabel(""), "ok")
        self.status_line.setObjectName("result")
        self.status_line.setWordWrap(True)
        self.print_receipt = css_class(QPushButton("打印结算单 (Ctrl+P)"), "primary")
        self.print_receipt.setObjectName("printReceipt")
        self.print_rx = QPushButton("打印附件3 连续处方")
        self.print_rx.setObjectName("printRx")
        self.confirm_button = css_class(QPushButton("确认结算 (Enter)"), "primary")
        self.confirm_button.setObjectName("confirm")
        self.confirm_button.setDefault(True)
        self.confirm_button.setEnabled(False)
        self.close_button = QPushButton("取消 (Esc)")
        self._layout()
        self.prescription.currentIndexChanged.connect(self._prescription_changed)
        for signal in (self.days.valueChanged, self.override.textChanged, self.level.currentIndexChanged,
                       self.on.dateChanged):
            signal.connect(self._inputs_changed)
        self.timer = QTimer(self, singleShot=True, interval=PREVIEW_DELAY_MS)
        self.timer.timeout.connect(self.preview_now)
        self.confirm_button.clicked.connect(self.confirm)
        self.close_button.clicked.connect(self.reject)
        self.print_receipt.clicked.connect(self.show_receipt)
        self.print_rx.clicked.connect(self.show_prescription)
        QShortcut(QKeySequence.StandardKey.Print, self, activated=self.show_receipt)
        for widget in (self.status_line, self.print_receipt, self.print_rx, self.override):
            widget.hide()
        self.ctx.runner.run(lambda: ops_dispense.setup(ctx.db, patient_id, ctx.today()), self._set_up,
                            self._load_failed, read_only=True)

    def _layout(self) -> None:
        choose = QHBoxLayout()
        choose.addWidget(QLabel("处方"))
        choose.addWidget(self.prescription, 1)
        choose.addWidget(QLabel("本次配药"))
        choose.addWidget(self.days)
        choose.addWidget(self.covers)
        choose.addWidget(QLabel("配药日期"))
        choose.addWidget(self.on)
        choose.addWidget(self.level_label)
        choose.addWidget(self.level)
        self.scroll = QScrollArea()
        self.scroll.setWidgetResizable(True)
        self.scroll.setWidget(self.view)
        buttons = QHBoxLayout()
        buttons.addWidget(self.status_line, 1)
        buttons.addStretch()
        for button in (self.print_receipt, self.print_rx, self.confirm_button, self.close_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.header)
        layout.addLayout(choose)
        layout.addWidget(self.refusal)
        layout.addWidget(self.first_allowed)
        layout.addWidget(self.override)
        layout.addWidget(self.scroll, 1)
        layout.addStretch(0)             # takes the room while the figures are hidden
        layout.addLayout(buttons)
        fit_to_screen(self, 1240, 680)

    # ---------------------------------------------------------------- loading

    def _load_failed(self, exc: Exception) -> None:
        self.header.setText("无法配药结算")
        self._refuse(str(exc))
        self.ready.emit()

    def _set_up(self, info: ops_dispense.DispenseSetup) -> None:
        self.info = info
        self.header.setText(f"<b>{html.escape(info.patient_name)}</b>　" + html.escape(
            f"{info.insurance_words}　本机构：{info.institution_words}　享受“两病”待遇：{info.entitled_words}"))
        self.level_label.setVisible(info.is_pharmacy)
        self.level.setVisible(info.is_pharmacy)
        self.prescription.blockSignals(True)
        for choice in info.prescriptions:
            self.prescription.addItem(choice.label, choice.id)
        self.prescription.blockSignals(False)
        if info.problem:
            self._refuse(info.problem)
            self.prescription.setEnabled(False)
            self.days.setEnabled(False)
        else:
            self._prescription_changed()
        self.ready.emit()

    def _choice(self) -> ops_dispense.RxChoice | None:
        index = self.prescription.currentIndex()
        return self.info.prescriptions[index] if self.info and 0 <= index < len(self.info.prescriptions) else None

    def _prescription_changed(self) -> None:
        choice = self._choice()
        if choice is None:
            return
        self.covers.setText(f"（本处方还可配 {choice.covers_days} 天）")
        self.days.blockSignals(True)
        self.days.setValue(max(choice.covers_days, 1))
        self.days.blockSignals(False)
        self._inputs_changed()
        self.preview_now()                  # a discrete choice: no need to wait for more typing
        self.days.setFocus()
        self.days.selectAll()

    # ---------------------------------------------------------------- preview

    def _inputs(self) -> tuple:
        choice = self._choice()
        return (choice.id if choice else None, self.days.value(), self.override.text().strip(),
                self._prescriber_level(), self.purchase_date())

    def purchase_date(self) -> date:
        return self.on.date().toPython()

    def _inputs_changed(self) -> None:
        # Enter in the spin box re-emits an unchanged value; only a real change needs a new preview.
        if self._inputs() == self._last_inputs:
            return
        self._last_inputs = self._inputs()
        self._generation += 1
        self.confirm_button.setEnabled(False)
        self.timer.start()

    def preview_now(self) -> None:
        self.timer.stop()
        choice = self._choice()
        if choice is None or self.settlement is not None:
            return
        generation, user, today, days = self._generation, self.ctx.user, self.ctx.today(), self.days.value()
        reason, level, on = self.override.text().strip(), self._prescriber_level(), self.purchase_date()
        self.ctx.runner.run(lambda: (generation, ops_dispense.preview(
            self.ctx.db, user, choice.id, days, today, override_reason=reason, prescriber_level=level, on=on)),
            self._show_preview, self._preview_failed)

    def _prescriber_level(self) -> str | None:
        return self.level.currentData() if self.info and self.info.is_pharmacy else None

    def _show_preview(self, answer) -> None:
        generation, preview = answer
        if generation != self._generation:
            return
        self._previewed_generation = generation
        self.preview = preview
        if preview.ok:
            self._refuse("")
            self.view.show_preview(preview)
            self.scroll.show()
            self.override.setVisible(bool(self.override.text()))
        else:
            self._refuse(preview.refusal)
            self.view.clear()
            self.scroll.hide()          # no figures to show: the reason is what matters
            self.override.setVisible(preview.shortage or bool(self.override.text()))
            if preview.first_allowed_on:
                wait = (preview.first_allowed_on - self.ctx.today()).days
                self.first_allowed.setText(f"最早可配日期：{preview.first_allowed_on:%Y年%m月%d日}（还需等 {wait} 天）")
                self.first_allowed.show()
        self.confirm_button.setEnabled(preview.ok and self.ctx.can("dispense"))
        if preview.ok and not self.ctx.can("dispense"):
            self._refuse("当前账号无权配药结算")
        self.previewed.emit()

    def _preview_failed(self, exc: Exception) -> None:
        self._refuse(f"无法试算：{type(exc).__name__}: {exc}")
        self.previewed.emit()

    def _refuse(self, text: str) -> None:
        self.refusal.setText(text)
        self.refusal.setVisible(bool(text))
        self.first_allowed.hide()

    # ---------------------------------------------------------------- confirm and print

    def confirm(self) -> None:
        choice = self._choice()
        if choice is None or not self.confirm_button.isEnabled() or self._previewed_generation != self._generation:
            return
        self.confirm_button.setEnabled(False)
        for widget in (self.prescription, self.days, self.override, self.level, self.on):
            widget.setEnabled(False)
        user, today, days = self.ctx.user, self.ctx.today(), self.days.value()
        reason, level, on = self.override.text().strip(), self._prescriber_level(), self.purchase_date()
        self.status_line.setProperty("class", "hint")
        restyle(self.status_line)
        self.status_line.setText("正在结算…")
        self.status_line.show()
        self.ctx.runner.run(lambda: ops_dispense.confirm(self.ctx.db, user, choice.id, days, today,
                                                         override_reason=reason, prescriber_level=level, on=on),
                            self._confirmed, self._confirm_failed)

    def _confirmed(self, done: ops_dispense.Done) -> None:
        self.settlement = done
        self.status_line.setProperty("class", "ok")
        restyle(self.status_line)
        self.status_line.setText(f"已结算，单号 {done.receipt_no}：费用 {money(done.total)} 元，基金支付 "
                            f"{money(done.fund_pay)} 元，个人自付 {money(done.self_pay)} 元（已排队等待上传）")
        self.confirm_button.hide()
        self.close_button.setText("关闭 (Esc)")
        self.print_receipt.show()
        self.print_rx.setVisible(done.first_under_prescription)
        self.print_receipt.setDefault(True)
        self.print_receipt.setFocus()
        self.settled.emit(done)

    def _confirm_failed(self, exc: Exception) -> None:
        self.status_line.setProperty("class", "error")
        restyle(self.status_line)
        self.status_line.setText(f"未结算（没有保存任何记录）：{exc}" if isinstance(exc, ValueError | PermissionError)
                            else f"结算失败（没有保存任何记录）：{type(exc).__name__}: {exc}")
        for widget in (self.prescription, self.days, self.override, self.level, self.on):
            widget.setEnabled(True)
        self._last_inputs = None            # something changed underneath: preview again
        self._inputs_changed()

    def show_receipt(self) -> None:
        if self.settlement is not None:
            settlement_id = self.settlement.settlement_id
            open_pdf(self.ctx, self, lambda: ops_dispense.receipt_pdf(self.ctx.db, settlement_id),
                     f"结算单 {self.settlement.receipt_no}", self.pdf_shown.emit)

    def show_prescription(self) -> None:
        if self.settlement is not None:
            rx_id = self.settlement.prescription_id
            open_pdf(self.ctx, self, lambda: ops_prescribe.prescription_pdf(self.ctx.db, rx_id),
                     f"附件3 连续处方 {self.info.patient_name if self.info else ''}", self.pdf_shown.emit)

