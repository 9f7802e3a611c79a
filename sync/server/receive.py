"""Receive one push batch (issue 5 "Push").

Batches are received one at a time (on PostgreSQL too, by the writers' lock of sync/server/feed.py):
a batch resent while its first copy is still being stored waits and is answered duplicate, never
"already exists"; two clinics' settlements for one person are replayed against each other's cap.
The whole batch is one transaction, committed before the answer is sent: a server killed mid-batch
has written nothing, and the clinic's retry does it all again. Inside it every record has its own
savepoint, so a rejected record leaves the others untouched. Per record, by UUID:
- the same UUID and hash as a version already stored → duplicate (a retry, a lost answer);
- a new UUID → stored (accepted), unless a record it names has not arrived yet (deferred: left out
  of the answer, so the clinic sends it again later);
- a known UUID with the hash of the version the server holds as its base → an edit, stored;
  otherwise → conflict, with the server's version so the user can choose. Dispensings, settlements
  and stock movements are facts: they are never edited, a correction is a new record.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache

from sqlalchemy import insert, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from clinic.adjudication import Refuse
from clinic.db.models import Base, Drug, Filing, SyncBatch, SyncDevice, SyncReceipt, SyncRecordHead, SyncRejection
from clinic.db.records import (
    RECORD_TYPES,
    RecordError,
    parse_record,
    payload_hash,
    read_record,
    row_values,
    write_record,
)
from clinic.db.types import utcnow
from sync.protocol import PushRecord, PushRequest, PushResponse, RecordResult
from sync.server import adjudicate, crossclinic, feed
from sync.server.storage import ServerDatabase
from sync.server.validate import validate

LABELS = {"patient": "患者", "filing": "备案", "prescription": "处方", "dispense": "配药记录",
          "settlement": "结算单", "stock_lot": "库存批次", "follow_up": "随访", "drug": "药品",
          "user_account": "用户"}
LABELS["opening_balance"] = "期初余额"
SYNCED_TABLES = {rt.table.name for rt in RECORD_TYPES.values()}
DRUG_COLUMNS = {c.name for c in Drug.__table__.columns}


class Rejected(Exception):
    """Final: the record is wrong and sending it again will not help."""


class Deferred(Exception):
    """Not now: something the record names has not arrived; the clinic retries later."""


class BatchError(Exception):
    """The batch as a whole cannot be taken (answered with HTTP 409)."""


@dataclass
class Batch:
    """What one batch has learnt so far: the heads and receipts of its records (read once, kept up to
    date as records are stored, written at the end), and which referenced rows exist."""

    institution: str
    key: str
    now: datetime
    heads: dict[str, tuple[str, str]] = field(default_factory=dict)      # id → (institution, current hash)
    new_heads: dict[str, dict] = field(default_factory=dict)
    moved_heads: dict[str, str] = field(default_factory=dict)            # id → new current hash
    receipts: set[tuple[str, str]] = field(default_factory=set)
    new_receipts: list[dict] = field(default_factory=list)
    owners: dict[tuple[str, str], str | None] = field(default_factory=dict)   # (table, id) → institution
    accepted: list[tuple[str, dict, list[dict]]] = field(default_factory=list)  # (type, row, lines)
    known_drugs: set[str] = field(default_factory=set)
    new_drugs: set[str] = field(default_factory=set)                     # added by the record in hand

    def load(self, s: Session, records: list[PushRecord]) -> None:
        ids = list({r.id for r in records})
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            self.heads.update((h.record_id, (h.institution_code, h.current_hash)) for h in s.execute(
                select(SyncRecordHead.record_id, SyncRecordHead.institution_code, SyncRecordHead.current_hash)
                .where(SyncRecordHead.record_id.in_(chunk))))
            self.receipts.update((record_id, digest) for record_id, digest in s.execute(
                select(SyncReceipt.record_id, SyncReceipt.payload_hash).where(SyncReceipt.record_id.in_(chunk))))

    def stored(self, record: PushRecord, row: dict, lines: dict[str, list[dict]]) -> None:
        if record.id in self.heads or record.id in self.new_heads:
            if record.id in self.new_heads:
                self.new_heads[record.id]["current_hash"] = record.hash
            else:
                self.moved_heads[record.id] = record.hash
        else:
            self.new_heads[record.id] = {"record_id": record.id, "record_type": record.type,
                                         "institution_code": self.institution, "current_hash": record.hash,
                                         "first_received_at": self.now, "updated_at": self.now}
        self.heads[record.id] = (self.institution, record.hash)
        self.receipts.add((record.id, record.hash))
        self.new_receipts.append({"record_id": record.id, "payload_hash": record.hash, "batch_key": self.key,
                                  "received_at": self.now})
        self.owners[(RECORD_TYPES[record.type].table.name, record.id)] = self.institution
        self.accepted.append((record.type, row, [line for group in lines.values() for line in group]))

    def write(self, s: Session) -> None:
        conn = s.connection()
        if self.new_heads:
            conn.execute(insert(SyncRecordHead.__table__), list(self.new_heads.values()))
        for record_id, digest in self.moved_heads.items():
            conn.execute(update(SyncRecordHead.__table__).where(SyncRecordHead.record_id == record_id)
                         .values(current_hash=digest, updated_at=self.now))
        if self.new_receipts:
            conn.execute(insert(SyncReceipt.__table__), self.new_receipts)


@contextmanager
def _savepoint(conn: Connection, batch: Batch) -> Iterator[None]:
    """Each record in its own savepoint: a rejected or deferred one leaves no trace, the others stay.
    Plain SQL rather than Session.begin_nested(): the ORM is not used inside, and a hundred ORM
    savepoints a batch cost more than storing the records."""
    conn.exec_driver_sql("SAVEPOINT record")
    try:
        yield
    except BaseException:
        conn.exec_driver_sql("ROLLBACK TO SAVEPOINT record")
        conn.exec_driver_sql("RELEASE SAVEPOINT record")
        batch.new_drugs.clear()                 # their rows were rolled back with the record
        raise
    conn.exec_driver_sql("RELEASE SAVEPOINT record")
    batch.known_drugs |= batch.new_drugs
    batch.new_drugs.clear()


def receive_batch(db: ServerDatabase, device_id: str, request: PushRequest) -> PushResponse:
    with db.session("sync", write=True) as s:
        feed.lock_writers(s)
        now = utcnow()                  # after the lock: receipt times follow the order of storing
        device = s.get(SyncDevice, device_id)
        batch = Batch(device.institution_code, request.batch_key, now)
        seen = s.get(SyncBatch, request.batch_key)
        if seen is not None and seen.institution_code != batch.institution:
            raise BatchError("批次编号已被另一机构使用，请重新同步")
        records = sorted(request.records, key=lambda r: r.seq)
        batch.load(s, records)
        s.flush()                       # nothing of the ORM's may be written inside a record's savepoint
        results, deferred, rejections = [], {}, []
        for record in records:
            try:
                with _savepoint(s.connection(), batch):
                    results.append(receive_record(s, record, batch))
            except Rejected as exc:
                results.append(RecordResult(id=record.id, status="rejected", hash=record.hash, reason=str(exc)))
                rejections.append({"institution_code": batch.institution, "record_id": record.id[:64],
                                   "record_type": record.type[:40], "reason": str(exc), "batch_key": batch.key,
                                   "received_at": now})
            except Deferred as exc:
                deferred[record.id] = str(exc)
        batch.write(s)
        if rejections:
            s.connection().execute(insert(SyncRejection.__table__), rejections)
        counts = {status: sum(r.status == status for r in results)
                  for status in ("accepted", "duplicate", "rejected", "conflict")}
        if seen is None:
            s.add(SyncBatch(key=batch.key, institution_code=batch.institution, device_id=device.id,
                            received_at=now, client_time=_naive(request.client_time), records=len(request.records),
                            accepted=counts["accepted"], duplicates=counts["duplicate"],
                            rejected=counts["rejected"], conflicts=counts["conflict"]))
        else:
            seen.times_received += 1
        device.last_push_at = now
        if request.pending is not None:      # what the clinic still has to send once this batch is answered
            device.reported_pending = max(0, request.pending - len(results))
        feed.append(s, crossclinic.after_batch(s, batch.institution, batch.accepted))
    return PushResponse(batch_key=batch.key, server_time=now, replayed=seen is not None, results=results,
                        deferred=deferred)


def _naive(moment: datetime | None) -> datetime | None:
    """Stored times are naive UTC, like every other time in the schema."""
    if moment is None or moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)


# What the database says (PostgreSQL names the index, SQLite the columns) → what the doctor should do.
UNIQUE_REASONS = {("uq_patient_id_number_per_clinic", "patient.id_number"):
                  "本机构已有身份证号相同的在册患者（重复登记），请合并后再上传",
                  ("receipt_no",): "结算单号与服务器上已有的结算单重复"}


def receive_record(s: Session, record: PushRecord, batch: Batch) -> RecordResult:
    rt = RECORD_TYPES.get(record.type)
    if rt is None:
        raise Rejected(f"未知的记录类型 {record.type!r}，请升级村卫生室软件")
    if payload_hash(record.payload) != record.hash:
        raise Rejected("记录内容与其校验值不符（传输或软件错误），请联系技术支持")
    if record.payload.get("id") != record.id:
        raise Rejected("记录编号与内容中的编号不一致")
    owner = record.payload.get("institution_code")
    if owner != batch.institution:
        raise Rejected(f"记录属于机构 {owner}，而本设备接入的是机构 {batch.institution}；"
                       f"请检查本机构编码设置，或用该机构的接入码接入")
    head = batch.heads.get(record.id)
    if head is not None and head[0] != batch.institution:
        raise Rejected(f"记录编号 {record.id} 已属于另一机构的记录")
    if (record.id, record.hash) in batch.receipts:
        return RecordResult(id=record.id, status="duplicate", hash=record.hash)
    payload = adjudicate.with_accounting_year(s, record.payload) if record.type == "settlement" else record.payload
    try:
        row, lines = parse_record(record.type, payload)
        validate(record.type, row, lines)
    except RecordError as exc:
        raise Rejected(f"{LABELS.get(record.type, record.type)}内容有误：{exc}") from None
    if head is not None and rt.append_only:
        return _conflict(s, record, head[1], f"{LABELS[record.type]}一经上传不可修改；如需更正，请新建一条更正记录")
    if head is not None and head[1] != record.base_hash:
        return _conflict(s, record, head[1], _stale_reason(s, record))
    _check_references(s, rt, row, lines, record, batch)
    findings = []
    if record.type == "settlement":
        try:                                 # the server never trusts a clinic's arithmetic
            findings = adjudicate.check_settlement(s, row, lines, batch.institution)
        except Refuse as exc:
            raise Rejected(f"结算复核未通过：{exc}") from None
        if row["state"] == "settled_offline":
            row["state"] = "uploaded"        # it has reached the insurer's side
    try:
        write_record(s.connection(), record.type, row, lines, exists=head is not None)
    except IntegrityError as exc:
        text = str(exc.orig)
        reason = next((why for names, why in UNIQUE_REASONS.items() if any(name in text for name in names)),
                      f"与服务器上已有的记录冲突（编号或单号重复）：{text.splitlines()[0][:200]}")
        raise Rejected(reason) from None
    batch.stored(record, row, lines)
    adjudicate.flag(s, row, batch.institution, findings)
    return RecordResult(id=record.id, status="accepted", hash=record.hash, flags=[f.detail for f in findings])


def _conflict(s: Session, record: PushRecord, server_hash: str, reason: str) -> RecordResult:
    return RecordResult(id=record.id, status="conflict", hash=record.hash, reason=reason,
                        server_hash=server_hash,
                        server_payload=read_record(s.connection(), record.type, record.id))


def _stale_reason(s: Session, record: PushRecord) -> str:
    if record.type == "filing":
        theirs = s.connection().scalar(select(Filing.version).where(Filing.id == record.id))
        mine = record.payload.get("version")
        return (f"备案在服务器上已是第 {theirs} 版（可能已被审核），本机修改后为第 {mine} 版、基于更早的版本；"
                f"请查看服务器版本后选择保留哪一份")
    return f"{LABELS.get(record.type, record.type)}在服务器上已被修改，本机的修改基于较早的版本；请选择保留哪一份"


@cache
def _references(type_name: str) -> tuple[tuple[str | None, str, str], ...]:
    """Once per record type: (lines key or None for the row, column, table it names) for every
    foreign key, except a line naming its own parent."""
    rt = RECORD_TYPES[type_name]
    found = []
    for key, table in [(None, rt.table)] + [(key, child.__table__) for key, child, _ in rt.children]:
        for column in table.columns:
            for fk in column.foreign_keys:
                target = fk.column.table
                if not (target is rt.table and fk.column.name == "id" and key is not None):
                    found.append((key, column.name, target.name))
    return tuple(found)


def _check_references(s: Session, rt, row: dict, lines: dict[str, list[dict]], record: PushRecord,
                      batch: Batch) -> None:
    """Every record a row names must be on the server, and be this clinic's own."""
    conn = s.connection()
    for key, name, target in _references(rt.name):
        for values in ([row] if key is None else lines[key]):
            value = values.get(name)
            if value is None:
                continue
            if target == "user_account":
                values[name] = None            # clinic accounts stay in the clinic; names travel
            elif target == "drug":
                _ensure_drug(s, value, record, batch)
            elif target in SYNCED_TABLES:
                if (target, value) not in batch.owners:
                    table = Base.metadata.tables[target]
                    batch.owners[(target, value)] = conn.scalar(select(table.c.institution_code)
                                                                .where(table.c.id == value))
                owner = batch.owners[(target, value)]
                if owner is None:
                    raise Deferred(f"所属的{LABELS.get(target, target)} {value} 尚未到达服务器")
                if owner != batch.institution:
                    raise Rejected(f"引用了另一机构的{LABELS.get(target, target)} {value}")


def _ensure_drug(s: Session, code: str, record: PushRecord, batch: Batch) -> None:
    if code in batch.known_drugs or code in batch.new_drugs:
        return
    conn = s.connection()
    if conn.scalar(select(Drug.code).where(Drug.code == code)) is None:
        entry = next((d for d in record.drugs if isinstance(d, dict) and d.get("code") == code), None)
        if entry is None:
            raise Rejected(f"药品编码 {code} 不在乡镇药品目录中，且记录未附带该药品信息")
        try:
            values = _drug_values(entry)
        except RecordError as exc:
            raise Rejected(f"附带的药品 {code} 信息有误：{exc}") from None
        conn.execute(insert(Drug.__table__).values(values))
        batch.new_drugs.add(code)
    else:
        batch.known_drugs.add(code)


def _drug_values(entry: dict) -> dict:
    return row_values(Drug.__table__, {k: v for k, v in entry.items() if k in DRUG_COLUMNS}, "药品.")
