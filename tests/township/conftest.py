"""One township server (a real uvicorn on 127.0.0.1, SQLite, and PostgreSQL when LIANGBING_TEST_PG_URL
is set) that three village clinics — real SQLite files — have synced a quarter's work into through
the real HTTP sync. Built once per backend for the whole package: the tests read it; the few that
write (inputs, settings) write what no other test reads."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from clinic import stock
from clinic.db.engine import open_database
from clinic.profile import create_local_institution, set_policy_setting
from sync.client import enrol, sync_once
from sync.server import auth
from sync.server.storage import open_server_database
from sync.status import load_settings
from tests.clinic_fixtures import AML, MET, add_drugs
from tests.sync.conftest import BACKENDS, PG_URL, pg_template  # noqa: F401  (pg_template is a fixture)
from tests.sync.helpers import LiveServer
from tests.township.builders import YEAR, Village, cross_village, populate, stock_third_drug

TOWNSHIP = "临江乡"
VILLAGES = (("H42070400101", "东港村卫生室"), ("H42070400202", "西湾村卫生室"), ("H42070400303", "南岭村卫生室"))
STAFF = ("staff", "staff-pass-1")
REVIEWER = ("reviewer", "review-pass-1")


@dataclass
class Township:
    server: LiveServer
    villages: list[Village]
    tokens: dict[str, str]
    db_url: str

    @property
    def codes(self) -> list[str]:
        return [v.code for v in self.villages]


def clinic_file(path, code: str, name: str):
    db = open_database(path)
    with db.session("admin") as s:
        create_local_institution(s, code, name, "1", "ezhou", "H420704001", f"{TOWNSHIP}卫生院")
        set_policy_setting(s, "ezhou", "payment_standard", "vbp_price")   # the document names no 支付标准
    db.load_local_institution()
    with db.session("admin") as s:
        add_drugs(s)
        for drug, lot in ((AML, "L1"), (MET, "M1")):
            stock.receive(s, drug, lot, date(YEAR + 3, 12, 31), Decimal(100000), date(YEAR, 1, 2))
    return db


def _database(request, tmp_path_factory) -> tuple[str, object]:
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("township") / "township.db"
        open_server_database(path).close()
        return str(path), None
    admin, template = request.getfixturevalue("pg_template")
    name = f"lb_township_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False), drop


@pytest.fixture(scope="session", params=BACKENDS)
def township(request, tmp_path_factory):
    url, drop = _database(request, tmp_path_factory)
    server = LiveServer.start(url)
    folder = tmp_path_factory.mktemp("clinics")
    villages, tokens = [], {}
    for code, name in VILLAGES:
        with server.db.session("test", write=True) as s:
            once = auth.add_clinic(s, code, name, "1", TOWNSHIP)
        db = clinic_file(folder / f"{code}.db", code, name)
        enrol(db, server.url, once)
        villages.append(Village(db, code))
    for n, village in enumerate(villages, start=1):
        populate(village, 100 * n)
    cross_village(villages[0], villages[1])
    stock_third_drug(villages[1].db, 28, dispense_to=villages[1].patients["both"])   # 西湾: 格列美脲 sold out
    stock_third_drug(villages[2].db, 1000)                                          # 南岭 stocks it
    for village in villages:
        assert sync_once(village.db).all_acknowledged
    with server.db.session("test", write=True) as s:
        auth.add_account(s, STAFF[0], "乡镇员工", "township", STAFF[1])
        auth.add_account(s, REVIEWER[0], "审核员", "reviewer", REVIEWER[1])
    for village in villages:
        tokens[village.code] = load_settings(village.db)["token"]
    yield Township(server, villages, tokens, url)
    server.stop()
    for village in villages:
        village.db.close()
    if drop:
        drop()
