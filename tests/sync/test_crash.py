"""Crashes on either side (issue 5): a server killed mid-batch has written nothing and the retry
completes; a clinic killed between the server's answer and its own commit sends again, and the
server still has one row per record."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import func, select, update

from clinic.db.models import OutboxEntry, Patient, Setting, SyncReceipt, SyncRecordHead
from sync.client import sync_once
from sync.transport import RetryPolicy
from tests.sync.helpers import ROOT, add_patients, enrolled_clinic, outbox, server_count, server_process

HERE = Path(__file__).resolve().parent
CODE = "H42070400101"


def count(server_db, model) -> int:
    with server_db.session() as s:
        return s.scalar(select(func.count()).select_from(model))


def point_at(db, url: str) -> None:
    with db.session() as s:
        s.execute(update(Setting).where(Setting.key == "sync.server_url").values(value=url))


def test_a_server_killed_mid_batch_writes_nothing_and_the_retry_completes(server, tmp_path):
    clinic = enrolled_clinic(server, tmp_path / "clinic.db", CODE)
    add_patients(clinic, 30)
    waiting = outbox(clinic, "pending")
    dying, url = server_process(server.db_url, HERE / "crashing_server.py", "--crash-after", "25")
    point_at(clinic, url)
    result = sync_once(clinic, retry=RetryPolicy(attempts=1))
    assert dying.wait(timeout=30) == 17
    assert "无法连接" in result.error and result.exit_code == 3
    assert count(server.db, Patient) == 0 and count(server.db, SyncReceipt) == 0
    assert count(server.db, SyncRecordHead) == 0
    assert outbox(clinic, "sending") == min(waiting, 100)      # the batch keeps its key for the retry
    point_at(clinic, server.url)
    again = sync_once(clinic, force=True)
    assert again.all_acknowledged, again.error
    assert again.tally.accepted == waiting and server_count(server.db) == 30
    clinic.close()


def test_a_clinic_killed_between_the_answer_and_its_commit_resends_and_the_server_keeps_one_row(server, tmp_path):
    clinic = enrolled_clinic(server, tmp_path / "clinic.db", CODE)
    add_patients(clinic, 5)
    waiting = outbox(clinic, "pending")
    killed = subprocess.run([sys.executable, str(HERE / "crashing_client.py"), str(tmp_path / "clinic.db")],
                            cwd=ROOT, capture_output=True, timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert killed.returncode == 17, killed.stderr.decode(errors="replace")
    assert server_count(server.db) == 5                       # the server had committed before answering
    with clinic.session() as s:
        assert set(s.scalars(select(OutboxEntry.status))) == {"sending"}
    result = sync_once(clinic)
    assert result.all_acknowledged and result.tally.duplicates == waiting
    assert server_count(server.db) == 5 and count(server.db, SyncRecordHead) == waiting
    clinic.close()
