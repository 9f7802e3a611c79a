"""Verify the tamper-evident audit chain (issue 13; clinic/db/audit.py writes it).

Walks every institution's chain in id order and names the first bad event of each break:
- its hash does not match its fields → the event was rewritten (or forged with a made-up hash);
- no hash at all → inserted by hand, not by this software;
- its link (prev_hash, seq) does not follow the event before → events were removed, or one inserted.
Against the head the township last acknowledged (stored here after a sync, `ACK_KEY`): fewer events
than the township saw → truncated; the acknowledged event's hash changed → the file was rewritten and
every hash recomputed (a re-chained file is consistent in itself, but not with the township's copy).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import String, func, select, type_coerce
from sqlalchemy.engine import Connection

from clinic.db.audit import AUDIT, GENESIS, event_hash
from clinic.db.models import Setting

ACK_KEY = "audit.township_ack"          # JSON {institution_code, event_id, seq, hash, acked_at}


@dataclass(frozen=True)
class Head:
    institution_code: str | None
    event_id: int
    seq: int
    hash: str


@dataclass
class Report:
    events: int
    findings: list[str]

    @property
    def intact(self) -> bool:
        return not self.findings


def _when(value: object) -> str:
    return str(value)[:19] if value is not None else "时间不明"


def _as_time(value: object) -> object:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


def _label(code: str | None) -> str:
    return f"机构 {code}" if code else "未设机构编码"


def chain_head(conn: Connection, institution_code: str) -> Head | None:
    """The last event of the institution's chain, as sync sends it to the township."""
    row = conn.execute(select(AUDIT.c.id, AUDIT.c.seq, AUDIT.c.hash).where(
        AUDIT.c.institution_code == institution_code, AUDIT.c.hash.is_not(None))
        .order_by(AUDIT.c.id.desc()).limit(1)).first()
    return Head(institution_code, row.id, row.seq, row.hash) if row is not None else None


def event_at(conn: Connection, event_id: int) -> tuple[int | None, str | None] | None:
    row = conn.execute(select(AUDIT.c.seq, AUDIT.c.hash).where(AUDIT.c.id == event_id)).first()
    return (row.seq, row.hash) if row is not None else None


def stored_ack(conn: Connection) -> Head | None:
    text = conn.scalar(select(Setting.value).where(Setting.key == ACK_KEY))
    try:
        data = json.loads(text) if text else None
        return Head(data["institution_code"], int(data["event_id"]), int(data["seq"]), str(data["hash"])) \
            if data else None
    except (ValueError, KeyError, TypeError):
        return None


def verify(conn: Connection, ack: Head | None = None) -> Report:
    """Every finding as one line in Chinese, the first bad event of each break named by id and time."""
    columns = [AUDIT.c.id, type_coerce(AUDIT.c.at, String).label("at"), AUDIT.c.user_name, AUDIT.c.institution_code,
               AUDIT.c.entity, AUDIT.c.entity_id, AUDIT.c.action, AUDIT.c.changes, AUDIT.c.seq,
               AUDIT.c.prev_hash, AUDIT.c.hash]
    heads: dict[str | None, tuple[int, str, int]] = {}       # code → (seq, hash, id) of the last good event
    findings, count = [], 0
    for row in conn.execute(select(*columns).order_by(AUDIT.c.id)).mappings():
        count += 1
        code = row["institution_code"]
        seq, prev, _ = heads.get(code, (0, GENESIS, 0))
        where = f"第 {row['id']} 条审计记录（{_when(row['at'])}，{_label(code)}）"
        if not row["hash"]:
            findings.append(f"{where}没有校验值：不是本软件写入的，是直接插入数据库的伪造记录")
            continue
        values = {**row, "at": _as_time(row["at"])}
        if event_hash(values, row["prev_hash"] or "") != row["hash"]:
            findings.append(f"{where}内容与其校验值不符：该记录被改写或伪造")
        elif row["prev_hash"] != prev or row["seq"] != seq + 1:
            if isinstance(row["seq"], int) and row["seq"] > seq + 1 and row["prev_hash"] != prev:
                findings.append(f"{where}与前一条记录链接断开：其前缺少 {row['seq'] - seq - 1} 条记录（被删除）")
            else:
                findings.append(f"{where}与前一条记录链接断开：该记录是插入的，或其前的记录被删除")
        heads[code] = (row["seq"] if isinstance(row["seq"], int) else seq + 1, row["hash"], row["id"])
    if ack is not None:
        findings += _against_ack(conn, ack, heads.get(ack.institution_code))
    return Report(count, findings)


def _against_ack(conn: Connection, ack: Head, head: tuple[int, str, int] | None) -> list[str]:
    have = head[0] if head else 0
    if have < ack.seq:
        last = conn.scalar(select(func.max(AUDIT.c.id)).where(AUDIT.c.institution_code == ack.institution_code))
        return [f"审计记录被截断：{_label(ack.institution_code)}只剩 {have} 条（最后一条为第 {last} 条），"
                f"少于乡镇服务器已确认的 {ack.seq} 条（确认到第 {ack.event_id} 条）"]
    found = event_at(conn, ack.event_id)
    if found is None:
        return [f"乡镇服务器已确认的第 {ack.event_id} 条审计记录已不存在：记录被删除"]
    if found != (ack.seq, ack.hash):
        return [f"第 {ack.event_id} 条审计记录与乡镇服务器确认的不一致：审计记录被改写后重新计算了校验值"]
    return []
