"""The small API the GUI calls from a worker thread (sync/client.py, sync/status.py): one pass returning a
summary, and the status read from the clinic file alone: last success, pending, rejected with reasons,
last error, whether the server answered, clock skew. It never raises for a network problem."""

from __future__ import annotations

import threading
from datetime import timedelta

from clinic.db.models import SyncDevice
from sync.client import check_server, sync_once, sync_status
from sync.pass_lock import PassLock
from sync.server import auth
from sync.transport import utc_now
from tests.clinic_fixtures import add_patient
from tests.sync.helpers import add_patients, enrolled_clinic, free_socket, make_clinic, outbox
from tests.sync.test_gateway import through

CODE = "H42070400101"


def test_status_before_enrolment_says_what_to_do(tmp_path):
    clinic = make_clinic(tmp_path / "c.db", CODE)
    add_patients(clinic, 1)
    status = sync_status(clinic)
    assert not status.enrolled and status.server_reachable is None and status.last_success_at is None
    assert status.pending == 6 and status.summary == "未接入乡镇服务器 · 待上传 6 条"   # a patient, a filing,
    # two stock lots and their receipts: kept in the outbox until the clinic enrols
    assert check_server(clinic) is False
    result = sync_once(clinic)
    assert result.needs_enrolment and "liangbing enrol" in result.error and result.server_reachable is None
    clinic.close()


def test_status_after_a_pass_in_a_worker_thread(server, tmp_path):
    clinic = enrolled_clinic(server, tmp_path / "c.db", CODE)
    add_patients(clinic, 2)
    with clinic.session("doctor") as s:
        add_patient(s, id_number="420704196001010012", name="错号")       # wrong check digit: rejected
    before = utc_now()
    results = []
    worker = threading.Thread(target=lambda: results.append(sync_once(clinic)))
    worker.start()
    worker.join(timeout=60)
    [result] = results
    assert result.exit_code == 2 and result.server_reachable is True and "拒收 1" in result.summary
    assert result.to_dict()["rejected_total"] == 1 and result.to_dict()["pending"] == 1    # its filing waits
    status = sync_status(clinic)
    assert status.enrolled and status.server_reachable is True and status.last_error is None
    assert status.last_success_at >= before and status.last_contact_at >= before
    assert (status.pending, status.rejected, status.conflicts) == (1, 1, 0)
    [problem] = status.problems
    assert problem.status == "rejected" and "身份证号" in problem.reason
    assert abs(status.clock_skew_seconds) < 5 and status.clock_warning is None
    assert "在线" in status.summary and "被拒收 1 条" in status.summary
    clinic.close()


def test_an_unreachable_server_is_shown_and_the_last_success_kept(server, tmp_path):
    clinic = enrolled_clinic(server, tmp_path / "c.db", CODE)
    assert check_server(clinic) is True
    assert sync_once(clinic).all_acknowledged
    success = sync_status(clinic).last_success_at
    closed = free_socket()
    through(clinic, f"http://127.0.0.1:{closed.getsockname()[1]}")
    assert check_server(clinic, timeout=1) is False
    assert sync_status(clinic).server_reachable is False
    result = sync_once(clinic, sleep=lambda _: None)
    closed.close()
    status = sync_status(clinic)
    assert result.server_reachable is False and status.last_error == result.error and "无法连接" in result.error
    assert status.last_success_at == success and "无法连接" in status.summary
    clinic.close()


def test_a_skewed_clock_is_measured_by_the_probe_and_shown(server, tmp_path):
    clinic = enrolled_clinic(server, tmp_path / "c.db", CODE)
    result = sync_once(clinic, clock=lambda: utc_now() - timedelta(minutes=20))
    assert result.all_acknowledged
    assert 19 * 60 < sync_status(clinic).clock_skew_seconds < 21 * 60
    assert "慢约 20 分钟" in sync_status(clinic).clock_warning
    assert check_server(clinic) is True                  # the probe measures again with the right clock
    assert sync_status(clinic).clock_warning is None
    clinic.close()


def test_a_second_pass_while_one_runs_is_told_so_and_changes_nothing(server, tmp_path):
    clinic = enrolled_clinic(server, tmp_path / "c.db", CODE)
    add_patients(clinic, 1)
    waiting = outbox(clinic, "pending")
    with PassLock(clinic.path):
        result = sync_once(clinic)
    assert "另一个同步正在进行" in result.error and result.tally.accepted == 0 and result.pending == waiting
    assert sync_status(clinic).last_error is None             # the running pass reports its own outcome
    assert sync_once(clinic).all_acknowledged
    clinic.close()


def test_device_tokens_are_stored_only_as_hashes(server, tmp_path):
    clinic = enrolled_clinic(server, tmp_path / "c.db", CODE)
    from sync.status import load_settings

    token = load_settings(clinic)["token"]
    with server.db.session() as s:
        [device] = s.query(SyncDevice).filter(SyncDevice.institution_code == CODE).all()
        assert device.token_hash == auth.digest(token) and token not in repr(device.__dict__)
        assert device.enrol_code_hash is None                      # the one-time code is used up
    clinic.close()
