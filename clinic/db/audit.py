"""An audit event for every change: who, when, which record, what action, which fields (old → new).

Hooked into the session, so no service can forget it. Events are written with a plain INSERT inside
the same flush, so a change and its audit row commit or roll back together.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import event, insert, inspect
from sqlalchemy.orm import Session

from clinic.db.models import AuditEvent, Synced
from clinic.db.types import utcnow

ENTITY_ID_LENGTH = AuditEvent.__table__.c.entity_id.type.length     # 40: UUIDs fit
SKIP_FIELDS = {"created_at", "updated_at", "password_hash", "pinyin_full", "pinyin_initials"}


def _plain(value: object) -> object:
    if isinstance(value, Decimal | date | datetime):
        return str(value)
    return value


def _changes(obj: object, action: str) -> dict[str, list]:
    state = inspect(obj)
    changed = {}
    for attr in state.mapper.column_attrs:
        if attr.key in SKIP_FIELDS:
            continue
        history = state.attrs[attr.key].history
        if action == "insert":
            value = getattr(obj, attr.key)
            if value is not None:
                changed[attr.key] = [None, _plain(value)]
        elif history.has_changes():
            old = history.deleted[0] if history.deleted else None
            new = history.added[0] if history.added else None
            if old != new:
                changed[attr.key] = [_plain(old), _plain(new)]
    return changed


def install(session_factory) -> None:
    @event.listens_for(session_factory, "before_flush")
    def stamp_institution(session: Session, flush_context, instances) -> None:
        code = session.info.get("institution_code")
        for obj in session.new:
            if isinstance(obj, Synced) and not obj.institution_code:
                if not code:
                    raise ValueError("未设置本机构编码，无法保存记录")
                obj.institution_code = code

    @event.listens_for(session_factory, "after_flush")
    def record(session: Session, flush_context) -> None:
        rows = []
        now, user = utcnow(), session.info.get("user", "system")
        for action, objects in (("insert", session.new), ("update", session.dirty), ("delete", session.deleted)):
            for obj in objects:
                if isinstance(obj, AuditEvent) or not session.is_modified(obj) and action == "update":
                    continue
                changes = _changes(obj, action)
                # Extra facts a service attaches before the flush (e.g. why a patient was deleted):
                # the audit table is append-only, so they cannot be added to the event afterwards.
                notes = session.info.get("audit_notes", {})
                changes.update(notes.pop((type(obj).__tablename__, getattr(obj, "id", None)), {}))
                if action == "update" and not changes:
                    continue
                if action == "update" and "deleted_at" in changes and changes["deleted_at"][0] is None:
                    action_name = "delete"      # soft delete
                else:
                    action_name = action
                # New rows have no identity key yet inside after_flush; read the primary key itself
                # (a setting's is its key, an institution's its code).
                identity = inspect(obj).identity or inspect(obj).mapper.primary_key_from_instance(obj)
                entity_id = str(identity[0])
                if len(entity_id) > ENTITY_ID_LENGTH:    # a long setting key: keep it whole in the changes
                    changes = {"entity_id": entity_id, **changes}
                    entity_id = entity_id[:ENTITY_ID_LENGTH - 1] + "…"
                rows.append({
                    "at": now, "user_name": user, "institution_code": session.info.get("institution_code"),
                    "entity": type(obj).__tablename__, "entity_id": entity_id, "action": action_name,
                    "changes": json.dumps(changes, ensure_ascii=False),
                })
        if rows:
            session.connection().execute(insert(AuditEvent.__table__), rows)
