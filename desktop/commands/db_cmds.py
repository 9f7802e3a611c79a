"""Commands that open a clinic database: `demo`, `stats`, `today`."""

from __future__ import annotations

import json
import time
from datetime import date

from sqlalchemy import func, select

from clinic.db.engine import open_database
from clinic.db.models import Base, Patient, Setting


def register(sub) -> None:
    demo = sub.add_parser("demo", help="生成演示诊所数据库")
    demo.add_argument("--db", required=True)
    demo.add_argument("--patients", type=int, default=200)
    demo.add_argument("--clinic-code", default="H42070400101")
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--today", type=date.fromisoformat, default=None, help="演示数据的“今天”（YYYY-MM-DD）")
    demo.set_defaults(handler=run_demo)

    stats = sub.add_parser("stats", help="各类记录数量")
    stats.add_argument("--db", required=True)
    stats.add_argument("--json", action="store_true")
    stats.set_defaults(handler=run_stats)

    today = sub.add_parser("today", help="今日工作：将断药、随访逾期、疑似未备案、待上传")
    today.add_argument("--db", required=True)
    today.add_argument("--date", type=date.fromisoformat, default=None)
    today.add_argument("--limit", type=int, default=10)
    today.set_defaults(handler=run_today)


def run_demo(args) -> int:
    from clinic.demo import build_demo

    if args.patients < 1:
        raise ValueError("--patients 至少为 1")
    started = time.perf_counter()
    db = open_database(args.db)
    try:
        summary = build_demo(db, patients=args.patients, clinic_code=args.clinic_code, today=args.today,
                             seed=args.seed)
    finally:
        db.close()
    counts = "，".join(f"{table} {n}" for table, n in summary.counts.items())
    print(f"演示数据库已生成：{args.db}（{time.perf_counter() - started:.1f} 秒）\n{counts}")
    return 0


DEMO_BANNER = "【演示数据库】以下均为虚构的患者和记录，仅供练习，不能用于真实诊疗和医保结算"


def is_demo(db) -> bool:
    """The demo generator marks its file (setting `demo`); every command that shows records says so."""
    with db.session() as s:
        return s.get(Setting, "demo") is not None


def record_counts(db) -> dict[str, int]:
    counts = {}
    with db.session() as s:
        for table in Base.metadata.sorted_tables:
            query = select(func.count()).select_from(table)
            if "deleted_at" in table.c:
                query = query.where(table.c.deleted_at.is_(None))
            counts[table.name] = s.scalar(query)
    return counts


def run_stats(args) -> int:
    from clinic.db.outbox import pending_count

    db = open_database(args.db, create=False)
    try:
        counts = record_counts(db)
        with db.session() as s:
            counts["sync_pending"] = pending_count(s.connection())    # outbox rows not yet acknowledged
        demo = is_demo(db)
    finally:
        db.close()
    if args.json:
        print(json.dumps({**counts, "demo": demo}, ensure_ascii=False, indent=2, sort_keys=True))
    else:
        if demo:
            print(DEMO_BANNER)
        for name, n in sorted(counts.items()):
            print(f"{name:22} {n}")
    return 0


def run_today(args) -> int:
    from clinic.worklist import morning_lists

    db = open_database(args.db, create=False)
    try:
        with db.session() as s:
            lists = morning_lists(s, args.date or date.today())
            names = dict(s.execute(select(Patient.id, Patient.name)).all())
        demo = is_demo(db)
    finally:
        db.close()
    if demo:
        print(DEMO_BANNER)
    for title, rows in lists.items():
        print(f"【{title}】共 {len(rows)} 人")
        for patient_id, detail in rows[: args.limit]:
            print(f"  {names.get(patient_id, patient_id)}  {detail}")
    return 0
