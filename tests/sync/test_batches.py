"""How records are cut into batches and what happens to a record the answer leaves out (issue 5 "Push"):
≈100 records or 1 MB a batch; a server asking for smaller batches gets them; a record too large on its
own is rejected with a reason while the rest arrive; a record missing from the answer is sent again."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import func, select, update

from clinic.db.models import Filing, OutboxEntry, Patient, SyncBatch
from sync.client import outbox_problems, sync_once
from sync.protocol import API, MAX_BATCH_BYTES
from sync.server.app import ServerSettings
from sync.transport import utc_now
from tests.sync.gateway import Gateway
from tests.sync.helpers import LiveServer, add_patients, enrolled_clinic, outbox, server_count
from tests.sync.test_gateway import through

CODE = "H42070400101"
LONG = "患者自述多饮多尿、体重下降，近三月空腹血糖 7.8–9.1 mmol/L。" * 1000     # ≈ 100 KB of UTF-8


def lengthen_filings(db, text: str, count: int | None = None) -> None:
    with db.session("doctor") as s:
        for filing in s.scalars(select(Filing).order_by(Filing.id)).all()[:count]:
            filing.history_diagnosis = text


def batch_sizes(server_db) -> list[int]:
    with server_db.session() as s:
        return list(s.scalars(select(SyncBatch.records)))


def test_batches_stay_within_a_megabyte_and_a_hundred_records(server, tmp_path):
    clinic = enrolled_clinic(server, tmp_path / "c.db", CODE)
    add_patients(clinic, 25)
    lengthen_filings(clinic, LONG)                      # 25 × ~100 KB filings: at least 3 batches
    waiting = outbox(clinic, "pending")
    gateway = Gateway(server.url)
    through(clinic, gateway.url)
    try:
        result = sync_once(clinic, streams=())
    finally:
        gateway.close()
    assert result.all_acknowledged, result.error
    bodies = gateway.bodies(f"{API}/sync/push")
    assert len(bodies) >= 3 and all(len(body) <= MAX_BATCH_BYTES * 1.05 for body in bodies)
    assert all(len(json.loads(body)["records"]) <= 100 for body in bodies)
    assert sum(len(json.loads(body)["records"]) for body in bodies) == waiting
    with server.db.session() as s:
        assert {len(f.history_diagnosis) for f in s.scalars(select(Filing))} == {len(LONG)}
    clinic.close()


def test_a_server_asking_for_smaller_batches_gets_them_and_everything_arrives(tmp_path, server_db_url):
    live = LiveServer.start(server_db_url, ServerSettings(max_batch_records=10))
    try:
        clinic = enrolled_clinic(live, tmp_path / "c.db", CODE)
        add_patients(clinic, 20)
        waiting = outbox(clinic, "pending")
        result = sync_once(clinic, streams=())
        assert result.all_acknowledged, result.error
        assert result.tally.accepted == waiting and server_count(live.db) == 20
        assert max(batch_sizes(live.db)) <= 10
        clinic.close()
    finally:
        live.stop()


def test_a_record_too_large_on_its_own_is_rejected_with_a_reason_and_the_rest_arrive(tmp_path, server_db_url):
    live = LiveServer.start(server_db_url, ServerSettings(max_json_bytes=150_000))
    try:
        clinic = enrolled_clinic(live, tmp_path / "c.db", CODE)
        add_patients(clinic, 6)
        lengthen_filings(clinic, LONG * 2, count=1)     # one filing of ~200 KB
        result = sync_once(clinic, streams=())
        assert result.tally.rejected == 1 and result.exit_code == 2
        [problem] = outbox_problems(clinic)
        assert problem.record_type == "filing" and "过大" in problem.reason
        assert server_count(live.db) == 6 and server_count(live.db, Filing) == 5
        assert outbox(clinic, "pending") == 0
        clinic.close()
    finally:
        live.stop()


def test_a_record_the_answer_leaves_out_goes_back_to_pending_and_is_sent_again(server, tmp_path):
    clinic = enrolled_clinic(server, tmp_path / "c.db", CODE)
    [patient_id] = add_patients(clinic, 1)
    with clinic.session() as s:                 # the patient's own upload is waiting out a backoff
        s.execute(update(OutboxEntry).where(OutboxEntry.record_id == patient_id)
                  .values(next_attempt_at=utc_now() + timedelta(minutes=20)))
    first = sync_once(clinic, streams=())
    assert first.tally.deferred == 1 and first.pending == 2          # the filing came back unanswered
    with clinic.session() as s:
        filing = s.scalar(select(OutboxEntry).where(OutboxEntry.record_type == "filing"))
        assert filing.status == "pending" and "尚未到达服务器" in filing.last_error
        assert filing.next_attempt_at > utc_now()                    # with a backoff, kept in the file
    assert server_count(server.db) == 0
    later = sync_once(clinic, streams=(), clock=lambda: utc_now() + timedelta(hours=2))
    assert later.all_acknowledged and later.tally.accepted == 2
    with server.db.session() as s:
        assert s.scalar(select(func.count()).select_from(Patient)) == 1
        assert s.scalar(select(Filing.patient_id)) == patient_id
    clinic.close()


def test_a_catalogue_entry_brought_by_a_record_that_is_put_back_is_brought_again_by_the_next(server, tmp_path):
    """A record's attached drug is inserted inside its savepoint; when the record is deferred that insert
    is rolled back, so the next record naming the drug must insert it again (not assume it is there)."""
    from clinic.db.models import Drug, StockLot
    from clinic.db.records import payload_hash, read_record, to_plain
    from tests.clinic_fixtures import AML
    from tests.sync.test_push import push

    clinic = enrolled_clinic(server, tmp_path / "c.db", CODE)
    with clinic.session() as s:
        drug = s.get(Drug, AML)
        entry = {c.name: to_plain(getattr(drug, c.key)) for c in Drug.__table__.columns}
        lot_id = s.scalar(select(StockLot.id).where(StockLot.drug_code == AML))
        lot = read_record(s.connection(), "stock_lot", lot_id)
        movement_id = s.scalar(select(OutboxEntry.record_id).where(OutboxEntry.record_type == "stock_movement"))
        movement = read_record(s.connection(), "stock_movement", movement_id)
    movement = {**movement, "lot_id": None, "drug_code": AML, "dispense_id": "5c0b2a7e-0000-4000-8000-000000000001"}
    answer = push(server, clinic, [
        {"id": movement["id"], "type": "stock_movement", "seq": 1, "hash": payload_hash(movement), "base_hash": None,
         "payload": movement, "drugs": [entry]},
        {"id": lot_id, "type": "stock_lot", "seq": 2, "hash": payload_hash(lot), "base_hash": None,
         "payload": lot, "drugs": [entry]}]).json()
    assert "尚未到达服务器" in answer["deferred"][movement["id"]]
    assert [(r["id"], r["status"]) for r in answer["results"]] == [(lot_id, "accepted")]
    with server.db.session() as s:
        assert s.get(Drug, AML) is not None and s.get(StockLot, lot_id) is not None
    clinic.close()
