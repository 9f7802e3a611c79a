"""The patient page's header and 基本信息 tab: one patient's details as plain data, their correction,
and the demo patient the screenshot command opens."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from clinic.db.engine import Database
from clinic.db.models import Drug, Patient, Setting
from clinic.dispensing import check_refill, dispensed_under, running_out
from clinic.entitlements import entitlements
from clinic.health import control_status
from clinic.idcard import age_on
from clinic.patients import update_patient
from clinic.permissions import require
from clinic.prescriptions import active_prescriptions, quantity_for
from clinic.profile import policy_in_force
from clinic.vocab import CONTRIBUTIONS, DISEASES, INSURANCES, TIERS
from desktop.gui.context import UserInfo

CONTROL_WORDS = {"controlled": "达标", "uncontrolled": "未达标", "unknown": "未测"}


@dataclass(frozen=True)
class PatientDetails:
    id: str
    name: str
    sex: str
    birth_date: date
    age: int
    id_number: str
    phone: str
    address: str
    insured_place: str
    insurance: str               # code
    contribution: str | None     # code
    category: str
    outpatient_no: str
    family_doctor_signed: bool
    managed_hypertension: bool
    managed_diabetes: bool
    entitled: str                # e.g. "高血压（普通，主要病种）" or "" when none today
    bp_control: str              # 达标 / 未达标 / 未测
    glucose_control: str
    last_visit_on: date | None

    @property
    def insurance_text(self) -> str:
        words = INSURANCES.get(self.insurance, self.insurance)
        if self.contribution:
            words += f"（{CONTRIBUTIONS.get(self.contribution, self.contribution)}）"
        return words


def _details(session, patient: Patient, today: date) -> PatientDetails:
    try:
        held = entitlements(session, patient, policy_in_force(session, today), today)
    except ValueError:          # no policy in force for today: show no entitlement rather than fail the page
        held = ()
    both = len(held) > 1               # only then does "primary" matter (the other gets half the ratio)
    entitled = "、".join(f"{DISEASES[e.disease]}（{TIERS[e.tier]}{'，主要病种' if e.primary and both else ''}）"
                        for e in held)
    control = control_status(session, patient)
    return PatientDetails(
        patient.id, patient.name, patient.sex, patient.birth_date, age_on(patient.birth_date, today),
        patient.id_number, patient.phone or "", patient.address or "", patient.insured_place or "",
        patient.insurance, patient.contribution, patient.category or "", patient.outpatient_no or "",
        patient.family_doctor_signed, patient.managed_hypertension, patient.managed_diabetes, entitled,
        CONTROL_WORDS[control.bp], CONTROL_WORDS[control.glucose], control.last_visit_on)


def details(db: Database, patient_id: str, today: date) -> PatientDetails:
    with db.session() as s:
        patient = s.get(Patient, patient_id)
        if patient is None or patient.deleted_at is not None:
            raise LookupError("找不到该患者（可能已被删除）")
        return _details(s, patient, today)


def update(db: Database, user: UserInfo, patient_id: str, today: date, **fields) -> PatientDetails:
    require(user.role, "patient.edit")
    with db.session(user.username) as s:
        patient = s.get(Patient, patient_id)
        if patient is None:
            raise LookupError("找不到该患者")
        update_patient(s, patient, **fields)
        return _details(s, patient, today)


def demo_patient(db: Database, today: date) -> str:
    """A demo patient worth showing: a refill allowed today under an active prescription with at least a
    fortnight left to dispense (so the dispense view has lines to settle), else anyone with an active
    prescription, else anyone."""
    with db.session() as s:
        if s.get(Setting, "demo") is None:
            raise ValueError("只有演示数据库（liangbing demo 生成）可以这样打开示例患者")
        window = policy_in_force(s, today).refill_window_days
        for item in running_out(s, today, within_days=window):
            prescriptions = active_prescriptions(s, item.patient_id, today)
            if prescriptions and all(
                    check_refill(s, item.patient_id, s.get(Drug, line.drug_code), today, window).allowed
                    and line.quantity - dispensed_under(s, line) >= quantity_for(line.dose, line.frequency, 14)
                    for line in prescriptions[0].lines):
                return item.patient_id
        for patient_id in s.scalars(select(Patient.id).where(Patient.deleted_at.is_(None)).order_by(Patient.name)):
            if active_prescriptions(s, patient_id, today):
                return patient_id
        first = s.scalar(select(Patient.id).where(Patient.deleted_at.is_(None)).order_by(Patient.name).limit(1))
        if first is None:
            raise LookupError("数据库中没有患者")
        return first

