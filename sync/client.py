"""The clinic side of sync (issue 5). The GUI calls these from a worker thread:

    sync_once(db) -> SyncResult     one pass: push the outbox until empty, then pull every stream
    sync_status(db) -> SyncStatus   last success, pending / rejected / conflict counts, last error, clock skew
    outbox_problems(db)             rejected and conflicting records, with the reason to show the doctor
    resolve_conflict(db, record_id, keep="mine" | "server")
    enrol(db, server_url, code)     once, with the township's one-time code
    reconcile(db)                   ask the server which acknowledged records it lacks; they go back to pending

`db` is an open clinic Database. Nothing here raises for a network problem: the result says what
happened. One pass runs at a time per database file (a lock file beside it).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import requests
from sqlalchemy import delete, func, insert, select, update

from clinic.db.engine import Database
from clinic.db.models import OutboxEntry, Setting
from clinic.db.outbox import counts_by_status, enqueue_unsent, pending_count, record_server_version
from clinic.db.records import (
    RECORD_TYPES,
    TYPE_ORDER,
    canonical,
    parse_record,
    payload_hash,
    read_records,
    write_record,
)
from clinic.profile import local_institution
from sync import outbox_pump
from sync.pass_lock import PassLock
from sync.protocol import API, MAX_BATCH_RECORDS, MAX_RECONCILE_IDS, STREAMS, EnrolResponse, PushResponse
from sync.pull_apply import PullTally, cursor_key, pull_stream
from sync.transport import NeedsEnrolment, Refused, RetryPolicy, SyncError, Transport, Unreachable, utc_now

OUTBOX = OutboxEntry.__table__
CLOCK_WARNING_SECONDS = 300
KEYS = ("server_url", "token", "institution_code", "last_success_at", "last_attempt_at", "last_error",
        "clock_skew_seconds")


@dataclass
class SyncResult:
    tally: outbox_pump.Tally = field(default_factory=outbox_pump.Tally)
    pull: PullTally = field(default_factory=PullTally)
    batches: int = 0
    pending: int = 0                # still to send after this pass
    rejected: int = 0               # records the server refused, waiting for the doctor
    conflicts: int = 0              # records waiting for the user to choose a version
    error: str | None = None
    needs_enrolment: bool = False
    clock_skew_seconds: float | None = None

    @property
    def all_acknowledged(self) -> bool:
        return self.error is None and self.pending == 0 and self.rejected == 0 and self.conflicts == 0

    @property
    def exit_code(self) -> int:
        """0 all acknowledged · 2 records left (pending, rejected, conflict) · 3 server unreachable or
        refused · 4 enrolment needed."""
        if self.needs_enrolment:
            return 4
        if self.error is not None:
            return 3
        return 0 if self.all_acknowledged else 2


@dataclass(frozen=True)
class SyncStatus:
    enrolled: bool
    server_url: str | None
    last_success_at: datetime | None
    last_attempt_at: datetime | None
    pending: int
    rejected: int
    conflicts: int
    last_error: str | None
    clock_skew_seconds: float | None

    @property
    def clock_warning(self) -> str | None:
        skew = self.clock_skew_seconds
        if skew is None or abs(skew) <= CLOCK_WARNING_SECONDS:
            return None
        way = "慢" if skew > 0 else "快"
        return f"本机时钟比乡镇服务器{way}约 {abs(skew) / 60:.0f} 分钟，请校准电脑时间（不影响数据上传）"


@dataclass(frozen=True)
class OutboxProblem:
    record_type: str
    record_id: str
    status: str                     # rejected | conflict
    reason: str
    updated_at: datetime


def _settings(db: Database) -> dict[str, str]:
    with db.session("sync") as s:
        rows = s.execute(select(Setting.key, Setting.value).where(Setting.key.startswith("sync."))).all()
    return {key[5:]: value for key, value in rows}


def _save(db: Database, **values: object) -> None:
    with db.session("sync") as s:
        for key, value in values.items():
            row = s.get(Setting, f"sync.{key}")
            text = "" if value is None else (value.isoformat() if isinstance(value, datetime) else str(value))
            if row is None:
                s.add(Setting(key=f"sync.{key}", value=text))
            else:
                row.value = text


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def enrol(db: Database, server_url: str, code: str, *, device_name: str | None = None,
          session: requests.Session | None = None, retry: RetryPolicy | None = None) -> str:
    """Exchange the township's one-time code for this device's token; returns the clinic's name as the
    server knows it. Every record not yet in the outbox is queued, so nothing written before is missed."""
    with db.session("sync") as s:
        if s.get(Setting, "demo") is not None:
            raise SyncError("这是演示数据库（虚构的患者），不能接入乡镇服务器；请在正式数据库上接入")
        institution = local_institution(s).code
    transport = Transport(server_url, session=session, retry=retry or RetryPolicy(attempts=2))
    answer = EnrolResponse.model_validate(transport.request("POST", f"{API}/enrol", body={
        "code": code, "institution_code": institution, "device_name": device_name}))
    with db.session("sync") as s:
        enqueue_unsent(s.connection())
        s.execute(delete(Setting).where(Setting.key.startswith(cursor_key(""))))
    _save(db, server_url=server_url.rstrip("/"), token=answer.token, institution_code=answer.institution_code,
          last_error=None)
    return answer.institution_name


def sync_once(db: Database, *, session: requests.Session | None = None, clock: Callable[[], datetime] = utc_now,
              sleep: Callable[[float], None] = time.sleep, retry: RetryPolicy | None = None, force: bool = False,
              streams: tuple[str, ...] = STREAMS, page_size: int = 200,
              progress: Callable[[str], None] | None = None) -> SyncResult:
    """One pass. `force` ignores the stored backoff (a person asked for it now); `clock` is the
    device's clock, used only for backoff times and shown skew, never for what is sent."""
    result = SyncResult()
    state = _settings(db)
    if not state.get("token"):
        result.error, result.needs_enrolment = "本机尚未接入乡镇服务器，请先运行 liangbing enrol", True
        return _finish(db, result, clock, None)
    transport = Transport(state["server_url"], state["token"], session=session, retry=retry, sleep=sleep,
                          clock=clock)
    try:
        with PassLock(db.path):
            _push(db, transport, result, clock, force, progress)
            for stream in streams:
                if progress:
                    progress(f"正在接收：{stream}")
                pull_stream(db, transport, stream, result.pull, page_size)
    except NeedsEnrolment as exc:
        result.error, result.needs_enrolment = f"设备授权已失效：{exc}", True
    except SyncError as exc:
        result.error = str(exc)
    return _finish(db, result, clock, transport)


def _push(db: Database, transport: Transport, result: SyncResult, clock, force: bool, progress) -> None:
    with db.session("sync") as s:
        bound = (s.scalar(select(func.count()).select_from(OUTBOX)) or 0) + 100
    after, limit = 0, MAX_BATCH_RECORDS
    for _ in range(bound):
        batch = outbox_pump.claim_batch(db, clock(), after_seq=after, force=force, max_records=limit)
        if batch is None:
            return
        before, after = after, after if batch.resumed else max(r.seq for r in batch.rows)
        with db.session("sync") as s:
            pending = pending_count(s.connection())
        request = outbox_pump.build_request(db, batch, clock(), pending)
        try:
            answer = PushResponse.model_validate(
                transport.request("POST", f"{API}/sync/push", body=request.model_dump(mode="json")))
        except Unreachable as exc:
            outbox_pump.delay_batch(db, batch, clock(), str(exc))
            raise
        except Refused as exc:
            if exc.status == 413 and outbox_pump.split_batch(db, batch, clock(), str(exc)):
                after, limit = before, max(1, len(batch.rows) // 2)
                continue
            if exc.status != 413:
                outbox_pump.release_batch(db, batch, clock(), str(exc))
                raise
            continue
        outbox_pump.apply_answer(db, batch, answer, clock(), result.tally)
        result.batches += 1
        if progress:
            progress(f"已上传 {result.tally.accepted + result.tally.duplicates} 条")


def _finish(db: Database, result: SyncResult, clock, transport: Transport | None) -> SyncResult:
    with db.session("sync") as s:
        counts = counts_by_status(s.connection())
    result.pending = counts.get("pending", 0) + counts.get("sending", 0)
    result.rejected, result.conflicts = counts.get("rejected", 0), counts.get("conflict", 0)
    if transport is not None and transport.clock_skew is not None:
        result.clock_skew_seconds = transport.clock_skew
    values: dict[str, object] = {"last_attempt_at": clock(), "last_error": result.error}
    if result.clock_skew_seconds is not None:
        values["clock_skew_seconds"] = round(result.clock_skew_seconds, 1)
    if result.error is None:
        values["last_success_at"] = clock()
    if transport is not None or result.needs_enrolment:
        _save(db, **values)
    return result


def sync_status(db: Database) -> SyncStatus:
    state = _settings(db)
    with db.session("sync") as s:
        counts = counts_by_status(s.connection())
    skew = state.get("clock_skew_seconds")
    return SyncStatus(
        enrolled=bool(state.get("token")), server_url=state.get("server_url") or None,
        last_success_at=_time(state.get("last_success_at")), last_attempt_at=_time(state.get("last_attempt_at")),
        pending=counts.get("pending", 0) + counts.get("sending", 0), rejected=counts.get("rejected", 0),
        conflicts=counts.get("conflict", 0), last_error=state.get("last_error") or None,
        clock_skew_seconds=float(skew) if skew else None)


def outbox_problems(db: Database) -> list[OutboxProblem]:
    with db.session("sync") as s:
        rows = s.scalars(select(OutboxEntry).where(OutboxEntry.status.in_(("rejected", "conflict")))
                         .order_by(OutboxEntry.seq)).all()
        return [OutboxProblem(r.record_type, r.record_id, r.status, r.last_error or "", r.updated_at) for r in rows]


def resolve_conflict(db: Database, record_id: str, keep: str) -> None:
    """keep="server": the server's version replaces the local record. keep="mine": the local record is
    sent again as an edit of the server's version (not possible for dispensings and settlements)."""
    if keep not in ("mine", "server"):
        raise ValueError("keep 只能是 mine 或 server")
    with db.session("sync") as s:
        conn = s.connection()
        row = conn.execute(select(OUTBOX).where(OUTBOX.c.record_id == record_id, OUTBOX.c.status == "conflict")
                           .order_by(OUTBOX.c.seq.desc()).limit(1)).first()
        if row is None:
            raise SyncError("该记录没有待处理的版本冲突")
        rt = RECORD_TYPES[row.record_type]
        if keep == "mine":
            if rt.append_only:
                raise SyncError("配药和结算记录上传后不可修改，只能采用服务器版本，另行新建更正记录")
            payload = read_records(conn, row.record_type, [record_id])[record_id]
            pending = conn.scalar(select(OUTBOX.c.seq).where(OUTBOX.c.record_id == record_id,
                                                             OUTBOX.c.status == "pending"))
            if pending is not None:
                conn.execute(update(OUTBOX).where(OUTBOX.c.seq == pending).values(base_hash=row.server_hash))
            else:
                conn.execute(insert(OUTBOX).values(
                    record_id=record_id, record_type=row.record_type, payload=canonical(payload),
                    payload_hash=payload_hash(payload), base_hash=row.server_hash, status="pending", attempts=0,
                    created_at=utc_now(), updated_at=utc_now()))
        else:
            server = json.loads(row.server_payload)
            values, lines = parse_record(row.record_type, server)
            write_record(conn, row.record_type, values, lines, exists=True)
            conn.execute(delete(OUTBOX).where(OUTBOX.c.record_id == record_id, OUTBOX.c.status == "pending"))
            record_server_version(conn, row.record_type, record_id, server, row.server_hash)
        conn.execute(delete(OUTBOX).where(OUTBOX.c.seq == row.seq))


def reconcile(db: Database, *, session: requests.Session | None = None, retry: RetryPolicy | None = None) -> int:
    """Records this clinic holds as acknowledged but the server lacks (a server restored from an old
    backup) go back to pending. Returns how many."""
    state = _settings(db)
    if not state.get("token"):
        raise SyncError("本机尚未接入乡镇服务器，请先运行 liangbing enrol")
    transport = Transport(state["server_url"], state["token"], session=session, retry=retry)
    with db.session("sync") as s:
        held = dict(s.execute(select(OUTBOX.c.record_id, OUTBOX.c.record_type).where(
            OUTBOX.c.status == "acknowledged", OUTBOX.c.record_id.not_in(
                select(OUTBOX.c.record_id).where(OUTBOX.c.status.in_(("pending", "sending", "conflict")))))).all())
    ids, missing = list(held), []
    for start in range(0, len(ids), MAX_RECONCILE_IDS):
        answer = transport.request("POST", f"{API}/sync/reconcile", body={"ids": ids[start:start + MAX_RECONCILE_IDS]})
        missing += [i for i in answer["missing"] if i in held]
    with db.session("sync") as s:
        conn = s.connection()
        for type_name in sorted(RECORD_TYPES, key=TYPE_ORDER.__getitem__):      # parents first
            chosen = [i for i in missing if held[i] == type_name]
            for record_id, payload in read_records(conn, type_name, chosen).items():
                conn.execute(insert(OUTBOX).values(
                    record_id=record_id, record_type=type_name, payload=canonical(payload),
                    payload_hash=payload_hash(payload), base_hash=None, status="pending", attempts=0,
                    created_at=utc_now(), updated_at=utc_now()))
    return len(missing)
