"""Build a demo clinic database: staff, patients, filings, prescriptions, twelve months of dispensing
and settlements, stock lots and follow-ups.

Rows are generated in memory and written with bulk INSERTs (10,000 patients in well under a minute);
settlements use the same engine as real ones, with each patient's year-to-date tracked as it goes.
One audit event per table records what the generator wrote.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select

from clinic.catalogue import load_starter_catalogue, payment_standard
from clinic.db.audit import append_events
from clinic.db.engine import Database
from clinic.db.models import Drug, Patient, Setting, Settlement
from clinic.db.types import new_uuid, utcnow
from clinic.demo.people import fictional_patient
from clinic.demo.records import PatientPlan, plan_patient, stock_rows
from clinic.patients import pinyin_keys
from clinic.profile import create_local_institution, policy_in_force, set_policy_setting
from clinic.users import create_user

DEMO_USERS = [("doctor", "王建华", "doctor", "demo1234"), ("pharmacist", "李秀英", "pharmacist", "demo1234"),
              ("admin", "管理员", "admin", "admin1234")]


@dataclass
class DemoSummary:
    counts: dict[str, int] = field(default_factory=dict)


def build_demo(db: Database, *, patients: int = 200, clinic_code: str = "H42070400101",
               today: date | None = None, seed: int = 42) -> DemoSummary:
    today = today or date.today()
    rng = random.Random(seed)
    with db.session("demo") as s:
        if s.scalar(select(Patient.id).limit(1)):
            raise ValueError("数据库中已有患者记录，演示数据只能写入空数据库")
        create_local_institution(s, clinic_code, "鄂州市华容区临江乡临江村卫生室", "1", "ezhou",
                                 clinic_code[:-2] if len(clinic_code) > 2 else None, "华容区临江乡卫生院")
        set_policy_setting(s, "ezhou", "payment_standard", "vbp_price")   # the document names no 支付标准
    db.load_local_institution()
    with db.session("demo") as s:
        policy = policy_in_force(s, today)
        for username, name, role, secret in DEMO_USERS:
            create_user(s, username, name, role, secret, insurance_doctor_code=f"D{clinic_code}{username[:2]}")
        load_starter_catalogue(s)
        # Marks the file as demo data everywhere it is shown (window title, printouts, reports).
        s.add(Setting(key="demo", value="1"))
        drugs = [d for d in s.scalars(select(Drug).where(Drug.active)) if d.drug_class != "other"]
    standards = {d.code: payment_standard(d, policy) for d in drugs}

    tables: dict[type, list[dict]] = {}
    used_ids: set[str] = set()
    for n in range(1, patients + 1):
        row = fictional_patient(rng, n, today)
        while row["id_number"] in used_ids:         # fictional numbers may collide; one patient per number
            row = fictional_patient(rng, n, today)
        used_ids.add(row["id_number"])
        row["pinyin_full"], row["pinyin_initials"] = pinyin_keys(row["name"])
        plan: PatientPlan = plan_patient(rng, row, drugs, standards, policy, today)
        row.update(id=plan.patient_id, managed_hypertension="hypertension" in plan.managed,
                   managed_diabetes="diabetes" in plan.managed)
        tables.setdefault(Patient, []).append(row)
        for model, rows in plan.rows.items():
            tables.setdefault(model, []).extend(rows)
    for model, rows in stock_rows(rng, tables, drugs, today).items():
        tables.setdefault(model, []).extend(rows)
    _number_receipts(tables.get(Settlement, []), clinic_code)
    return _write(db, tables, clinic_code)


def _number_receipts(settlements: list[dict], clinic_code: str) -> None:
    """Receipt numbers as the live system makes them: clinic, day, sequence within the day."""
    per_day: dict[date, int] = {}
    for row in sorted(settlements, key=lambda r: r["settled_on"]):
        per_day[row["settled_on"]] = per_day.get(row["settled_on"], 0) + 1
        row["receipt_no"] = f"{clinic_code}-{row['settled_on']:%Y%m%d}-{per_day[row['settled_on']]:04d}"


def _write(db: Database, tables: dict[type, list[dict]], clinic_code: str) -> DemoSummary:
    now = utcnow()
    summary = DemoSummary()
    with db.session("demo") as s:
        complete_rows(tables, clinic_code, now)
        for model, rows in tables.items():
            table = model.__table__
            for start in range(0, len(rows), 20000):
                s.execute(table.insert(), rows[start:start + 20000])
            summary.counts[table.name] = len(rows)
        append_events(s.connection(), [{                 # chained like every event (issue 13)
            "at": now, "user_name": "demo", "institution_code": clinic_code, "entity": table,
            "entity_id": "demo", "action": "insert",
            "changes": json.dumps({"rows": count, "note": "演示数据批量生成"}, ensure_ascii=False)}
            for table, count in summary.counts.items()])
    return summary


def complete_rows(tables: dict[type, list[dict]], institution_code: str, now) -> None:
    """Core executemany needs every row of a table to carry the same keys: the clinic, times, an id,
    and the columns' scalar defaults for whatever a row leaves out."""
    for model, rows in tables.items():
        table = model.__table__
        fill = {"id": None}
        if "institution_code" in table.c:
            fill.update(institution_code=institution_code, created_at=now, updated_at=now)
        keys = set().union(*(row.keys() for row in rows)) | set(fill)
        defaults = {key: fill.get(key, _scalar_default(table.c[key])) for key in keys}
        for row in rows:
            for key, value in defaults.items():
                row.setdefault(key, value)
            if row["id"] is None:
                row["id"] = new_uuid()


def _scalar_default(column):
    default = column.default
    return default.arg if default is not None and default.is_scalar else None
