"""An audit event for every change: who, when, which record, what action, which fields (old → new).

Hooked into the session, so no service can forget it. Events are written with a plain INSERT inside
the same flush, so a change and its audit row commit or roll back together.

Tamper-evident (issue 13): every event carries its place in its clinic's chain (`seq`, 1, 2, …), the
hash of the previous event and its own sha256 over a canonical serialisation of its fields and that
previous hash (`event_hash`). `append_events` is the one way to write events: it reads the chain's
head inside the write transaction (SQLite serialises writers and refuses a write from a stale
snapshot; PostgreSQL takes an advisory lock per chain), so two writers never fork a chain.
clinic/audit_chain.py verifies it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import event, insert, inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from clinic.db.models import AuditEvent, Synced
from clinic.db.types import utcnow

ENTITY_ID_LENGTH = AuditEvent.__table__.c.entity_id.type.length     # 40: UUIDs fit
SKIP_FIELDS = {"created_at", "updated_at", "password_hash", "pinyin_full", "pinyin_initials"}


GENESIS = "0" * 64                  # the "previous hash" of a chain's first event
AUDIT = AuditEvent.__table__


def _time(value: object) -> str:
    if isinstance(value, datetime):
        return value.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    return str(value)


def event_hash(row: dict, prev_hash: str) -> str:
    """sha256 over the event's fields and the previous event's hash, as canonical JSON."""
    fields = {"seq": row["seq"], "at": _time(row["at"]), "user_name": row["user_name"],
              "institution_code": row.get("institution_code"), "entity": row["entity"],
              "entity_id": row["entity_id"], "action": row["action"], "changes": row.get("changes") or "{}",
              "prev_hash": prev_hash}
    text_form = json.dumps(fields, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text_form.encode("utf-8")).hexdigest()


def chain_head(conn: Connection, institution_code: str | None) -> tuple[int, str]:
    """(seq, hash) of the chain's last hashed event, or (0, GENESIS); one indexed look-up."""
    where = AUDIT.c.institution_code.is_(None) if institution_code is None \
        else AUDIT.c.institution_code == institution_code
    row = conn.execute(select(AUDIT.c.seq, AUDIT.c.hash).where(where, AUDIT.c.hash.is_not(None))
                       .order_by(AUDIT.c.id.desc()).limit(1)).first()
    if row is None or not isinstance(row.seq, int):
        return 0, GENESIS
    return row.seq, row.hash


def append_events(conn: Connection, rows: list[dict]) -> None:
    """Insert audit events, each chained onto the last one of its institution's chain."""
    heads: dict[str | None, tuple[int, str]] = {}
    chained = []
    for row in rows:
        code = row.get("institution_code")
        if code not in heads:
            if conn.dialect.name == "postgresql":      # one writer per chain at a time
                key = int.from_bytes(hashlib.sha256(f"audit:{code}".encode()).digest()[:8], "big", signed=True)
                conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
            heads[code] = chain_head(conn, code)
        seq, prev = heads[code]
        full = {"changes": "{}", "institution_code": None, **row, "seq": seq + 1, "prev_hash": prev}
        full["hash"] = event_hash(full, prev)
        heads[code] = (seq + 1, full["hash"])
        chained.append(full)
    if chained:
        conn.execute(insert(AUDIT), chained)


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
            append_events(session.connection(), rows)
