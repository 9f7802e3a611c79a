"""The drug picker of the prescribe dialog: search by name, pinyin initials or code as you type; 两病
drugs in the policy's order of priority ("四个优先", clinic/catalogue.choice_list) with stock on hand;
matching drugs outside the 两病 scope after them, greyed, so the doctor sees why they cannot be used."""

from __future__ import annotations

from decimal import Decimal

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QKeyEvent
from PySide6.QtWidgets import (
    QLabel,
    QLineEdit,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from clinic.vocab import DISEASES
from desktop.gui import ops_prescribe
from desktop.gui.context import AppContext
from desktop.gui.style import css_class
from desktop.gui.tables import read_only_table

COLUMNS = ["药品（规格）", "包装", "单价(元)", "库存", "政策优先", "用于"]
PRICE, STOCK, PRIORITY, USE = 2, 3, 4, 5
DEBOUNCE_MS = 120
GREY = QBrush(QColor("#888888"))
RED = QBrush(QColor("#b00020"))


class _SearchBox(QLineEdit):
    """↓ moves into the list; Enter picks the highlighted drug (and is not passed on to the dialog)."""

    down = Signal()
    enter = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Down:
            self.down.emit()
        elif event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.enter.emit()
            event.accept()
        else:
            super().keyPressEvent(event)


class _ResultTable(QTableWidget):
    enter = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.enter.emit()
            event.accept()          # the view would also pass Enter to the dialog's default button
        else:
            super().keyPressEvent(event)


def price_text(value: Decimal) -> str:
    """Unit prices keep every digit the price list gives (0.0658), but never fewer than two."""
    whole, _, frac = f"{value.normalize():f}".partition(".")
    return f"{whole}.{frac.ljust(2, '0')}"


class DrugPicker(QWidget):
    chosen = Signal(object)          # ops_prescribe.DrugOption
    loaded = Signal(int)

    def __init__(self, ctx: AppContext, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        self.options: list[ops_prescribe.DrugOption] = []
        self.entitled: set[str] | None = None        # diseases the patient is entitled to (None: not known yet)
        self._latest: str | None = None
        self.search = _SearchBox()
        self.search.setObjectName("drugSearch")
        self.search.setPlaceholderText("药名、拼音首字母（如 ajl）或医保编码；↓ 选择，回车加入处方")
        self.search.setClearButtonEnabled(True)
        self.priority = css_class(QLabel(""), "hint")
        self.priority.setObjectName("drugPriority")
        self.priority.setWordWrap(True)
        self.table = read_only_table(COLUMNS, "drugResults", stretch=(0,), cls=_ResultTable)
        self.table.doubleClicked.connect(lambda index: self._choose(index.row()))
        self.table.enter.connect(lambda: self._choose(self.table.currentRow()))
        self.timer = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self.timer.timeout.connect(self.load)
        self.search.textChanged.connect(lambda _: self.timer.start())
        self.search.down.connect(self._focus_results)
        self.search.enter.connect(lambda: self._choose(max(self.table.currentRow(), 0)))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.search)
        layout.addWidget(self.priority)
        layout.addWidget(self.table, 1)

    def set_entitled(self, diseases) -> None:
        self.entitled = set(diseases)

    def set_priority_words(self, words: str, has_order: bool) -> None:
        self.priority.setText(words)
        self.table.setColumnHidden(PRIORITY, not has_order)

    def load(self) -> None:
        text = self.search.text().strip()
        self._latest = text
        today = self.ctx.today()
        entitled = self.entitled
        self.ctx.runner.run(lambda: (text, ops_prescribe.search_drugs(self.ctx.db, text, today, entitled=entitled)),
                            self._show, self._failed, read_only=True)

    def _failed(self, exc: Exception) -> None:
        self.priority.setText(f"无法读取药品目录：{exc}")

    def _show(self, answer) -> None:
        text, options = answer
        if text != self._latest:
            return                       # a newer search is on its way
        self.options = options
        self.table.setRowCount(len(options))
        for r, o in enumerate(options):
            use = DISEASES[o.disease] if o.disease else "非两病用药"
            unfiled = o.disease is not None and self.entitled is not None and o.disease not in self.entitled
            if unfiled:
                use += "·未备案"
            stock = f"{o.on_hand.normalize():f}{o.unit}" if o.on_hand > 0 else "无库存"
            cells = [f"{o.name} {o.spec}", o.package, price_text(o.price), stock, "、".join(o.priorities), use]
            for c, value in enumerate(cells):
                item = QTableWidgetItem(value)
                if c in (PRICE, STOCK):
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if o.disease is None:
                    item.setForeground(GREY)
                    item.setToolTip("不属于“两病”用药，请按普通门诊开具")
                elif unfiled:
                    item.setForeground(GREY)
                    item.setToolTip(f"患者没有已通过的{DISEASES[o.disease]}备案，不能按“两病”开具")
                elif c == STOCK and o.on_hand <= 0:
                    item.setForeground(RED)
                self.table.setItem(r, c, item)
        if options:
            self.table.selectRow(0)
        self.loaded.emit(len(options))

    def _focus_results(self) -> None:
        if self.options:
            self.table.setFocus()
            row = self.table.currentRow()
            self.table.selectRow(min(row + 1, len(self.options) - 1) if row >= 0 else 0)

    def _choose(self, row: int) -> None:
        if 0 <= row < len(self.options):
            self.chosen.emit(self.options[row])
