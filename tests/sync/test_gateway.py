"""What stands between the clinic and the server (issue 5 "Retry"): a gateway answering 5xx while the
app restarts makes the clinic send the same batch again after a jittered backoff or the Retry-After it
gives; a 403 stops the pass at once and asks for re-enrolment; a captive portal's page is never taken
for the server's answer. In every case nothing is lost or marked sent that the server did not take."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from sqlalchemy import update

from clinic.db.models import Setting
from sync.client import sync_once, sync_status
from sync.protocol import API
from sync.transport import RetryPolicy
from tests.sync.gateway import PORTAL, Canned, Gateway
from tests.sync.helpers import add_patients, enrolled_clinic, outbox, server_count

CODE = "H42070400101"


def through(db, url: str) -> None:
    with db.session() as s:
        s.execute(update(Setting).where(Setting.key == "sync.server_url").values(value=url))


@pytest.fixture
def clinic(server, tmp_path):
    db = enrolled_clinic(server, tmp_path / "clinic.db", CODE)
    add_patients(db, 3)
    yield db
    db.close()


def test_5xx_are_retried_with_the_same_batch_after_a_jittered_backoff_or_the_retry_after_given(server, clinic):
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=40), usegmt=True)
    gateway = Gateway(server.url, [
        Canned(502, "Bad Gateway", content_type="text/plain"),
        Canned(503, json.dumps({"error": "维护中"}), {"Retry-After": later}),
        Canned(500, json.dumps({"error": "内部错误"}), {"Retry-After": "7"}),
    ])
    through(clinic, gateway.url)
    waits = []
    try:
        result = sync_once(clinic, sleep=waits.append, retry=RetryPolicy(attempts=5, base_delay=2.0))
    finally:
        gateway.close()
    assert result.all_acknowledged, result.error
    assert 0 <= waits[0] <= 2.0                       # no Retry-After: full jitter under the first backoff
    assert 37 <= waits[1] <= 41                       # an HTTP-date Retry-After
    assert waits[2] == 7.0                            # Retry-After in seconds
    pushes = [json.loads(body) for body in gateway.bodies(f"{API}/sync/push")]
    assert len(pushes) == 4 and len({p["batch_key"] for p in pushes}) == 1       # the same batch each time
    assert pushes[0] == pushes[3] | {"client_time": pushes[0]["client_time"]}
    assert server_count(server.db) == 3


def test_a_403_stops_the_pass_at_once_and_asks_to_enrol_again(server, clinic):
    waiting = outbox(clinic, "pending")
    gateway = Gateway(server.url, always=Canned(403, json.dumps({"error": "本设备的授权已被撤销"})))
    through(clinic, gateway.url)
    waits = []
    try:
        result = sync_once(clinic, sleep=waits.append)
    finally:
        gateway.close()
    assert result.needs_enrolment and result.exit_code == 4
    assert "授权已被撤销" in result.error and "重新接入" in result.error
    assert waits == [] and len(gateway.seen) == 1                     # no retry can help
    assert result.pending == waiting and server_count(server.db) == 0
    through(clinic, server.url)
    assert sync_once(clinic).all_acknowledged                           # the kept batch goes once allowed


def test_a_captive_portal_page_is_not_taken_for_the_servers_answer(server, clinic):
    waiting = outbox(clinic, "pending")
    gateway = Gateway(server.url, always=Canned(200, PORTAL, content_type="text/html"))
    through(clinic, gateway.url)
    try:
        result = sync_once(clinic, sleep=lambda _: None)
    finally:
        gateway.close()
    assert result.exit_code == 3 and "不是乡镇同步服务的应答" in result.error
    assert result.pending == waiting and outbox(clinic, "acknowledged") == 0
    status = sync_status(clinic)
    assert status.server_reachable is False and status.last_error == result.error
    through(clinic, server.url)
    again = sync_once(clinic, force=True)
    assert again.all_acknowledged and again.tally.accepted == waiting
