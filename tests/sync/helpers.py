"""Builders for sync tests: a live server, clinics enrolled on it, records in them, and a requests
adapter that loses a chosen response (the server did the work, the clinic never heard)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

import requests
import uvicorn
from requests.adapters import HTTPAdapter
from sqlalchemy import func, select

from clinic import stock
from clinic.db.engine import Database, open_database
from clinic.db.models import OutboxEntry, Patient
from clinic.profile import create_local_institution, set_policy_setting
from sync.server import auth
from sync.server.app import ServerSettings, create_app
from sync.server.storage import ServerDatabase, open_server_database
from tests.clinic_fixtures import AML, MET, add_drugs, add_patient

ROOT = Path(__file__).resolve().parents[2]
PG_URL = os.environ.get("LIANGBING_TEST_PG_URL")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
NO_PG = ("LIANGBING_TEST_PG_URL is not set: no PostgreSQL to run the server tests on "
         "(bash .ci/postgres.sh starts one and prints the URL; .ci/run sets it)")


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)   # accepted sockets inherit it: no 40 ms stalls
    sock.bind(("127.0.0.1", 0))
    return sock


class LiveServer:
    """uvicorn serving create_app(db) in a daemon thread on a port of its own."""

    def __init__(self, db: ServerDatabase, url: str, server: uvicorn.Server, thread: threading.Thread, db_url: str):
        self.db, self.url, self._server, self._thread, self.db_url = db, url, server, thread, db_url

    @classmethod
    def start(cls, db_url: str, settings: ServerSettings | None = None) -> LiveServer:
        db = open_server_database(db_url)
        sock = free_socket()
        port = sock.getsockname()[1]
        server = uvicorn.Server(uvicorn.Config(create_app(db, settings), log_level="warning", lifespan="off"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 60          # generous: a loaded CI machine starts slowly
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("test server did not start")
            time.sleep(0.02)
        return cls(db, f"http://127.0.0.1:{port}", server, thread, db_url)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=15)
        self.db.close()

    def add_clinic(self, code: str, name: str = "村卫生室") -> str:
        with self.db.session("test", write=True) as s:
            return auth.add_clinic(s, code, name, "1", "临江乡")

    def add_reviewer(self, username: str = "reviewer", password: str = "review-pass-1") -> tuple[str, str]:
        with self.db.session("test", write=True) as s:
            auth.add_account(s, username, "审核员", "reviewer", password)
        return username, password


def server_process(db_url: str, script: Path | None = None, *extra: str) -> tuple[subprocess.Popen, str]:
    """`liangbing-server serve` (or a test script taking the same --db/--port) in its own process on a
    free port; returns once it answers."""
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    start = ["-m", "sync.server.cli", "serve"] if script is None else [str(script)]
    proc = subprocess.Popen([sys.executable, *start, "--db", db_url, "--port", str(port), *extra], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            requests.get(f"{url}/api/v1/health", timeout=1)
            return proc, url
        except requests.ConnectionError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server process did not start")


def make_clinic(path: Path, code: str, *, drugs: bool = True) -> Database:
    db = open_database(path)
    with db.session("admin") as s:
        create_local_institution(s, code, f"{code} 村卫生室", "1", "ezhou", "H420704001", "临江乡卫生院")
        set_policy_setting(s, "ezhou", "payment_standard", "vbp_price")   # the document names no 支付标准
    db.load_local_institution()
    if drugs:
        with db.session("admin") as s:
            add_drugs(s)
            stock.receive(s, AML, "L1", date(2028, 12, 31), Decimal(100000), date(2026, 1, 5))
            stock.receive(s, MET, "M1", date(2028, 12, 31), Decimal(100000), date(2026, 1, 5))
    return db


def enrolled_clinic(server: LiveServer, path: Path, code: str) -> Database:
    from sync.client import enrol

    db = make_clinic(path, code)
    enrol(db, server.url, server.add_clinic(code))
    return db


def add_patients(db: Database, n: int, start: int = 0) -> list[str]:
    """n patients with valid, distinct ID numbers (and an approved filing each)."""
    from clinic.idcard import check_digit

    ids = []
    with db.session("doctor") as s:
        for i in range(start, start + n):
            first17 = f"42070419600101{i:03d}"[:17] if n <= 999 else f"4207041960{i:07d}"
            ids.append(add_patient(s, id_number=first17 + check_digit(first17), name=f"病人{i}").id)
    return ids


def file_offline(db: Database, patient_id: str, disease: str = "diabetes", on: date = date(2026, 3, 2)) -> str:
    """A complete, signed 认定备案 submitted for review while offline; returns its id."""
    from clinic.db.types import utcnow
    from clinic.filings import new_initial_filing, submit

    with db.session("doctor") as s:
        filing = new_initial_filing(
            s, s.get(Patient, patient_id), disease=disease, tier="ordinary", primary=False, icd10="E11.9",
            history_diagnosis="多饮多尿半年，空腹血糖 8.1 mmol/L", treatment_plan="二甲双胍 0.5g bid",
            history_signer="王医生", plan_signer="王医生", filed_on=on)
        submit(s, filing, utcnow())
        return filing.id


def sell(db: Database, patient_id: str, drug_code: str, on: date, days: int):
    """A 28/90-day continuous prescription for one drug, dispensed and settled at once."""
    from clinic.dispensing import dispense_and_settle
    from clinic.prescriptions import LineInput, create_prescription
    from clinic.profile import policy_in_force

    with db.session("doctor") as s:
        patient = s.get(Patient, patient_id)
        rx = create_prescription(s, patient, policy_in_force(s, on), entitled={"hypertension"},
                                 prescriber_name="王医生", prescribed_on=on, diagnosis="原发性高血压",
                                 lines=[LineInput(drug_code, Decimal(1), "qd", days)])
        s.flush()
        return dispense_and_settle(s, policy_in_force(s, on), rx, on, days=days, dispenser_name="李药师")


def outbox(db: Database, status: str | None = None) -> int:
    with db.session() as s:
        query = select(func.count()).select_from(OutboxEntry)
        if status:
            query = query.where(OutboxEntry.status == status)
        return s.scalar(query)


def server_count(server_db: ServerDatabase, model=Patient) -> int:
    with server_db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


class LoseResponses(HTTPAdapter):
    """Sends each request for real, then drops the answer of the ones `lose(request)` picks: the
    server did the work, the clinic sees a broken connection."""

    def __init__(self, lose):
        super().__init__()
        self.lose, self.lost = lose, 0

    def send(self, request, **kwargs):
        response = super().send(request, **kwargs)
        if self.lose(request):
            self.lost += 1
            raise requests.ConnectionError("connection reset (test)")
        return response


def session_losing(lose) -> tuple[requests.Session, LoseResponses]:
    session = requests.Session()
    adapter = LoseResponses(lose)
    session.mount("http://", adapter)
    return session, adapter
