"""What the clinic knows about its sync, for the GUI's status bar and `liangbing sync` (issue 5).

    sync_status(db) -> SyncStatus      local only, never touches the network: safe to call often
    check_server(db, timeout=3) -> bool  one quick request: is the township server answering now?
    outbox_problems(db)                 rejected and conflicting records, with the reason to show
    pull_problems(db)                   pulled items this clinic could not apply: their streams wait

The state lives in the clinic file as `sync.*` settings, written at the end of every pass, so it
survives restarts and reads the same from any thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import requests
from sqlalchemy import func, select

from clinic.db.engine import Database
from clinic.db.models import OutboxEntry, Setting
from clinic.db.models.exchange import PullRejection
from clinic.db.outbox import counts_by_status
from sync import token_store
from sync.protocol import API
from sync.transport import RetryPolicy, SyncError, Transport, utc_now

CLOCK_WARNING_SECONDS = 300          # "a skew over a few minutes is shown to the user" (issue 5 "Clock")
MAX_PROBLEMS_LISTED = 200            # the counts stay exact; the list is for reading
STREAM_WORDS = {"review": "审核结果", "catalogue": "药品目录", "policies": "政策文件", "usage": "其他机构用量"}


@dataclass(frozen=True)
class OutboxProblem:
    record_type: str
    record_id: str
    status: str                     # rejected | conflict
    reason: str
    updated_at: datetime


@dataclass(frozen=True)
class PullProblem:
    """A pulled item that could not be applied (sync/pull_apply.py): its stream waits before it and
    every pass tries it again, so it flows once the township corrects the data."""
    stream: str
    kind: str
    item_id: str
    reason: str
    attempts: int
    first_seen_at: datetime
    last_seen_at: datetime

    @property
    def line(self) -> str:
        """One line in Chinese for stderr or a list."""
        return (f"接收受阻：{STREAM_WORDS.get(self.stream, self.stream)}（{self.kind} {self.item_id}）：{self.reason}；"
                f"此后的内容暂不接收，已尝试 {self.attempts} 次，请乡镇卫生院更正后再同步")


@dataclass(frozen=True)
class SyncStatus:
    enrolled: bool
    server_url: str | None
    last_success_at: datetime | None     # UTC, the device clock at the end of the last complete pass
    last_attempt_at: datetime | None
    pending: int                         # records still to upload (pending or being sent)
    rejected: int                        # refused by the server for good: the doctor must look
    conflicts: int                       # the server holds another version: the user must choose
    last_error: str | None
    clock_skew_seconds: float | None     # server minus this PC, seconds, as last measured
    server_reachable: bool | None = None   # at the last contact (None: never tried)
    last_contact_at: datetime | None = None
    problems: tuple[OutboxProblem, ...] = field(default=())
    stuck: int = 0                       # pulled items not applied: their streams wait (pull_problems)
    pull_problems: tuple[PullProblem, ...] = field(default=())

    @property
    def clock_warning(self) -> str | None:
        return clock_warning(self.clock_skew_seconds)

    @property
    def summary(self) -> str:
        """One line in Chinese for a status bar."""
        if not self.enrolled:
            return f"未接入乡镇服务器 · 待上传 {self.pending} 条"
        state = {True: "在线", False: "无法连接", None: "尚未同步"}[self.server_reachable]
        when = self.last_success_at.strftime("%m-%d %H:%M") + " UTC" if self.last_success_at else "无"
        text = f"同步：{state} · 上次成功 {when} · 待上传 {self.pending} 条"
        if self.rejected:
            text += f" · 被拒收 {self.rejected} 条"
        if self.conflicts:
            text += f" · 版本冲突 {self.conflicts} 条"
        if self.stuck:
            text += f" · 接收受阻 {self.stuck} 项"
        return text


def clock_warning(skew: float | None) -> str | None:
    if skew is None or abs(skew) <= CLOCK_WARNING_SECONDS:
        return None
    way = "慢" if skew > 0 else "快"
    amount = f"{abs(skew) / 86400:.1f} 天" if abs(skew) >= 86400 else f"{abs(skew) / 60:.0f} 分钟"
    return f"本机时钟比乡镇服务器{way}约 {amount}，请校准电脑时间（不影响数据上传）"


def load_settings(db: Database) -> dict[str, str]:
    with db.session("sync") as s:
        rows = s.execute(select(Setting.key, Setting.value).where(Setting.key.startswith("sync."))).all()
    state = {key[5:]: value for key, value in rows}
    state["token"] = token_store.load_token(db) or ""       # kept out of the database (issue 7)
    return state


def save_settings(db: Database, **values: object) -> None:
    with db.session("sync") as s:
        for key, value in values.items():
            row = s.get(Setting, f"sync.{key}")
            if isinstance(value, bool):
                text = "1" if value else "0"
            else:
                text = "" if value is None else (value.isoformat() if isinstance(value, datetime) else str(value))
            if row is None:
                s.add(Setting(key=f"sync.{key}", value=text))
            else:
                row.value = text


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def outbox_problems(db: Database, limit: int | None = None) -> list[OutboxProblem]:
    with db.session("sync") as s:
        query = (select(OutboxEntry).where(OutboxEntry.status.in_(("rejected", "conflict")))
                 .order_by(OutboxEntry.seq))
        rows = s.scalars(query.limit(limit) if limit else query).all()
        return [OutboxProblem(r.record_type, r.record_id, r.status, r.last_error or "", r.updated_at) for r in rows]


def pull_problems(db: Database, limit: int | None = MAX_PROBLEMS_LISTED) -> list[PullProblem]:
    """Open pull rejections, oldest first (at most one per stream)."""
    table = PullRejection.__table__
    query = select(table).where(table.c.resolved_at.is_(None)).order_by(table.c.id)
    with db.session("sync") as s:
        rows = s.execute(query.limit(limit) if limit else query).all()
    return [PullProblem(r.stream, r.kind, r.item_id, r.reason, r.attempts, r.first_seen_at, r.last_seen_at)
            for r in rows]


def count_pull_problems(db: Database) -> int:
    table = PullRejection.__table__
    with db.session("sync") as s:
        return s.scalar(select(func.count()).select_from(table).where(table.c.resolved_at.is_(None))) or 0


def sync_status(db: Database) -> SyncStatus:
    state = load_settings(db)
    with db.session("sync") as s:
        counts = counts_by_status(s.connection())
    skew = state.get("clock_skew_seconds")
    reachable = state.get("server_reachable")
    rejected, conflicts = counts.get("rejected", 0), counts.get("conflict", 0)
    stuck = count_pull_problems(db)
    return SyncStatus(
        enrolled=bool(state.get("token")), server_url=state.get("server_url") or None,
        last_success_at=_time(state.get("last_success_at")), last_attempt_at=_time(state.get("last_attempt_at")),
        pending=counts.get("pending", 0) + counts.get("sending", 0), rejected=rejected, conflicts=conflicts,
        last_error=state.get("last_error") or None, clock_skew_seconds=float(skew) if skew else None,
        server_reachable=None if not reachable else reachable == "1",
        last_contact_at=_time(state.get("last_contact_at")),
        problems=tuple(outbox_problems(db, MAX_PROBLEMS_LISTED)) if rejected or conflicts else (),
        stuck=stuck, pull_problems=tuple(pull_problems(db)) if stuck else ())


def check_server(db: Database, *, timeout: float = 3.0, session: requests.Session | None = None) -> bool:
    """Whether the township server answers now (one request, no retries); the answer and the clock
    skew it shows are saved for sync_status. False when not enrolled."""
    state = load_settings(db)
    if not state.get("server_url"):
        return False
    transport = Transport(state["server_url"], state.get("token"), session=session,
                          retry=RetryPolicy(attempts=1), timeout=(timeout, timeout))
    try:
        transport.request("GET", f"{API}/health")
        reachable = True
    except SyncError:
        reachable = False
    values: dict[str, object] = {"server_reachable": reachable, "last_contact_at": utc_now()}
    if transport.clock_skew is not None:
        values["clock_skew_seconds"] = round(transport.clock_skew, 1)
    save_settings(db, **values)
    return reachable
