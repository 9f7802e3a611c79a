"""The tamper-evident audit chain (issue 13 item 5): every case the issue names, on real SQLite files,
through `liangbing audit verify`."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from alembic import command
from sqlalchemy import select

from clinic.audit_chain import ACK_KEY
from clinic.db.audit import GENESIS, event_hash
from clinic.db.engine import alembic_config, open_database
from clinic.db.models import AuditEvent
from clinic.demo.build import build_demo
from tests.ops.helpers import add_patients, cli


def _verify(path: Path):
    return cli("audit", "verify", "--db", str(path))


def _raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def _store_ack(path: Path, event_id: int) -> None:
    """What a sync pass leaves: the head the township acknowledged (sync/client.py stores it so)."""
    conn = _raw(path)
    seq, digest, code = conn.execute("SELECT seq, hash, institution_code FROM audit_event WHERE id = ?",
                                     (event_id,)).fetchone()
    conn.execute("INSERT INTO setting (key, value) VALUES (?, ?)", (ACK_KEY, json.dumps(
        {"institution_code": code, "event_id": event_id, "seq": seq, "hash": digest})))
    conn.close()


def _last_id(path: Path, code: str = "H42070400101") -> int:
    conn = _raw(path)
    found = conn.execute("SELECT max(id) FROM audit_event WHERE institution_code = ?", (code,)).fetchone()[0]
    conn.close()
    return found


def test_an_untouched_database_after_a_realistic_workload_verifies_clean(tmp_path):
    db = open_database(tmp_path / "demo.db")
    build_demo(db, patients=5)
    db.close()
    out = _verify(tmp_path / "demo.db")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("完整：") and "条审计记录" in out.stdout


def test_an_untouched_clinic_database_verifies_clean(db):
    add_patients(db, 3)
    db.close()
    out = _verify(db.path)
    conn = _raw(db.path)
    count = conn.execute("SELECT count(*) FROM audit_event").fetchone()[0]
    conn.close()
    assert out.returncode == 0 and out.stdout.strip() == f"完整：{count} 条审计记录"


def test_a_forged_insert_into_audit_event_is_detected_and_named(db):
    add_patients(db, 2)
    db.close()
    conn = _raw(db.path)
    conn.execute("INSERT INTO audit_event (at, user_name, institution_code, entity, entity_id, action, changes) "
                 "VALUES ('2026-12-01 08:00:00.000000', 'doctor', 'H42070400101', 'patient', 'x', 'delete', '{}')")
    forged = conn.execute("SELECT max(id) FROM audit_event").fetchone()[0]
    conn.close()
    out = _verify(db.path)
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert f"第 {forged} 条审计记录" in out.stderr and "伪造" in out.stderr


def test_a_forged_insert_with_a_made_up_hash_is_detected(db):
    add_patients(db, 2)
    db.close()
    conn = _raw(db.path)
    seq, head = conn.execute("SELECT seq, hash FROM audit_event WHERE institution_code = 'H42070400101' "
                             "ORDER BY id DESC LIMIT 1").fetchone()
    conn.execute("INSERT INTO audit_event (at, user_name, institution_code, entity, entity_id, action, changes, "
                 "seq, prev_hash, hash) VALUES ('2026-12-01 08:00:00.000000', 'doctor', 'H42070400101', "
                 "'patient', 'x', 'delete', '{}', ?, ?, ?)", (seq + 1, head, "f" * 64))
    forged = conn.execute("SELECT max(id) FROM audit_event").fetchone()[0]
    conn.close()
    out = _verify(db.path)
    assert out.returncode != 0 and f"第 {forged} 条审计记录" in out.stderr and "校验值不符" in out.stderr


def test_drop_trigger_then_update_of_an_event_is_detected(db):
    add_patients(db, 3)
    db.close()
    conn = _raw(db.path)
    conn.execute("DROP TRIGGER audit_event_no_update")
    target = conn.execute("SELECT min(id) FROM audit_event WHERE entity = 'patient'").fetchone()[0]
    conn.execute("UPDATE audit_event SET user_name = 'someone else' WHERE id = ?", (target,))
    conn.close()
    out = _verify(db.path)
    lines = out.stderr.strip().splitlines()
    assert out.returncode != 0 and f"第 {target} 条审计记录" in lines[0] and "被改写" in lines[0]
    assert len(lines) == 2, "one line for the rewritten event, one summary: the next events still chain"


def test_an_event_removed_from_the_middle_is_detected_as_a_broken_link(db):
    add_patients(db, 3)
    db.close()
    conn = _raw(db.path)
    conn.execute("DROP TRIGGER audit_event_no_delete")
    ids = [r[0] for r in conn.execute("SELECT id FROM audit_event WHERE institution_code = 'H42070400101' "
                                      "ORDER BY id")]
    conn.execute("DELETE FROM audit_event WHERE id = ?", (ids[2],))
    conn.close()
    out = _verify(db.path)
    assert out.returncode != 0 and f"第 {ids[3]} 条审计记录" in out.stderr and "被删除" in out.stderr


def test_deleting_the_last_events_is_detected_against_the_township_acknowledged_head(db):
    add_patients(db, 4)
    db.close()
    acked = _last_id(db.path)
    _store_ack(db.path, acked)
    assert _verify(db.path).returncode == 0
    conn = _raw(db.path)
    conn.execute("DROP TRIGGER audit_event_no_delete")
    conn.execute("DELETE FROM audit_event WHERE id > ?", (acked - 3,))
    conn.close()
    out = _verify(db.path)
    assert out.returncode != 0 and "截断" in out.stderr and f"第 {acked} 条" in out.stderr


def test_re_chaining_everything_after_an_edit_is_detected_against_the_acknowledged_head(db):
    add_patients(db, 3)
    db.close()
    acked = _last_id(db.path)
    _store_ack(db.path, acked)
    conn = _raw(db.path)
    conn.execute("DROP TRIGGER audit_event_no_update")
    conn.execute("UPDATE audit_event SET user_name = 'nobody' WHERE id = (SELECT min(id) FROM audit_event "
                 "WHERE entity = 'patient')")
    conn.close()
    _rechain(db.path)
    out = _verify(db.path)
    assert out.returncode != 0 and "重新计算了校验值" in out.stderr and f"第 {acked} 条" in out.stderr
    conn = _raw(db.path)
    conn.execute("DELETE FROM setting WHERE key = ?", (ACK_KEY,))
    conn.close()
    assert _verify(db.path).returncode == 0, "without the township's head a re-chained file is consistent"


def _rechain(path: Path) -> None:
    """What a knowing forger does: recompute every hash with this software's own function."""
    db = open_database(path)
    with db.engine.begin() as conn:
        rows = conn.execute(select(AuditEvent.__table__).order_by(AuditEvent.id)).mappings().all()
        heads: dict = {}
        for row in rows:
            seq, prev = heads.get(row["institution_code"], (0, GENESIS))
            digest = event_hash({**row, "seq": seq + 1}, prev)
            heads[row["institution_code"]] = (seq + 1, digest)
            conn.exec_driver_sql("UPDATE audit_event SET seq = ?, prev_hash = ?, hash = ? WHERE id = ?",
                                 (seq + 1, prev, digest, row["id"]))
    db.close()


def test_the_migration_chains_existing_events_in_id_order(tmp_path):
    path = tmp_path / "old.db"
    cfg = alembic_config()
    from sqlalchemy import create_engine
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0006")
        for i in range(5):
            conn.exec_driver_sql(
                "INSERT INTO audit_event (at, user_name, institution_code, entity, entity_id, action, changes) "
                "VALUES (?, 'doctor', ?, 'patient', ?, 'insert', '{}')",
                (f"2026-11-0{i + 1} 08:00:00.000000", "H42070400101" if i % 2 else None, f"p{i}"))
    engine.dispose()
    db = open_database(path)            # upgrades to the newest schema (0007 chains the events)
    db.close()
    conn = _raw(path)
    rows = conn.execute("SELECT id, institution_code, seq, prev_hash, hash FROM audit_event ORDER BY id").fetchall()
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")}
    conn.close()
    assert all(r[4] for r in rows) and [r[2] for r in rows if r[1] is None] == [1, 2, 3]
    assert {"audit_event_no_update", "audit_event_no_delete"} <= names
    out = _verify(path)
    assert out.returncode == 0 and out.stdout.strip() == "完整：5 条审计记录"
