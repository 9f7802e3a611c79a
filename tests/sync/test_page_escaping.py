"""Every value a server page shows is escaped (issue 13 item 1): hostile text in every field a village
can send (patient, filing, drug), that staff register (institution and township names), that the server
writes (a flag's detail) and in the ?msg= / ?err= lines reaches /review and the township pages only as
text — never a tag, an attribute or a script. A hostile *record id* is put straight into the server
database (the push refuses ids that are not UUIDs), so the templates are proven to escape ids too."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from html.parser import HTMLParser

import requests
from markupsafe import escape
from sqlalchemy import select

from clinic import stock
from clinic.db.models import ClaimFlag, Drug, Filing, Patient
from clinic.idcard import check_digit
from sync.client import enrol, sync_once
from sync.server import auth
from tests.clinic_fixtures import add_patient
from tests.sync.helpers import file_offline, make_clinic

CODE = "H42070400909"
ATTACKS = ("'\"><script>alert(1)</script>", "<img src=x onerror=alert(1)>", "\"><svg onload=alert(1)>",
           "' onmouseover='alert(1)' x='", "</textarea></title><script>alert(2)</script>")


def hostile(field: str, n: int) -> str:
    """A payload tagged with the field it is put in, so a failure names the field."""
    return f"{ATTACKS[n % len(ATTACKS)]}{field}"


FIELDS = {name: hostile(name, n) for n, name in enumerate((
    "inst", "town", "pname", "addr", "hist", "plan", "drug", "spec", "flag", "msg", "err"))}
FILING_ID = "'\"><script>alert(3)</script>"            # 27 characters: fits the 36-character id column
FLAG_ID = "<img src=x onerror=alert(4)>"


class Tags(HTMLParser):
    """Every start tag and its attributes, as a browser would parse them."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def parsed(html: str) -> list[tuple[str, dict]]:
    parser = Tags()
    parser.feed(html)
    return parser.tags


def assert_inert(html: str, where: str) -> None:
    """No hostile value unescaped, no script or img element, no event-handler attribute at all."""
    for field, value in FIELDS.items():
        assert value not in html, f"{where}: {field} unescaped"
    for value in (FILING_ID, FLAG_ID):
        assert value not in html, f"{where}: an id unescaped"
    tags = parsed(html)
    assert not [t for t, _ in tags if t in ("script", "img", "iframe", "object", "embed")], where
    handlers = [(t, a) for t, attrs in tags for a in attrs if a.startswith("on")]
    assert not handlers, f"{where}: event handler attributes {handlers}"


def shown(html: str, *fields: str) -> None:
    """The values are on the page, escaped: the test exercises the display path, not a missing row."""
    for field in fields:
        assert str(escape(FIELDS[field])) in html, f"{field} is not shown"


def clinic_with_hostile_records(server, tmp_path):
    with server.db.session("test", write=True) as s:
        once = auth.add_clinic(s, CODE, FIELDS["inst"], "1", FIELDS["town"])
    db = make_clinic(tmp_path / "clinic.db", CODE)
    enrol(db, server.url, once)
    first17 = "42070419600101055"
    with db.session("doctor") as s:
        patient = add_patient(s, id_number=first17 + check_digit(first17), name=FIELDS["pname"], diseases=())
        patient.address = FIELDS["addr"]
        s.add(Drug(code="XC08HOSTILE1", generic_name=FIELDS["drug"], spec=FIELDS["spec"], form="片剂", unit="片",
                   drug_class="antihypertensive", category="乙", retail_price=Decimal("1.00")))
        s.flush()
        stock.receive(s, "XC08HOSTILE1", "H1", date(2026, 2, 1), Decimal(10), date(2026, 1, 5))  # expires: out
        patient_id = patient.id
    filing_id = file_offline(db, patient_id)
    with db.session("doctor") as s:
        filing = s.get(Filing, filing_id)
        filing.history_diagnosis, filing.treatment_plan = FIELDS["hist"], FIELDS["plan"]
    assert sync_once(db).all_acknowledged
    return db, patient_id, filing_id


def test_review_and_township_pages_escape_hostile_record_values(server, tmp_path):
    db, patient_id, filing_id = clinic_with_hostile_records(server, tmp_path)
    with server.db.session("test", write=True) as s:
        pushed = s.get(Filing, filing_id)
        assert pushed is not None and pushed.history_diagnosis == FIELDS["hist"]      # stored as sent
        twin = {c.key: getattr(pushed, c.key) for c in Filing.__table__.columns if c.key not in ("id", "version")}
        s.add(Filing(**{**twin, "id": FILING_ID}))
        s.add(ClaimFlag(id=FLAG_ID, kind="duplicate_dispense", institution_code=CODE, record_id=filing_id,
                        patient_id=patient_id, detail=FIELDS["flag"]))
        assert s.scalar(select(Patient.name).where(Patient.id == patient_id)) == FIELDS["pname"]
    db.close()
    username, password = server.add_reviewer()
    web = requests.Session()
    assert "退出" in web.post(f"{server.url}/login", data={"username": username, "password": password},
                              timeout=10).text

    review = web.get(f"{server.url}/review", params={"msg": FIELDS["msg"], "err": FIELDS["err"]}, timeout=10).text
    assert_inert(review, "/review")
    shown(review, "inst", "pname", "hist", "plan", "flag", "msg", "err")
    actions = {attrs.get("action") for tag, attrs in parsed(review) if tag == "form"}
    # the hostile ids are path segments, URL-quoted: the reviewer's forms post where they should
    assert f"/review/filings/{filing_id}" in actions and "/review/filings/%27%22%3E%3Cscript%3Ealert%283%29%3C" \
        "%2Fscript%3E" in actions and "/review/flags/%3Cimg%20src%3Dx%20onerror%3Dalert%284%29%3E" in actions

    for path, fields in (("/township", ("inst",)), ("/township/dashboard", ("inst", "town", "pname", "flag", "drug")),
                         ("/township/settings", ("inst", "town")), ("/township/reports", ("town",)),
                         (f"/township/settings?unit={CODE}", ("inst",))):
        html = web.get(f"{server.url}{path}", params={"msg": FIELDS["msg"], "err": FIELDS["err"]}, timeout=30).text
        assert_inert(html, path)
        shown(html, "msg", "err", *fields)


def test_a_hostile_filing_id_cannot_break_out_of_the_review_form(server, tmp_path):
    """The reported case: a filing whose id closes the form's action attribute and opens a script."""
    db, patient_id, filing_id = clinic_with_hostile_records(server, tmp_path)
    db.close()
    with server.db.session("test", write=True) as s:
        pushed = s.get(Filing, filing_id)
        twin = {c.key: getattr(pushed, c.key) for c in Filing.__table__.columns if c.key not in ("id", "version")}
        s.add(Filing(**{**twin, "id": "'><script>alert(1)</script>"}))
    username, password = server.add_reviewer()
    web = requests.Session()
    web.post(f"{server.url}/login", data={"username": username, "password": password}, timeout=10)
    html = web.get(f"{server.url}/review", timeout=10).text
    assert "<script>" not in html and "'><script>" not in html
    forms = [attrs for tag, attrs in parsed(html) if tag == "form" and "/review/filings/" in attrs.get("action", "")]
    assert len(forms) == 4 and all(re.fullmatch(r"/review/filings/[A-Za-z0-9%._~-]+", f["action"]) for f in forms)
