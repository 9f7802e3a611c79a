"""新建患者: the 身份证号 is checked as it is typed; sex, birth date and age are filled from it, and a
patient already registered with that number is offered instead of a duplicate."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
)

from clinic.idcard import IdNumberError, age_on, parse_id_number
from clinic.vocab import CONTRIBUTIONS, INSURANCES
from desktop.gui import ops_patients
from desktop.gui.context import AppContext
from desktop.gui.style import css_class


class NewPatientDialog(QDialog):
    registered = Signal(object, bool)        # PatientRow, created

    def __init__(self, ctx: AppContext, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        self.existing: ops_patients.PatientRow | None = None
        self.setWindowTitle("新建患者")
        self.id_number = QLineEdit()
        self.id_number.setObjectName("idNumber")
        self.id_number.setMaxLength(18)
        self.id_number.setPlaceholderText("18位身份证号")
        self.id_info = QLabel("")
        self.id_info.setObjectName("idInfo")
        self.open_existing = QPushButton("打开已登记的患者")
        self.open_existing.setObjectName("openExisting")
        self.open_existing.hide()
        self.open_existing.clicked.connect(self._use_existing)
        self.name = QLineEdit()
        self.name.setObjectName("name")
        self.phone, self.address, self.insured_place = QLineEdit(), QLineEdit(), QLineEdit()
        self.category, self.outpatient_no = QLineEdit(), QLineEdit()
        self.insurance = QComboBox()
        for code, label in INSURANCES.items():
            self.insurance.addItem(label, code)
        self.contribution = QComboBox()
        for code, label in CONTRIBUTIONS.items():
            self.contribution.addItem(label, code)
        self.insurance.currentIndexChanged.connect(self._insurance_changed)
        self._insurance_changed()
        self.signed = QCheckBox("已签约家庭医生")
        self.managed_h = QCheckBox("高血压已纳入规范化管理")
        self.managed_d = QCheckBox("糖尿病已纳入规范化管理")
        id_row = QHBoxLayout()
        id_row.addWidget(self.id_number, 1)
        id_row.addWidget(self.open_existing)
        form = QFormLayout()
        form.addRow("身份证号 *", id_row)
        form.addRow("", self.id_info)
        for label, widget in (("姓名 *", self.name), ("电话", self.phone), ("家庭住址", self.address),
                              ("参保地", self.insured_place), ("险种", self.insurance), ("缴费档次", self.contribution),
                              ("人员类别", self.category), ("门诊号", self.outpatient_no)):
            form.addRow(label, widget)
        for box in (self.signed, self.managed_h, self.managed_d):
            form.addRow("", box)
        self.message = css_class(QLabel(""), "error")
        self.message.setObjectName("message")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.button(QDialogButtonBox.StandardButton.Save).setText("保存")
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("取消")
        self.buttons.accepted.connect(self.save)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)
        self.id_number.textChanged.connect(self._check_id)

    def _insurance_changed(self) -> None:
        self.contribution.setEnabled(self.insurance.currentData() == "employee")

    def _check_id(self, text: str) -> None:
        self.existing = None
        self.open_existing.hide()
        text = text.strip()
        if len(text) < 18:
            self.id_info.setProperty("class", "hint")
            self.id_info.setText(f"已输入 {len(text)} 位" if text else "")
            self._restyle()
            return
        try:
            info = parse_id_number(text)
        except IdNumberError as exc:
            self.id_info.setProperty("class", "error")
            self.id_info.setText(str(exc))
            self._restyle()
            return
        self.id_info.setProperty("class", "ok")
        self.id_info.setText(f"{info.sex} · {info.birth_date:%Y年%m月%d日}生 · "
                             f"{age_on(info.birth_date, self.ctx.today())}岁")
        self._restyle()
        today = self.ctx.today()
        self.ctx.runner.run(lambda: ops_patients.find(self.ctx.db, info.number, today), self._found, read_only=True)

    def _restyle(self) -> None:
        self.id_info.style().unpolish(self.id_info)
        self.id_info.style().polish(self.id_info)

    def _found(self, row: ops_patients.PatientRow | None) -> None:
        if row is not None:
            self.existing = row
            self.id_info.setText(f"该身份证号已登记：{row.name}，{row.sex}，{row.age}岁。请直接打开，不要重复登记")
            self.open_existing.show()

    def _use_existing(self) -> None:
        if self.existing:
            self.registered.emit(self.existing, False)
            self.accept()

    def fields(self) -> dict:
        return dict(
            name=self.name.text(), id_number=self.id_number.text(), phone=self.phone.text() or None,
            address=self.address.text() or None, insured_place=self.insured_place.text() or None,
            insurance=self.insurance.currentData(),
            contribution=self.contribution.currentData() if self.contribution.isEnabled() else None,
            category=self.category.text() or None, outpatient_no=self.outpatient_no.text() or None,
            family_doctor_signed=self.signed.isChecked(), managed_hypertension=self.managed_h.isChecked(),
            managed_diabetes=self.managed_d.isChecked())

    def save(self) -> None:
        fields = self.fields()
        self.message.setText("正在保存…")
        self.buttons.setEnabled(False)
        user, today = self.ctx.user, self.ctx.today()
        self.ctx.runner.run(lambda: ops_patients.register(self.ctx.db, user, today, **fields), self._saved,
                            self._failed)

    def _saved(self, answer) -> None:
        row, created = answer
        self.registered.emit(row, created)
        self.accept()

    def _failed(self, exc: Exception) -> None:
        self.buttons.setEnabled(True)
        self.message.setText(str(exc))
