"""What the 审计日志 viewer runs in the worker (administrators only): events filtered by user, record
type and date, and the Excel export (clinic/audit_export.py, which logs the export itself). No Qt."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from sqlalchemy import select

from clinic.audit_export import AuditRow, audit_events, export_audit_xlsx, id_numbers_in
from clinic.db.engine import Database
from clinic.db.models import AuditEvent
from clinic.permissions import require
from desktop.gui.context import UserInfo

SHOWN = 500          # on screen; the export has every matching event


def users(db: Database, user: UserInfo) -> list[str]:
    require(user.role, "audit.view")
    with db.session(user.username) as s:
        return sorted(name for name in s.scalars(select(AuditEvent.user_name).distinct()) if name)


def events(db: Database, user: UserInfo, *, since: date | None, until: date | None, username: str | None,
           entity: str | None, limit: int | None = SHOWN) -> list[AuditRow]:
    with db.session(user.username) as s:
        return audit_events(s, user.role, since=since, until=until, user=username, entity=entity, limit=limit)


def export_rows(db: Database, user: UserInfo, **filters) -> tuple[list[AuditRow], int]:
    """Every matching event, and how many distinct ID numbers they hold (the GUI warns before writing)."""
    rows = events(db, user, limit=None, **filters)
    return rows, len(id_numbers_in(rows))


def export(db: Database, user: UserInfo, rows: list[AuditRow], path: Path, mask_ids: bool) -> Path:
    with db.session(user.username) as s:
        return export_audit_xlsx(s, user.username, user.role, path, rows, mask_ids=mask_ids)
