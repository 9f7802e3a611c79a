"""The drug lines of a prescription being written: dose, frequency and days per line, the quantity they
give (clinic.prescriptions.quantity_for: whole units, in the drug's dispensing unit) shown at once,
and each line's verdict from the live check in words beneath the table."""

from __future__ import annotations

import html
import re
from decimal import Decimal

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QHeaderView,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from clinic.prescriptions import FREQUENCIES, quantity_for
from desktop.gui.ops_prescribe import DrugOption, LineDraft, LineVerdict

COLUMNS = ["药品（规格）", "每次用量", "频次", "天数", "总量", "核对", ""]
DOSE, FREQ, DAYS, QTY, VERDICT, REMOVE = 1, 2, 3, 4, 5, 6
# The input columns get fixed widths (a spin box asks for far more than it needs), so the drug's name
# keeps the room at 1366×768.
FIXED_WIDTHS = {DOSE: 84, FREQ: 96, DAYS: 74, REMOVE: 52}
MAX_DAYS_INPUT = 400      # the policy's limit is checked (and explained) live, not enforced by the spin box
TINTS = {"problem": QColor("#fde7e9"), "warning": QColor("#fff4ce"), "ok": QColor("#ffffff")}


def pack_words(quantity: Decimal, unit: str, package: str) -> str:
    """84, 片, "28片/盒" → "84片（3盒）"; 90 → "90片（3盒又6片）". Without a readable package, units only."""
    text = f"{quantity.normalize():f}{unit}"
    match = re.match(rf"^\s*(\d+)\s*{re.escape(unit)}\s*/\s*(\S+)\s*$", package or "")
    if not match or int(match.group(1)) <= 0:
        return text
    size, box = int(match.group(1)), match.group(2)
    packs, rest = divmod(int(quantity), size)
    if packs == 0:
        return text
    return f"{text}（{packs}{box}）" if rest == 0 else f"{text}（{packs}{box}又{rest}{unit}）"


def dose_of(spin: QDoubleSpinBox) -> Decimal:
    return Decimal(f"{spin.value():.2f}").normalize()


class DoseBox(QDoubleSpinBox):
    """每次用量 as the doctor writes it: 1, 0.5, 0.25 (not 1.00)."""

    def textFromValue(self, value: float) -> str:  # noqa: N802
        return f"{Decimal(f'{value:.2f}').normalize():f}"


class RxLinesEditor(QWidget):
    edited = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.drugs: list[DrugOption] = []
        self.verdicts: list[LineVerdict] = []
        self._shown: list[LineDraft] = []          # the lines the quantities and verdicts belong to
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setObjectName("rxLines")
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column, width in FIXED_WIDTHS.items():
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Fixed)
            self.table.setColumnWidth(column, width)
        self.empty = QLabel("从左侧选择药品加入处方（回车或双击）")
        self.empty.setObjectName("rxEmpty")
        self.details = QLabel("")
        self.details.setObjectName("rxVerdicts")
        self.details.setWordWrap(True)
        self.details.setTextFormat(Qt.TextFormat.RichText)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.empty)
        layout.addWidget(self.details)

    # ---------------------------------------------------------------- lines

    def add(self, drug: DrugOption, dose: Decimal = Decimal(1), frequency: str = "qd", days: int = 28) -> None:
        row = len(self.drugs)
        self.drugs.append(drug)
        self.table.insertRow(row)
        name = QTableWidgetItem(f"{drug.name} {drug.spec}")
        name.setToolTip(f"{drug.name} {drug.spec} {drug.package}")
        self.table.setItem(row, 0, name)
        dose_box = DoseBox()
        dose_box.setObjectName(f"dose{row}")
        dose_box.setRange(0.25, 100)
        dose_box.setDecimals(2)
        dose_box.setSingleStep(0.5)
        dose_box.setSuffix(f" {drug.unit}")
        dose_box.setValue(float(dose))
        freq_box = QComboBox()
        for code, (_, words) in FREQUENCIES.items():
            freq_box.addItem(words, code)
        freq_box.setCurrentIndex(max(freq_box.findData(frequency), 0))
        days_box = QSpinBox()
        days_box.setRange(1, MAX_DAYS_INPUT)
        days_box.setSuffix(" 天")
        days_box.setValue(days)
        remove = QPushButton("删除")
        remove.setToolTip("从处方中删除此药")
        remove.clicked.connect(lambda: self.remove(self._row_of(remove)))
        for column, widget in ((DOSE, dose_box), (FREQ, freq_box), (DAYS, days_box), (REMOVE, remove)):
            self.table.setCellWidget(row, column, widget)
        self.table.setItem(row, QTY, QTableWidgetItem(""))
        self.table.setItem(row, VERDICT, QTableWidgetItem("核对中…"))
        dose_box.valueChanged.connect(self._changed)
        freq_box.currentIndexChanged.connect(self._changed)
        days_box.valueChanged.connect(self._changed)
        self._changed()
        dose_box.setFocus()
        dose_box.selectAll()

    def _row_of(self, widget: QWidget) -> int:
        for row in range(self.table.rowCount()):
            if self.table.cellWidget(row, REMOVE) is widget:
                return row
        return -1

    def remove(self, row: int) -> None:
        if 0 <= row < len(self.drugs):
            del self.drugs[row]
            self.table.removeRow(row)
            self._changed()

    def lines(self) -> list[LineDraft]:
        result = []
        for row, drug in enumerate(self.drugs):
            result.append(LineDraft(drug, dose_of(self.table.cellWidget(row, DOSE)),
                                    self.table.cellWidget(row, FREQ).currentData(),
                                    self.table.cellWidget(row, DAYS).value()))
        return result

    def days_of_first(self) -> int | None:
        return self.table.cellWidget(0, DAYS).value() if self.drugs else None

    def _changed(self) -> None:
        # Enter in a spin box re-emits an unchanged value: that is no edit (and must not make the
        # verdicts stale, or Enter could never save).
        lines = self.lines()
        if lines == self._shown:
            return
        self._shown = lines
        for row, line in enumerate(lines):
            quantity = quantity_for(line.dose, line.frequency, line.days)
            self.table.item(row, QTY).setText(pack_words(quantity, line.drug.unit, line.drug.package))
            self.table.item(row, VERDICT).setText("核对中…")
        self.empty.setVisible(not self.drugs)
        self.details.setText("")
        self.verdicts = []
        self.edited.emit()

    # ---------------------------------------------------------------- verdicts

    def show_verdicts(self, verdicts: list[LineVerdict]) -> None:
        self.verdicts = verdicts
        notes = []
        for row, verdict in enumerate(verdicts):
            name = self.drugs[row].name
            if verdict.problems:
                state, mark = "problem", "✗ 不能开具"
            elif verdict.warnings:
                state, mark = "warning", "⚠ 注意"
            else:
                state, mark = "ok", "✓ 可开具"
            self.table.item(row, VERDICT).setText(mark)
            for column in range(len(COLUMNS)):
                item = self.table.item(row, column)
                if item is not None:
                    item.setBackground(QBrush(TINTS[state]))
            notes += [f"<span style='color:#b00020'>第{row + 1}行 {html.escape(name)}：{html.escape(text)}</span>"
                      for text in verdict.problems]
            notes += [f"<span style='color:#7a5a00'>第{row + 1}行 {html.escape(name)}：{html.escape(text)}</span>"
                      for text in verdict.warnings]
        self.details.setText("<br>".join(notes))

    def has_problems(self) -> bool:
        return any(v.problems for v in self.verdicts)
