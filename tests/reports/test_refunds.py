"""Refunds net out in the month they happen, and a claim the 医保 reviewer refused (拒付) is not counted,
nor its refund (clinic/reports/claims.py) — on a fresh clinic file with purchases made through the
real dispensing and settlement code."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select

from clinic import stock
from clinic.db.models import Filing, Prescription, Settlement
from clinic.dispensing import dispense_and_settle, refund_purchase
from clinic.filings import approve, new_change_filing, submit
from clinic.prescriptions import LineInput, create_prescription
from clinic.profile import policy_in_force
from clinic.reports import dispatch_table, monthly_table
from tests.clinic_fixtures import AML, add_drugs, add_patient

ZERO = Decimal("0.00")
LEVEL = "一级及以下医疗机构"


@pytest.fixture
def clinic(db):
    with db.session("doctor") as s:
        add_drugs(s)
        patient = add_patient(s, filed_on=date(2025, 12, 1))
        stock.receive(s, AML, "L1", date(2027, 12, 31), Decimal(1000), date(2025, 12, 5))
        rx = create_prescription(s, patient, policy_in_force(s, date(2026, 1, 5)), entitled={"hypertension"},
                                 prescriber_name="王医生", prescribed_on=date(2026, 1, 5), diagnosis="原发性高血压",
                                 lines=[LineInput(AML, Decimal(1), "qd", 168)])
    return db, rx.id


def buy(db, rx_id, on):
    with db.session("pharmacist") as s:
        return dispense_and_settle(s, policy_in_force(s, on), s.get(Prescription, rx_id), on, days=28,
                                   dispenser_name="李药师")


def refund(db, settlement, on):
    with db.session("pharmacist") as s:
        refund_purchase(s, s.get(Settlement, settlement.id), on, "患者退药", "李药师")


def figures(db, month):
    with db.session() as s:
        table = monthly_table(s, month, "resident")
        return (table.value(("ordinary", "hypertension"), LEVEL, "医疗费"),
                table.value(("ordinary", "hypertension"), LEVEL, "报销额"))


def test_refund_nets_in_its_own_month_and_leaves_the_earlier_month_alone(clinic):
    db, rx = clinic
    january = buy(db, rx, date(2026, 1, 10))
    assert january.total == Decimal("14.00") and january.fund_pay == Decimal("8.40")   # DESIGN.md worked example
    assert figures(db, "2026-01") == (Decimal("14.00"), Decimal("8.40"))
    refund(db, january, date(2026, 2, 5))
    assert figures(db, "2026-01") == (Decimal("14.00"), Decimal("8.40"))     # a sent report does not change
    assert figures(db, "2026-02") == (Decimal("-14.00"), Decimal("-8.40"))
    with db.session() as s:
        special = dispatch_table(s, "2026-02").row("special", "month")
        assert special.cells[3:5] == (0, -1)        # 人数 0 (net visits not positive), 人次 −1


def test_refund_in_the_same_month_nets_to_zero(clinic):
    db, rx = clinic
    refund(db, buy(db, rx, date(2026, 1, 10)), date(2026, 1, 12))
    assert figures(db, "2026-01") == (ZERO, ZERO)
    with db.session() as s:
        assert dispatch_table(s, "2026-01").row("special", "month").cells[3:5] == (0, 0)


def test_refused_claim_and_its_refund_are_not_counted(clinic):
    db, rx = clinic
    first = buy(db, rx, date(2026, 1, 10))
    second = buy(db, rx, date(2026, 2, 5))
    with db.session("sync") as s:
        s.get(Settlement, first.id).state = "rejected"           # the reviewer's 拒付, as pulled back by sync
    refund(db, first, date(2026, 2, 8))
    assert figures(db, "2026-01") == (ZERO, ZERO)
    assert figures(db, "2026-02") == (second.total, second.fund_pay)


def test_filed_count_follows_the_filing_in_force_at_month_end(clinic):
    # seeds/000 item 10: a 变更备案 (here 普通 → 重症) replaces the filing from its date.
    db, _ = clinic
    with db.session() as s:
        assert monthly_table(s, "2026-01", "resident").value(("ordinary", "hypertension"), "备案人数") == 1
        assert monthly_table(s, "2025-11", "resident").value(("ordinary", "hypertension"), "备案人数") == 0
    with db.session("doctor") as s:
        filing = s.scalars(select(Filing)).one()
        change = new_change_filing(s, filing, reason="progression", filed_on=date(2026, 2, 3), tier="severe",
                                   history_diagnosis="高血压3级，靶器官损害", treatment_plan="联合用药",
                                   history_signer="王医生", plan_signer="王医生")
        submit(s, change, datetime(2026, 2, 3, 9))
        approve(s, change, datetime(2026, 2, 4, 9))
    with db.session() as s:
        january, february = monthly_table(s, "2026-01", "resident"), monthly_table(s, "2026-02", "resident")
    assert (january.value(("ordinary", "hypertension"), "备案人数"),
            january.value(("severe", "hypertension"), "备案人数")) == (1, 0)
    assert (february.value(("ordinary", "hypertension"), "备案人数"),
            february.value(("severe", "hypertension"), "备案人数")) == (0, 1)
