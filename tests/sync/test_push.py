"""Push against a real server (issue 5 "What must be shown"): exactly one server row whatever is
delivered twice or lost, every record answered by UUID, bad records rejected with a reason and
nothing else affected, 10,000 records in batches, a wrong client clock changing nothing."""

from __future__ import annotations

import gzip
import json
import uuid
from datetime import timedelta

import pytest
import requests
from sqlalchemy import select, update

from clinic.db.models import OutboxEntry, Patient, SyncReceipt
from clinic.idcard import check_digit
from sync.client import outbox_problems, sync_once, sync_status
from sync.protocol import API
from sync.transport import RetryPolicy, utc_now
from tests.clinic_fixtures import add_patient
from tests.sync.helpers import add_patients, enrolled_clinic, outbox, server_count, session_losing

CODE, OTHER = "H42070400101", "H42070400202"
FAST = RetryPolicy(attempts=3, base_delay=0.01, max_delay=0.05)


@pytest.fixture
def clinic(server, tmp_path):
    db = enrolled_clinic(server, tmp_path / "clinic.db", CODE)
    yield db
    db.close()


def token(db) -> str:
    from sync.token_store import load_token

    return load_token(db)


def pending_records(db) -> list[dict]:
    """Patients and their filings as PushRecords (the stock records would need catalogue entries)."""
    with db.session() as s:
        rows = s.scalars(select(OutboxEntry).where(OutboxEntry.status == "pending", OutboxEntry.record_type.in_(
            ("patient", "filing"))).order_by(OutboxEntry.seq))
        return [{"id": r.record_id, "type": r.record_type, "seq": r.seq, "hash": r.payload_hash,
                 "base_hash": r.base_hash, "payload": json.loads(r.payload)} for r in rows]


def push(server, db, records, key=None, *, raw: bytes | None = None, auth: str | None = None):
    body = raw if raw is not None else gzip.compress(json.dumps(
        {"batch_key": key or uuid.uuid4().hex, "records": records}, ensure_ascii=False).encode())
    return requests.post(f"{server.url}{API}/sync/push", data=body, timeout=30, headers={
        "Authorization": f"Bearer {auth if auth is not None else token(db)}", "Content-Encoding": "gzip",
        "Content-Type": "application/json"})


def test_the_same_batch_twice_stores_one_row_and_is_answered_duplicate(server, clinic):
    add_patients(clinic, 3)
    records = pending_records(clinic)
    first = push(server, clinic, records, key="batch-0001").json()
    again = push(server, clinic, records, key="batch-0001").json()
    assert {r["status"] for r in first["results"]} == {"accepted"}
    assert {r["status"] for r in again["results"]} == {"duplicate"} and again["replayed"] is True
    assert [r["id"] for r in again["results"]] == [r["id"] for r in records]      # by UUID, every one
    assert server_count(server.db) == 3


def test_the_same_record_in_two_batches_is_stored_once(server, clinic):
    add_patients(clinic, 2)
    records = pending_records(clinic)
    push(server, clinic, records[:3])
    answer = push(server, clinic, records[2:]).json()
    assert [r["status"] for r in answer["results"]] == ["duplicate", "accepted"]
    assert server_count(server.db) == 2
    with server.db.session() as s:
        assert len(s.scalars(select(SyncReceipt)).all()) == 4


def test_a_lost_answer_is_retried_and_answered_duplicate(server, clinic):
    add_patients(clinic, 4)
    waiting = outbox(clinic, "pending")
    lose_first = iter([True])
    session, adapter = session_losing(lambda r: r.method == "POST" and next(lose_first, False))
    result = sync_once(clinic, session=session, retry=FAST)
    assert adapter.lost == 1
    assert (result.tally.accepted, result.tally.duplicates) == (0, waiting)    # the server had stored them all
    assert result.all_acknowledged and result.exit_code == 0
    assert server_count(server.db) == 4


def test_a_wrong_client_clock_changes_nothing_but_is_shown(server, tmp_path):
    for code, days in ((CODE, 3), (OTHER, -3)):
        db = enrolled_clinic(server, tmp_path / f"{code}.db", code)
        add_patients(db, 2, start=10 if days > 0 else 20)
        with db.session() as s:        # a backoff set while the clock was right must not hold the rows back
            s.execute(update(OutboxEntry).values(next_attempt_at=utc_now() + timedelta(minutes=10)))
        shifted = lambda days=days: utc_now() + timedelta(days=days)   # noqa: E731
        result = sync_once(db, clock=shifted)
        assert result.all_acknowledged, result.error
        status = sync_status(db)
        assert abs(status.clock_skew_seconds + days * 86400) < 60 and "时钟" in status.clock_warning
        with db.session() as s, server.db.session() as t:
            local = {p.id: (p.created_at, p.id_number) for p in s.scalars(select(Patient))}
            remote = {p.id: (p.created_at, p.id_number) for p in t.scalars(
                select(Patient).where(Patient.institution_code == code))}
        assert local == remote
        db.close()


def test_ten_thousand_pending_records_are_all_acknowledged_in_batches(server, clinic):
    from datetime import date

    with clinic.session("doctor") as s:
        for i in range(10_000):
            first17 = f"420704{date(1940, 1, 1) + timedelta(days=i):%Y%m%d}{i % 1000:03d}"
            s.add(Patient(name=f"病人{i}", sex="男", birth_date=date(1940, 1, 1) + timedelta(days=i),
                          id_number=first17 + check_digit(first17), insurance="resident"))
    waiting = outbox(clinic, "pending")
    result = sync_once(clinic)
    assert result.all_acknowledged, result.error
    assert result.batches >= waiting // 100 and result.tally.accepted == waiting
    assert server_count(server.db) == 10_000
    assert outbox(clinic, "acknowledged") == waiting


def test_bad_records_are_rejected_with_a_reason_and_the_rest_of_the_batch_is_stored(server, clinic):
    add_patients(clinic, 1)
    [good, *_] = pending_records(clinic)
    def variant(**changes):
        payload = {**good["payload"], "id": str(uuid.uuid4()), **changes}
        from clinic.db.records import payload_hash
        return {**good, "id": payload["id"], "payload": payload, "hash": payload_hash(payload)}
    bad_id = variant(id_number="420704196001010012")
    bad_date = variant(birth_date="上个月")
    other_clinic = variant(institution_code=OTHER)
    unknown = {**variant(), "type": "invoice"}
    tampered = {**variant(), "hash": "0" * 64}
    answer = push(server, clinic, [good, bad_id, bad_date, other_clinic, unknown, tampered]).json()
    verdicts = {r["id"]: (r["status"], r.get("reason") or "") for r in answer["results"]}
    assert verdicts[good["id"]][0] == "accepted"
    assert verdicts[bad_id["id"]][0] == "rejected" and "身份证号" in verdicts[bad_id["id"]][1]
    assert "birth_date" in verdicts[bad_date["id"]][1]
    assert f"机构 {OTHER}" in verdicts[other_clinic["id"]][1]
    assert "未知的记录类型" in verdicts[unknown["id"]][1]
    assert "校验值" in verdicts[tampered["id"]][1]
    assert server_count(server.db) == 1


def test_a_record_the_database_refuses_is_rolled_back_alone_with_its_reason(server, clinic):
    """Two registrations of one ID number: the second breaks the per-clinic unique index inside its own
    savepoint (PostgreSQL aborts the statement; only that savepoint is rolled back)."""
    add_patients(clinic, 2)
    from clinic.db.records import payload_hash

    records = pending_records(clinic)
    first, second = [r for r in records if r["type"] == "patient"]
    twin = {**second["payload"], "id": str(uuid.uuid4()), "id_number": first["payload"]["id_number"]}
    twin_record = {**second, "id": twin["id"], "payload": twin, "hash": payload_hash(twin), "seq": first["seq"]}
    answer = push(server, clinic, [*records, twin_record]).json()
    verdicts = {r["id"]: (r["status"], r.get("reason") or "") for r in answer["results"]}
    assert verdicts[twin["id"]][0] == "rejected" and "身份证号相同" in verdicts[twin["id"]][1]
    assert [v for k, (v, _) in verdicts.items() if k != twin["id"]] == ["accepted"] * 4
    assert server_count(server.db) == 2


def test_a_rejected_record_is_shown_to_the_doctor_and_not_retried(server, clinic):
    add_patients(clinic, 2)
    with clinic.session("doctor") as s:
        add_patient(s, id_number="420704196001010012", name="错号")       # wrong check digit
    result = sync_once(clinic)
    assert (result.tally.rejected, result.rejected, result.exit_code) == (1, 1, 2)
    [problem] = outbox_problems(clinic)
    assert problem.status == "rejected" and "身份证号" in problem.reason
    again = sync_once(clinic)
    assert again.tally.rejected == 0 and again.batches == 0
    assert server_count(server.db) == 2


def test_malformed_oversized_and_unauthorised_requests_are_refused_with_reasons(server, clinic):
    add_patients(clinic, 1)
    records = pending_records(clinic)
    not_gzip = push(server, clinic, records, raw=b"{not gzip")
    not_json = push(server, clinic, records, raw=gzip.compress(b"{records: ["))
    wrong_shape = push(server, clinic, records, raw=gzip.compress(b'{"batch_key": "k1234567", "records": 7}'))
    huge = push(server, clinic, records, raw=b"x" * (server_settings_max(server) + 1))
    stranger = push(server, clinic, records, auth="forged-token")
    assert (not_gzip.status_code, not_json.status_code, wrong_shape.status_code) == (400, 400, 422)
    assert "gzip" in not_gzip.json()["error"] and "JSON" in not_json.json()["error"]
    assert "records" in wrong_shape.json()["error"]
    assert huge.status_code == 413 and "过大" in huge.json()["error"]
    assert stranger.status_code == 401 and "接入" in stranger.json()["error"]
    assert server_count(server.db) == 0
    assert sync_once(clinic).all_acknowledged


def server_settings_max(server) -> int:
    from sync.server.app import ServerSettings

    return ServerSettings().max_body_bytes
