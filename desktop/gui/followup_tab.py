"""随访 tab: the chart of blood pressure and glucose over time, the visits in a table (abnormal readings
in red), and 新增随访 (clinic/health.py checks each reading and sets the next visit a quarter later)."""

from __future__ import annotations

from PySide6.QtCore import QDate, Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QComboBox,
    QDateEdit,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSplitter,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from clinic.health import ADHERENCE, FOLLOW_UP_INTERVAL_DAYS
from desktop.gui import ops_followups
from desktop.gui.context import AppContext
from desktop.gui.followup_chart import FollowUpChart
from desktop.gui.ops_followups import VisitRow
from desktop.gui.style import css_class, restyle
from desktop.gui.tables import read_only_table

COLUMNS = ("随访日期", "血压 mmHg", "空腹血糖 mmol/L", "糖化血红蛋白 %", "服药依从性", "下次随访", "随访医生", "备注")
ABNORMAL = QColor("#b00020")


class FollowUpTab(QWidget):
    changed = Signal()
    loaded = Signal()

    def __init__(self, ctx: AppContext, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        self.patient_id: str | None = None
        self.rows: list[VisitRow] = []
        self.dialog: FollowUpDialog | None = None
        self.add_button = css_class(QPushButton("新增随访 (F8)"), "primary")
        self.add_button.setObjectName("addFollowUp")
        self.add_button.setShortcut("F8")
        self.add_button.setVisible(ctx.can("followup.edit"))
        self.add_button.clicked.connect(self.add)
        self.status = css_class(QLabel(""), "hint")
        self.chart = FollowUpChart()
        self.table = read_only_table(list(COLUMNS), "followUpTable", stretch_last=True)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(self.chart)
        split.addWidget(self.table)
        split.setSizes([300, 160])
        top = QHBoxLayout()
        top.addWidget(self.add_button)
        top.addWidget(self.status, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(split, 1)

    def set_patient(self, patient_id: str) -> None:
        self.patient_id = patient_id
        self.rows = []
        self.table.setRowCount(0)
        self.refresh()

    def refresh(self) -> None:
        if not self.patient_id:
            return
        patient_id = self.patient_id
        self.ctx.runner.run(lambda: (patient_id, ops_followups.visits(self.ctx.db, patient_id)),
                            lambda answer: self.show_visits(*answer), self._failed, read_only=True)

    def _failed(self, exc: Exception) -> None:
        self.status.setText(f"随访记录无法加载：{exc}")
        self.loaded.emit()

    def show_visits(self, patient_id: str, rows: list[VisitRow]) -> None:
        if patient_id != self.patient_id:
            return
        self.rows = rows
        self.chart.show_visits(rows)
        self.table.setRowCount(len(rows))
        for r, row in enumerate(reversed(rows)):             # newest visit on top of the table
            cells = (f"{row.visit_on}", row.bp_text, _num(row.fasting_glucose), _num(row.hba1c), row.adherence,
                     f"{row.next_visit_on or ''}", row.doctor_name, row.notes)
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if (c == 1 and row.bp_abnormal) or (c == 2 and row.glucose_abnormal):
                    item.setForeground(QBrush(ABNORMAL))
                self.table.setItem(r, c, item)
        if rows:
            last = rows[-1]
            due = f"，下次随访 {last.next_visit_on}" if last.next_visit_on else ""
            self.status.setText(f"共随访 {len(rows)} 次，最近 {last.visit_on}{due}")
        else:
            self.status.setText("尚无随访记录")
        self.loaded.emit()

    def add(self) -> None:
        if self.patient_id is None:
            return
        self.dialog = FollowUpDialog(self.ctx, self.patient_id, self)
        self.dialog.saved.connect(lambda _row: (self.refresh(), self.changed.emit()))
        self.dialog.open()


def _num(value) -> str:
    return "" if value is None else f"{value:.1f}"          # mmol/L and % are read to one decimal


class FollowUpDialog(QDialog):
    saved = Signal(object)          # VisitRow

    def __init__(self, ctx: AppContext, patient_id: str, parent=None):
        super().__init__(parent)
        self.ctx, self.patient_id = ctx, patient_id
        self.setWindowTitle("新增随访")
        today = QDate(ctx.today())
        self.visit_on = _date_edit(today, "visitOn")
        self.sbp, self.dbp = _number("sbp", "如 135"), _number("dbp", "如 85")
        self.glucose, self.hba1c = _number("glucose", "如 6.8"), _number("hba1c", "如 6.5")
        self.adherence = QComboBox()
        self.adherence.setObjectName("adherence")
        self.adherence.addItem("（未询问）", None)
        for code, label in ADHERENCE.items():
            self.adherence.addItem(label, code)
        self.next_visit = _date_edit(today.addDays(FOLLOW_UP_INTERVAL_DAYS), "nextVisit")
        self.visit_on.dateChanged.connect(lambda d: self.next_visit.setDate(d.addDays(FOLLOW_UP_INTERVAL_DAYS)))
        self.notes = QLineEdit()
        self.notes.setObjectName("notes")
        bp = QHBoxLayout()
        bp.addWidget(self.sbp)
        bp.addWidget(QLabel("/"))
        bp.addWidget(self.dbp)
        bp.addWidget(QLabel("mmHg"))
        form = QFormLayout()
        form.addRow("随访日期", self.visit_on)
        form.addRow("血压（收缩压/舒张压）", bp)
        form.addRow("空腹血糖 mmol/L", self.glucose)
        form.addRow("糖化血红蛋白 %", self.hba1c)
        form.addRow("服药依从性", self.adherence)
        form.addRow("下次随访日期", self.next_visit)
        form.addRow("备注", self.notes)
        self.message = css_class(QLabel(""), "error")
        self.message.setObjectName("message")
        self.message.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setText("保存")
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("取消")
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.sbp.setFocus()

    def save(self) -> None:
        fields = dict(visit_on=self.visit_on.date().toPython(), sbp=self.sbp.text().strip() or None,
                      dbp=self.dbp.text().strip() or None, fasting_glucose=self.glucose.text().strip() or None,
                      hba1c=self.hba1c.text().strip() or None, adherence=self.adherence.currentData(),
                      next_visit_on=self.next_visit.date().toPython(), notes=self.notes.text())
        if not any(fields[k] for k in ("sbp", "dbp", "fasting_glucose", "hba1c")):
            self._error("请至少录入血压或血糖中的一项", self.sbp)
            return
        self.message.setText("正在保存…")
        self.buttons.setEnabled(False)
        db, user = self.ctx.db, self.ctx.user
        self.ctx.runner.run(lambda: ops_followups.record(db, user, self.patient_id, **fields), self._saved,
                            self._failed)

    def _saved(self, row: VisitRow) -> None:
        self.saved.emit(row)
        self.accept()

    def _failed(self, exc: Exception) -> None:
        self.buttons.setEnabled(True)
        text = str(exc)
        field = next((w for words, w in (("收缩压", self.sbp), ("舒张压", self.dbp), ("血压", self.sbp),
                                          ("空腹血糖", self.glucose), ("糖化", self.hba1c), ("下次", self.next_visit))
                      if words in text), None)
        self._error(text, field)

    def _error(self, text: str, field: QWidget | None) -> None:
        self.message.setProperty("class", "error")
        restyle(self.message)
        self.message.setText(text)
        if field is not None:
            field.setFocus()


def _number(name: str, hint: str) -> QLineEdit:
    box = QLineEdit()
    box.setObjectName(name)
    box.setPlaceholderText(hint)
    box.setMaximumWidth(110)
    return box


def _date_edit(day: QDate, name: str) -> QDateEdit:
    edit = QDateEdit(day)
    edit.setObjectName(name)
    edit.setCalendarPopup(True)
    edit.setDisplayFormat("yyyy-MM-dd")
    return edit
