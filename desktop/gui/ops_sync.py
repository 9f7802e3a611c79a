"""Sync as the home screen and status bar show it: whether this PC is connected to the township server,
the last successful pass, how many records wait to upload, and one background pass (sync/client.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from clinic.db.engine import Database

# sync.client (requests, pydantic) is imported where it is used, in the worker: start-up stays quick.


@dataclass(frozen=True)
class SyncState:
    enrolled: bool
    online: bool | None            # None: no pass tried yet
    last_success_at: datetime | None
    pending: int
    problems: int                  # rejected + conflicting records waiting for the doctor
    last_error: str | None
    stuck: int = 0                 # pulled items not applied: their streams wait (sync/pull_apply.py)

    @property
    def summary(self) -> str:
        """One line for the status bar."""
        if not self.enrolled:
            return f"未接入乡镇服务器 · 待上传 {self.pending} 条"
        when = _local(self.last_success_at)
        state = {True: "在线", False: "离线", None: "尚未同步"}[self.online]
        text = f"同步：{state} · 上次成功 {when or '无'} · 待上传 {self.pending} 条"
        if self.problems:
            text += f" · {self.problems} 条需处理"
        if self.stuck:
            text += f" · 接收受阻 {self.stuck} 项"
        return text


def _local(moment: datetime | None) -> str:
    if moment is None:
        return ""
    if moment.tzinfo is None:          # stored in UTC (sync/transport.utc_now)
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone().strftime("%m-%d %H:%M")


def state(db: Database) -> SyncState:
    from sync.client import sync_status

    status = sync_status(db)
    online = None
    if status.last_attempt_at is not None:
        online = status.last_error is None
    return SyncState(status.enrolled, online, status.last_success_at, status.pending,
                     status.rejected + status.conflicts, status.last_error, status.stuck)


def run_pass(db: Database, *, force: bool = False) -> SyncState:
    """One pass when this PC is enrolled (network errors are in the state, never raised)."""
    from sync.client import sync_once, sync_status

    if sync_status(db).enrolled:
        sync_once(db, force=force)
    return state(db)
