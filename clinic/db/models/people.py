"""Institutions, users and patients (参保人员)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Boolean, Date, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from clinic.db.models.base import Base, Synced


class Institution(Base):
    """定点医药机构: this clinic, its township, and other institutions whose prescriptions it sees."""

    __tablename__ = "institution"
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    level: Mapped[str] = mapped_column(String(10))               # 1 | 2 | 3 | pharmacy
    region: Mapped[str] = mapped_column(String(40))              # policy region id, e.g. ezhou
    township_code: Mapped[str | None] = mapped_column(String(32))
    township_name: Mapped[str | None] = mapped_column(String(100))
    is_local: Mapped[bool] = mapped_column(Boolean, default=False)   # the clinic this database belongs to


class User(Synced, Base):
    __tablename__ = "user_account"
    username: Mapped[str] = mapped_column(String(40), unique=True)
    display_name: Mapped[str] = mapped_column(String(40))
    role: Mapped[str] = mapped_column(String(20))                # doctor | pharmacist | admin
    password_hash: Mapped[str] = mapped_column(String(200))
    insurance_doctor_code: Mapped[str | None] = mapped_column(String(40))   # 医保医师编码
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class Patient(Synced, Base):
    __tablename__ = "patient"
    name: Mapped[str] = mapped_column(String(40))
    sex: Mapped[str] = mapped_column(String(2))                  # 男 | 女, derived from the ID number
    birth_date: Mapped[date] = mapped_column(Date)
    id_number: Mapped[str] = mapped_column(String(18))
    phone: Mapped[str | None] = mapped_column(String(20))
    address: Mapped[str | None] = mapped_column(String(200))
    insured_place: Mapped[str | None] = mapped_column(String(60))   # 参保地
    insurance: Mapped[str] = mapped_column(String(30))           # resident | employee | employee_supplementary
    contribution: Mapped[str | None] = mapped_column(String(12))  # employees: 100 | 80 | 60 | standalone
    category: Mapped[str | None] = mapped_column(String(30))     # 人员类别
    outpatient_no: Mapped[str | None] = mapped_column(String(30), index=True)
    family_doctor_signed: Mapped[bool] = mapped_column(Boolean, default=False)
    # 基层规范化管理 (public-health management); entitles without a filing where the policy says so.
    managed_hypertension: Mapped[bool] = mapped_column(Boolean, default=False)
    managed_diabetes: Mapped[bool] = mapped_column(Boolean, default=False)
    # Search keys: space-separated full pinyin and initials readings (surname read as a surname).
    pinyin_full: Mapped[str] = mapped_column(String(200), default="")
    pinyin_initials: Mapped[str] = mapped_column(String(100), default="")

    __table_args__ = (
        # One living patient per ID number in each clinic; a soft-deleted record does not block
        # re-registration. Per clinic, because the township database holds every clinic's patients
        # (the same person registered in two villages is two rows there, matched by ID number).
        Index("uq_patient_id_number_per_clinic", "id_number", "institution_code", unique=True,
              sqlite_where=text("deleted_at IS NULL"), postgresql_where=text("deleted_at IS NULL")),
    )


class PatientRef:
    """Mixin for records that belong to one patient."""

    patient_id: Mapped[str] = mapped_column(ForeignKey("patient.id"), index=True)
