"""Append-only facts and versioned filings (issue 5): a settlement or dispensing the server holds is never
edited (an edit is answered conflict, and only the server's version can be kept); a correction is a new
record that references the old one. A filing edited on top of an older version is a conflict the user
resolves either way: keep the server's, or send their own as an edit of the server's."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from clinic.db.models import Filing, Settlement
from clinic.dispensing import refund_purchase
from sync.client import outbox_problems, resolve_conflict, sync_once
from sync.server.review import approve_filing
from sync.transport import SyncError
from tests.clinic_fixtures import AML
from tests.sync.helpers import add_patients, enrolled_clinic, file_offline, sell, server_count

CODE = "H42070400101"
DAY = date(2026, 3, 2)


@pytest.fixture
def clinic(server, tmp_path):
    db = enrolled_clinic(server, tmp_path / "c.db", CODE)
    yield db
    db.close()


def test_an_uploaded_settlement_is_never_edited_and_a_refund_is_a_new_record(server, clinic):
    [patient_id] = add_patients(clinic, 1)
    sold = sell(clinic, patient_id, AML, DAY, 28)
    assert sync_once(clinic).all_acknowledged
    with clinic.session("doctor") as s:                    # an edit slipped in (say, an old version's bug)
        s.get(Settlement, sold.id).operator_name = "改过的名字"
    result = sync_once(clinic)
    assert result.tally.conflicts == 1 and result.exit_code == 2
    [problem] = outbox_problems(clinic)
    assert problem.record_id == sold.id and "不可修改" in problem.reason and "更正" in problem.reason
    with pytest.raises(SyncError, match="只能采用服务器版本"):
        resolve_conflict(clinic, sold.id, keep="mine")
    resolve_conflict(clinic, sold.id, keep="server")
    with clinic.session() as s:
        assert s.get(Settlement, sold.id).operator_name == "李药师"
    with clinic.session("doctor") as s:                     # the correction: a reversing settlement
        reversal = refund_purchase(s, s.get(Settlement, sold.id), date(2026, 3, 5), "患者过敏", "李药师")
    assert sync_once(clinic).all_acknowledged
    with server.db.session() as s:
        original, stored = s.get(Settlement, sold.id), s.get(Settlement, reversal.id)
        assert (original.operator_name, original.total) == ("李药师", sold.total)
        assert (stored.reverses_id, stored.total, stored.fund_pay) == (sold.id, -sold.total, -sold.fund_pay)
    assert server_count(server.db, Settlement) == 2 and sold.total > Decimal(0)


def test_a_filing_conflict_kept_mine_is_sent_as_an_edit_of_the_servers_version(server, clinic):
    [patient_id] = add_patients(clinic, 1)
    filing_id = file_offline(clinic, patient_id)
    assert sync_once(clinic).all_acknowledged
    approve_filing(server.db, filing_id, "reviewer", "同意")
    with clinic.session("doctor") as s:                     # edited here before the approval came back
        s.get(Filing, filing_id).icd10 = "E11.900"
    first = sync_once(clinic)
    assert first.tally.conflicts == 1 and first.pull.kept_local == 1
    [problem] = outbox_problems(clinic)
    assert problem.status == "conflict" and "请查看服务器版本" in problem.reason
    resolve_conflict(clinic, filing_id, keep="mine")
    after = sync_once(clinic)
    assert after.all_acknowledged and after.tally.accepted == 1
    with server.db.session() as s:
        stored = s.get(Filing, filing_id)
        assert (stored.icd10, stored.state) == ("E11.900", "submitted")     # back in the reviewer's queue
    with clinic.session() as s:
        assert s.scalar(select(Filing.icd10).where(Filing.id == filing_id)) == "E11.900"
