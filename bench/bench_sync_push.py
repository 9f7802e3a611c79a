"""Sync push end to end: N new patient records (10,000 by default) from a clinic file through its
outbox, gzip batches over HTTP, to a township server in its own process on 127.0.0.1, acknowledged
back in the clinic file; timed against a raw bulk INSERT of the same rows into the same server
database in the same run.

Run: .venv/bin/python bench/bench_sync_push.py [--records N] [--db SERVER_DB_URL_OR_PATH]

The result is a ratio (and records per second), not a threshold: no assertions; it is for a human to
read. The push does what the bulk insert does not: a savepoint, validation and dedup per record, a
receipt, cross-clinic matching by ID number, the clinic's own commits, and HTTP.
"""

from __future__ import annotations

import argparse
import json
import random
import socket
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

from clinic.db.engine import open_database  # noqa: E402
from clinic.db.models import OutboxEntry, Patient  # noqa: E402
from clinic.db.records import parse_record  # noqa: E402
from clinic.idcard import make_id_number  # noqa: E402
from clinic.profile import create_local_institution  # noqa: E402
from sync.client import enrol, sync_once  # noqa: E402
from sync.server import auth  # noqa: E402
from sync.server.storage import open_server_database  # noqa: E402

CODE = "H42070400101"


def clinic_with_patients(path: Path, count: int) -> object:
    db = open_database(path)
    with db.session("bench") as s:
        create_local_institution(s, CODE, "临江村卫生室", "1", "ezhou")
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
    raise SystemExit("the server did not start")


def bulk_insert_seconds(server_db, rows: list[dict]) -> float:
    """The same rows, one executemany in one transaction; removed again so the push starts clean."""
    started = time.perf_counter()
    with server_db.session("bench", write=True) as s:
        for start in range(0, len(rows), 5000):
            s.execute(insert(Patient.__table__), rows[start:start + 5000])
    seconds = time.perf_counter() - started
    with server_db.session("bench", write=True) as s:
        s.execute(delete(Patient.__table__).where(Patient.institution_code == CODE))
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--db", default=None, help="server database (SQLite path or PostgreSQL URL)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-sync-"))
    db_url = args.db or str(work / "township.db")
    server_db = open_server_database(db_url)
    with server_db.session("bench", write=True) as s:
        code = auth.add_clinic(s, CODE, "临江村卫生室", "1", "临江乡")

    clinic = clinic_with_patients(work / "clinic.db", args.records)
    with clinic.session() as s:
        rows = [parse_record("patient", json.loads(text))[0] for text in s.scalars(
            select(OutboxEntry.payload).where(OutboxEntry.record_type == "patient"))]
    baseline = bulk_insert_seconds(server_db, rows)

    proc, url = start_server(db_url)
    try:
        enrol(clinic, url, code)
        started = time.perf_counter()
        result = sync_once(clinic, streams=())
        pushed = time.perf_counter() - started
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    if not result.all_acknowledged:
        raise SystemExit(f"push incomplete: {result.error or result.tally}")
    n = result.tally.accepted
    print(f"server database: {'PostgreSQL' if '://' in db_url else 'SQLite'}; records: {n} in {result.batches} batches")
    print(f"raw bulk insert : {baseline:7.2f} s  {n / baseline:9.0f} records/s")
    print(f"push end to end : {pushed:7.2f} s  {n / pushed:9.0f} records/s")
    print(f"ratio (push / bulk insert time): {pushed / baseline:.1f}×")


if __name__ == "__main__":
    main()
