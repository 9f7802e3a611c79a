"""The home screen's 今日工作 lists (clinic/worklist.py morning_lists: supply running out, follow-ups
overdue, suspected unfiled, filings pending review, settlements to upload) on a generated clinic of
10,000 patients (500 at small scale), timed against bare counts over the same rows in the same process
on the same file: the dispense lines of the last 400 days with their dispenses, the year's follow-ups,
the filings and the settlements, each a single SELECT count(*).

Run: .venv/bin/python -m bench.bench_worklist [--scale small|full]

`run(scale)` returns rows of seconds (name, scale, median, min, max, baseline_median, ratio = median /
baseline). No assertions: the numbers are for a human to read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlalchemy import text

if __package__ in (None, ""):                    # run as a script: python bench/bench_worklist.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.generate import CLINIC_PATIENTS, TODAY, Datasets, datasets  # noqa: E402
from bench.timing import result_row, timings  # noqa: E402
from clinic.db.engine import open_database  # noqa: E402
from clinic.worklist import morning_lists  # noqa: E402

REPEATS = {"tiny": 2, "small": 5, "full": 7}
BARE_SQL = [
    """SELECT count(*) FROM dispense d JOIN dispense_line dl ON dl.dispense_id = d.id
       WHERE d.deleted_at IS NULL AND d.dispensed_on BETWEEN date(:on, '-400 days') AND :on""",
    "SELECT count(*) FROM follow_up WHERE deleted_at IS NULL AND visit_on BETWEEN date(:on, '-365 days') AND :on",
    "SELECT count(*) FROM filing WHERE deleted_at IS NULL",
    "SELECT count(*) FROM settlement WHERE deleted_at IS NULL",
]


def run(scale: str = "full", data: Datasets | None = None) -> list[dict]:
    """One row: the five morning lists, against the bare counts."""
    if scale not in CLINIC_PATIENTS:
        raise ValueError(f"scale must be one of {', '.join(CLINIC_PATIENTS)}")
    patients = CLINIC_PATIENTS[scale]
    with datasets(data) as data:
        db = open_database(data.clinic(patients))
        try:
            with db.sessions() as s:
                def bare() -> list:
                    return [s.execute(text(sql), {"on": TODAY.isoformat()}).scalar() for sql in BARE_SQL]

                baseline = timings(bare, REPEATS[scale])
                lists = morning_lists(s, TODAY)
                rows = [result_row(f"今日工作 morning lists, {patients} patients (vs bare counts)", scale,
                                   timings(lambda: morning_lists(s, TODAY), REPEATS[scale], warm_up=1), baseline,
                                   rows_listed={title: len(items) for title, items in lists.items()})]
        finally:
            db.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=tuple(CLINIC_PATIENTS), default="full")
    args = parser.parse_args()
    for row in run(args.scale):
        print(f"{row['name']}: median {row['median'] * 1000:.0f} ms  min {row['min'] * 1000:.0f}  "
              f"max {row['max'] * 1000:.0f}  bare counts {row['baseline_median'] * 1000:.1f} ms  "
              f"ratio {row['ratio']:.1f}×")
        print("  " + "  ".join(f"{title} {n}" for title, n in row["rows_listed"].items()))


if __name__ == "__main__":
    main()
