"""What a purchase will cost and who pays, as the settlement engine computed it: the drug lines, the
split per disease (ratio, fund, the year's use, cap and what remains of it) and the totals, with the
part eligible for 大病保险 (seeds/000 二(一)5) kept visible."""

from __future__ import annotations

from decimal import Decimal

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QGroupBox,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from clinic.money import fmt
from desktop.gui.drug_picker import price_text
from desktop.gui.ops_dispense import Preview

LINE_COLUMNS = ["药品", "规格", "用法用量", "本次数量", "处方剩余可配", "库存", "单价", "支付标准", "金额",
                "政策范围内"]
DISEASE_COLUMNS = ["病种", "报销比例", "政策范围内", "起付线", "基金支付", "超限额", "本年已用（本次前）", "年度限额",
                   "本次后剩余额度"]
TOTALS = (("费用总额", "total"), ("政策范围内费用", "policy_range"), ("超支付标准自付", "over_standard"),
          ("范围外费用", "out_of_scope"), ("起付线", "deductible"), ("统筹基金支付", "fund_pay"),
          ("个人自付", "self_pay"), ("大病保险可申报", "major_illness_eligible"))
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


def money(value: Decimal) -> str:
    return fmt(value) if value else "0.00"


def percent(ratio: Decimal) -> str:
    return f"{(ratio * 100).normalize():f}%"


def _table(columns: list[str], name: str) -> QTableWidget:
    table = QTableWidget(0, len(columns))
    table.setObjectName(name)
    table.setHorizontalHeaderLabels(columns)
    table.verticalHeader().hide()
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    table.setFocusPolicy(Qt.FocusPolicy.NoFocus)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
    return table


def _fill(table: QTableWidget, rows: list[list[str]], numeric_from: int) -> None:
    table.setRowCount(len(rows))
    for r, cells in enumerate(rows):
        for c, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if c >= numeric_from:
                item.setTextAlignment(RIGHT)
            table.setItem(r, c, item)
    height = table.horizontalHeader().height() + sum(table.rowHeight(r) for r in range(len(rows))) + 4
    table.setFixedHeight(max(height, table.horizontalHeader().height() + 30))


class SettlementView(QWidget):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.lines = _table(LINE_COLUMNS, "dispenseLines")
        self.diseases = _table(DISEASE_COLUMNS, "diseaseSplit")
        self.values: dict[str, QLabel] = {}
        totals = QGridLayout()
        for i, (label, key) in enumerate(TOTALS):
            value = QLabel("—")
            value.setObjectName(f"amount_{key}")
            value.setAlignment(RIGHT)
            value.setMinimumWidth(90)
            if key in ("fund_pay", "self_pay"):
                value.setStyleSheet("font-size: 13pt; font-weight: bold;")
            self.values[key] = value
            totals.addWidget(QLabel(label), i // 4, (i % 4) * 2)
            totals.addWidget(value, i // 4, (i % 4) * 2 + 1)
        box_lines = QGroupBox("本次配药")
        QVBoxLayout(box_lines).addWidget(self.lines)
        box_split = QGroupBox("按病种结算（统筹基金支付受年度最高支付限额约束）")
        QVBoxLayout(box_split).addWidget(self.diseases)
        box_totals = QGroupBox("合计（元）")
        box_totals.setLayout(totals)
        self.note = QLabel("个人自付部分和超过年度限额的部分列入大病保险保障范围（大病保险可申报金额）。")
        self.note.setProperty("class", "hint")
        self.note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(box_lines)
        layout.addWidget(box_split)
        layout.addWidget(box_totals)
        layout.addWidget(self.note)
        layout.addStretch(1)

    def clear(self) -> None:
        _fill(self.lines, [], 3)
        _fill(self.diseases, [], 1)
        for value in self.values.values():
            value.setText("—")

    def show_preview(self, preview: Preview) -> None:
        _fill(self.lines, [[
            line.name, line.spec, line.usage, f"{line.quantity.normalize():f}{line.unit}",
            f"{line.left.normalize():f}{line.unit}", f"{line.on_hand.normalize():f}{line.unit}",
            price_text(line.unit_price),
            price_text(line.payment_standard) if line.payment_standard is not None else "—",
            money(line.total), money(line.policy_range)] for line in preview.lines], 3)
        _fill(self.diseases, [[
            d.label, percent(d.ratio), money(d.policy_range), money(d.deductible), money(d.fund_pay),
            money(d.over_cap), money(d.used_before), money(d.cap), money(d.cap_remaining)]
            for d in preview.diseases], 1)
        for key, value in self.values.items():
            value.setText(money(preview.amounts.get(key, Decimal(0))))
