"""The township re-adjudicates every settlement it receives with the same engine (clinic/adjudication.py,
sync/server/adjudicate.py): it never trusts a clinic's arithmetic. Real clinic files, a real server on
127.0.0.1, pushes through the real client."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from clinic.db.models import ClaimFlag, Drug, Settlement, SettlementDisease
from clinic.money import ZERO
from sync.client import outbox_problems, sync_once
from tests.clinic_fixtures import AML
from tests.sync.helpers import add_patients, enrolled_clinic, sell

D = Decimal
DAY = date(2026, 3, 2)


@pytest.fixture
def clinic(server, tmp_path):
    db = enrolled_clinic(server, tmp_path / "a.db", "H42070400101")
    yield db
    db.close()


def _forge_second_settlement(db, original: Settlement, fund: Decimal) -> str:
    """What a tampered clinic could send with its own device token: another settlement of a dispense
    already settled, claiming `fund` from the fund."""
    with db.session("doctor") as s:
        forged = Settlement(
            patient_id=original.patient_id, dispense_id=original.dispense_id, settled_on=original.settled_on,
            accounting_year=original.accounting_year, receipt_no=original.receipt_no + "X",
            policy_id=original.policy_id, insurance=original.insurance, institution_level="1", total=original.total,
            out_of_scope=ZERO, over_standard=ZERO, policy_range=original.total, deductible=ZERO, fund_pay=fund,
            over_cap=ZERO, self_pay=original.total - fund, major_illness_eligible=ZERO, operator_name="李药师",
            policy_settings=original.policy_settings)
        forged.diseases.append(SettlementDisease(
            position=1, disease="hypertension", tier="ordinary", is_primary=True, policy_range=original.total,
            deductible=ZERO, ratio=D("0.60"), fund_pay=fund, over_cap=ZERO, cap=D("1000"), cap_remaining=ZERO))
        s.add(forged)
        s.flush()
        return forged.id


def test_township_rejects_a_second_settlement_of_one_dispense(server, clinic):
    [patient_id] = add_patients(clinic, 1)
    sold = sell(clinic, patient_id, AML, DAY, 28)
    assert sold.total == D("14.00")
    assert sync_once(clinic).all_acknowledged
    forged_id = _forge_second_settlement(clinic, sold, D("99990.00"))
    result = sync_once(clinic)
    assert result.tally.rejected == 1
    [problem] = outbox_problems(clinic)
    assert problem.record_id == forged_id
    assert "同一次配药不能再次结算" in problem.reason and sold.receipt_no in problem.reason
    with server.db.session() as s:
        assert s.get(Settlement, forged_id) is None
        assert s.scalars(select(Settlement.fund_pay).where(Settlement.dispense_id == sold.dispense_id)).all() == [
            sold.fund_pay]


def test_township_rejects_fund_above_policy_range_times_ratio(server, clinic):
    [patient_id] = add_patients(clinic, 1)
    sold = sell(clinic, patient_id, AML, DAY, 28)
    with clinic.session("doctor") as s:          # tampered before its first upload
        stored = s.get(Settlement, sold.id)
        stored.fund_pay, stored.self_pay = D("99990.00"), stored.total - D("99990.00")
        stored.diseases[0].fund_pay = D("99990.00")
    assert sync_once(clinic).tally.rejected == 1
    [problem] = outbox_problems(clinic)
    # 鄂州方案 二(一)4(1): 一级 60 % of the 14.00 policy range is at most 8.40.
    assert "超过政策范围内费用×报销比例（服务器复核最多 8.40 元）" in problem.reason
    with server.db.session() as s:
        assert s.get(Settlement, sold.id) is None


def test_township_rejects_a_refund_that_does_not_mirror_its_original(server, clinic):
    from clinic.dispensing import refund_purchase
    [patient_id] = add_patients(clinic, 1)
    sold = sell(clinic, patient_id, AML, DAY, 28)
    assert sync_once(clinic).all_acknowledged
    with clinic.session("doctor") as s:
        reversal = refund_purchase(s, s.get(Settlement, sold.id), date(2026, 3, 4), "患者退药", "李药师")
        s.flush()
        reversal.fund_pay, reversal.self_pay = D("-50.00"), reversal.total + D("50.00")
        reversal.diseases[0].fund_pay = D("-50.00")
    assert sync_once(clinic).tally.rejected == 1
    [problem] = outbox_problems(clinic)
    assert "不是原结算单" in problem.reason and "全额冲销" in problem.reason


def test_township_flags_a_payment_past_the_cap_its_ledger_shows(server, clinic, tmp_path):
    # 鄂州方案 二(一)3–4: one 城乡居民 普通 cap of 1,000 a year across every clinic.
    other = enrolled_clinic(server, tmp_path / "b.db", "H42070400102")
    for db in (clinic, other):
        with db.session("admin") as s:
            s.get(Drug, AML).retail_price = D("10.00")
    [here] = add_patients(clinic, 1)
    [there] = add_patients(other, 1)               # the same person (same ID number) at another village
    big = sell(clinic, here, AML, DAY, 168)
    assert big.fund_pay == D("1000.00")
    assert sync_once(clinic).all_acknowledged
    # The other village has not heard of it yet (offline) and pays 28 × 10.00 × 60 %.
    late = sell(other, there, AML, date(2026, 3, 3), 28)
    assert late.fund_pay == D("168.00")
    result = sync_once(other)
    assert result.tally.accepted >= 1 and not outbox_problems(other)     # accepted: the money was paid out
    # The answer carries the server's figures beside the clinic's …
    [answer] = result.tally.flags
    assert "统筹支付应为 0.00 元（村卫生室 168.00 元）" in answer and "年度限额 1000.00 元已用完" in answer
    # … and the reviewer sees the settlement flagged with the amount paid past the cap.
    with server.db.session() as s:
        flag = s.scalar(select(ClaimFlag).where(ClaimFlag.kind == "over_cap", ClaimFlag.record_id == late.id))
    assert flag is not None and flag.amount == D("168.00")
    other.close()


def test_township_readjudicates_with_the_clinics_settings_not_a_default(server, clinic):
    # The clinic's 支付标准 choice travels with the settlement; without it the server cannot check.
    [patient_id] = add_patients(clinic, 1)
    sold = sell(clinic, patient_id, AML, DAY, 28)
    with clinic.session() as s:
        assert '"payment_standard":"vbp_price"' in s.get(Settlement, sold.id).policy_settings
    with clinic.session("doctor") as s:
        s.get(Settlement, sold.id).policy_settings = None      # as from a clinic that did not send them
    assert sync_once(clinic).all_acknowledged
    with server.db.session() as s:
        flag = s.scalar(select(ClaimFlag).where(ClaimFlag.record_id == sold.id))
    assert flag is not None and flag.kind == "readjudication"
    assert "服务器无法复核" in flag.detail and "医保支付标准的来源" in flag.detail


def _lvliang_clinic(server, path, code: str, window: str):
    """A 吕梁 clinic whose administrator set the refill window (吕医保发〔2021〕28号 gives none)."""
    from sync.client import enrol
    from sync.server import auth
    from tests.ledger_helpers import make_shop
    shop = make_shop(path, "lvliang", settings={"prescription.refill_window_days": window}, code=code)
    with server.db.session("test", write=True) as s:
        plain = auth.add_clinic(s, code, f"{code} 村卫生室", "1", "信义镇", region="lvliang")
    enrol(shop.db, server.url, plain)
    return shop


def test_server_refill_window_is_the_clinics_setting_not_a_default(server, tmp_path):
    # Two 吕梁 clinics; the second's administrator set a 20-day window. Its refill with 18 days of the
    # first clinic's supply left is within its window: no flag (a built-in 15 days would flag it).
    first = _lvliang_clinic(server, tmp_path / "a.db", "J14110200101", "15")
    second = _lvliang_clinic(server, tmp_path / "b.db", "J14110200102", "20")
    first.buy(date(2026, 3, 1), "T1", 30, days=30)
    assert sync_once(first.db).all_acknowledged
    second.buy(date(2026, 3, 13), "T1", 30, days=30)          # 18 days of the first supply left
    assert sync_once(second.db).all_acknowledged
    with server.db.session() as s:
        assert s.scalars(select(ClaimFlag).where(ClaimFlag.kind == "duplicate_dispense")).all() == []
    # The first clinic (window 15), not having heard of the second supply, refills on 03-17: flagged.
    first.buy(date(2026, 3, 17), "T1", 30, days=30)
    assert sync_once(first.db).all_acknowledged
    with server.db.session() as s:
        [flag] = s.scalars(select(ClaimFlag).where(ClaimFlag.kind == "duplicate_dispense")).all()
    assert "超过续配窗口 15 天" in flag.detail
    first.db.close()
    second.db.close()


def test_township_flags_the_same_medicine_dispensed_under_another_code(server, clinic, tmp_path):
    # 国家“两病”方案 (十一) 严禁重复配药: judged by generic name + strength + form, not by 医保 code.
    from clinic import stock
    other = enrolled_clinic(server, tmp_path / "b.db", "H42070400102")
    for db, code, spec in ((clinic, "AML-A", "5mg"), (other, "AML-B", "5 mg")):
        with db.session("admin") as s:
            s.add(Drug(code=code, generic_name="苯磺酸氨氯地平片", spec=spec, form="片剂", unit="片",
                       drug_class="antihypertensive", category="甲", retail_price=D("0.50")))
            s.flush()
            stock.receive(s, code, "L", date(2030, 1, 1), D(1000), date(2026, 1, 1))
    [here] = add_patients(clinic, 1)
    [there] = add_patients(other, 1)
    sell(clinic, here, "AML-A", date(2026, 3, 1), 30)
    assert sync_once(clinic).all_acknowledged
    early = sell(other, there, "AML-B", date(2026, 3, 3), 30)
    assert sync_once(other).all_acknowledged
    with server.db.session() as s:
        [flag] = s.scalars(select(ClaimFlag).where(ClaimFlag.kind == "duplicate_dispense")).all()
    assert flag.record_id == early.dispense_id and "仍剩 28 天" in flag.detail
    other.close()
