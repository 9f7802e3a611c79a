"""Push the outbox in batches (issue 5 "Push"), each step in its own local transaction:

1. claim: a batch of due pending rows (≈100 records or 1 MB, in sequence order) becomes `sending`
   under a new idempotency key, committed before anything leaves the machine. A batch left `sending`
   by a pass that died is claimed first, whole, with its old key: "the same batch again".
2. send (sync/transport.py retries it).
3. answer: in one local commit every row gets the server's verdict by UUID: acknowledged (accepted or
   duplicate), rejected (final, the reason is kept for the doctor), conflict (the server's version is
   kept so the user can choose); a row the answer does not name goes back to pending with a backoff.
A crash between 2 and 3 leaves the rows `sending`: the next pass resends them and the server answers
duplicate. The backoff time is stored on the row, so it survives a restart.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select, update
from sqlalchemy.engine import Connection

from clinic.db.engine import Database
from clinic.db.models import Drug, OutboxEntry, Settlement
from clinic.db.outbox import compact, pending_count
from clinic.db.records import RECORD_TYPES, drug_codes, to_plain
from sync.protocol import MAX_BATCH_BYTES, MAX_BATCH_RECORDS, PushResponse

OUTBOX = OutboxEntry.__table__
MAX_BACKOFF = timedelta(hours=1)
MISSING = "服务器未确认收到，稍后自动重发"
# Record types whose row or lines name a catalogue drug: their pushes carry the drug's entry too.
NAMES_DRUGS = {name for name, rt in RECORD_TYPES.items()
               if any(fk.column.table is Drug.__table__
                      for table in [rt.table, *(child.__table__ for _, child, _ in rt.children)]
                      for column in table.columns for fk in column.foreign_keys)}


@dataclass(frozen=True)
class Row:
    seq: int
    record_id: str
    record_type: str
    payload: str
    payload_hash: str
    base_hash: str | None


@dataclass
class Batch:
    key: str
    rows: list[Row]
    resumed: bool = False
    pending: int = 0                  # the outbox still open when claimed (the township page shows it)


@dataclass
class Tally:
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    conflicts: int = 0
    deferred: int = 0
    flags: list[str] = field(default_factory=list)    # accepted, but the township's re-adjudication differs


def backoff(attempts: int) -> timedelta:
    """30 s, 1 min, 2 min … up to an hour; stored on the row, so it holds across restarts."""
    return min(MAX_BACKOFF, timedelta(seconds=30 * 2 ** max(0, attempts - 1)))


def _due(now: datetime):
    # A next-attempt time further ahead than the longest backoff means the clock was set back: due now.
    return or_(OUTBOX.c.next_attempt_at.is_(None), OUTBOX.c.next_attempt_at <= now,
               OUTBOX.c.next_attempt_at > now + MAX_BACKOFF)


def _rows(conn: Connection, query) -> list[Row]:
    return [Row(r.seq, r.record_id, r.record_type, r.payload, r.payload_hash, r.base_hash) for r in conn.execute(query)]


def claim_batch(db: Database, now: datetime, *, after_seq: int = 0, force: bool = False,
                max_records: int = MAX_BATCH_RECORDS, max_bytes: int = MAX_BATCH_BYTES) -> Batch | None:
    with db.session("sync") as s:
        return _claim(s.connection(), now, after_seq, force, max_records, max_bytes)


def _claim(conn: Connection, now: datetime, after_seq: int, force: bool, max_records: int,
           max_bytes: int) -> Batch | None:
    due = True if force else _due(now)
    key = conn.scalar(select(OUTBOX.c.batch_key).where(OUTBOX.c.status == "sending", due)
                      .order_by(OUTBOX.c.seq).limit(1))
    if key is not None:
        return Batch(key, _rows(conn, select(OUTBOX).where(OUTBOX.c.batch_key == key, OUTBOX.c.status == "sending")
                                .order_by(OUTBOX.c.seq)), resumed=True, pending=pending_count(conn))
    if conn.scalar(select(OUTBOX.c.seq).where(OUTBOX.c.status == "sending").limit(1)) is not None:
        return None                  # an earlier batch is waiting out its backoff: keep the order
    candidates = _rows(conn, select(OUTBOX).where(OUTBOX.c.status == "pending", OUTBOX.c.seq > after_seq, due)
                       .order_by(OUTBOX.c.seq).limit(max_records))
    chosen, size = [], 0
    for row in candidates:
        size += len(row.payload.encode("utf-8"))
        if chosen and size > max_bytes:
            break
        chosen.append(row)
    if not chosen:
        return None
    key = uuid.uuid4().hex
    conn.execute(update(OUTBOX).where(OUTBOX.c.seq.in_([r.seq for r in chosen]))
                 .values(status="sending", batch_key=key))
    return Batch(key, chosen, pending=pending_count(conn))


def request_body(db: Database, batch: Batch, now: datetime) -> bytes:
    """The PushRequest (sync/protocol.py) as JSON. Each payload is the outbox's canonical JSON text,
    spliced in as it is: the hash was taken of exactly that text, and nothing is parsed and re-encoded."""
    payloads = {row.seq: json.loads(row.payload) for row in batch.rows if row.record_type in NAMES_DRUGS}
    codes = set().union(*(drug_codes(p) for p in payloads.values()))
    drugs = {}
    if codes:
        with db.session("sync") as s:
            drugs = {d.code: {c.name: to_plain(getattr(d, c.key)) for c in Drug.__table__.columns}
                     for d in s.scalars(select(Drug).where(Drug.code.in_(codes)))}
    records = []
    for row in batch.rows:
        wanted = sorted(drug_codes(payloads[row.seq])) if row.seq in payloads else ()
        head = json.dumps({"id": row.record_id, "type": row.record_type, "seq": row.seq, "hash": row.payload_hash,
                           "base_hash": row.base_hash, "drugs": [drugs[c] for c in wanted if c in drugs]},
                          ensure_ascii=False)
        records.append(f'{head[:-1]},"payload":{row.payload}}}')
    head = json.dumps({"batch_key": batch.key, "client_time": now.isoformat(), "pending": batch.pending})
    return f'{head[:-1]},"records":[{",".join(records)}]}}'.encode()


def apply_answer(db: Database, batch: Batch, answer: PushResponse, now: datetime, tally: Tally,
                 claim_next: dict | None = None) -> Batch | None:
    """The server's verdict on every row of the batch, in one local commit; with `claim_next`
    (claim_batch's options) the next batch is claimed in the same commit."""
    results = {r.id: r for r in answer.results}
    with db.session("sync") as s:
        conn = s.connection()
        acknowledged, acknowledged_seqs, settlements = [], [], []
        for row in batch.rows:
            result = results.get(row.record_id)
            if result is None or result.hash != row.payload_hash:
                tally.deferred += 1
                back_to_pending(conn, row, now, answer.deferred.get(row.record_id) or MISSING)
                continue
            values = {"batch_key": None, "updated_at": now, "next_attempt_at": None}
            if result.status in ("accepted", "duplicate"):
                acknowledged.append(row.record_id)
                acknowledged_seqs.append(row.seq)
                if result.status == "accepted":
                    tally.accepted += 1
                else:
                    tally.duplicates += 1
                if row.record_type == "settlement":
                    settlements.append(row.record_id)
                tally.flags.extend(result.flags)
                continue
            if result.status == "rejected":
                tally.rejected += 1
                values.update(status="rejected", last_error=result.reason)
            else:
                tally.conflicts += 1
                values.update(status="conflict", last_error=result.reason, server_hash=result.server_hash,
                              server_payload=json.dumps(result.server_payload, ensure_ascii=False)
                              if result.server_payload is not None else None)
            conn.execute(update(OUTBOX).where(OUTBOX.c.seq == row.seq).values(**values))
        if acknowledged_seqs:
            conn.execute(update(OUTBOX).where(OUTBOX.c.seq.in_(acknowledged_seqs)).values(
                status="acknowledged", last_error=None, batch_key=None, next_attempt_at=None, updated_at=now))
        if settlements:                                   # they have reached the insurer's side
            conn.execute(update(Settlement.__table__).where(
                Settlement.id.in_(settlements), Settlement.state == "settled_offline").values(state="uploaded"))
        compact(conn, acknowledged)
        if claim_next is None:
            return None
        return _claim(conn, now, claim_next.get("after_seq", 0), claim_next.get("force", False),
                      claim_next.get("max_records", MAX_BATCH_RECORDS), claim_next.get("max_bytes", MAX_BATCH_BYTES))


def back_to_pending(conn: Connection, row: Row, now: datetime, reason: str | None, *, delay: bool = True) -> None:
    """The row is sent again later. If the record was edited meanwhile, the newer pending version
    replaces this one and inherits its base (the server never stored this one)."""
    attempts = (conn.scalar(select(OUTBOX.c.attempts).where(OUTBOX.c.seq == row.seq)) or 0) + int(delay)
    newer = conn.scalar(select(OUTBOX.c.seq).where(OUTBOX.c.record_id == row.record_id,
                                                   OUTBOX.c.status == "pending"))
    if newer is not None:
        conn.execute(update(OUTBOX).where(OUTBOX.c.seq == newer).values(base_hash=row.base_hash))
        conn.execute(delete(OUTBOX).where(OUTBOX.c.seq == row.seq))
        return
    conn.execute(update(OUTBOX).where(OUTBOX.c.seq == row.seq).values(
        status="pending", batch_key=None, attempts=attempts, next_attempt_at=now + backoff(attempts) if delay else None,
        last_error=reason, updated_at=now))


def delay_batch(db: Database, batch: Batch, now: datetime, reason: str) -> None:
    """The server could not be reached: the batch stays `sending` with its key, due after a backoff."""
    with db.session("sync") as s:
        conn = s.connection()
        attempts = max(conn.scalar(select(OUTBOX.c.attempts).where(OUTBOX.c.seq == batch.rows[0].seq)) or 0, 0) + 1
        conn.execute(update(OUTBOX).where(OUTBOX.c.batch_key == batch.key, OUTBOX.c.status == "sending").values(
            attempts=attempts, next_attempt_at=now + backoff(attempts), last_error=reason, updated_at=now))


def split_batch(db: Database, batch: Batch, now: datetime, reason: str) -> bool:
    """The server found the batch too large. Its rows go back to pending at once, to be sent in smaller
    batches (returns True); a lone record too large on its own is rejected for good (returns False)."""
    with db.session("sync") as s:
        conn = s.connection()
        if len(batch.rows) == 1:
            why = f"该记录过大，乡镇服务器无法接收（{reason}）；请删减记录中过长的文字，保存后会重新上传"
            conn.execute(update(OUTBOX).where(OUTBOX.c.seq == batch.rows[0].seq).values(
                status="rejected", last_error=why, batch_key=None, updated_at=now))
            return False
        for row in batch.rows:
            back_to_pending(conn, row, now, None, delay=False)
        return True


def release_batch(db: Database, batch: Batch, now: datetime, reason: str) -> None:
    """The server refused the batch as a whole for another reason: its rows wait out a backoff."""
    with db.session("sync") as s:
        for row in batch.rows:
            back_to_pending(s.connection(), row, now, reason)
