"""Pushes arriving at once (issue 5): a batch resent while its first copy is still being stored (a client
that timed out) is answered duplicate, never refused as "already exists"; two clinics pushing at the
same moment still have their settlements for one person replayed against the shared annual cap."""

from __future__ import annotations

import gzip
import json
import threading
import uuid
from datetime import date, timedelta
from decimal import Decimal

import requests
from sqlalchemy import select

from clinic import stock
from clinic.db.models import ClaimFlag, Drug
from clinic.idcard import check_digit
from sync.client import sync_once
from sync.protocol import API
from tests.clinic_fixtures import add_patient
from tests.sync.helpers import add_patients, enrolled_clinic, sell, server_count
from tests.sync.test_push import pending_records, token

A, B = "H42070400101", "H42070400202"
DAY = date(date.today().year, 1, 10)
ID_NUMBER = "42070419600101001" + check_digit("42070419600101001")


def in_parallel(*calls):
    results, start = [None] * len(calls), threading.Barrier(len(calls))

    def run(i, call):
        start.wait()
        results[i] = call()

    threads = [threading.Thread(target=run, args=(i, call)) for i, call in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def test_the_same_batch_sent_twice_at_once_is_stored_once_and_never_refused(server, tmp_path):
    clinic = enrolled_clinic(server, tmp_path / "c.db", A)
    add_patients(clinic, 150)
    records = pending_records(clinic)          # 150 patients and 150 filings: one large batch
    body = gzip.compress(json.dumps({"batch_key": uuid.uuid4().hex, "records": records}).encode())
    headers = {"Authorization": f"Bearer {token(clinic)}", "Content-Encoding": "gzip",
               "Content-Type": "application/json"}

    def post():
        return requests.post(f"{server.url}{API}/sync/push", data=body, headers=headers, timeout=120).json()

    first, second = in_parallel(post, post)
    verdicts = [r["status"] for answer in (first, second) for r in answer["results"]]
    assert set(verdicts) <= {"accepted", "duplicate"}, [r for a in (first, second) for r in a["results"]
                                                         if r["status"] not in ("accepted", "duplicate")][:1]
    assert verdicts.count("accepted") == len(records) and verdicts.count("duplicate") == len(records)
    assert server_count(server.db) == 150
    clinic.close()


def test_two_clinics_pushing_at_once_still_flag_the_settlement_that_crosses_the_cap(server, tmp_path):
    sellers = []
    for code, drug in ((A, "XC09TEST0001"), (B, "XC09TEST0002")):
        db = enrolled_clinic(server, tmp_path / f"{code}.db", code)
        with db.session("admin") as s:
            s.add(Drug(code=drug, generic_name="测试降压药", spec="10mg", form="片剂", unit="片",
                       drug_class="antihypertensive", category="乙", retail_price=Decimal("10.00")))
            s.flush()
            stock.receive(s, drug, "T1", DAY + timedelta(days=700), Decimal(1000), DAY - timedelta(days=5))
        with db.session("doctor") as s:
            patient = add_patient(s, filed_on=DAY - timedelta(days=5), id_number=ID_NUMBER)
        sellers.append((db, patient.id, drug))
    # 900 × 60 % = 540 at each: together past the 1,000 resident cap (seeds/000), neither alone
    for db, patient_id, drug in sellers:
        assert sell(db, patient_id, drug, DAY, 90).fund_pay == Decimal("540.00")
    results = in_parallel(*[lambda db=db: sync_once(db, streams=()) for db, _, _ in sellers])
    assert all(r.all_acknowledged for r in results), [r.error for r in results]
    with server.db.session() as s:
        flags = s.scalars(select(ClaimFlag).where(ClaimFlag.kind == "over_cap")).all()
    assert [(f.amount, f.disease) for f in flags] == [(Decimal("80.00"), "hypertension")]
    for db, _, _ in sellers:
        db.close()
