"""患者: search as you type (name, pinyin initials, ID tail, phone, 门诊号), keyboard only:
type, ↓, Enter. New patients are registered from here."""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from desktop.gui import ops_patients
from desktop.gui.context import AppContext
from desktop.gui.new_patient import NewPatientDialog
from desktop.gui.style import css_class
from desktop.gui.tables import read_only_table

COLUMNS = ["姓名", "性别", "年龄", "身份证号", "电话", "门诊号", "险种", "两病"]
DEBOUNCE_MS = 120           # fast enough to feel instant, slow enough not to query every keystroke of an IME


class SearchBox(QLineEdit):
    """Down arrow moves into the results; Enter opens the first result."""

    down = Signal()
    enter = Signal()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() == Qt.Key.Key_Down:
            self.down.emit()
        elif event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.enter.emit()
        else:
            super().keyPressEvent(event)


class PatientsPage(QWidget):
    open_patient = Signal(str)
    results_shown = Signal(int)

    def __init__(self, ctx: AppContext, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        self.rows: list[ops_patients.PatientRow] = []
        self._latest = ""
        self.search = SearchBox()
        self.search.setObjectName("patientSearch")
        self.search.setPlaceholderText("输入姓名、拼音首字母（如 zs）、身份证号后几位、电话或门诊号")
        self.search.setClearButtonEnabled(True)
        self.new_button = css_class(QPushButton("新建患者 (F2)"), "primary")
        self.new_button.setShortcut("F2")
        self.new_button.clicked.connect(self.new_patient)
        self.new_button.setEnabled(ctx.can("patient.edit"))
        self.status = css_class(QLabel(""), "hint")
        self.table = read_only_table(list(COLUMNS), "patientResults", stretch_last=True)
        self.table.activated.connect(lambda index: self._open_row(index.row()))
        self.table.doubleClicked.connect(lambda index: self._open_row(index.row()))
        self.timer = QTimer(self, singleShot=True, interval=DEBOUNCE_MS)
        self.timer.timeout.connect(self.run_search)
        self.search.textChanged.connect(lambda _: self.timer.start())
        self.search.down.connect(self._focus_results)
        self.search.enter.connect(lambda: self._open_row(max(self.table.currentRow(), 0)))
        top = QHBoxLayout()
        top.addWidget(self.search, 1)
        top.addWidget(self.new_button)
        layout = QVBoxLayout(self)
        layout.addWidget(css_class(QLabel("患者"), "title"))
        layout.addLayout(top)
        layout.addWidget(self.status)
        layout.addWidget(self.table, 1)

    def showEvent(self, event) -> None:  # noqa: N802
        super().showEvent(event)
        self.search.setFocus()
        self.search.selectAll()

    def refresh(self) -> None:
        if not self.search.text().strip():
            self.run_search()

    def run_search(self) -> None:
        text = self.search.text().strip()
        self._latest = text
        today = self.ctx.today()
        if not text:                     # nothing typed: the patients seen lately, one ↓ Enter away
            self.ctx.runner.run(lambda: ("", ops_patients.recent(self.ctx.db, today)), self._results,
                                read_only=True)
            return
        self.ctx.runner.run(lambda: (text, ops_patients.search(self.ctx.db, text, today)), self._results,
                            read_only=True)

    def _results(self, answer) -> None:
        text, rows = answer
        if text == self._latest and text == self.search.text().strip():   # an older answer must not win
            self.show_rows(rows)

    def show_rows(self, rows: list[ops_patients.PatientRow]) -> None:
        self.rows = rows
        self.table.setRowCount(len(rows))
        for r, row in enumerate(rows):
            cells = [row.name, row.sex, str(row.age), row.id_number, row.phone, row.outpatient_no, row.insurance,
                     row.diseases]
            for c, text in enumerate(cells):
                self.table.setItem(r, c, QTableWidgetItem(text))
        if rows:
            self.table.selectRow(0)
        text = self.search.text().strip()
        if not text:
            self.status.setText(f"最近配过药的 {len(rows)} 位患者（输入即可搜索全部患者）"
                                if rows else "输入即可搜索患者；按 F2 新建患者")
        elif rows:
            self.status.setText(f"找到 {len(rows)} 人")
        else:
            self.status.setText("没有找到。按 F2 新建患者")
        self.results_shown.emit(len(rows))

    def _focus_results(self) -> None:
        if self.rows:
            self.table.setFocus()
            self.table.selectRow(min(self.table.currentRow() + 1, len(self.rows) - 1)
                                 if self.table.currentRow() >= 0 else 0)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.table.hasFocus():
            self._open_row(self.table.currentRow())
        else:
            super().keyPressEvent(event)

    def _open_row(self, row: int) -> None:
        if 0 <= row < len(self.rows):
            self.open_patient.emit(self.rows[row].id)

    def new_patient(self) -> None:
        dialog = NewPatientDialog(self.ctx, self)
        dialog.registered.connect(lambda row, created: self.open_patient.emit(row.id))
        dialog.open()
