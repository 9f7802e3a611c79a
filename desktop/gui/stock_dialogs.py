"""Dialogs of the 药品库存 page: 入库 (receive a delivery), 盘点 / 报损 (count correction or loss of one
lot, always with a reason), and the report of a drug-list import. Each saves through the task runner
and shows the domain's Chinese reason inside the dialog, which stays open until the save succeeds."""

from __future__ import annotations

from datetime import date

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QVBoxLayout,
    QWidget,
)

from clinic.catalogue import ImportReport
from desktop.gui import ops_stock
from desktop.gui.context import AppContext
from desktop.gui.style import css_class

NO_DATE = QDate(2000, 1, 1)            # shown as “请选择”: an expiry must be typed, never defaulted


def to_date(value: QDate) -> date:
    return date(value.year(), value.month(), value.day())


def date_edit(initial: date | None) -> QDateEdit:
    edit = QDateEdit()
    edit.setCalendarPopup(True)
    edit.setDisplayFormat("yyyy-MM-dd")
    edit.setMinimumDate(NO_DATE)
    edit.setSpecialValueText("请选择")
    edit.setDate(QDate(initial.year, initial.month, initial.day) if initial else NO_DATE)
    return edit


class _SaveDialog(QDialog):
    """Enter saves (the OK button is the default), Esc cancels; errors shown in `message`."""

    saved = Signal(object)

    def __init__(self, ctx: AppContext, title: str, ok_text: str, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle(title)
        self.form = QFormLayout()
        self.message = css_class(QLabel(""), "error")
        self.message.setObjectName("message")
        self.message.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok.setText(ok_text)
        self.ok.setDefault(True)
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("取消")
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(self.form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)

    def fail(self, text: str, field: QWidget | None = None) -> None:
        self.message.setText(text)
        self.ok.setEnabled(True)
        if field is not None:
            field.setFocus()

    def run(self, fn, describe) -> None:
        self.message.setText("正在保存…")
        self.ok.setEnabled(False)
        self.ctx.runner.run(fn, lambda result: self._done(result, describe), self._failed)

    def _done(self, result, describe) -> None:
        self.saved.emit(describe(result))
        self.accept()

    def _failed(self, exc: Exception) -> None:
        self.fail(str(exc) if isinstance(exc, ValueError | LookupError | PermissionError)
                  else f"保存失败，未作任何修改：{exc}")


class ReceiveDialog(_SaveDialog):
    """入库: drug, 批号, 有效期, 数量, 进价, 供货单位, 入库日期."""

    def __init__(self, ctx: AppContext, drug_code: str | None = None, parent: QWidget | None = None):
        super().__init__(ctx, "药品入库", "入库", parent)
        self.drug = QComboBox()
        self.drug.setObjectName("drug")
        self.drug.setEditable(True)
        self.drug.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.drug.completer().setFilterMode(Qt.MatchFlag.MatchContains)
        self.drug.completer().setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.drug.setMinimumWidth(360)
        self.lot_no, self.quantity, self.cost, self.supplier = QLineEdit(), QLineEdit(), QLineEdit(), QLineEdit()
        self.lot_no.setObjectName("lotNo")
        self.quantity.setObjectName("quantity")
        self.quantity.setPlaceholderText("按最小单位（片/粒/支）")
        self.cost.setPlaceholderText("元/最小单位，可不填")
        self.expiry = date_edit(None)
        self.expiry.setObjectName("expiry")
        self.received_on = date_edit(ctx.today())
        for label, widget in (("药品", self.drug), ("批号", self.lot_no), ("有效期至", self.expiry),
                              ("数量", self.quantity), ("进价", self.cost), ("供货单位", self.supplier),
                              ("入库日期", self.received_on)):
            self.form.addRow(label, widget)
        self.wanted = drug_code
        self.message.setText("正在加载药品目录…")
        ctx.runner.run(lambda: ops_stock.drug_names(ctx.db), self._fill, self._failed, read_only=True)

    def _fill(self, names: list[tuple[str, str]]) -> None:
        self.drug.clear()
        for code, label in names:
            self.drug.addItem(f"{label}　{code}", code)
        index = self.drug.findData(self.wanted) if self.wanted else -1
        self.drug.setCurrentIndex(index)
        if index < 0:
            self.drug.setEditText("")
        self.message.setText("")
        (self.lot_no if index >= 0 else self.drug).setFocus()

    def selected_code(self) -> str | None:
        index = self.drug.findText(self.drug.currentText())
        return self.drug.itemData(index) if index >= 0 else None

    def save(self) -> None:
        code = self.selected_code()
        if code is None:
            return self.fail("请从目录中选择药品（可输入名称或编码查找）", self.drug)
        if self.expiry.date() == NO_DATE:
            return self.fail("请填写有效期（见药盒上的“有效期至”）", self.expiry)
        values = dict(drug_code=code, lot_no=self.lot_no.text(), expiry=to_date(self.expiry.date()),
                      quantity=self.quantity.text().strip() or "0", on=to_date(self.received_on.date()),
                      cost_price=self.cost.text().strip() or None, supplier=self.supplier.text())
        user = self.ctx.user
        self.run(lambda: ops_stock.receive_stock(self.ctx.db, user, **values),
                 lambda on_hand: f"已入库：{self.drug.currentText().split('　')[0]} {values['quantity']}，"
                                 f"现有库存 {on_hand}")


class LotChangeDialog(_SaveDialog):
    """盘点 (mode "count": the counted quantity) or 报损 (mode "loss": the quantity lost) of one lot."""

    def __init__(self, ctx: AppContext, lot: ops_stock.LotRow, drug_label: str, mode: str,
                 parent: QWidget | None = None):
        title, ok = ("盘点调整", "保存盘点") if mode == "count" else ("报损", "确认报损")
        super().__init__(ctx, f"{title} — {drug_label}", ok, parent)
        self.lot, self.mode = lot, mode
        self.setMinimumWidth(460)
        self.quantity = QLineEdit(str(lot.on_hand) if mode == "count" else "")
        self.quantity.setObjectName("quantity")
        self.reason = QLineEdit()
        self.reason.setObjectName("reason")
        self.reason.setPlaceholderText("必填，如：月末盘点实数 / 包装破损 / 过期")
        self.on = date_edit(ctx.today())
        self.form.addRow("批号", QLabel(f"{lot.lot_no}（有效期至 {lot.expiry}）"))
        self.form.addRow("账面数量", QLabel(str(lot.on_hand)))
        self.form.addRow("实盘数量" if mode == "count" else "报损数量", self.quantity)
        self.form.addRow("原因", self.reason)
        self.form.addRow("日期", self.on)
        self.quantity.selectAll()
        self.quantity.setFocus()

    def save(self) -> None:
        if not self.reason.text().strip():
            return self.fail(("盘点调整" if self.mode == "count" else "报损") + "必须填写原因", self.reason)
        user, lot, on = self.ctx.user, self.lot, to_date(self.on.date())
        quantity, reason = self.quantity.text().strip() or "", self.reason.text()
        if self.mode == "count":
            self.run(lambda: ops_stock.correct_count(self.ctx.db, user, lot.id, quantity, on, reason),
                     lambda change: f"盘点已保存：批号 {lot.lot_no} 调整 {change:+}")
        else:
            self.run(lambda: ops_stock.report_loss(self.ctx.db, user, lot.id, quantity, on, reason),
                     lambda change: f"报损已保存：批号 {lot.lot_no} 减少 {-change}")


class ImportReportDialog(QDialog):
    def __init__(self, report: ImportReport, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("药品目录导入结果")
        self.resize(720, 480)
        text = QPlainTextEdit(report.summary())
        text.setObjectName("importSummary")
        text.setReadOnly(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.button(QDialogButtonBox.StandardButton.Close).setText("关闭")
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        if report.errors:
            layout.addWidget(css_class(QLabel(f"有 {report.skipped} 行未导入，请按下面的行号改正文件后再导入一次"
                                              "（已导入的行不会重复）。"), "error"))
        layout.addWidget(text, 1)
        layout.addWidget(buttons)
