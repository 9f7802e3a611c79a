"""The clinic side of sync (issue 5). The GUI calls these from a worker thread (none touches Qt):

    sync_once(db) -> SyncResult     one pass: push the outbox until empty, then pull every stream;
                                    never raises for a network or server problem, the result says it
    sync_status(db) -> SyncStatus   local only: last success, pending / rejected / conflict counts with
                                    the reasons, last error, server reachable, clock skew (sync/status.py)
    check_server(db) -> bool        one quick request: is the server answering now?
    outbox_problems(db)             rejected and conflicting records, with the reason to show the doctor
    resolve_conflict(db, record_id, keep="mine" | "server")
    enrol(db, server_url, code)     once, with the township's one-time code (raises SyncError)
    reconcile(db)                   ask the server which acknowledged records it lacks; they go back to pending

`db` is an open clinic Database. One pass runs at a time per database file (a lock file beside it);
a second caller gets a result whose error says so.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import requests
from pydantic import ValidationError
from sqlalchemy import delete, func, insert, select, update

from clinic.db.engine import Database
from clinic.db.models import OutboxEntry, Setting
from clinic.db.outbox import counts_by_status, enqueue_unsent, record_server_version
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
from sync import outbox_pump, token_store
from sync.pass_lock import Busy, PassLock
from sync.protocol import (
    API,
    MAX_BATCH_RECORDS,
    MAX_RECONCILE_IDS,
    STREAMS,
    EnrolResponse,
    PushResponse,
    ReconcileResponse,
)
from sync.pull_apply import PullTally, cursor_key, pull_stream
from sync.status import (
    OutboxProblem,
    SyncStatus,
    check_server,
    clock_warning,
    load_settings,
    outbox_problems,
    save_settings,
    sync_status,
)
from sync.transport import NeedsEnrolment, Refused, RetryPolicy, SyncError, Transport, Unreachable, utc_now

__all__ = ["OutboxProblem", "SyncResult", "SyncStatus", "check_server", "enrol", "outbox_problems", "reconcile",
           "resolve_conflict", "sync_once", "sync_status"]

OUTBOX = OutboxEntry.__table__
BAD_ANSWER = "乡镇服务器的应答格式不符（双方软件版本可能不一致），请联系乡镇卫生院；记录已保存在本机"


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
    server_reachable: bool | None = None   # None: no request was made (not enrolled, another pass running)
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

    @property
    def summary(self) -> str:
        """One line in Chinese: what this pass did and what is left."""
        t = self.tally
        text = (f"上传：新收 {t.accepted}，重复 {t.duplicates}，拒收 {t.rejected}，冲突 {t.conflicts}；"
                f"接收：{sum(self.pull.applied.values())} 项；待上传 {self.pending}")
        warning = clock_warning(self.clock_skew_seconds)
        flagged = "".join(f"\n乡镇复核：{flag}" for flag in t.flags)
        return text + (f"\n{warning}" if warning else "") + flagged

    def to_dict(self) -> dict:
        t = self.tally
        return {"exit_code": self.exit_code, "accepted": t.accepted, "duplicates": t.duplicates,
                "rejected": t.rejected, "conflicts": t.conflicts, "deferred": t.deferred, "batches": self.batches,
                "township_flags": list(t.flags),
                "pulled": dict(self.pull.applied), "kept_local": self.pull.kept_local,
                "pull_skipped": list(self.pull.skipped), "pending": self.pending, "rejected_total": self.rejected,
                "conflicts_total": self.conflicts, "error": self.error, "needs_enrolment": self.needs_enrolment,
                "server_reachable": self.server_reachable, "clock_skew_seconds": self.clock_skew_seconds}


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
    token_store.save_token(db, answer.token)
    save_settings(db, server_url=server_url.rstrip("/"), institution_code=answer.institution_code, last_error=None)
    return answer.institution_name


def sync_once(db: Database, *, session: requests.Session | None = None, clock: Callable[[], datetime] = utc_now,
              sleep: Callable[[float], None] = time.sleep, retry: RetryPolicy | None = None, force: bool = False,
              streams: tuple[str, ...] = STREAMS, page_size: int = 200,
              progress: Callable[[str], None] | None = None) -> SyncResult:
    """One pass. `force` ignores the stored backoff (a person asked for it now); `clock` is the
    device's clock, used only for backoff times and shown skew, never for what is sent."""
    result = SyncResult()
    state = load_settings(db)
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
    except Busy as exc:                      # the running pass will save its own outcome
        result.error = str(exc)
        return _finish(db, result, clock, None)
    except NeedsEnrolment as exc:
        how = "" if "重新接入" in str(exc) else "；请向乡镇卫生院索取接入码后重新接入（liangbing enrol）"
        result.error, result.needs_enrolment = f"设备授权已失效：{exc}{how}", True
    except SyncError as exc:
        result.error = str(exc)
    except ValidationError:
        result.error = BAD_ANSWER
    return _finish(db, result, clock, transport)


def _push(db: Database, transport: Transport, result: SyncResult, clock, force: bool, progress) -> None:
    """Batches until nothing is due. Each answer is applied, and the next batch claimed, in one commit."""
    with db.session("sync") as s:
        bound = (s.scalar(select(func.count()).select_from(OUTBOX)) or 0) + 100
    after, limit = 0, MAX_BATCH_RECORDS
    batch = outbox_pump.claim_batch(db, clock(), force=force)
    for _ in range(bound):
        if batch is None:
            return
        before, after = after, after if batch.resumed else max(r.seq for r in batch.rows)
        try:
            answer = PushResponse.model_validate(transport.request(
                "POST", f"{API}/sync/push", json_bytes=outbox_pump.request_body(db, batch, clock())))
        except Unreachable as exc:
            outbox_pump.delay_batch(db, batch, clock(), str(exc))
            raise
        except Refused as exc:
            if exc.status != 413:
                outbox_pump.release_batch(db, batch, clock(), str(exc))
                raise
            if outbox_pump.split_batch(db, batch, clock(), str(exc)):
                after, limit = before, max(1, len(batch.rows) // 2)
            else:                                          # one record, too large on its own: final
                result.tally.rejected += 1
            batch = outbox_pump.claim_batch(db, clock(), after_seq=after, force=force, max_records=limit)
            continue
        batch = outbox_pump.apply_answer(db, batch, answer, clock(), result.tally,
                                         claim_next={"after_seq": after, "force": force, "max_records": limit})
        result.batches += 1
        if progress:
            progress(f"已上传 {result.tally.accepted + result.tally.duplicates} 条")


def _finish(db: Database, result: SyncResult, clock, transport: Transport | None) -> SyncResult:
    with db.session("sync") as s:
        counts = counts_by_status(s.connection())
    result.pending = counts.get("pending", 0) + counts.get("sending", 0)
    result.rejected, result.conflicts = counts.get("rejected", 0), counts.get("conflict", 0)
    values: dict[str, object] = {"last_attempt_at": clock(), "last_error": result.error}
    if transport is not None and transport.tried:
        result.server_reachable = transport.answered
        values.update(server_reachable=transport.answered, last_contact_at=utc_now())
    if transport is not None and transport.clock_skew is not None:
        result.clock_skew_seconds = transport.clock_skew
    if result.clock_skew_seconds is not None:
        values["clock_skew_seconds"] = round(result.clock_skew_seconds, 1)
    if result.error is None:
        values["last_success_at"] = clock()
    if transport is not None or result.needs_enrolment:
        save_settings(db, **values)
    return result


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
    backup) go back to pending, parents first; the next pass sends them. Returns how many.
    Raises SyncError when the server cannot be asked (nothing changes then)."""
    state = load_settings(db)
    if not state.get("token"):
        raise SyncError("本机尚未接入乡镇服务器，请先运行 liangbing enrol")
    transport = Transport(state["server_url"], state["token"], session=session, retry=retry)
    unsent = select(OUTBOX.c.record_id).where(OUTBOX.c.status.in_(("pending", "sending", "conflict")))
    with PassLock(db.path):
        with db.session("sync") as s:
            held = dict(s.execute(select(OUTBOX.c.record_id, OUTBOX.c.record_type).where(
                OUTBOX.c.status == "acknowledged", OUTBOX.c.record_id.not_in(unsent))).all())
        ids, missing = list(held), []
        for start in range(0, len(ids), MAX_RECONCILE_IDS):
            answer = ReconcileResponse.model_validate(transport.request(
                "POST", f"{API}/sync/reconcile", body={"ids": ids[start:start + MAX_RECONCILE_IDS]}))
            missing += [i for i in answer.missing if i in held]
        with db.session("sync") as s:
            conn = s.connection()
            # an edit made meanwhile already has its pending row, which the server will take as new
            edited = set(conn.scalars(unsent))
            now = utc_now()
            for type_name in sorted(RECORD_TYPES, key=TYPE_ORDER.__getitem__):      # parents first
                chosen = [i for i in missing if held[i] == type_name and i not in edited]
                rows = [{"record_id": record_id, "record_type": type_name, "payload": canonical(payload),
                         "payload_hash": payload_hash(payload), "base_hash": None, "status": "pending",
                         "attempts": 0, "created_at": now, "updated_at": now}
                        for record_id, payload in read_records(conn, type_name, chosen).items()]
                if rows:
                    conn.execute(insert(OUTBOX), rows)
    return len(missing)
