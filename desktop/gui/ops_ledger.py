"""The work behind 本年度医保额度 on the patient page and 期初余额 in 设置, run by the TaskRunner off the
GUI thread: the year's ledger as plain values (clinic/patient_ledger.py, from clinic/ledger.py
`year_ledger`) and the opening-balance import (clinic/opening_balances.py, administrators only)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from clinic.db.engine import Database
from clinic.db.models import Patient
from clinic.opening_balances import OpeningReport, import_opening_balances
from clinic.patient_ledger import ledger_values, patient_year_ledger
from clinic.permissions import require
from desktop.gui.context import UserInfo


def year_ledger(db: Database, patient_id: str, year: int, today: date) -> dict:
    with db.session() as s:
        patient = s.get(Patient, patient_id)
        if patient is None or patient.deleted_at is not None:
            raise ValueError("找不到该患者")
        return ledger_values(patient_year_ledger(s, patient, year, today))


def import_opening(db: Database, user: UserInfo, path: str | Path, today: date) -> OpeningReport:
    """All good rows in one transaction; an unreadable file raises and writes nothing."""
    require(user.role, "opening_balance.import")
    with db.session(user.username) as s:
        return import_opening_balances(s, path, user=user.username, role=user.role, today=today)
