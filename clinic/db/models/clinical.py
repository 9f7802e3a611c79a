"""Filings (认定备案 / 变更备案), continuous prescriptions and follow-ups."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Boolean, Date, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from clinic.db.models.base import Base, Synced
from clinic.db.models.people import PatientRef
from clinic.db.types import DecimalText, new_uuid


class Filing(PatientRef, Synced, Base):
    """One disease's 两病 filing, with the fields of 附件2 (seeds/000 items 9–11)."""

    __tablename__ = "filing"
    kind: Mapped[str] = mapped_column(String(10))                 # initial (认定) | change (变更)
    change_reason: Mapped[str | None] = mapped_column(String(20))  # cured | progression | new_disease | medication
    disease: Mapped[str] = mapped_column(String(20))
    tier: Mapped[str] = mapped_column(String(10))                 # ordinary | severe
    is_primary: Mapped[bool] = mapped_column(Boolean, default=True)
    icd10: Mapped[str | None] = mapped_column(String(20))         # ICD-10 医保版
    history_diagnosis: Mapped[str] = mapped_column(Text, default="")   # 病史及诊断
    history_signer: Mapped[str | None] = mapped_column(String(40))
    history_signed_on: Mapped[date | None] = mapped_column(Date)
    treatment_plan: Mapped[str] = mapped_column(Text, default="")      # 治疗方案
    plan_signer: Mapped[str | None] = mapped_column(String(40))
    plan_signed_on: Mapped[date | None] = mapped_column(Date)
    hospital_opinion: Mapped[str | None] = mapped_column(Text)         # 医院意见
    hospital_signed_on: Mapped[date | None] = mapped_column(Date)
    state: Mapped[str] = mapped_column(String(12), default="draft")   # draft|submitted|approved|rejected|superseded
    reject_reason: Mapped[str | None] = mapped_column(Text)
    filed_on: Mapped[date] = mapped_column(Date)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime)
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime)
    supersedes_id: Mapped[str | None] = mapped_column(ForeignKey("filing.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)      # base version for sync conflicts


class Prescription(PatientRef, Synced, Base):
    """慢性病用药连续（外配）处方 (附件3); refilled many times within its period."""

    __tablename__ = "prescription"
    prescriber_id: Mapped[str | None] = mapped_column(ForeignKey("user_account.id"))
    prescriber_name: Mapped[str] = mapped_column(String(40))
    prescribed_on: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date] = mapped_column(Date)
    diagnosis: Mapped[str] = mapped_column(String(200))          # 临床诊断
    department: Mapped[str] = mapped_column(String(40), default="全科")   # 科别
    external: Mapped[bool] = mapped_column(Boolean, default=False)     # 外配
    state: Mapped[str] = mapped_column(String(10), default="active")   # active | stopped
    stop_reason: Mapped[str | None] = mapped_column(Text)
    renews_id: Mapped[str | None] = mapped_column(ForeignKey("prescription.id"))
    lines: Mapped[list[PrescriptionLine]] = relationship(
        back_populates="prescription", cascade="all, delete-orphan", order_by="PrescriptionLine.position")


class PrescriptionLine(Base):
    __tablename__ = "prescription_line"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    prescription_id: Mapped[str] = mapped_column(ForeignKey("prescription.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    drug_code: Mapped[str] = mapped_column(ForeignKey("drug.code"))
    drug_name: Mapped[str] = mapped_column(String(100))
    spec: Mapped[str] = mapped_column(String(60))
    disease: Mapped[str] = mapped_column(String(20))
    dose: Mapped[Decimal] = mapped_column(DecimalText)            # units per take, e.g. 0.5 片
    frequency: Mapped[str] = mapped_column(String(10))            # qd | bid | tid | qid | qn | qod | qw
    days: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[Decimal] = mapped_column(DecimalText)        # total units for the whole period
    usage: Mapped[str] = mapped_column(String(100))               # 用法用量 as printed
    prescription: Mapped[Prescription] = relationship(back_populates="lines")
