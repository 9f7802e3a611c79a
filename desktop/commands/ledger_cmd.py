"""`liangbing ledger --db PATH --patient ID_NUMBER [--year YYYY] [--json] [--today YYYY-MM-DD]`: a
patient's 本年度医保额度 — per disease the cap, fund paid and remaining, the year's deductible and what
is left of it, and every entry (date, receipt, amount, accounting year, what it reverses, source:
本机构 / 其他机构 / 期初余额), from clinic/ledger.py `year_ledger` (clinic/patient_ledger.py).
Errors end with one line on stderr and a non-zero exit (desktop/cli.py)."""

from __future__ import annotations

import json
from datetime import date


def register(sub) -> None:
    p = sub.add_parser("ledger", help="患者本年度医保额度：限额、已支付、剩余、起付线和每笔明细")
    p.add_argument("--db", required=True)
    p.add_argument("--patient", required=True, metavar="ID_NUMBER", help="患者身份证号")
    p.add_argument("--year", type=int, default=None, metavar="YYYY", help="年度（默认今年）")
    p.add_argument("--json", action="store_true", help="以 JSON 输出")
    p.add_argument("--today", type=date.fromisoformat, default=None, help="以该日期为“今天”（YYYY-MM-DD）")
    p.set_defaults(handler=run)


def run(args) -> int:
    from clinic.db.engine import open_database
    from clinic.idcard import normalise
    from clinic.patient_ledger import (
        ENTRY_HEADERS,
        check_year,
        entry_cells,
        ledger_values,
        patient_year_ledger,
        summary_lines,
    )
    from clinic.patients import find_by_id_number
    from clinic.vocab import INSURANCES

    today = args.today or date.today()
    year = check_year(args.year if args.year is not None else today.year, today)
    db = open_database(args.db, create=False)
    try:
        with db.session() as s:
            patient = find_by_id_number(s, args.patient)
            if patient is None:
                raise ValueError(f"本机构没有身份证号为 {normalise(args.patient)[:18]} 的患者")
            values = ledger_values(patient_year_ledger(s, patient, year, today))
            who = {"name": patient.name, "id_number": patient.id_number, "insurance": patient.insurance}
    finally:
        db.close()
    if args.json:
        print(json.dumps({"patient": who, **values}, ensure_ascii=False, indent=2))
        return 0
    print(f"{who['name']}（{who['id_number']}，{INSURANCES.get(who['insurance'], who['insurance'])}）"
          f" {year} 年度医保额度")
    for line in summary_lines(values):
        print(line)
    if values["entries"]:
        print("明细：")
        print("\t".join(ENTRY_HEADERS))
        for entry in values["entries"]:
            print("\t".join(entry_cells(entry)))
    else:
        print("明细：无")
    return 0
