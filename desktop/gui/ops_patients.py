"""Patient operations for the GUI: each opens its own unit of work and returns plain data, so no ORM
object (and no lazy load) ever reaches the GUI thread."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select

from clinic.db.engine import Database
from clinic.db.models import Filing, Patient
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
