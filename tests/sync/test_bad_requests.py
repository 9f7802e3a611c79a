"""Every bad request to the sync API is a 4xx with a reason (issue 13, item 3), on a real server on
127.0.0.1: bodies nested past any protocol message, cursors and numbers beyond what a database holds,
text no column can take, record ids that are not the UUIDs every clinic makes; and what nobody
foresaw answers JSON, never a traceback."""

from __future__ import annotations

import gzip
import json
import uuid

import pytest
import requests

from clinic.db.models import Patient, SyncRejection
from clinic.db.records import payload_hash
from sync.protocol import API
from tests.sync.helpers import add_patients, enrolled_clinic, server_count

CODE = "H42070400101"


@pytest.fixture
def clinic(server, tmp_path):
    db = enrolled_clinic(server, tmp_path / "clinic.db", CODE)
    yield db
    db.close()


@pytest.fixture
def auth(clinic) -> dict:
    from sync.token_store import load_token

    return {"Authorization": f"Bearer {load_token(clinic)}"}


def post(server, path: str, body: bytes | str | dict, auth: dict, *, gzipped: bool = True) -> requests.Response:
    data = body if isinstance(body, bytes) else (body if isinstance(body, str) else json.dumps(body)).encode()
    headers = {**auth, "Content-Type": "application/json"}
    if gzipped:
        data, headers["Content-Encoding"] = gzip.compress(data), "gzip"
    return requests.post(f"{server.url}{API}{path}", data=data, headers=headers, timeout=60)


def refused(response: requests.Response, status: int, *words: str) -> str:
    assert response.status_code == status, (response.status_code, response.text[:300])
    error = response.json()["error"]
    assert all(word in error for word in words), error
    assert "Traceback" not in response.text
    return error


def a_patient(clinic) -> dict:
    """A pending patient record of the clinic's, as the clinic would push it."""
    from tests.sync.test_push import pending_records

    add_patients(clinic, 1)
    return pending_records(clinic)[0]


def variant(record: dict, **changes) -> dict:
    """The record with changed content and a matching hash (what a hostile sender can always compute)."""
    payload = {**record["payload"], **changes}
    return {**record, "id": payload["id"], "payload": payload, "hash": payload_hash(payload)}


def results(response: requests.Response) -> dict[str, tuple[str, str]]:
    assert response.status_code == 200, response.text[:300]
    return {r["id"]: (r["status"], r.get("reason") or "") for r in response.json()["results"]}


def test_deeply_nested_push_body_is_refused_with_400(server, clinic, auth):
    refused(post(server, "/sync/push", "[" * 100_000, auth), 400, "嵌套过深")
    refused(post(server, "/sync/push", "[" * 100_000 + "]" * 100_000, auth, gzipped=False), 400, "嵌套过深")
    # shallow enough for the parser, far deeper than any protocol message: refused before anything walks it
    record = {"id": str(uuid.uuid4()), "type": "patient", "seq": 1, "hash": "0" * 64,
              "payload": json.loads('{"a":' * 200 + "1" + "}" * 200)}
    refused(post(server, "/sync/push", {"batch_key": uuid.uuid4().hex, "records": [record]}, auth), 400, "嵌套过深")
    refused(post(server, "/sync/reconcile", '{"ids":' + "[" * 5000 + "]" * 5000 + "}", auth), 400, "嵌套过深")
    refused(post(server, "/enrol", "{" * 50_000, {}), 400)
    # a real batch still goes through
    assert results(post(server, "/sync/push", {"batch_key": uuid.uuid4().hex, "records": [a_patient(clinic)]},
                        auth)) != {}
    assert server_count(server.db) == 1


def test_pull_cursor_out_of_range_is_refused_with_400(server, clinic, auth):
    def pull(**params):
        return requests.get(f"{server.url}{API}/sync/pull", params={"stream": "review", **params}, headers=auth,
                            timeout=30)

    refused(pull(cursor="99999999999999999999999"), 400, "游标无效")
    refused(pull(cursor=str(2**31)), 400, "游标无效")
    refused(pull(cursor="-1"), 400, "游标无效")
    refused(pull(cursor="１２"), 400, "游标无效")           # full-width digits int() would take
    refused(pull(cursor="9" * 5000), 400, "游标无效")
    assert pull(cursor=str(2**31 - 1)).json()["items"] == []
    refused(pull(limit="99999999999999999999999"), 422, "limit")
    refused(pull(limit="0"), 422, "limit")
    refused(pull(limit="abc"), 422, "limit")
    page = pull(cursor="0", limit="1000")
    assert page.status_code == 200 and page.json()["stream"] == "review"
    refused(requests.get(f"{server.url}{API}/sync/pull", headers=auth, timeout=30), 422, "stream")


def test_record_id_must_be_a_uuid(server, clinic, auth):
    good = a_patient(clinic)
    hostile = "'><script>alert(1)</script>"       # fits the 36-character id column
    script = variant(good, id=hostile)
    upper = variant(good, id=str(uuid.uuid4()).upper())
    bare = variant(good, id=uuid.uuid4().hex)
    plain = variant(good, id="patient-1")
    answer = results(post(server, "/sync/push", {"batch_key": uuid.uuid4().hex,
                                                 "records": [good, script, upper, bare, plain]}, auth))
    assert answer.pop(good["id"]) == ("accepted", "")
    assert len(answer) == 4
    for status, reason in answer.values():
        assert status == "rejected" and "不是有效的记录编号" in reason and "UUID" in reason, reason
    assert server_count(server.db) == 1
    with server.db.session() as s:
        assert {r.record_id for r in s.query(SyncRejection)} == {hostile, upper["id"], bare["id"], "patient-1"}
        assert [p.id for p in s.query(Patient)] == [good["id"]]


def test_ids_naming_other_records_must_be_uuids(server, clinic, auth):
    from tests.sync.helpers import file_offline
    from tests.sync.test_push import pending_records

    [patient_id] = add_patients(clinic, 1)
    file_offline(clinic, patient_id)
    records = pending_records(clinic)
    [patient] = [r for r in records if r["type"] == "patient"]
    filing = [r for r in records if r["type"] == "filing"][-1]
    bad_patient = variant(filing, id=str(uuid.uuid4()), patient_id="<img src=x onerror=alert(1)>")
    bad_supersedes = variant(filing, id=str(uuid.uuid4()), supersedes_id="../../etc/passwd")
    answer = results(post(server, "/sync/push", {"batch_key": uuid.uuid4().hex,
                                                 "records": records + [bad_patient, bad_supersedes]}, auth))
    assert {answer[r["id"]][0] for r in records} == {"accepted"}
    status, reason = answer[bad_patient["id"]]
    assert status == "rejected" and "patient_id 不是有效的记录编号" in reason, reason
    assert answer[bad_supersedes["id"]][0] == "rejected" and "supersedes_id" in answer[bad_supersedes["id"]][1]


def test_ids_from_clinics_and_the_demo_are_uuids():
    import random

    from clinic.db.types import new_uuid
    from clinic.demo.records import seeded_uuid
    from sync.server.record_ids import is_uuid

    rng = random.Random(7)
    assert all(is_uuid(new_uuid()) and is_uuid(seeded_uuid(rng)) for _ in range(1000))
    assert not any(is_uuid(v) for v in ("", "x" * 36, str(uuid.uuid4()).upper(), uuid.uuid4().hex,
                                        f"urn:uuid:{uuid.uuid4()}", None, 12))


def test_text_no_column_can_hold_is_refused_with_400(server, clinic, auth):
    good = a_patient(clinic)
    for text in ('"\\u0000"', '"\\ud800"', '"a\\udfffb"'):
        def with_text(message: dict, text: str = text) -> str:   # the JSON of `message`, the text where "@@" is
            return json.dumps(message).replace('"@@"', text)

        in_payload = variant(good, name="@@")
        refused(post(server, "/sync/push", with_text({"batch_key": uuid.uuid4().hex, "records": [in_payload]}),
                     auth), 400, "空字符")
        as_key = {**good, "payload": {**good["payload"], "@@": 1}}
        refused(post(server, "/sync/push", with_text({"batch_key": uuid.uuid4().hex, "records": [as_key]}),
                     auth), 400, "空字符")
        refused(post(server, "/sync/reconcile", with_text({"ids": ["@@"]}), auth), 400, "空字符")
        refused(post(server, "/enrol", with_text({"code": "@@", "institution_code": CODE}), {}), 400, "空字符")
    # encoded surrogates without an escape, text that is not UTF-8 at all, and NaN
    refused(post(server, "/sync/reconcile", b'{"ids": ["\xed\xa0\x80"]}', auth), 400, "JSON")
    refused(post(server, "/sync/reconcile", b'{"ids": ["\xff"]}', auth), 400, "JSON")
    refused(post(server, "/sync/reconcile", '{"ids": [NaN]}', auth), 400, "JSON")
    assert server_count(server.db) == 0


def test_numbers_beyond_what_is_stored_are_refused_with_a_4xx(server, clinic, auth):
    refused(post(server, "/sync/push", '{"batch_key": "abcdefgh", "pending": ' + "9" * 5000 + ', "records": []}',
                 auth), 400, "JSON")
    refused(post(server, "/sync/push", {"batch_key": uuid.uuid4().hex, "pending": 10**30, "records": []}, auth),
            422, "pending")
    refused(post(server, "/sync/push", {"batch_key": uuid.uuid4().hex, "client_time": "0001-01-01T00:00:00+14:00",
                                        "records": []}, auth), 422, "client_time")
    refused(post(server, "/sync/push", {"batch_key": uuid.uuid4().hex, "records": [
        {"id": str(uuid.uuid4()), "type": "patient", "seq": 10**30, "hash": "0", "payload": {}}]}, auth), 422, "seq")
    good = a_patient(clinic)
    far_future = variant(good, id=str(uuid.uuid4()), birth_date="9999-12-31")
    ancient = variant(good, id=str(uuid.uuid4()), created_at="0001-01-01T00:00:00")
    answer = results(post(server, "/sync/push", {"batch_key": uuid.uuid4().hex,
                                                 "records": [far_future, ancient]}, auth))
    assert [status for status, _ in answer.values()] == ["rejected", "rejected"]
    assert all("超出范围" in reason for _, reason in answer.values()), answer


def test_money_and_quantities_beyond_any_clinic_are_rejected_not_500(server, clinic, auth):
    from datetime import date

    from sqlalchemy import select

    from clinic.db.models import OutboxEntry
    from tests.clinic_fixtures import AML
    from tests.sync.helpers import sell

    [patient_id] = add_patients(clinic, 1)
    sell(clinic, patient_id, AML, date(2026, 3, 2), 28)
    with clinic.session() as s:
        rows = s.scalars(select(OutboxEntry).where(OutboxEntry.record_type.in_(("dispense", "settlement"))))
        records = {r.record_type: {"id": r.record_id, "type": r.record_type, "seq": r.seq, "hash": r.payload_hash,
                                   "base_hash": None, "payload": json.loads(r.payload)} for r in rows}
    dispense, settlement = records["dispense"], records["settlement"]
    line = dispense["payload"]["lines"][0]
    forever = variant(dispense, id=str(uuid.uuid4()), lines=[{**line, "id": str(uuid.uuid4()),
                                                              "quantity": "1000000", "daily_dose": "0.000001"}])
    huge_money = variant(settlement, id=str(uuid.uuid4()), total="1" + "0" * 30 + ".00")
    long_decimal = variant(dispense, id=str(uuid.uuid4()), lines=[{**line, "id": str(uuid.uuid4()),
                                                                   "quantity": "1." + "1" * 45}])
    big_position = variant(dispense, id=str(uuid.uuid4()), lines=[{**line, "id": str(uuid.uuid4()),
                                                                   "position": 10**30}])
    answer = results(post(server, "/sync/push", {"batch_key": uuid.uuid4().hex,
                                                 "records": [forever, huge_money, long_decimal, big_position]}, auth))
    assert answer[forever["id"]][0] == "rejected" and "3660" in answer[forever["id"]][1]
    for record in (huge_money, long_decimal, big_position):
        assert answer[record["id"]][0] == "rejected" and "超出范围" in answer[record["id"]][1], answer[record["id"]]


def test_unknown_api_address_and_method_answer_json(server, auth):
    refused(requests.get(f"{server.url}{API}/no-such-thing", headers=auth, timeout=30), 404, "没有这个接口")
    refused(requests.get(f"{server.url}{API}/sync/push", headers=auth, timeout=30), 405, "不支持 GET")
    refused(requests.get(f"{server.url}{API}/reports/monthly", headers=auth, timeout=30), 422, "month")


def test_an_unexpected_error_answers_500_json_without_a_traceback(server, clinic, auth, monkeypatch):
    from sync.server import feed

    def broken(*args, **kwargs):
        raise RuntimeError("secret internals /srv/township.db")

    monkeypatch.setattr(feed, "pull_page", broken)
    answer = requests.get(f"{server.url}{API}/sync/pull", params={"stream": "review"}, headers=auth, timeout=30)
    assert answer.status_code == 500
    assert "服务器内部错误" in answer.json()["error"]
    assert "secret" not in answer.text and "Traceback" not in answer.text and "RuntimeError" not in answer.text


def test_report_month_out_of_range_is_refused_with_400(server, clinic, auth):
    for month in ("9999-12", "0001-01", "1899-12"):
        answer = requests.get(f"{server.url}{API}/reports/monthly", params={"month": month}, headers=auth, timeout=60)
        refused(answer, 400, "月份")
