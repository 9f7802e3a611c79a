"""The transactional outbox (issue 5): every insert or update of a synced record writes its outbox row
inside the same flush, so the record and "this must reach the township" commit or roll back together.

Like the audit events (audit.py) this hangs on the session, so no service can forget it. Rules:
- one pending row per record: a later edit before the push replaces the pending payload;
- an edit while a version is being sent (or after it was acknowledged) is a new row whose base is the
  hash of that version, so the server can tell an edit of what it holds from a conflicting one;
- rows written in bulk with Core (the demo generator) are not seen here: `enqueue_unsent` picks up
  every record that has no outbox row when a clinic enrols.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import event, func, insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from clinic.db.models import OutboxEntry
from clinic.db.records import BY_MODEL, PARENT_OF_LINE, RECORD_TYPES, TYPE_ORDER, canonical, payload_hash, read_records
from clinic.db.types import utcnow

OUTBOX = OutboxEntry.__table__
OPEN = ("pending", "sending")


def _touched(session: Session) -> dict[str, set[str]]:
    found: dict[str, set[str]] = defaultdict(set)
    for objects, check in ((session.new, False), (session.dirty, True), (session.deleted, False)):
        for obj in objects:
            model = type(obj)
            if model in BY_MODEL:
                if check and not session.is_modified(obj):
                    continue
                if obj not in session.deleted:        # a hard delete is not synced; soft delete is an update
                    found[BY_MODEL[model].name].add(obj.id)
            elif model in PARENT_OF_LINE:
                rt, fk = PARENT_OF_LINE[model]
                parent_id = getattr(obj, fk, None)
                if parent_id is not None:
                    found[rt.name].add(parent_id)
    return found


def install(session_factory) -> None:
    @event.listens_for(session_factory, "after_flush")
    def enqueue_changes(session: Session, flush_context) -> None:
        touched = _touched(session)
        if touched:
            enqueue(session.connection(), touched)


def _ordered(touched: dict[str, Iterable[str]]) -> list[str]:
    return sorted(touched, key=TYPE_ORDER.__getitem__)


def enqueue(conn: Connection, touched: dict[str, Iterable[str]]) -> int:
    """Write or refresh the pending outbox row of each record; returns how many rows changed."""
    changed = 0
    now = utcnow()
    for type_name in _ordered(touched):
        payloads = read_records(conn, type_name, touched[type_name])
        ids = list(payloads)
        pending, base = {}, {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            pending.update(conn.execute(
                select(OUTBOX.c.record_id, OUTBOX.c.payload_hash).where(
                    OUTBOX.c.record_id.in_(chunk), OUTBOX.c.status == "pending")).all())
            latest = (select(OUTBOX.c.record_id, func.max(OUTBOX.c.seq).label("seq"))
                      .where(OUTBOX.c.record_id.in_(chunk), OUTBOX.c.status.in_(("acknowledged", "sending")))
                      .group_by(OUTBOX.c.record_id).subquery())
            base.update(conn.execute(select(OUTBOX.c.record_id, OUTBOX.c.payload_hash)
                                     .join(latest, OUTBOX.c.seq == latest.c.seq)).all())
        rows = []
        for record_id, payload in payloads.items():
            digest = payload_hash(payload)
            if record_id in pending:
                if pending[record_id] != digest:
                    conn.execute(update(OUTBOX).where(OUTBOX.c.record_id == record_id, OUTBOX.c.status == "pending")
                                 .values(payload=canonical(payload), payload_hash=digest, attempts=0,
                                         next_attempt_at=None, last_error=None, updated_at=now))
                    changed += 1
            elif base.get(record_id) != digest:       # unchanged since the server's version: nothing to send
                rows.append({"record_id": record_id, "record_type": type_name, "payload": canonical(payload),
                             "payload_hash": digest, "base_hash": base.get(record_id), "status": "pending",
                             "attempts": 0, "created_at": now, "updated_at": now})
        if rows:
            conn.execute(insert(OUTBOX), rows)
            changed += len(rows)
    return changed


def enqueue_unsent(conn: Connection) -> int:
    """Enqueue every synced record that has never had an outbox row (records written before this
    clinic used sync, or in bulk); called at enrolment, so nothing stays behind unnoticed."""
    known = select(OUTBOX.c.record_id)
    total = 0
    for name, rt in RECORD_TYPES.items():
        ids = conn.execute(select(rt.table.c.id).where(rt.table.c.id.not_in(known))).scalars().all()
        for start in range(0, len(ids), 2000):
            total += enqueue(conn, {name: ids[start:start + 2000]})
    return total


def record_server_version(conn: Connection, type_name: str, record_id: str, payload: dict, digest: str) -> None:
    """After a pull applied the server's version of a record: remember it as acknowledged, so the
    next local edit is based on it (the server's hash, which the server will recognise)."""
    now = utcnow()
    conn.execute(insert(OUTBOX).values(
        record_id=record_id, record_type=type_name, payload=canonical(payload), payload_hash=digest,
        status="acknowledged", attempts=0, created_at=now, updated_at=now))
    compact(conn, [record_id])


def compact(conn: Connection, record_ids: Iterable[str]) -> None:
    """Keep only the newest acknowledged row of each record (and anything newer): older versions,
    including old rejections and conflicts that a later version replaced, have served their purpose.
    Decided in Python from the rows read by record id (a correlated DELETE would walk the status
    index through every acknowledged row, for every record)."""
    ids = list(record_ids)
    for start in range(0, len(ids), 500):
        rows = conn.execute(select(OUTBOX.c.record_id, OUTBOX.c.seq, OUTBOX.c.status).where(
            OUTBOX.c.record_id.in_(ids[start:start + 500]))).all()
        newest: dict[str, int] = {}
        for record_id, seq, status in rows:
            if status == "acknowledged" and seq > newest.get(record_id, -1):
                newest[record_id] = seq
        stale = [seq for record_id, seq, status in rows
                 if status not in OPEN and seq < newest.get(record_id, -1)]
        if stale:
            conn.execute(OUTBOX.delete().where(OUTBOX.c.seq.in_(stale)))


def pending_count(conn: Connection) -> int:
    return conn.scalar(select(func.count()).select_from(OUTBOX).where(OUTBOX.c.status.in_(OPEN))) or 0


def counts_by_status(conn: Connection) -> dict[str, int]:
    return dict(conn.execute(select(OUTBOX.c.status, func.count()).group_by(OUTBOX.c.status)).all())
