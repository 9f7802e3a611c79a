"""Pull (issue 5): server cursors that neither skip nor repeat, pages applied with their cursor in one
commit, the catalogue and policies reaching the clinic, and a pull that never overwrites a local row
still waiting to be sent."""

from __future__ import annotations

import threading
import time
from datetime import date
from decimal import Decimal

from sqlalchemy import select

from clinic.db.models import Drug, Filing, Setting
from clinic.profile import policy_in_force
from clinic.resources import resources_dir
from sync import pull_apply
from sync.client import resolve_conflict, sync_once
from sync.server.cli import import_catalogue, publish_policy
from sync.server.feed import append, pull_page
from sync.server.review import approve_filing
from sync.transport import RetryPolicy
from tests.clinic_fixtures import AML
from tests.sync.helpers import add_patients, enrolled_clinic, file_offline, session_losing

CODE = "H42070400101"
HEADER = "code,generic_name,spec,form,unit,drug_class,category,vbp,vbp_price,retail_price\n"


def catalogue_file(tmp_path, n: int):
    rows = [f"XT{i:04d},测试降压药{i},5mg,片剂,片,antihypertensive,甲,否,,0.{i % 9 + 1}0\n" for i in range(n)]
    rows.append(f"{AML},苯磺酸氨氯地平片,5mg,片剂,片,antihypertensive,甲,是,0.05,9.99\n")
    path = tmp_path / "catalogue.csv"
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    return path


def test_a_pull_cut_off_after_page_n_resumes_at_page_n_plus_1_without_gap_or_repeat(server, tmp_path):
    clinic = enrolled_clinic(server, tmp_path / "c.db", CODE)
    import_catalogue(server.db, catalogue_file(tmp_path, 24))          # 25 entries: pages of 10, 10, 5
    cursors, applied = [], []
    original = pull_apply.apply_item

    def watch(s, item, tally):
        applied.append(item.id)
        return original(s, item, tally)

    pull_apply.apply_item = watch
    try:
        def third_page(request) -> bool:
            if "stream=catalogue" in request.url:
                cursors.append(request.url)
                return len(cursors) == 3
            return False

        session, _ = session_losing(third_page)
        cut = sync_once(clinic, session=session, retry=RetryPolicy(attempts=1), streams=("catalogue",),
                        page_size=10)
        assert cut.error and len(applied) == 20          # pages 1 and 2 applied; page 3's answer lost
        with clinic.session() as s:
            saved = s.get(Setting, "sync.cursor.catalogue").value
        assert f"cursor={saved}" in cursors[2]
        resumed = sync_once(clinic, streams=("catalogue",), page_size=10)
        assert resumed.all_acknowledged and resumed.pull.applied == {"catalogue": 5}
    finally:
        pull_apply.apply_item = original
    assert len(applied) == len(set(applied)) == 25
    with clinic.session() as s:
        assert s.get(Drug, "XT0023") is not None
        aml = s.get(Drug, AML)
        assert (aml.vbp, aml.vbp_price, aml.retail_price) == (True, Decimal("0.05"), Decimal("0.50"))  # own price kept
    clinic.close()


def test_feed_positions_become_visible_in_commit_order(server):
    """A later writer cannot commit a feed position while an earlier one is open, so a reader can
    never move its cursor past a position that commits afterwards."""
    first = server.db.session("first", write=True)
    s1 = first.__enter__()
    append(s1, [("catalogue", "drug", "EARLY", None)])
    second_done = threading.Event()

    def second_writer():
        with server.db.session("second", write=True) as s2:
            append(s2, [("catalogue", "drug", "LATE", None)])
        second_done.set()

    thread = threading.Thread(target=second_writer)
    thread.start()
    time.sleep(0.3)
    with server.db.session() as reader:
        seen = [row.position for row in _feed(reader)]
    assert not second_done.is_set() and seen == []
    first.__exit__(None, None, None)
    thread.join(timeout=10)
    with server.db.session() as reader:
        assert [row.entity_id for row in _feed(reader)] == ["EARLY", "LATE"]
        assert pull_page(reader, CODE, "catalogue", "0", 10, date.today()).cursor != "0"


def _feed(s):
    from clinic.db.models import SyncFeed

    return s.scalars(select(SyncFeed).order_by(SyncFeed.position)).all()


def test_a_published_policy_reaches_the_clinic(server, tmp_path):
    clinic = enrolled_clinic(server, tmp_path / "c.db", CODE)
    text = (resources_dir() / "policies" / "ezhou-2022-10-01.toml").read_text(encoding="utf-8")
    path = tmp_path / "ezhou-2027-01-01.toml"
    path.write_text(text.replace('id = "ezhou-2022-10-01"', 'id = "ezhou-2027-01-01"').replace(
        "effective_from = 2022-10-01", "effective_from = 2027-01-01").replace(
        "refill_window_days = 15", "refill_window_days = 10"), encoding="utf-8")
    publish_policy(server.db, path)
    assert sync_once(clinic).pull.applied["policies"] == 1
    with clinic.session() as s:
        assert policy_in_force(s, date(2027, 1, 1)).refill_window_days == 10
        assert policy_in_force(s, date(2026, 12, 31)).refill_window_days == 15
    clinic.close()


def test_a_review_result_never_overwrites_a_local_change_still_to_be_sent(server, tmp_path):
    clinic = enrolled_clinic(server, tmp_path / "c.db", CODE)
    [patient_id] = add_patients(clinic, 1)
    filing_id = file_offline(clinic, patient_id)
    assert sync_once(clinic).all_acknowledged
    approve_filing(server.db, filing_id, "reviewer", "同意")
    with clinic.session("doctor") as s:              # a local change made before the pull (not via the rules)
        s.get(Filing, filing_id).icd10 = "E11.900"
    result = sync_once(clinic)
    assert result.pull.kept_local == 1 and result.conflicts == 1
    with clinic.session() as s:
        assert (s.get(Filing, filing_id).state, s.get(Filing, filing_id).icd10) == ("submitted", "E11.900")
    resolve_conflict(clinic, filing_id, keep="server")
    with clinic.session() as s:
        assert (s.get(Filing, filing_id).state, s.get(Filing, filing_id).icd10) == ("approved", "E11.9")
    after = sync_once(clinic)
    assert after.all_acknowledged and after.tally.accepted == 0
    clinic.close()
