"""The township's patient lookup (issue 12 item 8) on a real server on 127.0.0.1 (SQLite, and PostgreSQL
when LIANGBING_TEST_PG_URL is set): a person's year across two clinics — their settlements and the
opening balance one of them imported, which reached the server through the clinic's outbox — with
the cap, fund paid and remaining amount; staff and reviewers only; hostile input answered with a 4xx."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
import requests

from clinic import stock
from clinic.db.models import Drug
from clinic.db.records import RecordError
from clinic.idcard import check_digit
from clinic.opening_balances import import_opening_balances
from clinic.sensitive import find_id_numbers
from sync.client import sync_once
from sync.server import auth
from sync.server.validate import validate
from sync.status import load_settings
from tests.clinic_fixtures import add_patient
from tests.sync.conftest import pg_template, server_db_url  # noqa: F401  (fixtures)
from tests.sync.helpers import LiveServer, enrolled_clinic, sell

A, B = "H42070400101", "H42070400202"
DAY = date.today() - timedelta(days=120)           # the purchases and today in one calendar year
if DAY.year != (DAY + timedelta(days=100)).year:
    DAY = date(date.today().year - 1, 3, 2)
YEAR = DAY.year
ID_NUMBER = "42070419580202003" + check_digit("42070419580202003")
EXP1, EXP2 = "XC09LEDG0001", "XC09LEDG0002"


def ten_yuan_drugs(db) -> None:
    with db.session("admin") as s:
        for code, name in ((EXP1, "测试降压药甲"), (EXP2, "测试降压药乙")):
            s.add(Drug(code=code, generic_name=name, spec="10mg", form="片剂", unit="片", drug_class="antihypertensive",
                       category="乙", retail_price=Decimal("10.00")))
        s.flush()
        for code in (EXP1, EXP2):
            stock.receive(s, code, "T1", DAY + timedelta(days=700), Decimal(1000), DAY - timedelta(days=40))


@pytest.fixture
def live(server_db_url):  # noqa: F811  (the fixture imported above)
    running = LiveServer.start(server_db_url)
    yield running
    running.stop()


@pytest.fixture
def person(live, tmp_path):
    server = live
    clinics = []
    for code in (A, B):
        db = enrolled_clinic(server, tmp_path / f"{code}.db", code)
        ten_yuan_drugs(db)
        with db.session("doctor") as s:
            clinics.append((db, add_patient(s, filed_on=DAY - timedelta(days=60), id_number=ID_NUMBER).id))
    (a, pa), (b, pb) = clinics
    first = sell(a, pa, EXP1, DAY, 90)                       # 900.00 at 60 %: 540.00 from the fund
    assert sync_once(a).all_acknowledged and sync_once(b).all_acknowledged
    second = sell(b, pb, EXP2, DAY + timedelta(days=30), 10)   # 100.00: 60.00
    opening = tmp_path / "opening.csv"
    opening.write_text(f"身份证号,病种,年度,统筹基金已支付,起付线已付\n{ID_NUMBER},高血压,{YEAR},100.00,0\n",
                       encoding="utf-8")
    with a.session("admin") as s:
        report = import_opening_balances(s, opening, user="admin", role="admin", today=DAY + timedelta(days=31))
    assert report.added == 1
    assert sync_once(a).all_acknowledged and sync_once(b).all_acknowledged
    with server.db.session("test", write=True) as s:
        auth.add_account(s, "staff", "乡镇员工", "township", "staff-pass-1")
        auth.add_account(s, "reviewer", "审核员", "reviewer", "review-pass-1")
    yield a, first, second
    for db, _ in clinics:
        db.close()


def signed_in(server, username, password) -> requests.Session:
    web = requests.Session()
    page = web.post(f"{server.url}/login", data={"username": username, "password": password}, timeout=10)
    assert page.status_code == 200 and "退出" in page.text
    return web


def rows_of(html: str, table: str) -> list[list[str]]:
    body = re.search(rf"<table class='{table}'>(.*?)</table>", html, re.S)
    assert body is not None, table
    return [[re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body.group(1), re.S)[1:]]


def test_township_lookup_shows_the_persons_year_across_clinics_with_the_opening_balance(live, person):
    server = live
    _, first, second = person
    for who in (("staff", "staff-pass-1"), ("reviewer", "review-pass-1")):
        web = signed_in(server, *who)
        page = web.get(f"{server.url}/township/patients", params={"id_number": ID_NUMBER.lower()}, timeout=30)
        assert page.status_code == 200, page.text
        html = page.text
        # 鄂州方案 二(一)4(1): 城乡居民 普通 1000 元; 540.00 at 东港 + 60.00 at 西湾 + 100.00 opening balance.
        assert rows_of(html, "quota") == [["高血压", "普通", "1000.00", "700.00", "300.00"]]
        entries = rows_of(html, "entries")
        assert [(r[0], r[1], r[3], r[5], r[7]) for r in entries] == [
            (DAY.isoformat(), first.receipt_no, "540.00", str(YEAR), "结算"),
            ((DAY + timedelta(days=30)).isoformat(), second.receipt_no, "60.00", str(YEAR), "结算"),
            ("—", "—", "100.00", str(YEAR), "期初余额")]
        assert A in entries[0][8] and B in entries[1][8] and "opening.csv" in entries[2][8]
        assert sorted(r[1] for r in rows_of(html, "holders")) == [A, B]
        # The searched number is masked in the heading; no other ID number is on the page.
        assert f"{ID_NUMBER[:6]}********{ID_NUMBER[-4:]} {YEAR} 年度医保额度" in html
        assert html.count(ID_NUMBER) == 1 and find_id_numbers(html) == {ID_NUMBER}     # the search box only


def test_township_lookup_refuses_bad_input_and_clinic_tokens(live, person):
    server = live
    a, _, _ = person
    web = signed_in(server, "staff", "staff-pass-1")
    url = f"{server.url}/township/patients"
    bad = web.get(url, params={"id_number": "<script>alert(1)</script>"}, timeout=10)
    assert bad.status_code == 400 and "身份证号有误" in bad.text and "<script>" not in bad.text
    year = web.get(url, params={"id_number": ID_NUMBER, "year": "20x6<b>"}, timeout=10)
    assert year.status_code == 400 and "年度无效" in year.text and "<b>" not in year.text
    unknown = web.get(url, params={"id_number": "110101199003070011"}, timeout=10)
    assert unknown.status_code == 404 and "服务器上没有身份证号为 110101********0011 的患者" in unknown.text
    empty = web.get(url, timeout=10)
    assert empty.status_code == 200 and "输入患者身份证号" in empty.text
    token = load_settings(a)["token"]
    clinic = requests.get(url, params={"id_number": ID_NUMBER}, headers={"Authorization": f"Bearer {token}"},
                          timeout=10, allow_redirects=False)
    assert clinic.status_code == 403
    anonymous = requests.get(url, params={"id_number": ID_NUMBER}, timeout=10, allow_redirects=False)
    assert anonymous.status_code == 303


def test_server_refuses_an_opening_balance_with_a_negative_amount_or_odd_year():
    row = {"id": "3f2b6c1e-8a4d-4e5f-9b7a-1c2d3e4f5a6b", "patient_id": "3f2b6c1e-8a4d-4e5f-9b7a-1c2d3e4f5a6c",
           "year": YEAR, "disease": "hypertension", "fund_paid": Decimal("10.00"), "deductible_paid": Decimal("0.00")}
    validate("opening_balance", row, {})
    for change, reason in (({"fund_paid": Decimal("-1.00")}, "统筹基金已支付须为 0"),
                           ({"deductible_paid": Decimal("-0.01")}, "起付线已付须为 0"),
                           ({"disease": "tb"}, "期初余额的病种无效"), ({"year": 1899}, "期初余额的年度无效"),
                           ({"year": date.today().year + 2}, "期初余额的年度无效")):
        with pytest.raises(RecordError, match=reason):
            validate("opening_balance", {**row, **change}, {})
