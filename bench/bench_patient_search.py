"""Patient search, keystroke by keystroke, on a generated clinic of 10,000 patients (500 at small scale).

Each keystroke runs what the GUI's background task runs for it (desktop/gui/ops_patients.search: a
unit of work, clinic.patients.search_patients, the filing states of the rows found, the display rows),
timed against the bare indexed SQLite query (a patient by ID number, through the sqlite3 module) on
the same file in the same run. Typed the way a doctor types: pinyin initials letter by letter (`z`,
`zx`, `zxl`), a name as the IME commits it (`张`, `张秀`, `张秀兰`), an ID-number tail digit by digit.
The target is p95 < 50 ms per keystroke (the GUI also waits 120 ms after the last key, not counted).

Run: .venv/bin/python -m bench.bench_patient_search [--scale small|full]
"""

from __future__ import annotations

import argparse
import random
import sqlite3
import sys
from pathlib import Path

if __package__ in (None, ""):                    # run as a script: python bench/bench_patient_search.py
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.generate import CLINIC_PATIENTS, TODAY, Datasets, datasets  # noqa: E402
from bench.timing import percentile, result_row, timings  # noqa: E402
from clinic.db.engine import open_database  # noqa: E402
from desktop.gui.ops_patients import search  # noqa: E402

PATIENTS_TYPED = {"tiny": 3, "small": 15, "full": 60}          # patients looked up per kind of query
TARGET_P95 = 0.050


def keystrokes(rng: random.Random, patients: list[tuple], count: int) -> dict[str, list[str]]:
    """What the search box holds after each keystroke, per kind of query."""
    typed: dict[str, list[str]] = {"pinyin initials": [], "name": [], "ID tail": []}
    for name, initials, id_number in rng.sample(patients, count):
        first = initials.split()[0]
        typed["pinyin initials"] += [first[:n] for n in range(1, len(first) + 1)]
        typed["name"] += [name[:n] for n in range(1, len(name) + 1)]
        tail = id_number[-rng.choice((4, 6)):]
        typed["ID tail"] += [tail[:n] for n in range(1, len(tail) + 1)]
    return typed


def run(scale: str = "full", data: Datasets | None = None) -> list[dict]:
    """Rows of seconds per keystroke (with p95), one per kind of query and one for all of them."""
    if scale not in CLINIC_PATIENTS:
        raise ValueError(f"scale must be one of {', '.join(CLINIC_PATIENTS)}")
    with datasets(data) as data:
        path = data.clinic(CLINIC_PATIENTS[scale])
        raw = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            patients = raw.execute("SELECT name, pinyin_initials, id_number FROM patient").fetchall()
            rng = random.Random(8)
            typed = keystrokes(rng, patients, PATIENTS_TYPED[scale])
            numbers = [p[2] for p in rng.sample(patients, 50)]

            def bare() -> None:
                number = rng.choice(numbers)
                raw.execute("SELECT * FROM patient WHERE id_number = ? AND deleted_at IS NULL", (number,)).fetchall()

            plan = raw.execute("EXPLAIN QUERY PLAN SELECT * FROM patient WHERE id_number = ? AND deleted_at IS NULL",
                               (numbers[0],)).fetchall()
            if not any("INDEX" in str(step) for step in plan):
                raise RuntimeError(f"the baseline query does not use an index: {plan}")
            baseline = timings(bare, 200, warm_up=20)
            db = open_database(path)
            try:
                db.load_local_institution()
                by_kind = {kind: _each(db, texts) for kind, texts in typed.items()}
            finally:
                db.close()
        finally:
            raw.close()
    rows = [_row(f"patient search keystroke: {kind}", scale, times, baseline) for kind, times in by_kind.items()]
    every = [t for times in by_kind.values() for t in times]
    rows.append(_row(f"patient search keystroke, all kinds ({CLINIC_PATIENTS[scale]:,} patients)", scale,
                     every, baseline))
    return rows


def _each(db, texts: list[str]) -> list[float]:
    for text in texts[:5]:                                  # warm the page cache and statement cache
        search(db, text, TODAY)
    found = []
    for text in texts:
        found += timings(lambda text=text: search(db, text, TODAY), 1, warm_up=0)
    return found


def _row(name: str, scale: str, times: list[float], baseline: list[float]) -> dict:
    p95 = percentile(times, 0.95)
    return result_row(name, scale, times, baseline, p95=p95, target="p95 < 50 ms", met=p95 < TARGET_P95)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=tuple(CLINIC_PATIENTS), default="full")
    parser.add_argument("--data", type=Path, default=None, help="folder of generated databases to reuse")
    args = parser.parse_args()
    rows = run(args.scale, Datasets(args.data) if args.data else None)
    print(f"bare indexed query (patient by ID number): median {rows[0]['baseline_median'] * 1000:.3f} ms")
    for row in rows:
        print(f"  {row['name']:<52} median {row['median'] * 1000:6.2f} ms  p95 {row['p95'] * 1000:6.2f} ms  "
              f"max {row['max'] * 1000:6.2f} ms  ratio {row['ratio']:6.1f}×  ({row['target']}: "
              f"{'met' if row['met'] else 'NOT met'})")


if __name__ == "__main__":
    main()
