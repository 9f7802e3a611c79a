"""The monthly report (附件4, 城乡居民) on a demo clinic of N patients (10,000 at full scale), computed by
clinic/reports as the clinic and the township run it, timed against the bare SQL aggregate of the same
figures (备案人数 by tier and disease; 医疗费 and 报销额 by disease, tier and institution level, refunds
netted, refused claims left out) in the same process on the same file.

Run: .venv/bin/python bench/bench_reports.py [--scale small|full]

`run(scale)` returns rows of seconds (name, scale, median, min, max, baseline_median, ratio = median /
baseline). The target is a ratio ≤ 2. No assertions: the numbers are for a human to read.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import date
from pathlib import Path

from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.timing import result_row as _row  # noqa: E402
from bench.timing import timings as _timings  # noqa: E402
from clinic.db.engine import open_database  # noqa: E402
from clinic.demo import build_demo  # noqa: E402
from clinic.reports import monthly_table  # noqa: E402

SCALES = {"small": (1_000, 5), "full": (10_000, 15)}      # patients, timed rounds
WARM_UP = 2


def timings(make, repeats: int) -> list[float]:
    return _timings(make, repeats, WARM_UP)
TARGET_RATIO = 2.0
TODAY, MONTH = date(2026, 3, 15), date(2026, 2, 1)

COUNTED = """s.deleted_at IS NULL AND s.settled_on BETWEEN '2026-02-01' AND '2026-02-28' AND s.state <> 'rejected'
    AND s.insurance = 'resident'
    AND (s.reverses_id IS NULL OR s.reverses_id NOT IN (SELECT id FROM settlement WHERE state = 'rejected'))"""
BARE_SQL = ["""
    WITH ranked AS (
        SELECT f.disease, f.tier, f.change_reason, ROW_NUMBER() OVER (PARTITION BY f.patient_id, f.disease
               ORDER BY f.filed_on DESC, COALESCE(f.reviewed_at, f.created_at) DESC) AS n
        FROM filing f JOIN patient p ON p.id = f.patient_id
        WHERE f.deleted_at IS NULL AND p.deleted_at IS NULL AND f.state IN ('approved', 'superseded')
          AND f.filed_on <= '2026-02-28' AND p.insurance = 'resident')
    SELECT tier, disease, COUNT(*) FROM ranked WHERE n = 1 AND COALESCE(change_reason, '') <> 'cured' GROUP BY 1, 2
""", f"""
    SELECT sd.disease, sd.tier, s.institution_level, SUM(sd.fund_pay)
    FROM settlement s JOIN settlement_disease sd ON sd.settlement_id = s.id WHERE {COUNTED} GROUP BY 1, 2, 3
""", f"""
    SELECT sd.disease, sd.tier, s.institution_level,
           SUM(CASE WHEN s.reverses_id IS NULL THEN dl.line_total ELSE -dl.line_total END)
    FROM settlement s JOIN settlement_disease sd ON sd.settlement_id = s.id
    JOIN dispense_line dl ON dl.dispense_id = s.dispense_id AND dl.disease = sd.disease AND dl.in_scope = 1
    WHERE {COUNTED} GROUP BY 1, 2, 3
"""]


def run(scale: str = "full") -> list[dict]:
    """Rows of seconds: name, scale, median, min, max, baseline_median, ratio (median / baseline)."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)}")
    patients, repeats = SCALES[scale]
    with tempfile.TemporaryDirectory(prefix="bench-reports-") as tmp:
        db = open_database(Path(tmp) / "clinic.db")
        try:
            build_demo(db, patients=patients, today=TODAY)
            with db.sessions() as s:
                def bare() -> list:
                    return [s.execute(text(sql)).all() for sql in BARE_SQL]

                baseline = timings(bare, repeats)
                rows = [_row(f"附件4 monthly report, {patients} patients (vs bare SQL aggregate)", scale,
                             timings(lambda: monthly_table(s, MONTH, "resident"), repeats), baseline)]
        finally:
            db.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=tuple(SCALES), default="full")
    args = parser.parse_args()
    rows = run(args.scale)
    print(f"bare SQL aggregate: median {rows[0]['baseline_median'] * 1000:.1f} ms")
    for row in rows:
        verdict = "within" if row["ratio"] <= TARGET_RATIO else "OVER"
        print(f"  {row['name']:<62} median {row['median'] * 1000:7.1f} ms  min {row['min'] * 1000:7.1f}  "
              f"max {row['max'] * 1000:7.1f}  ratio {row['ratio']:4.2f}×  (target ≤ {TARGET_RATIO:.0f}×: {verdict})")


if __name__ == "__main__":
    main()
