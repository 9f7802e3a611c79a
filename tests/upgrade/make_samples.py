"""Make the committed sample databases: one per released schema revision, built with the real Alembic
migrations stopped at that revision and filled with a small clinic's rows written in that revision's
own columns (plain SQL, since today's models describe only the newest schema).

Run once per new release, from the repository root:  .venv/bin/python -m tests.upgrade.make_samples
The files are committed; tests/upgrade/test_upgrade_samples.py opens each with the current code.
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path

from alembic import command
from sqlalchemy import create_engine

from clinic.db.engine import alembic_config
from clinic.idcard import check_digit

SAMPLES = Path(__file__).resolve().parent / "samples"
REVISIONS = ("0001", "0002", "0003", "0004", "0005", "0006", "0007")
CLINIC = "H42070400101"
NOW = "2026-03-15 08:30:00.000000"
# every sample user logs in with this password
PASSWORD = "sample1234"

# What each sample holds; tests/upgrade checks the same facts after migrating.
PATIENTS = [  # (id, name, id_number with a valid check digit, insurance)
    (f"00000000-0000-4000-8000-00000000000{n}", name, first17 + check_digit(first17), insurance)
    for n, name, first17, insurance in ((1, "张三", "42070419600101001", "resident"),
                                        (2, "李四", "42070419550202002", "employee"),
                                        (3, "王五", "42070419480303003", "resident"))]
SETTLEMENT_ID = "00000000-0000-4000-8000-0000000000c1"
SYNC_TOKEN = "sample-plain-token-from-0003"


def _insert(conn: sqlite3.Connection, table: str, values: dict) -> None:
    """Insert `values`, filling any other NOT NULL column of this revision with an empty value."""
    for _cid, name, kind, notnull, default, pk in conn.execute(f"PRAGMA table_info({table})"):
        if name in values or not notnull or default is not None or (pk and kind == "INTEGER"):
            continue
        values[name] = 0 if kind in ("INTEGER", "BIGINT", "BOOLEAN") else NOW if kind == "DATETIME" else ""
    cols = ", ".join(values)
    conn.execute(f"INSERT INTO {table} ({cols}) VALUES ({', '.join('?' * len(values))})", list(values.values()))


def _derive(record_id: str, tag: str) -> str:
    """A related record's id: the patient's uuid with its first hex digits replaced by `tag`."""
    return tag + record_id[len(tag):]


def _synced(record_id: str) -> dict:
    return {"id": record_id, "institution_code": CLINIC, "created_at": NOW, "updated_at": NOW}


def fill(conn: sqlite3.Connection, revision: str, password_hash: str) -> None:
    _insert(conn, "institution", {"code": CLINIC, "name": "鄂州市华容区临江乡卫生室", "level": "1", "region": "ezhou",
                                  "township_code": "H420704001", "township_name": "华容区临江乡卫生院", "is_local": 1})
    _insert(conn, "user_account", {**_synced("00000000-0000-4000-8000-0000000000a1"), "username": "doctor",
                                   "display_name": "王建华", "role": "doctor", "password_hash": password_hash,
                                   "active": 1})
    _insert(conn, "drug", {"code": "XC08CAA001", "generic_name": "苯磺酸氨氯地平片", "spec": "5mg", "form": "片剂",
                           "unit": "片", "drug_class": "antihypertensive", "category": "甲", "essential": 1,
                           "consistency": 1, "vbp": 0, "retail_price": "0.50", "sample_price": 0,
                           "pinyin_initials": "bhsalddpp", "active": 1})
    for pid, name, id_number, insurance in PATIENTS:
        _insert(conn, "patient", {**_synced(pid), "name": name, "sex": "男" if int(id_number[16]) % 2 else "女",
                                  "birth_date": f"{id_number[6:10]}-{id_number[10:12]}-{id_number[12:14]}",
                                  "id_number": id_number, "insurance": insurance,
                                  "contribution": "100" if insurance == "employee" else None,
                                  "family_doctor_signed": 0, "managed_hypertension": 0, "managed_diabetes": 0,
                                  "pinyin_full": "", "pinyin_initials": ""})
        _insert(conn, "filing", {**_synced(_derive(pid, "f1")), "patient_id": pid, "kind": "initial",
                                 "disease": "hypertension", "tier": "ordinary", "is_primary": 1, "icd10": "I10.x00",
                                 "history_diagnosis": "高血压病史五年", "treatment_plan": "氨氯地平 5mg 每日一次",
                                 "state": "approved", "filed_on": "2026-01-05", "version": 1})
    first = PATIENTS[0][0]
    rx, disp = _derive(first, "b1"), _derive(first, "d1")
    _insert(conn, "prescription", {**_synced(rx), "patient_id": first, "prescriber_name": "王建华",
                                   "prescribed_on": "2026-03-01", "valid_until": "2026-05-24", "diagnosis": "高血压",
                                   "department": "全科", "external": 0, "state": "active"})
    _insert(conn, "prescription_line", {"id": _derive(first, "b2"), "prescription_id": rx, "position": 1,
                                        "drug_code": "XC08CAA001", "drug_name": "苯磺酸氨氯地平片", "spec": "5mg",
                                        "disease": "hypertension", "dose": "5mg", "frequency": "qd", "days": 28,
                                        "quantity": "28", "usage": "口服"})
    _insert(conn, "dispense", {**_synced(disp), "patient_id": first, "prescription_id": rx,
                               "dispensed_on": "2026-03-01", "dispenser_name": "王建华"})
    _insert(conn, "dispense_line", {"id": _derive(first, "d2"), "dispense_id": disp, "position": 1,
                                    "drug_code": "XC08CAA001", "drug_name": "苯磺酸氨氯地平片", "spec": "5mg",
                                    "disease": "hypertension", "quantity": "28", "daily_dose": "1",
                                    "unit_price": "0.50", "in_scope": 1, "line_total": 1400, "policy_range": 1400,
                                    "over_standard": 0})
    # The worked example of DESIGN.md: 14.00 total, 8.40 from the fund, 5.60 self-paid (stored in fen).
    _insert(conn, "settlement", {**_synced(SETTLEMENT_ID), "patient_id": first, "dispense_id": disp,
                                 "settled_on": "2026-03-01", "receipt_no": "R20260301-0001",
                                 "policy_id": "ezhou-2022-10-01",
                                 "insurance": "resident", "institution_level": "1", "total": 1400, "out_of_scope": 0,
                                 "over_standard": 0, "policy_range": 1400, "deductible": 0, "fund_pay": 840,
                                 "over_cap": 0, "self_pay": 560, "major_illness_eligible": 560,
                                 "state": "settled_offline", "operator_name": "王建华",
                                 **({"accounting_year": 2026} if revision >= "0006" else {})})
    _insert(conn, "settlement_disease", {"id": SETTLEMENT_ID[:-2] + "c2", "settlement_id": SETTLEMENT_ID, "position": 1,
                                         "disease": "hypertension", "tier": "ordinary", "is_primary": 1,
                                         "policy_range": 1400, "deductible": 0, "ratio": "0.60", "fund_pay": 840,
                                         "over_cap": 0, "cap": 100000, "cap_remaining": 99160})
    _insert(conn, "audit_event", {"at": NOW, "user_name": "doctor", "institution_code": CLINIC, "entity": "patient",
                                  "entity_id": first, "action": "insert", "changes": '{"name": [null, "张三"]}'})
    if revision >= "0002":
        _insert(conn, "setting", {"key": "clinic.phone", "value": "0711-1234567"})
        _insert(conn, "follow_up", {**_synced(_derive(first, "e1")), "patient_id": first, "visit_on": "2026-03-01",
                                    "sbp": 138, "dbp": 86, "doctor_name": "王建华"})
    if revision >= "0003":
        # An enrolled clinic of this release kept its device token in the plain settings table.
        for key, value in (("sync.server_url", "http://127.0.0.1:9"), ("sync.token", SYNC_TOKEN),
                           ("sync.institution_code", CLINIC), ("sync.cursor.review", "41")):
            _insert(conn, "setting", {"key": key, "value": value})
        _insert(conn, "sync_outbox", {"record_id": first, "record_type": "patient", "payload": "{}",
                                      "payload_hash": "0" * 64, "status": "acknowledged", "attempts": 1,
                                      "created_at": NOW, "updated_at": NOW})


def make(revision: str, target: Path, password_hash: str) -> None:
    target.unlink(missing_ok=True)
    engine = create_engine(f"sqlite:///{target}")
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
    engine.dispose()
    conn = sqlite3.connect(target)
    with conn:
        fill(conn, revision, password_hash)
    conn.execute("PRAGMA page_size=1024")      # small files to commit; SQLite reads any page size
    conn.execute("VACUUM")
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    conn.close()


def main() -> int:
    from argon2 import PasswordHasher

    SAMPLES.mkdir(exist_ok=True)
    password_hash = PasswordHasher().hash(PASSWORD)
    for revision in REVISIONS:
        target = SAMPLES / f"schema-{revision}.db"
        make(revision, target, password_hash)
        print(f"{target.relative_to(Path.cwd()) if target.is_relative_to(Path.cwd()) else target}: "
              f"{target.stat().st_size // 1024} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
