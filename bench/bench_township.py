"""The monthly report (附件4, 城乡居民, February 2026) over many clinics, computed by the same code the clinic
runs (clinic.reports.monthly_table, scope: every clinic in the database), on the township server's
database as sync leaves it, timed against the bare SQL aggregate of the same figures (bench_reports'
BARE_SQL: 备案人数 by tier and disease; 医疗费 and 报销额 by disease, tier and institution level, refunds
netted, refused claims left out) on the same database in the same run. Target: ≤ 2×.

- township: SQLite, 30 clinics (≈300 patients each, ≈9,000 patients, ≈70,000 settlements a year);
- county (`--county`): PostgreSQL, 200 clinics × 12 months, ≈1 million settlements; the database is
  generated once into `--pg-url` (its name must start with liangbing_bench) and reused.

Run: .venv/bin/python -m bench.bench_township [--scale small|full] [--county --pg-url URL]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

if __package__ in (None, ""):                    # run as a script: python bench/bench_township.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402

from bench.bench_reports import BARE_SQL, MONTH  # noqa: E402
from bench.generate import COUNTY, TOWNSHIP, Datasets, datasets  # noqa: E402
from bench.timing import result_row, timings  # noqa: E402
from clinic.reports import monthly_table  # noqa: E402
from sync.server.storage import open_server_database  # noqa: E402

REPEATS = {"tiny": 2, "small": 5, "full": 9}
TARGET_RATIO = 2.0
DEFAULT_PG_URL = "postgresql+psycopg://liangbing:liangbing@127.0.0.1:5432/liangbing_bench_county"


# bench_reports writes SQLite's `in_scope = 1`; TRUE reads the same in SQLite and is what PostgreSQL needs.
PORTABLE_SQL = [sql.replace("dl.in_scope = 1", "dl.in_scope = TRUE") for sql in BARE_SQL]
if sum("in_scope = TRUE" in sql for sql in PORTABLE_SQL) != 1:
    raise RuntimeError("bench_reports.BARE_SQL changed: look at PORTABLE_SQL again")


def pg_url() -> str:
    return os.environ.get("LIANGBING_BENCH_PG_URL", DEFAULT_PG_URL)


def measure(target: str | Path, name: str, scale: str) -> dict:
    db = open_server_database(target)
    try:
        with db.session("bench") as s:
            clinics = s.execute(text("SELECT count(DISTINCT institution_code) FROM settlement")).scalar()

            def bare() -> list:
                return [s.execute(text(sql)).all() for sql in PORTABLE_SQL]

            def report():
                return monthly_table(s, MONTH, "resident")

            table = report()
            if table.value(("ordinary", "hypertension"), "备案人数") in (None, 0):
                raise RuntimeError(f"the {name} report counted no one: the generated data do not fit the month")
            repeats = REPEATS[scale]
            baseline = timings(bare, repeats)
            times = timings(report, repeats)
    finally:
        db.close()
    row = result_row(f"{name} monthly report 附件4, {clinics} clinics (vs bare SQL aggregate)", scale, times,
                     baseline, target="≤ 2×")
    return {**row, "met": row["ratio"] <= TARGET_RATIO}


def run(scale: str = "full", data: Datasets | None = None) -> list[dict]:
    """The township row (SQLite, 30 clinics)."""
    if scale not in TOWNSHIP:
        raise ValueError(f"scale must be one of {', '.join(TOWNSHIP)}")
    with datasets(data) as data:
        return [measure(data.township(*TOWNSHIP[scale]), "township (SQLite)", scale)]


def run_county(scale: str = "full", data: Datasets | None = None, url: str | None = None) -> list[dict]:
    """The county row (PostgreSQL, 200 clinics); generates the county database first if needed."""
    if scale not in COUNTY:
        raise ValueError(f"scale must be one of {', '.join(COUNTY)}")
    with datasets(data) as data:
        return [measure(data.county(url or pg_url(), *COUNTY[scale]), "county (PostgreSQL)", scale)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=tuple(TOWNSHIP), default="full")
    parser.add_argument("--data", type=Path, default=None, help="folder of generated databases to reuse")
    parser.add_argument("--county", action="store_true", help="also the county report on PostgreSQL")
    parser.add_argument("--pg-url", default=None, help=f"county database (default {DEFAULT_PG_URL})")
    args = parser.parse_args()
    data = Datasets(args.data) if args.data else None
    rows = run(args.scale, data) + (run_county(args.scale, data, args.pg_url) if args.county else [])
    for row in rows:
        print(f"  {row['name']:<72} median {row['median'] * 1000:8.1f} ms  bare SQL "
              f"{row['baseline_median'] * 1000:8.1f} ms  ratio {row['ratio']:5.2f}×  "
              f"({row['target']}: {'met' if row['met'] else 'NOT met'})")


if __name__ == "__main__":
    main()
