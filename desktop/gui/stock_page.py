"""药品库存 (进销存): the catalogue with stock on hand, low-stock and near-expiry warnings highlighted;
a drug's lots and movements below; 入库, 盘点, 报损 and import of the provincial drug list."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from desktop.gui import ops_stock
from desktop.gui.context import AppContext
from desktop.gui.stock_dialogs import ImportReportDialog, LotChangeDialog, ReceiveDialog
from desktop.gui.style import css_class
from desktop.gui.tables import read_only_table

LOW_BG, SOON_BG, EXPIRED_FG = QColor("#fde2e2"), QColor("#fff3cd"), QColor("#b00020")
DRUG_COLUMNS = ["编码", "通用名", "规格", "单位", "类别", "甲乙", "零售价", "库存", "批次", "最近效期", "提示"]
LOT_COLUMNS = ["批号", "有效期至", "数量", "进价", "供货单位", "入库日期", "提示"]
MOVE_COLUMNS = ["日期", "类型", "批号", "数量", "原因/说明"]


def _table(columns: list[str], name: str) -> QTableWidget:
    return read_only_table(columns, name, stretch_last=True)


def _fill_row(table: QTableWidget, r: int, cells: list[str], numeric: set[int], bg: QColor | None = None,
              fg: QColor | None = None) -> None:
    for c, text in enumerate(cells):
        item = QTableWidgetItem(text)
        if c in numeric:
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if bg is not None:
            item.setBackground(QBrush(bg))
        if fg is not None:
            item.setForeground(QBrush(fg))
        table.setItem(r, c, item)


class StockPage(QWidget):
    loaded = Signal()
    lots_loaded = Signal()
    changed = Signal(str)              # what was saved, in words

    def __init__(self, ctx: AppContext, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        self.rows: list[ops_stock.DrugRow] = []
        self.lots: list[ops_stock.LotRow] = []
        self.thresholds: ops_stock.Thresholds | None = None
        self._select_after: str | None = None
        can_edit = ctx.can("stock.edit")
        self.search = QLineEdit()
        self.search.setObjectName("stockSearch")
        self.search.setPlaceholderText("药品名称、拼音首字母或医保编码")
        self.search.setClearButtonEnabled(True)
        self.only_stocked = QCheckBox("只看已进货")
        self.only_warnings = QCheckBox("只看有提示的")
        self.receive_button = css_class(QPushButton("入库 (F2)"), "primary")
        self.receive_button.setShortcut("F2")
        self.receive_button.clicked.connect(lambda: self.receive())
        self.import_button = QPushButton("导入药品目录…")
        self.import_button.clicked.connect(self.choose_import)
        self.status = css_class(QLabel(""), "hint")
        self.status.setObjectName("stockStatus")
        self.status.setWordWrap(True)
        self.legend = QLabel("<span style='background:#fde2e2'>　低于库存下限　</span>　"
                             "<span style='background:#fff3cd'>　近效期　</span>　"
                             "<span style='color:#b00020'>红字：已过期批号</span>")
        self.low_edit, self.days_edit = QLineEdit(), QLineEdit()
        for edit in (self.low_edit, self.days_edit):
            edit.setMaximumWidth(70)
            edit.setEnabled(can_edit)
        self.low_edit.setObjectName("lowMinimum")
        self.days_edit.setObjectName("expiryDays")
        self.save_limits = QPushButton("保存提醒设置")
        self.save_limits.setEnabled(can_edit)
        self.save_limits.clicked.connect(self.save_thresholds)
        self.limits_message = css_class(QLabel(""), "error")
        self.limits_message.setObjectName("limitsMessage")
        self.drugs = _table(DRUG_COLUMNS, "drugTable")
        self.drugs.itemSelectionChanged.connect(self._drug_selected)
        self.lot_table = _table(LOT_COLUMNS, "lotTable")
        self.moves = _table(MOVE_COLUMNS, "movementTable")
        self.count_button = QPushButton("盘点调整…")
        self.loss_button = QPushButton("报损…")
        self.receive_this = QPushButton("此药入库…")
        self.count_button.clicked.connect(lambda: self.change_lot("count"))
        self.loss_button.clicked.connect(lambda: self.change_lot("loss"))
        self.receive_this.clicked.connect(lambda: self.receive(self.selected_drug()))
        for button in (self.receive_button, self.import_button, self.count_button, self.loss_button, self.receive_this):
            button.setEnabled(can_edit)
        self.timer = QTimer(self, singleShot=True, interval=150)
        self.timer.timeout.connect(self.refresh)
        self.search.textChanged.connect(lambda _: self.timer.start())
        self.only_stocked.toggled.connect(lambda _: self.refresh())
        self.only_warnings.toggled.connect(lambda _: self.refresh())

        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.only_stocked)
        top.addWidget(self.only_warnings)
        top.addWidget(self.receive_button)
        top.addWidget(self.import_button)
        limits = QHBoxLayout()
        limits.addWidget(self.legend)
        limits.addStretch(1)
        limits.addWidget(QLabel("库存下限"))
        limits.addWidget(self.low_edit)
        limits.addWidget(QLabel("（最小单位）　近效期提醒"))
        limits.addWidget(self.days_edit)
        limits.addWidget(QLabel("天"))
        limits.addWidget(self.save_limits)
        limits.addWidget(self.limits_message)
        lot_box = QWidget()
        lot_layout = QVBoxLayout(lot_box)
        lot_layout.setContentsMargins(0, 0, 0, 0)
        lot_buttons = QHBoxLayout()
        for button in (self.count_button, self.loss_button, self.receive_this):
            lot_buttons.addWidget(button)
        lot_buttons.addStretch(1)
        lot_layout.addWidget(self.lot_table, 1)
        lot_layout.addLayout(lot_buttons)
        self.detail = QTabWidget()
        self.detail.addTab(lot_box, "批次")
        self.detail.addTab(self.moves, "出入库流水")
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.drugs)
        split.addWidget(self.detail)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addWidget(css_class(QLabel("药品库存（进销存）"), "title"))
        layout.addLayout(top)
        layout.addLayout(limits)
        layout.addWidget(self.status)
        layout.addWidget(split, 1)

    # ------------------------------------------------------------ loading

    def refresh(self) -> None:
        text, today = self.search.text(), self.ctx.today()
        stocked, warned = self.only_stocked.isChecked(), self.only_warnings.isChecked()
        self.ctx.runner.run(lambda: (text, ops_stock.catalogue(self.ctx.db, today, text, stocked, warned)),
                            self._show, self._failed, read_only=True)

    def _failed(self, exc: Exception) -> None:
        self.status.setText(str(exc))

    def _show(self, answer) -> None:
        text, (rows, limits) = answer
        if text != self.search.text():          # an older search answered after a newer one was typed
            return
        keep = self._select_after or self.selected_drug()
        self._select_after = None
        self.rows = rows
        if limits != self.thresholds:          # never overwrite what the user is typing with the same values
            self.low_edit.setText(str(limits.low_minimum))
            self.days_edit.setText(str(limits.expiry_days))
        self.drugs.setRowCount(len(rows))
        for r, row in enumerate(rows):
            price = f"{row.retail_price}" + ("（样例价）" if row.sample_price else "")
            cells = [row.code, row.name, row.spec, row.unit, row.drug_class, row.category, price,
                     f"{row.on_hand}" if row.stocked else "—", str(row.lots) if row.stocked else "",
                     str(row.first_expiry or ""), row.warning]
            bg = LOW_BG if row.low else SOON_BG if row.near_expiry else None
            _fill_row(self.drugs, r, cells, {6, 7, 8}, bg, EXPIRED_FG if row.expired_stock else None)
            if row.sample_price:
                self.drugs.item(r, 6).setToolTip("内置样例价格，请导入本省药品目录后使用真实价格")
        low = sum(row.low for row in rows)
        soon = sum(row.near_expiry for row in rows)
        read_only = "" if self.ctx.can("stock.edit") else "　（当前账号只能查看；入库、盘点、报损由药师或管理员操作）"
        self.status.setText(f"共 {len(rows)} 种药品，已进货 {sum(r.stocked for r in rows)} 种；"
                            f"低于库存下限 {low} 种，近效期（{limits.expiry_days} 天内）{soon} 种{read_only}")
        self.thresholds = limits
        codes = [row.code for row in rows]
        self.drugs.blockSignals(True)          # one lots query below, not one per selection signal
        if rows:
            self.drugs.selectRow(codes.index(keep) if keep in codes else 0)
        self.drugs.blockSignals(False)
        self._drug_selected()
        self.loaded.emit()

    def selected_drug(self) -> str | None:
        r = self.drugs.currentRow()
        return self.rows[r].code if 0 <= r < len(self.rows) else None

    def _clear_detail(self) -> None:
        self.lots = []
        self.lot_table.setRowCount(0)
        self.moves.setRowCount(0)

    def _drug_selected(self) -> None:
        code, today = self.selected_drug(), self.ctx.today()
        if code is None:
            return self._clear_detail()
        self.ctx.runner.run(lambda: (code, ops_stock.lots_of(self.ctx.db, code, today)), self._show_lots,
                            self._failed, read_only=True)

    def _show_lots(self, answer) -> None:
        code, (lots, moves) = answer
        if code != self.selected_drug():
            return
        self.lots = lots
        self.lot_table.setRowCount(len(lots))
        for r, lot in enumerate(lots):
            note = "已过期" if lot.expired and lot.on_hand > 0 else "近效期" if lot.near_expiry and lot.on_hand > 0 \
                else "已用完" if lot.on_hand <= 0 else ""
            cost = "" if lot.cost_price is None else str(lot.cost_price)
            cells = [lot.lot_no, str(lot.expiry), str(lot.on_hand), cost, lot.supplier, str(lot.received_on), note]
            bg = SOON_BG if note == "近效期" else None
            _fill_row(self.lot_table, r, cells, {2, 3}, bg, EXPIRED_FG if note == "已过期" else None)
        if lots:
            self.lot_table.selectRow(0)
        self.moves.setRowCount(len(moves))
        for r, move in enumerate(moves):
            _fill_row(self.moves, r, [str(move.moved_on), move.kind, move.lot_no, f"{move.quantity:+}", move.reason],
                      {3})
        self.lots_loaded.emit()

    # ------------------------------------------------------------ actions

    def _saved(self, text: str, drug_code: str | None = None) -> None:
        self.status.setText(text)
        self._select_after = drug_code
        self.changed.emit(text)
        self.refresh()                 # reloads the selected drug's lots and movements too

    def receive(self, drug_code: str | None = None) -> ReceiveDialog:
        dialog = ReceiveDialog(self.ctx, drug_code, self)
        dialog.saved.connect(lambda text: self._saved(text, dialog.selected_code()))
        dialog.open()
        return dialog

    def selected_lot(self) -> ops_stock.LotRow | None:
        r = self.lot_table.currentRow()
        return self.lots[r] if 0 <= r < len(self.lots) else None

    def change_lot(self, mode: str) -> LotChangeDialog | None:
        lot, r = self.selected_lot(), self.drugs.currentRow()
        if lot is None or r < 0:
            self.status.setText("请先在下方“批次”中选择一个批号")
            return None
        row = self.rows[r]
        dialog = LotChangeDialog(self.ctx, lot, f"{row.name} {row.spec}", mode, self)
        dialog.saved.connect(self._saved)
        dialog.open()
        return dialog

    def save_thresholds(self) -> None:
        low, days, user = self.low_edit.text(), self.days_edit.text(), self.ctx.user
        self.limits_message.setText("")
        self.ctx.runner.run(lambda: ops_stock.save_thresholds(self.ctx.db, user, low, days),
                            lambda _: self._saved("提醒设置已保存"),
                            lambda exc: self.limits_message.setText(str(exc)))

    def choose_import(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "导入本省药品目录", str(Path.home()),
                                              "药品目录 (*.csv *.xlsx);;所有文件 (*)")
        if path:
            self.import_file(Path(path))

    def import_file(self, path: Path) -> None:
        self.status.setText(f"正在导入 {path.name}…")
        user = self.ctx.user
        self.ctx.runner.run(lambda: ops_stock.import_drug_list(self.ctx.db, user, path), self._imported,
                            self._failed)

    def _imported(self, report) -> None:
        self.import_dialog = ImportReportDialog(report, self)
        self.import_dialog.open()
        self._saved(f"药品目录导入：新增 {report.added}，更新 {report.updated}，跳过 {report.skipped}")
