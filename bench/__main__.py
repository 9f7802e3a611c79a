"""`python -m bench`: every measurement of issue 8 against its baseline in the same run, a table on
stdout and bench/results.json (name, scale, median, min, max, baseline_median, ratio, unit, target, met).

    python -m bench                          # full scale: 10,000 patients, a township of 30 clinics
    python -m bench --scale small            # 500 patients; a quick look
    python -m bench --county                 # also the county report on PostgreSQL (--pg-url or
                                             # LIANGBING_BENCH_PG_URL; generated once, ≈1M settlements)
    python -m bench --only search,settle     # some of them
    python -m bench --markdown               # the last results.json as the README's table

Generated databases are kept in bench/.data (or --data DIR) and reused while the generator is unchanged.
Exit status 1 if a measurement failed to run; a target not met is reported, not an error.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import traceback
from datetime import datetime
from pathlib import Path

from bench import (
    bench_forms,
    bench_gui,
    bench_patient_search,
    bench_reports,
    bench_settle,
    bench_sync_push,
    bench_township,
    bench_worklist,
)
from bench.generate import Datasets
from bench.table import markdown, text_table

HERE = Path(__file__).resolve().parent


def _theirs(scale: str) -> str:
    """The feature benchmarks know small and full; the runner's tiny smoke scale runs them small."""
    return "small" if scale == "tiny" else scale


def _forms(scale, data):
    rows = bench_forms.run(_theirs(scale))
    for row in rows[:2]:            # the target is on the 附件3 PDF itself (render, and db read + render)
        row.update(target="< 100 ms", met=row["median"] < 0.100)
    return rows


def _sync(scale, data):
    rows = bench_sync_push.run(_theirs(scale))
    return [{**row, "target": "≥ 0.25 of raw (≤ 4×)", "met": row["ratio"] <= 4.0} for row in rows]


def _reports(scale, data):
    return [{**row, "target": "≤ 2×", "met": row["ratio"] <= 2.0} for row in bench_reports.run(_theirs(scale))]


# key → (issue item, what it measures, run(scale, data) -> rows); a row may name its own item (memory: 7)
MEASUREMENTS = {
    "gui": (1, "GUI cold start (1) and memory (7)", bench_gui.run),
    "search": (2, "patient search keystrokes", bench_patient_search.run),
    "settle": (3, "settling one purchase", bench_settle.run),
    "worklist": (1, "home screen work lists (part of cold start)", bench_worklist.run),
    "forms": (4, "附件3 PDF", _forms),
    "sync": (5, "sync push", _sync),
    "reports": (6, "clinic monthly report", _reports),
    "township": (6, "township monthly report", bench_township.run),
    "county": (6, "county monthly report", lambda scale, data: bench_township.run_county(scale, data, PG_URL)),
}
PG_URL: str | None = None


def parse(argv: list[str] | None):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=("tiny", "small", "full"), default="full",
                        help="full: 10,000 patients, 30 clinics; small: 500 patients; tiny: a smoke run only")
    parser.add_argument("--only", default=None, help=f"comma-separated: {', '.join(MEASUREMENTS)}")
    parser.add_argument("--county", action="store_true", help="also the county report (PostgreSQL)")
    parser.add_argument("--pg-url", default=None, help="county database URL (name must start liangbing_bench)")
    parser.add_argument("--data", type=Path, default=HERE / ".data", help="generated databases (reused)")
    parser.add_argument("--out", type=Path, default=HERE / "results.json")
    parser.add_argument("--markdown", action="store_true", help="print --out as a Markdown table and stop")
    return parser.parse_args(argv)


def chosen(args) -> list[str]:
    if args.only:
        keys = [key.strip() for key in args.only.split(",") if key.strip()]
        unknown = [key for key in keys if key not in MEASUREMENTS]
        if unknown:
            raise SystemExit(f"python -m bench: unknown measurement {', '.join(unknown)} "
                             f"(choose from {', '.join(MEASUREMENTS)})")
        return keys
    return [key for key in MEASUREMENTS if key != "county" or args.county]


def main(argv: list[str] | None = None) -> int:
    global PG_URL
    args = parse(argv)
    if args.markdown:
        if not args.out.exists():
            print(f"python -m bench: no results yet at {args.out}", file=sys.stderr)
            return 1
        print(markdown(json.loads(args.out.read_text(encoding="utf-8"))))
        return 0
    PG_URL = args.pg_url
    keys = chosen(args)
    data = Datasets(args.data, log=lambda line: print(line, flush=True))
    started, load = time.perf_counter(), os.getloadavg()
    rows, failed = [], []
    for key in keys:
        item, title, measure = MEASUREMENTS[key]
        print(f"[{item}] {title} ({args.scale}) …", flush=True)
        began = time.perf_counter()
        try:
            found = measure(args.scale, data)
        except Exception as exc:                      # one failing benchmark must not hide the others
            traceback.print_exc()
            failed.append(key)
            found = [{"name": f"{title}: FAILED ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})",
                      "scale": args.scale, "error": True}]
        for row in found:
            row.setdefault("unit", "s")
            rows.append({"item": item, "measurement": key, **row})
        print(f"    {time.perf_counter() - began:.0f} s", flush=True)
    result = {
        "command": "python -m bench " + " ".join(argv if argv is not None else sys.argv[1:]),
        "measured_at": datetime.now().isoformat(timespec="seconds"),
        "total_seconds": round(time.perf_counter() - started, 1),
        "machine": {"cpus": os.cpu_count(), "load_average_at_start": [round(x, 2) for x in load],
                    "python": platform.python_version(), "platform": platform.platform()},
        "results": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    print()
    print(text_table(result))
    print(f"\nwritten to {args.out}; {result['total_seconds']:.0f} s in all")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
