"""Restoring a backup (issue 7) without losing what the township already has.

1. `plan_restore` compares the current file with the backup, read-only: which records were synced
   after the backup (their acknowledged version in the outbox differs from, or is missing in, the
   backup), which changes after the backup were never synced, and which pull streams will be pulled
   again (the backup's cursors are older). The GUI shows this before asking; the CLI prints it.
2. `restore_backup` keeps the current file aside (renamed, never deleted), puts a verified copy of
   the backup in its place, upgrades it if it is older, and writes back every record synced after
   the backup in the version the township acknowledged — what the next pull would have brought —
   so the caps and supplies the township counts stay counted here. Changes never synced stay in the
   set-aside file only; the report says how many. Anything failing puts the original file back.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, create_engine, delete, event, select
from sqlalchemy.exc import SQLAlchemyError

from clinic.backup import BackupError, integrity_problem
from clinic.db.audit import append_events
from clinic.db.engine import DatabaseError, _pragmas, copy_database, open_database
from clinic.db.models import OutboxEntry
from clinic.db.outbox import record_server_version
from clinic.db.records import RECORD_TYPES, TYPE_ORDER, RecordError, parse_record, write_record
from clinic.db.types import utcnow

TYPE_NAMES = {"patient": "患者", "filing": "备案", "prescription": "处方", "dispense": "配药", "settlement": "结算",
              "follow_up": "随访", "stock_lot": "库存批次", "stock_movement": "库存变动"}
STREAM_NAMES = {"review": "审核结果", "catalogue": "药品目录", "policies": "政策文件", "usage": "外院用药和报销额度"}
OPEN = ("pending", "sending", "rejected", "conflict")
REFERENCE_TABLES = ("institution", "user_account", "drug")      # rows synced records point at


class RestoreError(Exception):
    pass


@dataclass
class RestorePlan:
    backup: Path
    current_readable: bool = True
    synced_after: dict[str, str] = field(default_factory=dict)      # record id → record type
    unsynced_after: dict[str, str] = field(default_factory=dict)
    repull: dict[str, tuple[str, str]] = field(default_factory=dict)   # stream → (backup cursor, current cursor)

    def lines(self) -> list[str]:
        out = []
        if not self.current_readable:
            out.append("当前数据库无法读取：无法列出备份之后的记录；备份之后已上传的记录仍在乡镇服务器上，"
                       "请联系乡镇卫生院核对")
        if self.synced_after:
            out.append(f"备份之后已上传到乡镇的记录 {len(self.synced_after)} 条（{_by_type(self.synced_after)}）："
                       "将按乡镇已确认的版本重新写入")
        if self.unsynced_after:
            out.append(f"备份之后未上传的修改 {len(self.unsynced_after)} 条（{_by_type(self.unsynced_after)}）："
                       "恢复后只保存在另存的原文件中")
        for stream, (old, new) in self.repull.items():
            out.append(f"下次同步将重新接收{STREAM_NAMES.get(stream, stream)}（从位置 {old} 起，原为 {new}）")
        if not out:
            out.append("备份之后没有新的同步记录")
        return out


def _by_type(records: dict[str, str]) -> str:
    counts = Counter(records.values())
    return "，".join(f"{TYPE_NAMES.get(t, t)} {n}" for t, n in sorted(counts.items(), key=lambda x: TYPE_ORDER[x[0]]))


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{path.as_posix()}?mode=ro", uri=True, timeout=5)


def _tables(conn: sqlite3.Connection) -> set[str]:
    return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def _sync_state(path: Path) -> tuple[dict[str, tuple[str, str]], dict[str, tuple[str, str]], dict[str, str]]:
    """(newest acknowledged version per record: (type, hash), open changes: (type, hash), pull cursors)."""
    conn = _read_only(path)
    try:
        tables = _tables(conn)
        acked, unsent, cursors = {}, {}, {}
        if "sync_outbox" in tables:
            for record_id, kind, digest, status in conn.execute(
                    "SELECT record_id, record_type, payload_hash, status FROM sync_outbox ORDER BY seq"):
                (acked if status == "acknowledged" else unsent if status in OPEN else {})[record_id] = (kind, digest)
        if "setting" in tables:
            cursors = dict(conn.execute("SELECT substr(key, 13), value FROM setting WHERE key LIKE 'sync.cursor.%'"))
        return acked, unsent, cursors
    finally:
        conn.close()


def check_backup_file(backup: Path) -> None:
    if not backup.is_file():
        raise RestoreError(f"找不到备份文件：{backup}")
    problem = integrity_problem(backup)
    if problem is not None:
        raise RestoreError(f"备份文件 {backup.name} 无法使用（{problem}）")
    conn = _read_only(backup)
    try:
        if "alembic_version" not in _tables(conn):
            raise RestoreError(f"{backup.name} 不是本软件的数据库备份")
    finally:
        conn.close()


def plan_restore(db_path: str | Path, backup: str | Path) -> RestorePlan:
    db_path, backup = Path(db_path), Path(backup)
    check_backup_file(backup)
    plan = RestorePlan(backup)
    old_acked, old_unsent, old_cursors = _sync_state(backup)
    try:
        acked, unsent, cursors = _sync_state(db_path) if db_path.exists() else ({}, {}, {})
    except sqlite3.Error:
        plan.current_readable = False
        return plan
    plan.synced_after = {rid: kind for rid, (kind, digest) in acked.items()
                         if kind in RECORD_TYPES and old_acked.get(rid, (None, None))[1] != digest}
    plan.unsynced_after = {rid: kind for rid, (kind, digest) in unsent.items()
                           if kind in RECORD_TYPES and old_unsent.get(rid, (None, None))[1] != digest}
    plan.repull = {stream: (old_cursors.get(stream, "0"), value) for stream, value in cursors.items()
                   if int(old_cursors.get(stream, "0") or 0) < int(value or 0)}
    return plan


# -- doing it ----------------------------------------------------------------------------------------

def _in_use(db_path: Path) -> bool:
    """True when another connection has the file open (WAL readers hold a shared lock on it)."""
    try:
        conn = sqlite3.connect(db_path, timeout=0.5)
    except sqlite3.Error:
        return False
    try:
        conn.execute("PRAGMA locking_mode=EXCLUSIVE")
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError as exc:
        return "locked" in str(exc) or "busy" in str(exc)
    except sqlite3.Error:
        return False            # damaged: nobody can be using it
    finally:
        conn.close()


def _companions(path: Path) -> list[Path]:
    return [path, Path(f"{path}-wal"), Path(f"{path}-shm")]


def _move(src: Path, dst: Path) -> None:
    for a, b in zip(_companions(src), _companions(dst), strict=True):
        if a.exists():
            os.replace(a, b)


def _self_contained(path: Path) -> None:
    """Fold the set-aside file's WAL into it, so it is one file a person can copy or open later."""
    try:
        conn = sqlite3.connect(path, timeout=5)
        try:
            conn.execute("PRAGMA journal_mode=DELETE")
        finally:
            conn.close()
    except sqlite3.Error:
        pass                    # damaged: leave it and its companions exactly as they were


@dataclass
class RestoreReport:
    plan: RestorePlan
    aside: Path | None                   # where the file that was there before now is
    carried: int = 0
    not_carried: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"已从备份 {self.plan.backup.name} 恢复"]
        if self.aside:
            out.append(f"原数据库已另存为 {self.aside}")
        out += self.plan.lines()
        if self.carried:
            out.append(f"已重新写入备份之后上传过的记录 {self.carried} 条")
        out += [f"未能重新写入：{reason}" for reason in self.not_carried]
        return out


def restore_backup(db_path: str | Path, backup: str | Path, *, user: str = "system") -> RestoreReport:
    db_path, backup = Path(db_path), Path(backup).resolve()
    if backup == db_path.resolve():
        raise RestoreError("备份文件就是当前数据库，无需恢复")
    plan = plan_restore(db_path, backup)
    if db_path.exists() and _in_use(db_path):
        raise RestoreError(f"数据库 {db_path.name} 正在被使用，请先关闭“两病”程序的所有窗口再恢复")
    aside = None
    if db_path.exists():
        aside = db_path.with_name(f"{db_path.name}.before-restore-{datetime.now():%Y%m%d-%H%M%S}")
        _move(db_path, aside)
        _self_contained(aside)
    try:
        copy_database(backup, db_path)
        db = open_database(db_path, create=False)        # upgrades an older backup
    except (DatabaseError, sqlite3.Error, OSError) as exc:
        for path in _companions(db_path):
            path.unlink(missing_ok=True)
        if aside:
            _move(aside, db_path)
        raise RestoreError(f"恢复失败，原数据库未改动：{exc}") from None
    institution_code = db.institution_code
    db.close()
    report = RestoreReport(plan, aside)
    engine = _savepoint_engine(db_path)
    try:
        with engine.begin() as conn:
            if aside and plan.synced_after:
                _carry_over(conn, aside, plan, report)
            append_events(conn, [dict(                  # chained like every event (issue 13)
                at=utcnow(), user_name=user[:40], institution_code=institution_code, entity="database",
                entity_id=backup.name[:40], action="restore", changes=json.dumps(
                    {"from": [None, str(backup)], "aside": [None, str(aside) if aside else None],
                     "carried": [None, report.carried]}, ensure_ascii=False))])
    finally:
        engine.dispose()
    return report


def _savepoint_engine(db_path: Path) -> Engine:
    """An engine whose transactions SQLAlchemy begins itself, so SAVEPOINTs nest properly (pysqlite's
    own implicit BEGIN would not): one record that cannot be written must not undo the others."""
    engine = create_engine(f"sqlite:///{db_path}")

    @event.listens_for(engine, "connect")
    def _connect(dbapi_conn, record) -> None:
        _pragmas(dbapi_conn, record)
        dbapi_conn.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _carry_over(conn, aside: Path, plan: RestorePlan, report: RestoreReport) -> None:
    """Write back, parents first, the acknowledged version of every record synced after the backup,
    with the reference rows (institutions, users, drugs) they point at that the backup lacks."""
    source = _read_only(aside)
    try:
        for table in REFERENCE_TABLES:
            here = [r[1] for r in conn.exec_driver_sql(f"PRAGMA table_info({table})")]
            there = {r[1] for r in source.execute(f"PRAGMA table_info({table})")}
            cols = [c for c in here if c in there]
            rows = source.execute(f"SELECT {', '.join(cols)} FROM {table}").fetchall()
            if rows:
                conn.exec_driver_sql(f"INSERT OR IGNORE INTO {table} ({', '.join(cols)}) "
                                     f"VALUES ({', '.join('?' * len(cols))})", rows)
        payloads = {}
        for record_id, payload, digest in source.execute(
                "SELECT record_id, payload, payload_hash FROM sync_outbox WHERE status = 'acknowledged' ORDER BY seq"):
            if record_id in plan.synced_after:
                payloads[record_id] = (payload, digest)
    finally:
        source.close()
    outbox = OutboxEntry.__table__
    for record_id, kind in sorted(plan.synced_after.items(), key=lambda item: TYPE_ORDER[item[1]]):
        payload, digest = payloads[record_id]
        try:
            with conn.begin_nested():
                row, lines = parse_record(kind, json.loads(payload))
                table = RECORD_TYPES[kind].table
                exists = conn.scalar(select(table.c.id).where(table.c.id == record_id)) is not None
                write_record(conn, kind, row, lines, exists=exists)
                conn.execute(delete(outbox).where(outbox.c.record_id == record_id, outbox.c.status.in_(OPEN)))
                record_server_version(conn, kind, record_id, json.loads(payload), digest)
        except (RecordError, ValueError, KeyError, SQLAlchemyError) as exc:
            reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            report.not_carried.append(f"{TYPE_NAMES.get(kind, kind)} {record_id}：{reason}")
            continue
        report.carried += 1


__all__ = ["BackupError", "RestoreError", "RestorePlan", "RestoreReport", "plan_restore", "restore_backup"]
