"""本年度医保额度 on the patient page: per disease the year's cap, fund paid and remaining amount, the
deductible and what is left of it, and every entry of the year (purchases and refunds here, other
clinics' use as the township reports it, the opening balance) — the figures `liangbing ledger` prints,
read in the background (desktop/gui/ops_ledger.py)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSpinBox, QTableWidgetItem, QVBoxLayout, QWidget

from clinic.patient_ledger import ENTRY_HEADERS, entry_cells, shown
from desktop.gui import ops_ledger
from desktop.gui.context import AppContext
from desktop.gui.style import css_class
from desktop.gui.tables import read_only_table

QUOTA_HEADERS = ("病种", "分级", "年度限额", "统筹已支付", "剩余")
QUOTA_MONEY, ENTRY_MONEY = (2, 3, 4), (3, 4)
RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter


def _cell(text: str, money: bool) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    if money:
        item.setTextAlignment(RIGHT)
    return item


class LedgerTab(QWidget):
    loaded = Signal()

    def __init__(self, ctx: AppContext, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        self.patient_id: str | None = None
        self.values: dict | None = None
        self.year = QSpinBox()
        self.year.setObjectName("ledgerYear")
        self.year.setRange(2000, ctx.today().year + 1)
        self.year.setValue(ctx.today().year)
        self.year.setSuffix(" 年度")
        self.year.valueChanged.connect(lambda _: self.refresh())
        self.status = css_class(QLabel(""), "hint")
        self.status.setObjectName("ledgerStatus")
        self.deductible = QLabel("")
        self.deductible.setObjectName("ledgerDeductible")
        self.quota = read_only_table(list(QUOTA_HEADERS), "ledgerQuota", stretch_last=True)
        self.quota.setMaximumHeight(110)
        self.entries = read_only_table([*ENTRY_HEADERS, "说明"], "ledgerEntries", stretch_last=True)
        top = QHBoxLayout()
        top.addWidget(QLabel("本年度医保额度"))
        top.addWidget(self.year)
        top.addWidget(self.status, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.quota)
        layout.addWidget(self.deductible)
        layout.addWidget(QLabel("明细（本机构结算与退费、其他机构使用、期初余额）"))
        layout.addWidget(self.entries, 1)

    def set_patient(self, patient_id: str) -> None:
        self.patient_id = patient_id
        self.values = None
        self.quota.setRowCount(0)
        self.entries.setRowCount(0)
        self.refresh()

    def refresh(self) -> None:
        if not self.patient_id:
            return
        patient_id, year, today = self.patient_id, self.year.value(), self.ctx.today()
        self.status.setText("正在读取…")
        self.ctx.runner.run(lambda: (patient_id, year, ops_ledger.year_ledger(self.ctx.db, patient_id, year, today)),
                            lambda answer: self.show_ledger(*answer), self._failed, read_only=True)

    def _failed(self, exc: Exception) -> None:
        self.status.setText(f"医保额度无法读取：{exc}")
        self.loaded.emit()

    def show_ledger(self, patient_id: str, year: int, values: dict) -> None:
        if patient_id != self.patient_id or year != self.year.value():
            return                                    # an older answer
        self.values = values
        self.quota.setRowCount(len(values["diseases"]))
        for r, d in enumerate(values["diseases"]):
            for c, text in enumerate((d["disease_name"], d["tier_name"], shown(d["cap"]), d["fund_paid"],
                                      shown(d["remaining"]))):
                self.quota.setItem(r, c, _cell(text, c in QUOTA_MONEY))
        self.deductible.setText(f"起付线：本年 {shown(values['deductible'])} 元，已付 {values['deductible_paid']} 元，"
                                f"剩余 {shown(values['deductible_remaining'])} 元")
        self.entries.setRowCount(len(values["entries"]))
        for r, e in enumerate(values["entries"]):
            for c, text in enumerate((*entry_cells(e), e["note"])):
                self.entries.setItem(r, c, _cell(text, c in ENTRY_MONEY))
        self.status.setText("本年度没有认定的病种，也没有统筹支付" if not values["diseases"] else
                            f"共 {len(values['entries'])} 笔")
        self.loaded.emit()
