"""基本信息 tab: the patient's details and insurance, and their correction (the registration form,
filled in, saved through clinic/patients.update_patient with the same checks as registration)."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from desktop.gui import ops_patient, ops_patients
from desktop.gui.context import AppContext
from desktop.gui.new_patient import NewPatientDialog
from desktop.gui.style import css_class

FIELDS = (("姓名", "name"), ("性别", "sex"), ("出生日期", "birth_date"), ("年龄", "age"), ("身份证号", "id_number"),
          ("电话", "phone"), ("家庭住址", "address"), ("参保地", "insured_place"), ("险种", "insurance_text"),
          ("人员类别", "category"), ("门诊号", "outpatient_no"))


def _yes(flag: bool) -> str:
    return "是" if flag else "否"


class PatientInfoTab(QWidget):
    changed = Signal()

    def __init__(self, ctx: AppContext, parent=None):
        super().__init__(parent)
        self.ctx = ctx
        self.patient_id: str | None = None
        self.details: ops_patient.PatientDetails | None = None
        self.values: dict[str, QLabel] = {}
        form = QFormLayout()
        for label, key in (*FIELDS, ("家庭医生签约", "signed"), ("规范化管理", "managed")):
            value = QLabel("")
            value.setObjectName(f"info_{key}")
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.values[key] = value
            form.addRow(f"{label}：", value)
        self.edit_button = css_class(QPushButton("修改信息 (F4)"), "primary")
        self.edit_button.setShortcut("F4")
        self.edit_button.setEnabled(False)
        self.edit_button.clicked.connect(self.edit)
        self.edit_button.setVisible(ctx.can("patient.edit"))
        buttons = QHBoxLayout()
        buttons.addWidget(self.edit_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addStretch(1)

    def set_patient(self, patient_id: str) -> None:
        self.patient_id = patient_id
        self.refresh()

    def refresh(self) -> None:
        if not self.patient_id:
            return
        patient_id, today = self.patient_id, self.ctx.today()
        self.edit_button.setEnabled(False)
        self.ctx.runner.run(lambda: ops_patient.details(self.ctx.db, patient_id, today), self.show_details,
                            lambda exc: None, read_only=True)

    def show_details(self, d: ops_patient.PatientDetails) -> None:
        if d.id != self.patient_id:
            return
        self.details = d
        for _, key in FIELDS:
            value = getattr(d, key)
            self.values[key].setText(f"{value:%Y-%m-%d}" if key == "birth_date" else str(value or "—"))
        self.values["signed"].setText(_yes(d.family_doctor_signed))
        self.values["managed"].setText(f"高血压 {_yes(d.managed_hypertension)}；糖尿病 {_yes(d.managed_diabetes)}")
        self.edit_button.setEnabled(True)

    def edit(self) -> None:
        if self.details is None:
            return
        dialog = PatientEditDialog(self.ctx, self.details, self)
        dialog.saved.connect(lambda d: (self.show_details(d), self.changed.emit()))
        dialog.open()


class PatientEditDialog(NewPatientDialog):
    """The registration form, filled in; a changed 身份证号 is checked live as at registration."""

    saved = Signal(object)          # PatientDetails

    def __init__(self, ctx: AppContext, details: ops_patient.PatientDetails, parent=None):
        super().__init__(ctx, parent)
        self.details = details
        self.setWindowTitle(f"修改患者信息 — {details.name}")
        self.id_number.setText(details.id_number)
        self.name.setText(details.name)
        self.phone.setText(details.phone)
        self.address.setText(details.address)
        self.insured_place.setText(details.insured_place)
        self.category.setText(details.category)
        self.outpatient_no.setText(details.outpatient_no)
        self.insurance.setCurrentIndex(max(0, self.insurance.findData(details.insurance)))
        if details.contribution:
            self.contribution.setCurrentIndex(max(0, self.contribution.findData(details.contribution)))
        self.signed.setChecked(details.family_doctor_signed)
        self.managed_h.setChecked(details.managed_hypertension)
        self.managed_d.setChecked(details.managed_diabetes)

    def _found(self, row: ops_patients.PatientRow | None) -> None:
        if row is not None and row.id != self.details.id:
            self.id_info.setProperty("class", "error")
            self.id_info.setText(f"该身份证号已登记为患者 {row.name}，不能重复")
            self._restyle()

    def save(self) -> None:
        fields = self.fields()
        self.message.setText("正在保存…")
        self.buttons.setEnabled(False)
        user, today, patient_id = self.ctx.user, self.ctx.today(), self.details.id
        self.ctx.runner.run(lambda: ops_patient.update(self.ctx.db, user, patient_id, today, **fields),
                            self._updated, self._failed)

    def _updated(self, details: ops_patient.PatientDetails) -> None:
        self.saved.emit(details)
        self.accept()
