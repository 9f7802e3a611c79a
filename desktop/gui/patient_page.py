"""The patient page: who the patient is and what they are entitled to today in a header, then the tabs
基本信息, 备案, 处方, 配药结算, 随访 and 本年度医保额度. Each tab loads its own data in the background."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QTabWidget, QVBoxLayout, QWidget

from desktop.gui import ops_patient
from desktop.gui.context import AppContext
from desktop.gui.dispensing_tab import DispensingTab
from desktop.gui.filings_tab import FilingsTab
from desktop.gui.followup_tab import FollowUpTab
from desktop.gui.ledger_tab import LedgerTab
from desktop.gui.patient_info import PatientInfoTab
from desktop.gui.prescriptions_tab import PrescriptionsTab
from desktop.gui.style import css_class, restyle

TABS = ("基本信息", "备案", "处方", "配药结算", "随访", "本年度医保额度")


class PatientPage(QWidget):
    back = Signal()
    changed = Signal()            # something about the patient was saved
    loaded = Signal()

    def __init__(self, ctx: AppContext, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        self.patient_id: str | None = None
        self.details: ops_patient.PatientDetails | None = None
        self.back_button = QPushButton("← 返回患者列表")
        self.back_button.setToolTip("Alt+←")
        self.back_button.clicked.connect(self.back.emit)
        self.name = css_class(QLabel(""), "title")
        self.name.setObjectName("patientName")
        self.facts = QLabel("")
        self.facts.setObjectName("patientFacts")
        self.entitled = QLabel("")
        self.entitled.setObjectName("patientEntitled")
        self.control = QLabel("")
        self.control.setObjectName("patientControl")
        self.info = PatientInfoTab(ctx)
        self.filings = FilingsTab(ctx)
        self.prescriptions = PrescriptionsTab(ctx)
        self.dispensing = DispensingTab(ctx)
        self.followups = FollowUpTab(ctx)
        self.ledger = LedgerTab(ctx)
        self.tabs = QTabWidget()
        self.tabs.setObjectName("patientTabs")
        for widget, label in zip((self.info, self.filings, self.prescriptions, self.dispensing, self.followups,
                                  self.ledger), TABS, strict=True):
            self.tabs.addTab(widget, label)
        # What one tab saves can change what another shows: an approved filing allows prescribing, a
        # new prescription can be dispensed, a follow-up changes the control status in the header.
        self.info.changed.connect(self._changed)
        self.filings.changed.connect(self._changed)
        self.prescriptions.changed.connect(lambda: (self.dispensing.refresh(), self.changed.emit()))
        self.dispensing.changed.connect(lambda: (self.prescriptions.refresh(), self.ledger.refresh(),
                                                 self.changed.emit()))
        self.followups.changed.connect(lambda: (self._load_header(), self.changed.emit()))
        head = QHBoxLayout()
        head.addWidget(self.back_button)
        head.addSpacing(12)
        head.addWidget(self.name)
        head.addSpacing(12)
        head.addWidget(self.facts, 1)
        status = QHBoxLayout()
        status.addWidget(self.entitled)
        status.addSpacing(24)
        status.addWidget(self.control, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(head)
        layout.addLayout(status)
        layout.addWidget(self.tabs, 1)
        QShortcut(QKeySequence("Alt+Left"), self, activated=self.back.emit)
        for index in range(len(TABS)):
            QShortcut(QKeySequence(f"Alt+{index + 1}"), self, activated=lambda i=index: self.tabs.setCurrentIndex(i))

    def set_patient(self, patient_id: str) -> None:
        if patient_id != self.patient_id:
            self.tabs.setCurrentIndex(0)
        self.patient_id = patient_id
        self.name.setText("正在加载…")
        self.facts.setText("")
        self.entitled.setText("")
        self.control.setText("")
        for tab in (self.info, self.filings, self.prescriptions, self.dispensing, self.followups, self.ledger):
            tab.set_patient(patient_id)
        self._load_header()

    def refresh(self) -> None:
        if self.patient_id:
            self.set_patient(self.patient_id)

    def _changed(self) -> None:
        self._load_header()
        self.prescriptions.refresh()
        self.dispensing.refresh()
        self.changed.emit()

    def _load_header(self) -> None:
        patient_id, today = self.patient_id, self.ctx.today()
        self.ctx.runner.run(lambda: ops_patient.details(self.ctx.db, patient_id, today), self._show_header,
                            self._failed, read_only=True)

    def _failed(self, exc: Exception) -> None:
        self.name.setText("无法打开患者")
        self.facts.setText(str(exc))
        self.loaded.emit()

    def _show_header(self, d: ops_patient.PatientDetails) -> None:
        if d.id != self.patient_id:
            return                                    # an older answer for the previous patient
        self.details = d
        self.name.setText(d.name)
        self.facts.setText(f"{d.sex} · {d.age}岁 · 身份证号 {d.id_number} · {d.insurance_text}"
                           + (f" · 电话 {d.phone}" if d.phone else ""))
        entitled = f"今日享受“两病”待遇：{d.entitled}" if d.entitled else "今日未享受“两病”待遇（无已通过的备案）"
        last = f"（上次随访 {d.last_visit_on}）" if d.last_visit_on else "（尚无随访）"
        self.entitled.setText(entitled)
        self.entitled.setProperty("class", "ok" if d.entitled else "error")
        self.control.setText(f"血压{d.bp_control}，血糖{d.glucose_control}{last}")
        self.control.setProperty("class", "error" if "未达标" in (d.bp_control, d.glucose_control) else "hint")
        restyle(self.entitled)
        restyle(self.control)
        self.loaded.emit()
