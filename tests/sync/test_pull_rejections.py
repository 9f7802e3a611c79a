"""Pull apply is all or nothing per item (issue 12 item 6), against a real township server on 127.0.0.1
and real clinic files: an item the clinic cannot apply changes nothing, is kept with its reason, holds
its stream's cursor before it, shows in `liangbing sync` and the status line, and flows on the pass
after the township corrects it.

The township's data is made malformed where the server builds the item it sends (sync/server/feed.py
`_item`, wrapped while `Corrupt.active`): the server's own checks refuse such data on the way in, so
a bad item is what a server bug, a hand-edited database or another version would send."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, timedelta
from decimal import Decimal

from sqlalchemy import select

from clinic.db.models import Drug, ExternalFundUse, Filing, PolicyDocument, Setting, Settlement
from clinic.db.models.exchange import PullRejection
from clinic.db.types import utcnow
from clinic.resources import resources_dir
from sync import pull_apply
from sync.client import sync_once, sync_status
from sync.protocol import PullPage
from sync.server import feed
from sync.server.cli import import_catalogue, publish_policy
from sync.server.review import approve_filing, publish
from sync.status import pull_problems
from tests.clinic_fixtures import AML
from tests.sync import test_cross_clinic
from tests.sync.helpers import ROOT, add_patients, enrolled_clinic, file_offline, sell
from tests.sync.test_cross_clinic import DAY, EXP1, EXP2
from tests.sync.test_pull import CODE, HEADER

clinics = test_cross_clinic.clinics          # the fixture: one person registered at two clinics


class Corrupt:
    """While active, the server sends items of `kind` (and `item_id`, if given) with `change` applied."""

    def __init__(self, monkeypatch, kind: str, change, item_id: str | None = None):
        self.active, self.kind = True, kind
        original = feed._item

        def item(s, row, institution, today):
            built = original(s, row, institution, today)
            if self.active and built is not None and built.kind == kind and item_id in (None, built.id):
                built = built.model_copy(update={"payload": change(json.loads(json.dumps(built.payload)))})
            return built

        monkeypatch.setattr(feed, "_item", item)

    def fix(self) -> None:
        self.active = False


def cursor(db, stream: str) -> str:
    with db.session() as s:
        return s.scalar(select(Setting.value).where(Setting.key == pull_apply.cursor_key(stream))) or "0"


def rejections(db, stream: str | None = None) -> list[PullRejection]:
    with db.session() as s:
        query = select(PullRejection).order_by(PullRejection.id)
        return s.scalars(query.where(PullRejection.stream == stream) if stream else query).all()


def waiting_at(server, db, stream: str, item_id: str) -> bool:
    """The server's page from the clinic's saved cursor still holds the item: the cursor is not past it."""
    with server.db.session() as s:
        page = feed.pull_page(s, db.institution_code, stream, cursor(db, stream), 1000, date.today())
    return item_id in [item.id for item in page.items]


def assert_stuck_then_flows(server, db, stream: str, item_id: str, corrupt: Corrupt, reason: str) -> None:
    """The shared guarantees, after a pass that met the bad item: kept with its reason, cursor before
    it, counted in the status; the next pass tries again; once fixed it applies and is resolved."""
    [kept] = [r for r in rejections(db, stream) if r.resolved_at is None]
    assert (kept.kind, kept.item_id, kept.attempts) == (corrupt.kind, item_id, 1)
    assert reason in kept.reason and json.loads(kept.payload)["id"] == item_id
    assert waiting_at(server, db, stream, item_id)
    status = sync_status(db)
    assert status.stuck == 1 and "接收受阻 1 项" in status.summary
    again = sync_once(db, streams=(stream,))
    assert again.pull.skipped and rejections(db, stream)[-1].attempts == 2
    corrupt.fix()
    fixed = sync_once(db, streams=(stream,))
    assert not fixed.pull.skipped and fixed.pull.applied.get(stream, 0) >= 1
    assert [r.resolved_at is not None for r in rejections(db, stream)] == [True]
    assert sync_status(db).stuck == 0 and not waiting_at(server, db, stream, item_id)


def test_malformed_usage_item_keeps_previous_fund_use(server, clinics, monkeypatch):
    """The issue's figures: B already knows of 540.00 the patient's fund paid at A; an update whose
    amount is malformed arrives; the 540.00 stays, and the corrected update (540 + 168) applies."""
    (a, pa), (b, pb) = clinics
    assert sell(a, pa, EXP1, DAY, 90).fund_pay == Decimal("540.00")           # 900 × 60 %
    assert sync_once(a).all_acknowledged
    assert sync_once(b).pull.applied.get("usage") == 1

    def fund_use():
        with b.session() as s:
            return [(u.year, u.disease, u.fund_paid) for u in s.scalars(
                select(ExternalFundUse).where(ExternalFundUse.patient_id == pb))]

    assert fund_use() == [(DAY.year, "hypertension", Decimal("540.00"))]
    corrupt = Corrupt(monkeypatch, "usage", lambda p: {**p, "fund": [{**f, "fund_paid": "708,00"} for f in p["fund"]]})
    assert sell(a, pa, EXP2, DAY + timedelta(days=3), 28).fund_pay == Decimal("168.00")
    assert sync_once(a).all_acknowledged
    before = cursor(b, "usage")
    result = sync_once(b, streams=("usage",))
    assert [line.split("：")[0] for line in result.pull.skipped] == [f"usage {pb}"]
    assert fund_use() == [(DAY.year, "hypertension", Decimal("540.00"))]      # not deleted before parsing
    assert cursor(b, "usage") == before
    [kept] = rejections(b, "usage")
    assert "fund_paid" in kept.reason and "708,00" in kept.reason
    assert_stuck_then_flows(server, b, "usage", pb, corrupt, "fund_paid")
    assert fund_use() == [(DAY.year, "hypertension", Decimal("708.00"))]


def test_malformed_filing_item_leaves_the_local_filing_as_it_was(server, tmp_path, monkeypatch):
    clinic = enrolled_clinic(server, tmp_path / "c.db", CODE)
    [patient_id] = add_patients(clinic, 1)
    filing_id = file_offline(clinic, patient_id)
    assert sync_once(clinic).all_acknowledged
    corrupt = Corrupt(monkeypatch, "filing", lambda p: {**p, "state": "approved", "filed_on": "2026-02-30"})
    approve_filing(server.db, filing_id, "reviewer", "同意")
    before = cursor(clinic, "review")
    result = sync_once(clinic, streams=("review",))
    assert result.pull.skipped and cursor(clinic, "review") == before
    with clinic.session() as s:
        assert s.get(Filing, filing_id).state == "submitted"
    assert_stuck_then_flows(server, clinic, "review", filing_id, corrupt, "filed_on")
    with clinic.session() as s:
        assert s.get(Filing, filing_id).state == "approved"
    clinic.close()


def test_malformed_settlement_item_leaves_the_local_settlement_as_it_was(server, tmp_path, monkeypatch):
    clinic = enrolled_clinic(server, tmp_path / "c.db", CODE)
    [patient_id] = add_patients(clinic, 1)
    settled = sell(clinic, patient_id, AML, date.today() - timedelta(days=3), 28)
    assert sync_once(clinic).all_acknowledged
    corrupt = Corrupt(monkeypatch, "settlement", lambda p: {**p, "fund_pay": "1e400", "review_note": "改"})
    with server.db.session("reviewer", write=True) as s:
        publish(s, "settlement", [settled.id], utcnow())
    result = sync_once(clinic, streams=("review",))
    assert result.pull.skipped and "fund_pay" in result.pull.skipped[0]
    with clinic.session() as s:
        kept = s.get(Settlement, settled.id)
        assert (kept.fund_pay, kept.review_note) == (settled.fund_pay, None)
    assert_stuck_then_flows(server, clinic, "review", settled.id, corrupt, "fund_pay")
    clinic.close()


def test_an_item_the_database_refuses_leaves_nothing_of_it_written(server, tmp_path, monkeypatch):
    """Parsed fine, refused on write (a filing naming a patient this clinic does not have): its
    savepoint is rolled back, nothing else of the page is lost, and it is kept like a malformed one."""
    clinic = enrolled_clinic(server, tmp_path / "c.db", CODE)
    [patient_id] = add_patients(clinic, 1)
    filing_id = file_offline(clinic, patient_id)
    assert sync_once(clinic).all_acknowledged
    stranger = "0b7c2f9e-1d2a-4c3b-9e8f-7a6b5c4d3e2f"
    corrupt = Corrupt(monkeypatch, "filing", lambda p: {**p, "state": "approved", "patient_id": stranger})
    approve_filing(server.db, filing_id, "reviewer", "同意")
    assert sync_once(clinic, streams=("review",)).pull.skipped
    with clinic.session() as s:
        assert (s.get(Filing, filing_id).state, s.get(Filing, filing_id).patient_id) == ("submitted", patient_id)
    assert_stuck_then_flows(server, clinic, "review", filing_id, corrupt, "FOREIGN KEY")
    clinic.close()


def test_malformed_drug_item_stops_the_catalogue_before_it(server, tmp_path, monkeypatch):
    clinic = enrolled_clinic(server, tmp_path / "c.db", CODE)
    rows = [f"XT{i:04d},测试降压药{i},5mg,片剂,片,antihypertensive,甲,否,,0.{i + 1}0\n" for i in range(3)]
    path = tmp_path / "catalogue.csv"
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    import_catalogue(server.db, path)
    assert sync_once(clinic, streams=("catalogue",)).pull.applied == {"catalogue": 3}
    path.write_text(HEADER + "".join(r.replace("测试降压药", "新名降压药") for r in rows), encoding="utf-8")
    import_catalogue(server.db, path)
    corrupt = Corrupt(monkeypatch, "drug", lambda p: {**p, "retail_price": "NaN"}, item_id="XT0001")
    before = cursor(clinic, "catalogue")
    result = sync_once(clinic, streams=("catalogue",))
    assert result.pull.applied == {"catalogue": 1} and len(result.pull.skipped) == 1     # XT0000, then stop
    with clinic.session() as s:
        names = {d.code: d.generic_name for d in s.scalars(select(Drug).where(Drug.code.like("XT%")))}
    assert names == {"XT0000": "新名降压药0", "XT0001": "测试降压药1", "XT0002": "测试降压药2"}
    assert cursor(clinic, "catalogue") == before
    assert_stuck_then_flows(server, clinic, "catalogue", "XT0001", corrupt, "retail_price")
    with clinic.session() as s:
        assert s.get(Drug, "XT0002").generic_name == "新名降压药2"
    clinic.close()


def test_malformed_policy_item_is_not_stored_and_waits(server, tmp_path, monkeypatch):
    clinic = enrolled_clinic(server, tmp_path / "c.db", CODE)
    text = (resources_dir() / "policies" / "ezhou-2022-10-01.toml").read_text(encoding="utf-8")
    path = tmp_path / "ezhou-2027-01-01.toml"
    path.write_text(text.replace('id = "ezhou-2022-10-01"', 'id = "ezhou-2027-01-01"').replace(
        "effective_from = 2022-10-01", "effective_from = 2027-01-01"), encoding="utf-8")
    corrupt = Corrupt(monkeypatch, "policy",
                      lambda p: {**p, "text": p["text"].replace("effective_from =", "effective_fromx =", 1)})
    publish_policy(server.db, path)
    assert sync_once(clinic, streams=("policies",)).pull.skipped
    with clinic.session() as s:
        assert s.get(PolicyDocument, "ezhou-2027-01-01") is None
    assert_stuck_then_flows(server, clinic, "policies", "ezhou-2027-01-01", corrupt, "effective_from")
    with clinic.session() as s:
        assert s.get(PolicyDocument, "ezhou-2027-01-01") is not None
    clinic.close()


def test_liangbing_sync_reports_a_stuck_stream_on_stderr_and_exits_2(server, tmp_path, monkeypatch):
    clinic = enrolled_clinic(server, tmp_path / "c.db", CODE)
    assert sync_once(clinic).all_acknowledged
    path = tmp_path / "catalogue.csv"
    path.write_text(HEADER + "XT0009,测试降压药9,5mg,片剂,片,antihypertensive,甲,否,,0.90\n", encoding="utf-8")
    import_catalogue(server.db, path)
    corrupt = Corrupt(monkeypatch, "drug", lambda p: {**p, "vbp": "是"})
    clinic.close()

    def run(*extra: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "desktop.cli", "sync", "--db", str(tmp_path / "c.db"), *extra],
                              cwd=ROOT, capture_output=True, text=True, encoding="utf-8", timeout=120)

    stuck = run()
    assert stuck.returncode == 2 and "Traceback" not in stuck.stderr
    [line] = [x for x in stuck.stderr.splitlines() if x.startswith("接收受阻")]
    assert "药品目录" in line and "XT0009" in line and "vbp" in line
    as_json = run("--json")
    assert as_json.returncode == 2
    answer = json.loads(as_json.stdout)
    assert answer["exit_code"] == 2 and [(r["id"], r["attempts"]) for r in answer["pull_rejections"]] == [("XT0009", 2)]
    corrupt.fix()
    flowed = run()
    assert flowed.returncode == 0 and "接收受阻" not in flowed.stderr, flowed.stderr


def test_a_page_and_its_cursor_still_commit_together(server, tmp_path, monkeypatch):
    """Savepoints per item must not commit the page early (pysqlite's deferred BEGIN): a failure
    while saving the cursor leaves none of the page's items behind."""
    clinic = enrolled_clinic(server, tmp_path / "c.db", CODE)
    path = tmp_path / "catalogue.csv"
    path.write_text(HEADER + "XT0005,测试降压药5,5mg,片剂,片,antihypertensive,甲,否,,0.50\n", encoding="utf-8")
    import_catalogue(server.db, path)
    with server.db.session() as s:
        page = feed.pull_page(s, CODE, "catalogue", "0", 10, date.today())
    assert PullPage.model_validate(page.model_dump(mode="json")).items

    def broken(*args):
        raise RuntimeError("power cut")

    monkeypatch.setattr(pull_apply, "_save_cursor", broken)
    try:
        pull_apply.apply_page(clinic, page, pull_apply.PullTally(), "0")
    except RuntimeError:
        pass
    with clinic.session() as s:
        assert s.get(Drug, "XT0005") is None
    assert pull_problems(clinic) == []
    clinic.close()
