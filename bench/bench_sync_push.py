"""Sync push end to end (issue 5): N new patient records (10,000 at full scale) from a clinic file through
its outbox, gzip batches over HTTP, to a township server in its own process on 127.0.0.1, acknowledged
back in the clinic file; timed against a raw bulk INSERT of the same rows into the same server
database in the same run.

Run: .venv/bin/python bench/bench_sync_push.py [--scale small|full] [--db SERVER_DB_URL_OR_PATH]

`run(scale)` returns rows of seconds (name, scale, median, min, max, baseline_median, ratio =
median / baseline_median) for `python -m bench`. The issue's target, "push at least a quarter of the
bulk insert's speed", is ratio ≤ 4. No assertions: the numbers are for a human to read. The push does
what the bulk insert does not: per record a savepoint, validation, dedup and a receipt; per batch
cross-clinic matching by ID number, the clinic's own commits (claim, then acknowledge), and HTTP.
"""

from __future__ import annotations

import argparse
import json
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import requests
from sqlalchemy import delete, insert, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from clinic.db.engine import copy_database, open_database  # noqa: E402
from clinic.db.models import (  # noqa: E402
    OutboxEntry,
    Patient,
    SyncBatch,
    SyncFeed,
    SyncReceipt,
    SyncRecordHead,
    SyncRejection,
)
from clinic.db.records import parse_record  # noqa: E402
from clinic.idcard import make_id_number  # noqa: E402
from clinic.profile import create_local_institution, set_policy_setting  # noqa: E402
from sync.client import enrol, sync_once  # noqa: E402
from sync.server import auth  # noqa: E402
from sync.server.storage import open_server_database  # noqa: E402

CODE = "H42070400101"
SCALES = {"small": (1_000, 3), "full": (10_000, 3)}      # records, repeats
TARGET_RATIO = 4.0                                       # push ≥ 1/4 of the bulk insert's records/s


def clinic_with_patients(path: Path, count: int):
    db = open_database(path)
    with db.session("bench") as s:
        create_local_institution(s, CODE, "临江村卫生室", "1", "ezhou")
        set_policy_setting(s, "ezhou", "payment_standard", "vbp_price")   # the document names no 支付标准
    db.load_local_institution()
    rng, numbers = random.Random(7), set()
    with db.session("bench") as s:
        while len(numbers) < count:
            birth = date(1935, 1, 1) + timedelta(days=rng.randrange(0, 365 * 55))
            number = make_id_number("420704", birth, rng.randrange(1000))
            if number not in numbers:
                numbers.add(number)
                s.add(Patient(name=f"患者{len(numbers)}", sex="男" if int(number[16]) % 2 else "女",
                              birth_date=birth, id_number=number, insurance="resident"))
    return db


def start_server(db_url: str) -> tuple[subprocess.Popen, str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "sync.server.cli", "serve", "--db", db_url, "--port", str(port)],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            requests.get(f"{url}/api/v1/health", timeout=1)
            return proc, url
        except requests.ConnectionError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the bench server did not start")


def bulk_insert_seconds(server_db, rows: list[dict]) -> float:
    """The same rows, one executemany in one transaction; removed again so the push starts clean."""
    started = time.perf_counter()
    with server_db.session("bench", write=True) as s:
        for start in range(0, len(rows), 5000):
            s.execute(insert(Patient.__table__), rows[start:start + 5000])
    seconds = time.perf_counter() - started
    forget_clinic(server_db)
    return seconds


def forget_clinic(server_db) -> None:
    """Everything the server holds of the bench clinic's records, so the next round starts clean."""
    with server_db.session("bench", write=True) as s:
        for model, column in ((SyncReceipt, None), (SyncRecordHead, SyncRecordHead.institution_code),
                              (SyncBatch, SyncBatch.institution_code), (SyncRejection, SyncRejection.institution_code),
                              (SyncFeed, None), (Patient, Patient.institution_code)):
            s.execute(delete(model) if column is None else delete(model).where(column == CODE))


def _row(name: str, scale: str, times: list[float], baseline: list[float]) -> dict:
    median, base = statistics.median(times), statistics.median(baseline)
    return {"name": name, "scale": scale, "median": median, "min": min(times), "max": max(times),
            "baseline_median": base, "ratio": median / base}


def run(scale: str = "full", db_url: str | None = None) -> list[dict]:
    """Rows of seconds: name, scale, median, min, max, baseline_median, ratio (median / baseline)."""
    if scale not in SCALES:
        raise ValueError(f"scale must be one of {', '.join(SCALES)}")
    count, repeats = SCALES[scale]
    pushes, bulks = [], []
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as tmp:
        work = Path(tmp)
        template = clinic_with_patients(work / "template.db", count)
        with template.session() as s:
            rows = [parse_record("patient", json.loads(text))[0] for text in s.scalars(
                select(OutboxEntry.payload).where(OutboxEntry.record_type == "patient"))]
        template.close()
        url_or_path = db_url or str(work / "township.db")
        server_db = open_server_database(url_or_path)
        proc, url = start_server(url_or_path)
        try:
            for round_no in range(repeats):
                bulks.append(bulk_insert_seconds(server_db, rows))
                copy_database(work / "template.db", work / f"clinic{round_no}.db")
                clinic = open_database(work / f"clinic{round_no}.db")
                with server_db.session("bench", write=True) as s:
                    code = auth.add_clinic(s, CODE, "临江村卫生室", "1", "临江乡")
                enrol(clinic, url, code)
                started = time.perf_counter()
                result = sync_once(clinic, streams=())
                pushes.append(time.perf_counter() - started)
                clinic.close()
                if not result.all_acknowledged or result.tally.accepted != count:
                    raise RuntimeError(f"push incomplete: {result.error or result.tally}")
                forget_clinic(server_db)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
            server_db.close()
    return [_row(f"sync push {count} records end to end (vs bulk INSERT)", scale, pushes, bulks)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=tuple(SCALES), default="full")
    parser.add_argument("--db", default=None, help="server database (SQLite path or PostgreSQL URL)")
    args = parser.parse_args()
    [row] = run(args.scale, args.db)
    count = SCALES[args.scale][0]
    print(f"server database: {'PostgreSQL' if args.db and '://' in args.db else 'SQLite'}; {count} records, "
          f"{SCALES[args.scale][1]} rounds")
    print(f"raw bulk insert : median {row['baseline_median']:7.2f} s  {count / row['baseline_median']:9.0f} records/s")
    print(f"push end to end : median {row['median']:7.2f} s  {count / row['median']:9.0f} records/s  "
          f"(min {row['min']:.2f}, max {row['max']:.2f})")
    verdict = "within" if row["ratio"] <= TARGET_RATIO else "OVER"
    print(f"ratio (push time / bulk insert time): {row['ratio']:.1f}×  — speed {1 / row['ratio']:.3f} of the bulk "
          f"insert; target ≥ {1 / TARGET_RATIO:.2f}: {verdict}")


if __name__ == "__main__":
    main()
