"""The reviewer's and township staff's pages (issue 5): a filing submitted offline is synced, approved
on the review page, pulled back, and the clinic shows it approved; a rejection comes back with its
reason; the township page shows each clinic's last sync, pending and rejected records."""

from __future__ import annotations

import re
from datetime import date

import pytest
import requests

from clinic.db.models import Filing, Patient
from clinic.filings import entitlements
from clinic.profile import policy_in_force
from sync.client import sync_once
from tests.clinic_fixtures import add_patient
from tests.sync.helpers import add_patients, enrolled_clinic, file_offline

CODE = "H42070400101"
DAY = date(2026, 3, 2)


def signed_in(server, role: str = "reviewer") -> tuple[requests.Session, str]:
    username, password = server.add_reviewer()
    if role != "reviewer":
        from sync.server import auth

        with server.db.session(write=True) as s:
            auth.add_account(s, "staff", "乡镇员工", role, "staff-pass-1")
        username, password = "staff", "staff-pass-1"
    web = requests.Session()
    page = web.post(f"{server.url}/login", data={"username": username, "password": password}, timeout=10)
    assert page.status_code == 200 and "退出" in page.text
    return web, re.search(r"name='csrf' value='([^']+)'", page.text).group(1)


@pytest.fixture
def clinic(server, tmp_path):
    db = enrolled_clinic(server, tmp_path / "clinic.db", CODE)
    yield db
    db.close()


def test_a_filing_submitted_offline_is_approved_on_the_review_page_and_shows_approved_after_pull(server, clinic):
    [patient_id] = add_patients(clinic, 1)
    filing_id = file_offline(clinic, patient_id)
    assert sync_once(clinic).all_acknowledged
    web, csrf = signed_in(server)
    queue = web.get(f"{server.url}/review", timeout=10).text
    assert "病人0" in queue and "多饮多尿半年" in queue and filing_id in queue
    answer = web.post(f"{server.url}/review/filings/{filing_id}",
                      data={"action": "approve", "opinion": "符合认定标准", "csrf": csrf}, timeout=10)
    assert "已通过" in answer.text and filing_id not in answer.text          # left the queue
    result = sync_once(clinic)
    assert result.pull.applied == {"review": 1} and result.all_acknowledged
    with clinic.session() as s:
        filing = s.get(Filing, filing_id)
        assert (filing.state, filing.hospital_opinion, filing.version) == ("approved", "符合认定标准", 3)
        entitled = entitlements(s, s.get(Patient, patient_id), policy_in_force(s, DAY), DAY)
        assert {e.disease for e in entitled} == {"hypertension", "diabetes"}


def test_a_rejection_needs_a_reason_and_comes_back_with_it(server, clinic):
    [patient_id] = add_patients(clinic, 1)
    filing_id = file_offline(clinic, patient_id)
    sync_once(clinic)
    web, csrf = signed_in(server)
    refused = web.post(f"{server.url}/review/filings/{filing_id}", data={"action": "reject", "reason": " ",
                                                                       "csrf": csrf}, timeout=10)
    assert "须填写驳回原因" in refused.text
    web.post(f"{server.url}/review/filings/{filing_id}", data={"action": "reject", "csrf": csrf,
                                                              "reason": "缺少近三月血糖记录"}, timeout=10)
    sync_once(clinic)
    with clinic.session() as s:
        filing = s.get(Filing, filing_id)
        assert (filing.state, filing.reject_reason) == ("rejected", "缺少近三月血糖记录")


def test_forms_without_the_session_token_or_the_reviewer_role_change_nothing(server, clinic):
    [patient_id] = add_patients(clinic, 1)
    filing_id = file_offline(clinic, patient_id)
    sync_once(clinic)
    anonymous = requests.post(f"{server.url}/review/filings/{filing_id}", data={"action": "approve"}, timeout=10)
    assert "请以医保经办审核账户登录" in anonymous.text
    web, _ = signed_in(server)
    forged = web.post(f"{server.url}/review/filings/{filing_id}", data={"action": "approve", "csrf": "x"}, timeout=10)
    assert "页面已过期" in forged.text
    staff, csrf = signed_in(server, role="township")
    assert "请以医保经办审核账户登录" in staff.get(f"{server.url}/review", timeout=10).text
    with server.db.session() as s:
        assert s.get(Filing, filing_id).state == "submitted"


def test_the_township_page_shows_each_clinics_last_sync_pending_and_rejections(server, clinic, tmp_path):
    add_patients(clinic, 2)
    with clinic.session("doctor") as s:
        add_patient(s, id_number="420704196001010012", name="错号")       # wrong check digit: rejected
    sync_once(clinic)
    server.add_clinic("H42070400303", "从未同步村卫生室")
    web, _ = signed_in(server, role="township")
    page = web.get(f"{server.url}/township", timeout=10).text
    rows = {m.group(1): m.group(0) for m in re.finditer(r"<tr><td>(H\d+)</td>.*?</tr>", page)}
    assert "从未同步" in rows["H42070400303"]
    cells = re.findall(r"<td>([^<]*)</td>", rows[CODE])
    assert cells[0] == CODE and re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d.*", cells[3])
    # the wrong patient is rejected; its filing waits for it (still to send); the other 8 records arrived
    assert cells[4:8] == ["1", "1", "0", "8"]      # still to send, rejected, open flags, records received
