"""When the server cannot be reached or refuses (issue 5 "Retry"): the same batch again with backoff and
jitter, honouring Retry-After; a backoff that survives a restart; 401/403 stop and ask to enrol."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import requests
from requests.adapters import HTTPAdapter
from sqlalchemy import select, update

from clinic.db.engine import open_database
from clinic.db.models import OutboxEntry, Setting
from sync.client import sync_once, sync_status
from sync.protocol import API
from sync.server import auth
from sync.server.app import ServerSettings
from sync.status import load_settings
from sync.transport import RetryPolicy, utc_now
from tests.sync.helpers import LiveServer, add_patients, enrolled_clinic, free_socket, outbox, server_count

CODE = "H42070400101"


class DropFirst(HTTPAdapter):
    """The first `n` requests never reach the server (a dropped line)."""

    def __init__(self, n: int):
        super().__init__()
        self.left = n

    def send(self, request, **kwargs):
        if self.left > 0:
            self.left -= 1
            raise requests.ConnectionError("network unreachable (test)")
        return super().send(request, **kwargs)


def test_network_errors_are_retried_with_growing_jittered_waits(server, tmp_path):
    clinic = enrolled_clinic(server, tmp_path / "c.db", CODE)
    add_patients(clinic, 2)
    session = requests.Session()
    session.mount("http://", DropFirst(3))
    waits = []
    result = sync_once(clinic, session=session, sleep=waits.append,
                       retry=RetryPolicy(attempts=4, base_delay=1.0, max_delay=30.0))
    assert result.all_acknowledged, result.error
    assert len(waits) == 3 and all(0 <= w <= 2 ** i for i, w in enumerate(waits))   # full jitter under the cap
    assert len(set(waits)) == 3
    clinic.close()


def test_429_is_retried_after_the_servers_retry_after(tmp_path, server_db_url):
    live = LiveServer.start(server_db_url, ServerSettings(requests_per_minute=30, burst=1))   # one per 2 s
    try:
        clinic = enrolled_clinic(live, tmp_path / "c.db", CODE)
        add_patients(clinic, 1)
        pull = f"{live.url}{API}/sync/pull?stream=review"
        headers = {"Authorization": f"Bearer {load_settings(clinic)['token']}"}
        while (busy := requests.get(pull, headers=headers, timeout=10)).status_code != 429:
            pass                                             # the device's allowance is used up now
        assert "请求过于频繁" in busy.json()["error"] and busy.headers["Retry-After"] in ("1", "2")
        waits = []

        def sleep(seconds: float) -> None:
            waits.append(seconds)
            time.sleep(seconds)

        result = sync_once(clinic, sleep=sleep, retry=RetryPolicy(attempts=5, base_delay=50.0),
                           streams=("review",))
        assert result.all_acknowledged, result.error
        assert waits and all(w in (1.0, 2.0) for w in waits)    # Retry-After, not a jittered 50 s backoff
        assert server_count(live.db) == 1
        clinic.close()
    finally:
        live.stop()


def test_an_unreachable_server_keeps_the_records_and_the_backoff_survives_a_restart(server, tmp_path):
    path = tmp_path / "c.db"
    clinic = enrolled_clinic(server, path, CODE)
    add_patients(clinic, 3)
    waiting = outbox(clinic, "pending")
    closed = free_socket()                       # bound, never listening: connection refused
    with clinic.session() as s:
        s.execute(update(Setting).where(Setting.key == "sync.server_url")
                  .values(value=f"http://127.0.0.1:{closed.getsockname()[1]}"))
    result = sync_once(clinic, sleep=lambda _: None)
    closed.close()
    assert result.exit_code == 3 and "无法连接乡镇服务器" in result.error and result.pending == waiting
    assert sync_status(clinic).last_error == result.error
    clinic.close()

    clinic = open_database(path)                  # a restart
    with clinic.session() as s:
        s.execute(update(Setting).where(Setting.key == "sync.server_url").values(value=server.url))
        assert all(r.next_attempt_at > utc_now() for r in s.scalars(select(OutboxEntry).where(
            OutboxEntry.status == "sending")))
    waiting_out = sync_once(clinic)
    assert waiting_out.batches == 0 and server_count(server.db) == 0      # still inside the backoff
    later = sync_once(clinic, clock=lambda: utc_now() + timedelta(minutes=2))
    assert later.all_acknowledged and server_count(server.db) == 3
    clinic.close()


def test_a_revoked_device_stops_at_once_and_asks_to_enrol_again(server, tmp_path):
    clinic = enrolled_clinic(server, tmp_path / "c.db", CODE)
    add_patients(clinic, 2)
    with server.db.session(write=True) as s:
        assert auth.revoke_clinic(s, CODE) == 1
    waits = []
    result = sync_once(clinic, sleep=waits.append)
    assert result.needs_enrolment and result.exit_code == 4 and "重新接入" in result.error
    assert waits == [] and server_count(server.db) == 0
    clinic.close()


@pytest.mark.parametrize("code_for", ["other clinic", "used twice"])
def test_an_enrolment_code_works_once_and_only_for_its_clinic(server, tmp_path, code_for):
    from sync.client import enrol
    from sync.transport import NeedsEnrolment
    from tests.sync.helpers import make_clinic

    clinic = make_clinic(tmp_path / "c.db", CODE)
    if code_for == "other clinic":
        code = server.add_clinic("H42070400999")
        with pytest.raises(NeedsEnrolment, match="H42070400999"):
            enrol(clinic, server.url, code)
        assert enrol(clinic, server.url, server.add_clinic(CODE, "临江村卫生室")) == "临江村卫生室"
    else:
        code = server.add_clinic(CODE)
        enrol(clinic, server.url, code)
        with pytest.raises(NeedsEnrolment, match="已使用"):
            enrol(clinic, server.url, code)
    clinic.close()
