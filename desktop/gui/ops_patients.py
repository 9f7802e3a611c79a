"""Patient operations for the GUI: each opens its own unit of work and returns plain data, so no ORM
object (and no lazy load) ever reaches the GUI thread."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import func, select

from clinic.db.engine import Database
from clinic.db.models import Dispense, Filing, Patient
from clinic.idcard import age_on
from clinic.patients import find_by_id_number, register_patient, search_patients
from clinic.permissions import require
from clinic.vocab import DISEASES, INSURANCES
from desktop.gui.context import UserInfo


@dataclass(frozen=True)
class PatientRow:
    id: str
    name: str
    sex: str
    age: int
    id_number: str
    phone: str
    outpatient_no: str
    insurance: str
    diseases: str          # e.g. "高血压(已备案) 糖尿病(审核中)"


FILING_WORDS = {"approved": "已备案", "submitted": "审核中", "draft": "草稿", "rejected": "被驳回"}


def _rows(session, patients: list[Patient], today: date) -> list[PatientRow]:
    ids = [p.id for p in patients]
    filings: dict[str, list[str]] = {}
    if ids:
        for patient_id, disease, state in session.execute(
                select(Filing.patient_id, Filing.disease, Filing.state)
                .where(Filing.patient_id.in_(ids), Filing.state != "superseded", Filing.deleted_at.is_(None))
                .order_by(Filing.filed_on)):
            if state in FILING_WORDS:
                filings.setdefault(patient_id, []).append(f"{DISEASES[disease]}({FILING_WORDS[state]})")
    return [PatientRow(p.id, p.name, p.sex, age_on(p.birth_date, today), p.id_number, p.phone or "",
                       p.outpatient_no or "", INSURANCES.get(p.insurance, p.insurance),
                       " ".join(dict.fromkeys(filings.get(p.id, [])))) for p in patients]


def search(db: Database, text: str, today: date, limit: int = 30) -> list[PatientRow]:
    with db.session() as s:
        return _rows(s, search_patients(s, text, limit=limit), today)


RECENT_DAYS = 90


def recent(db: Database, today: date, limit: int = 30) -> list[PatientRow]:
    """Before anything is typed: the patients most recently dispensed to (the regulars come back)."""
    with db.session() as s:
        last = func.max(Dispense.dispensed_on)
        ids = [pid for pid, _ in s.execute(
            select(Dispense.patient_id, last).where(Dispense.dispensed_on >= today - timedelta(days=RECENT_DAYS),
                                                    Dispense.dispensed_on <= today, Dispense.deleted_at.is_(None))
            .group_by(Dispense.patient_id).order_by(last.desc()).limit(limit))]
        living = select(Patient).where(Patient.id.in_(ids), Patient.deleted_at.is_(None))
        patients = {p.id: p for p in s.scalars(living)}
        return _rows(s, [patients[i] for i in ids if i in patients], today)


def find(db: Database, id_number: str, today: date) -> PatientRow | None:
    with db.session() as s:
        patient = find_by_id_number(s, id_number)
        return _rows(s, [patient], today)[0] if patient else None


def register(db: Database, user: UserInfo, today: date, **fields) -> tuple[PatientRow, bool]:
    """Registers, or finds the patient already registered with that ID number (created = False)."""
    require(user.role, "patient.edit")
    with db.session(user.username) as s:
        patient, created = register_patient(s, **fields)
        s.flush()
        return _rows(s, [patient], today)[0], created
