"""Home-screen data: today's work lists with patient names, and the status line."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select

from clinic import backup
from clinic.db.engine import Database
from clinic.db.models import Patient, Settlement
from clinic.worklist import morning_lists


@dataclass(frozen=True)
class BackupState:
    text: str
    warning: bool


@dataclass(frozen=True)
class HomeData:
    lists: dict[str, list[tuple[str, str, str]]]        # title → (patient id, name, what to do)
    unsent_settlements: int
    backup: BackupState


def backup_state(db: Database) -> BackupState:
    """The last good backup (clinic/backup.py), a warning when it is more than a day old."""
    status = backup.backup_status(db.path)
    return BackupState(status.message, status.stale)


def daily_backup(db: Database) -> BackupState:
    """The first start of each day backs the file up (verified) before the day's work."""
    result = backup.daily_backup_if_due(db.path)
    state = backup_state(db)
    if result is not None and result.warnings:
        return BackupState(f"{state.text}（{'；'.join(result.warnings)}）", state.warning)
    return state


def home_data(db: Database, today: date) -> HomeData:
    with db.session() as s:
        lists = morning_lists(s, today)
        ids = {pid for rows in lists.values() for pid, _ in rows}
        names: dict[str, str] = {}
        id_list = list(ids)
        for start in range(0, len(id_list), 500):
            names.update(s.execute(select(Patient.id, Patient.name)
                                   .where(Patient.id.in_(id_list[start:start + 500]))).all())
        unsent = s.scalar(select(func.count()).select_from(Settlement)
                          .where(Settlement.state == "settled_offline")) or 0
    return HomeData({title: [(pid, names.get(pid, "?"), detail) for pid, detail in rows]
                     for title, rows in lists.items()}, unsent, backup_state(db))
