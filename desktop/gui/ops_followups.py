"""The 随访 tab's work: a patient's follow-up visits as plain rows (for the table and the chart) and
recording a new one (clinic/health.py checks every reading)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from clinic.db.engine import Database
from clinic.db.models import FollowUp, Patient
from clinic.health import ADHERENCE, bp_abnormal, glucose_abnormal, record_follow_up
from clinic.permissions import require
from desktop.gui.context import UserInfo


@dataclass(frozen=True)
class VisitRow:
    id: str
    visit_on: date
    sbp: int | None
    dbp: int | None
    fasting_glucose: Decimal | None
    hba1c: Decimal | None
    adherence: str              # Chinese word, or ""
    next_visit_on: date | None
    doctor_name: str
    notes: str

    @property
    def bp_text(self) -> str:
        return f"{self.sbp}/{self.dbp}" if self.sbp is not None else ""

    @property
    def bp_abnormal(self) -> bool:
        return bp_abnormal(self.sbp, self.dbp)

    @property
    def glucose_abnormal(self) -> bool:
        return glucose_abnormal(self.fasting_glucose)


def _row(v: FollowUp) -> VisitRow:
    return VisitRow(v.id, v.visit_on, v.sbp, v.dbp, v.fasting_glucose, v.hba1c, ADHERENCE.get(v.adherence or "", ""),
                    v.next_visit_on, v.doctor_name, v.notes or "")


def visits(db: Database, patient_id: str) -> list[VisitRow]:
    """Oldest first (the chart's order)."""
    with db.session() as s:
        return [_row(v) for v in s.scalars(
            select(FollowUp).where(FollowUp.patient_id == patient_id, FollowUp.deleted_at.is_(None))
            .order_by(FollowUp.visit_on, FollowUp.created_at))]


def record(db: Database, user: UserInfo, patient_id: str, **fields) -> VisitRow:
    require(user.role, "followup.edit")
    with db.session(user.username) as s:
        patient = s.get(Patient, patient_id)
        if patient is None:
            raise LookupError("找不到该患者")
        return _row(record_follow_up(s, patient, doctor_name=user.display_name, **fields))
