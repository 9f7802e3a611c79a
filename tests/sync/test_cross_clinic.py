"""Two clinics selling to the same person (issue 5): the township replays the year in settlement order
and flags the settlement that crosses the annual cap, with the amount; after a pull the clinic's next
settlement and its refill window count what the other clinic paid and handed out."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from clinic import stock
from clinic.db.models import ClaimFlag, Drug, ExternalFundUse, Settlement
from clinic.dispensing import DispenseError
from clinic.idcard import check_digit
from sync.client import sync_once
from sync.server.review import resolve_flag
from tests.clinic_fixtures import AML, add_patient
from tests.sync.helpers import enrolled_clinic, sell

A, B = "H42070400101", "H42070400202"
DAY = date.today() - timedelta(days=120)          # all within one calendar year of the test clinics
if DAY.year != (DAY + timedelta(days=100)).year:
    DAY = date(date.today().year - 1, 3, 2)
EXP1, EXP2 = "XC09TEST0001", "XC09TEST0002"
ID_NUMBER = "42070419600101001" + check_digit("42070419600101001")


def expensive_drugs(db) -> None:
    with db.session("admin") as s:
        for code in (EXP1, EXP2):
            s.add(Drug(code=code, generic_name=f"测试降压药{code[-1]}", spec="10mg", form="片剂", unit="片",
                       drug_class="antihypertensive", category="乙", retail_price=Decimal("10.00")))
        s.flush()
        for code in (EXP1, EXP2):
            stock.receive(s, code, "T1", DAY + timedelta(days=700), Decimal(1000), DAY - timedelta(days=40))


@pytest.fixture
def clinics(server, tmp_path):
    pair = []
    for code in (A, B):
        db = enrolled_clinic(server, tmp_path / f"{code}.db", code)
        expensive_drugs(db)
        with db.session("doctor") as s:           # the same person, registered in each village
            patient = add_patient(s, filed_on=DAY - timedelta(days=60), id_number=ID_NUMBER)
        pair.append((db, patient.id))
    yield pair
    for db, _ in pair:
        db.close()


def test_the_settlement_crossing_the_cap_is_flagged_and_the_next_one_uses_cross_clinic_year_to_date(server, clinics):
    (a, pa), (b, pb) = clinics
    assert sell(a, pa, EXP1, DAY, 90).fund_pay == Decimal("540.00")           # 900 × 60 %
    assert sync_once(a).all_acknowledged
    second = sell(b, pb, EXP2, DAY + timedelta(days=1), 80)                  # B does not know yet
    assert second.fund_pay == Decimal("480.00")
    assert sync_once(b).all_acknowledged
    with server.db.session() as s:
        [flag] = s.scalars(select(ClaimFlag).where(ClaimFlag.kind == "over_cap")).all()
    assert (flag.record_id, flag.institution_code, flag.amount) == (second.id, B, Decimal("20.00"))
    with b.session() as s:
        [use] = s.scalars(select(ExternalFundUse).where(ExternalFundUse.patient_id == pb)).all()
        assert (use.year, use.disease, use.fund_paid) == (DAY.year, "hypertension", Decimal("540.00"))
    # B's next purchase: 480 here + 540 at A is past the 1000 cap: the fund pays nothing more
    third = sell(b, pb, EXP2, DAY + timedelta(days=70), 28)
    assert (third.fund_pay, third.self_pay) == (Decimal("0.00"), third.total)
    with pytest.raises(DispenseError, match="重复配药"):            # A's 90-day supply of EXP1 still lasts
        sell(b, pb, EXP1, DAY + timedelta(days=30), 28)

    resolve_flag(server.db, flag.id, "reviewer", "adjusted", "超限额部分 20.00 元由个人负担")
    assert sync_once(b).pull.applied.get("review") == 1
    with b.session() as s:
        adjusted = s.get(Settlement, second.id)
        assert (adjusted.state, adjusted.review_note) == ("adjusted", "超限额部分 20.00 元由个人负担")


def test_dispensing_while_another_clinics_supply_lasts_is_flagged(server, clinics):
    (a, pa), (b, pb) = clinics
    sell(a, pa, AML, DAY, 28)
    assert sync_once(a).all_acknowledged
    early = sell(b, pb, AML, DAY + timedelta(days=5), 28)                   # 23 days of A's supply left
    assert sync_once(b).all_acknowledged
    with server.db.session() as s:
        [flag] = s.scalars(select(ClaimFlag).where(ClaimFlag.kind == "duplicate_dispense")).all()
    assert flag.record_id == early.dispense_id and "23 天" in flag.detail and f"（{A}）" in flag.detail
    assert sync_once(a).all_acknowledged        # A hears of B's supply too
    with pytest.raises(DispenseError, match="重复配药"):
        sell(a, pa, AML, DAY + timedelta(days=14), 28)
