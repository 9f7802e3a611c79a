"""慢性病用药连续（外配）处方 (附件3): lines of drug, dose, frequency and days; the quantity follows.

The longest period comes from the policy (Ezhou 24 weeks, seeds/000 二(一)5; 吕梁 12 weeks, seeds/002;
达州 3 months, seeds/001). Only 两病 drugs for a disease the patient is entitled to may be prescribed
here (超范围用药 is refused; such drugs go on an ordinary outpatient prescription).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from clinic.db.models import Drug, Patient, Prescription, PrescriptionLine
from clinic.policy import Policy, period_days
from clinic.vocab import CLASS_DISEASE, DISEASES

# code → (takes per day, printed words). qod/qw are counted by takes over the period, not per day.
FREQUENCIES: dict[str, tuple[Decimal, str]] = {
    "qd": (Decimal(1), "每日1次"),
    "bid": (Decimal(2), "每日2次"),
    "tid": (Decimal(3), "每日3次"),
    "qid": (Decimal(4), "每日4次"),
    "qn": (Decimal(1), "每晚1次"),
    "qod": (Decimal("0.5"), "隔日1次"),
    "qw": (Decimal(1) / Decimal(7), "每周1次"),
}


class PrescriptionError(ValueError):
    pass


@dataclass(frozen=True)
class LineInput:
    drug_code: str
    dose: Decimal          # units per take
    frequency: str
    days: int


def takes(frequency: str, days: int) -> int:
    if frequency == "qod":
        return math.ceil(days / 2)
    if frequency == "qw":
        return math.ceil(days / 7)
    return int(FREQUENCIES[frequency][0] * days)


def quantity_for(dose: Decimal, frequency: str, days: int) -> Decimal:
    """Whole units to hand over for `days` (a half tablet a day for 7 days is 4 tablets)."""
    return Decimal(math.ceil(dose * takes(frequency, days)))


def daily_dose(dose: Decimal, frequency: str) -> Decimal:
    return dose * FREQUENCIES[frequency][0]


def usage_text(drug: Drug, dose: Decimal, frequency: str) -> str:
    route = "注射" if "注射" in drug.form else "口服"
    return f"{route} {FREQUENCIES[frequency][1]} 每次{dose.normalize():f}{drug.unit}"


def check_line(session: Session, policy: Policy, line: LineInput, entitled: set[str],
               prescribed_on: date) -> tuple[Drug, str]:
    drug = session.get(Drug, line.drug_code)
    if drug is None or not drug.active:
        raise PrescriptionError(f"药品目录中没有编码为 {line.drug_code} 的药品")
    disease = CLASS_DISEASE.get(drug.drug_class)
    if disease is None:
        raise PrescriptionError(f"超范围用药：{drug.generic_name} 不属于“两病”用药，请按普通门诊开具")
    if disease not in entitled:
        raise PrescriptionError(
            f"超范围用药：患者未享受{DISEASES[disease]}“两病”待遇（无已通过的备案），不能开具 {drug.generic_name}")
    if line.frequency not in FREQUENCIES:
        raise PrescriptionError(f"用药频次无效：{line.frequency}（可选 {'/'.join(FREQUENCIES)}）")
    if line.dose <= 0:
        raise PrescriptionError(f"{drug.generic_name} 每次用量必须大于0")
    longest = period_days(prescribed_on, policy.max_period)
    if not 1 <= line.days <= longest:
        raise PrescriptionError(
            f"{drug.generic_name} 用药天数 {line.days} 天超过政策规定的最长处方周期（{policy.max_period}，"
            f"自 {prescribed_on} 起最多 {longest} 天）")
    return drug, disease


def create_prescription(session: Session, patient: Patient, policy: Policy, *, entitled: set[str],
                        prescriber_name: str, prescribed_on: date, diagnosis: str, lines: list[LineInput],
                        prescriber_id: str | None = None, department: str = "全科", external: bool = False,
                        renews: Prescription | None = None) -> Prescription:
    """`entitled` is the set of diseases the patient is entitled to on that date (filings.entitlements)."""
    if not lines:
        raise PrescriptionError("处方至少需要一种药品")
    if not diagnosis.strip():
        raise PrescriptionError("请填写临床诊断")
    codes = [line.drug_code for line in lines]
    if len(codes) != len(set(codes)):
        raise PrescriptionError("同一药品在处方中重复出现")
    rx = Prescription(patient_id=patient.id, prescriber_id=prescriber_id, prescriber_name=prescriber_name,
                      prescribed_on=prescribed_on, diagnosis=diagnosis.strip(), department=department,
                      external=external, renews_id=renews.id if renews else None,
                      valid_until=prescribed_on + timedelta(days=max(line.days for line in lines) - 1))
    for position, line in enumerate(lines, start=1):
        drug, disease = check_line(session, policy, line, entitled, prescribed_on)
        rx.lines.append(PrescriptionLine(
            position=position, drug_code=drug.code, drug_name=drug.generic_name, spec=drug.spec,
            disease=disease, dose=line.dose, frequency=line.frequency, days=line.days,
            quantity=quantity_for(line.dose, line.frequency, line.days),
            usage=usage_text(drug, line.dose, line.frequency)))
    session.add(rx)
    return rx


def stop_prescription(rx: Prescription, reason: str) -> None:
    if not reason.strip():
        raise PrescriptionError("停用处方须填写原因")
    if rx.state != "active":
        raise PrescriptionError("处方已停用")
    rx.state, rx.stop_reason = "stopped", reason.strip()


def renew_prescription(session: Session, rx: Prescription, policy: Policy, *, entitled: set[str],
                       prescriber_name: str, on: date, prescriber_id: str | None = None) -> Prescription:
    """A new prescription with the same lines; the old one stops (it is kept as history)."""
    lines = [LineInput(line.drug_code, line.dose, line.frequency, line.days) for line in rx.lines]
    new = create_prescription(session, session.get(Patient, rx.patient_id), policy, entitled=entitled,
                              prescriber_name=prescriber_name, prescribed_on=on, diagnosis=rx.diagnosis,
                              lines=lines, prescriber_id=prescriber_id, department=rx.department,
                              external=rx.external, renews=rx)
    if rx.state == "active":
        stop_prescription(rx, "续方")
    return new


def active_prescriptions(session: Session, patient_id: str, on: date) -> list[Prescription]:
    return list(session.scalars(
        select(Prescription).where(Prescription.patient_id == patient_id, Prescription.state == "active",
                                   Prescription.deleted_at.is_(None), Prescription.prescribed_on <= on,
                                   Prescription.valid_until >= on)
        .order_by(Prescription.prescribed_on.desc())))
