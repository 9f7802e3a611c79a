"""Reconcile (issue 5): the clinic sends the UUIDs it holds as acknowledged, the server answers with the
ones it lacks (say it was restored from an older backup), those go back to pending and the next pass
sends them again; `liangbing sync --reconcile` does both."""

from __future__ import annotations

import json

from sqlalchemy import delete, select

from clinic.db.models import Filing, OutboxEntry, Patient, SyncReceipt, SyncRecordHead
from desktop.cli import main as liangbing
from sync.client import reconcile, sync_once
from tests.sync.helpers import add_patients, enrolled_clinic, outbox, server_count

CODE = "H42070400101"


def lose_on_server(server_db, patient_id: str) -> list[str]:
    """The server forgets a patient and its filings, as if restored from a backup taken before them."""
    with server_db.session("restore", write=True) as s:
        filings = list(s.scalars(select(Filing.id).where(Filing.patient_id == patient_id)))
        lost = [*filings, patient_id]
        s.execute(delete(Filing).where(Filing.id.in_(filings)))
        s.execute(delete(Patient).where(Patient.id == patient_id))
        s.execute(delete(SyncRecordHead).where(SyncRecordHead.record_id.in_(lost)))
        s.execute(delete(SyncReceipt).where(SyncReceipt.record_id.in_(lost)))
    return lost


def test_records_the_server_lacks_go_back_to_pending_and_are_sent_again(server, tmp_path):
    clinic = enrolled_clinic(server, tmp_path / "c.db", CODE)
    patients = add_patients(clinic, 4)
    assert sync_once(clinic).all_acknowledged
    lost = lose_on_server(server.db, patients[2])
    assert server_count(server.db) == 3
    assert reconcile(clinic) == len(lost)
    with clinic.session() as s:
        again = s.execute(select(OutboxEntry.record_id, OutboxEntry.record_type).where(
            OutboxEntry.status == "pending").order_by(OutboxEntry.seq)).all()
    assert [r.record_id for r in again] == [patients[2], *lost[:-1]]         # the patient before its filing
    result = sync_once(clinic)
    assert result.all_acknowledged and result.tally.accepted == len(lost)
    assert server_count(server.db) == 4 and server_count(server.db, Filing) == 4
    assert reconcile(clinic) == 0                                              # nothing missing any more
    clinic.close()


def test_sync_with_reconcile_on_the_command_line(server, tmp_path, capsys):
    path = tmp_path / "c.db"
    clinic = enrolled_clinic(server, path, CODE)
    patients = add_patients(clinic, 2)
    assert sync_once(clinic).all_acknowledged
    clinic.close()
    lose_on_server(server.db, patients[0])
    assert liangbing(["sync", "--db", str(path), "--reconcile", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert (answer["requeued"], answer["accepted"], answer["pending"]) == (2, 2, 0)
    assert server_count(server.db) == 2
    assert outbox_after(path) == 0


def outbox_after(path) -> int:
    from clinic.db.engine import open_database

    db = open_database(path)
    try:
        return outbox(db, "pending")
    finally:
        db.close()
