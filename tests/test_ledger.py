"""The fund ledger under the sequences that happen every January and every power cut (clinic/ledger.py),
through the product's own prescribing, dispensing, settlement and refund code on real SQLite files."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from clinic import ledger
from clinic.db.models import ExternalDispense, Settlement
from clinic.dispensing import DispenseError, set_backdate_days
from tests.ledger_helpers import make_shop

D = Decimal


def fund_of_year(shop, year: int, disease: str = "hypertension") -> Decimal:
    with shop.db.session() as s:
        return ledger.year_to_date(s, shop.patient_id, year).fund_paid.get(disease, D("0.00"))


def test_refund_credits_the_year_of_the_purchase_it_reverses(tmp_path):
    # 鄂州方案 二(一)4(1): 城乡居民 普通 年度最高支付限额 1000 元, 一级 60 %.
    shop = make_shop(tmp_path / "c.db")
    december = shop.buy(date(2025, 12, 1), "T1", 168)
    assert (december.total, december.fund_pay) == (D("1680.00"), D("1000.00"))
    reversal = shop.refund(december, date(2026, 1, 5))
    assert reversal.accounting_year == 2025
    assert fund_of_year(shop, 2025) == D("0.00") and fund_of_year(shop, 2026) == D("0.00")
    again = shop.buy(date(2026, 1, 10), "T1", 168)
    next_day = shop.buy(date(2026, 1, 11), "T2", 100)
    assert again.fund_pay == D("1000.00")              # not 1,008.00: 2026 starts at 0, not at −1,000
    assert next_day.fund_pay == D("0.00")              # not 600.00: the cap is reached
    assert fund_of_year(shop, 2026) == D("1000.00")     # the fund paid 1,000.00 in 2026, its cap


def test_lvliang_deductible_is_charged_once_a_year_across_a_refund(tmp_path):
    # 吕梁方案 二(一)1: 起付标准 30 元/年; the ratio (0.60) is the administrator's setting.
    shop = make_shop(tmp_path / "c.db", "lvliang")
    first = shop.buy(date(2025, 12, 20), "T1", 5)    # 50.00 …
    assert first.deductible == D("30.00")
    shop.refund(first, date(2026, 1, 3))
    later = shop.buy(date(2026, 1, 10), "T1", 8)      # 80.00
    assert later.total == D("80.00")
    assert later.deductible == D("30.00")             # not 60.00
    assert later.fund_pay == D("30.00")               # (80 − 30) × 0.60


def test_lvliang_deductible_with_the_issue_figures(tmp_path):
    # 56.00 on 2025-12-20 refunded on 2026-01-03, then 84.00 on 2026-01-10: 30.00 and (84 − 30) × 0.60.
    shop = make_shop(tmp_path / "c.db", "lvliang")
    with shop.db.session() as s:
        from clinic.db.models import Drug
        s.get(Drug, "T1").retail_price = D("2.80")
    first = shop.buy(date(2025, 12, 20), "T1", 20)
    assert first.total == D("56.00")
    shop.refund(first, date(2026, 1, 3))
    later = shop.buy(date(2026, 1, 10), "T1", 30)
    assert later.total == D("84.00")
    assert (later.deductible, later.fund_pay) == (D("30.00"), D("32.40"))


def test_backdated_purchase_counts_later_purchases_against_the_cap(tmp_path):
    shop = make_shop(tmp_path / "c.db")
    assert shop.buy(date(2026, 3, 1), "T1", 100).fund_pay == D("600.00")
    assert shop.buy(date(2026, 3, 15), "T2", 100).fund_pay == D("400.00")     # the cap of 1,000 is reached
    # A paper record from the power cut, typed in on 03-16 for 03-10: it sees the 03-15 purchase too.
    late = shop.buy(date(2026, 3, 10), "T3", 30, today=date(2026, 3, 16))
    assert late.fund_pay == D("0.00")                  # not 180.00
    assert fund_of_year(shop, 2026) == D("1000.00")


def test_backdating_beyond_the_clinic_limit_is_refused(tmp_path):
    shop = make_shop(tmp_path / "c.db")
    with pytest.raises(DispenseError, match=r"早于补录期限：本机构只允许补录 7 天以内（2026-03-09 及以后）"):
        shop.buy(date(2026, 3, 8), "T1", 10, today=date(2026, 3, 16))
    with pytest.raises(DispenseError, match="晚于今天"):
        shop.buy(date(2026, 3, 17), "T1", 10, today=date(2026, 3, 16))
    with shop.db.session("admin") as s:
        set_backdate_days(s, 10)
    assert shop.buy(date(2026, 3, 8), "T1", 10, today=date(2026, 3, 16)).total == D("100.00")
    with shop.db.session() as s:
        assert len(s.scalars(select(Settlement)).all()) == 1     # the refusals wrote nothing


def test_same_medicine_under_another_code_is_a_duplicate_refill(tmp_path):
    # 国家“两病”方案 (十一) 严禁重复配药; 鄂州方案 附件3 注意2: at most 15 days left.
    shop = make_shop(tmp_path / "c.db")
    with shop.db.session() as s:
        from clinic.db.models import Drug
        # The same generic and strength under two 医保 codes (two manufacturers); spacing and unit differ.
        for code, spec in (("AML-A", "5mg"), ("AML-B", "5 mg")):
            s.add(Drug(code=code, generic_name="苯磺酸氨氯地平片", spec=spec, form="片剂", unit="片",
                       drug_class="antihypertensive", category="甲", retail_price=D("0.50")))
        s.flush()
        from clinic import stock
        stock.receive(s, "AML-B", "LB", date(2030, 1, 1), D(1000), date(2026, 1, 1))
        # Another clinic dispensed 30 days under AML-A on 03-01, as the township reported it.
        s.add(ExternalDispense(id="00000000-0000-4000-8000-000000000001", patient_id=shop.patient_id,
                               institution_code="H42070400102", drug_code="AML-A", dispensed_on=date(2026, 3, 1),
                               quantity=D(30), daily_dose=D(1)))
    with pytest.raises(DispenseError, match="重复配药：苯磺酸氨氯地平片 上次所配药量还可用 28 天"):
        shop.buy(date(2026, 3, 3), "AML-B", 30)


def test_medicine_key_folds_units_and_spacing():
    from clinic.medicine import medicine_key
    assert medicine_key("盐酸二甲双胍片", "0.5g", "片剂") == medicine_key("盐酸二甲双胍片", "500 mg", "片剂")
    assert medicine_key("苯磺酸氨氯地平片", "5mg", "片剂") != medicine_key("苯磺酸氨氯地平片", "10mg", "片剂")
    assert medicine_key("硝苯地平缓释片", "20mg", "缓释片") != medicine_key("硝苯地平缓释片", "20mg", "控释片")


def test_year_ledger_shows_cap_paid_remaining_and_every_entry(tmp_path):
    shop = make_shop(tmp_path / "c.db")
    december = shop.buy(date(2025, 12, 1), "T1", 100)
    shop.refund(december, date(2026, 1, 5))
    shop.buy(date(2026, 1, 10), "T1", 50)
    with shop.db.session() as s:
        from clinic.profile import policy_in_force
        policy = policy_in_force(s, date(2026, 1, 10))
        y2025 = ledger.year_ledger(s, shop.patient_id, 2025, policy, "resident", {"hypertension": "ordinary"})
        y2026 = ledger.year_ledger(s, shop.patient_id, 2026, policy, "resident", {"hypertension": "ordinary"})
    assert [(e.on, e.fund, e.reverses is not None) for e in y2025.entries] == [
        (date(2025, 12, 1), D("600.00"), False), (date(2026, 1, 5), D("-600.00"), True)]
    (line,) = y2026.diseases
    assert (line.cap, line.fund_paid, line.remaining) == (D("1000"), D("300.00"), D("700.00"))


YUNNAN = {"deductible": "0", "secondary_factor": "0.5", "prescription.max_period": "12w",
          "prescription.refill_window_days": "15", "caps.resident.ordinary": "1000", "caps.resident.severe": "2000",
          "ratios.resident.1": "0.50", "ratios.resident.2": "0.50", "ratios.resident.3": "0.50"}


def _yunnan_purchase(standard):
    from clinic.settlement.engine import Filing, Item, Purchase
    return Purchase(date=date(2026, 3, 2), insurance="resident", contribution=None,
                    filings=(Filing("hypertension", "ordinary", True), Filing("diabetes", "ordinary", False)),
                    institution_level="1", prescriber_level=None,
                    items=(Item("D1", "格列美脲片", "diabetes", D(10), D("10.00"), standard),))


def test_yunnan_minimum_ratio_holds_for_the_secondary_disease():
    # 云医保〔2021〕45号 (三) 支付比例不低于50%: the secondary disease's 50 % × 50 % is raised to 50 %.
    from clinic.policy import resolve_policy
    from clinic.settlement import settle
    policy = resolve_policy("yunnan", date(2026, 3, 2), local={"yunnan": YUNNAN})
    (_, secondary) = settle(policy, _yunnan_purchase(D("10.00"))).by_disease
    assert (secondary.ratio, secondary.fund_pay) == (D("0.50"), D("50.00"))      # not 0.25 and 25.00


def test_yunnan_line_without_a_payment_standard_is_refused():
    # 云医保〔2021〕45号 (四): every 两病 drug has a standard (中选价 or the platform's purchase price).
    from clinic.policy import PolicyError, resolve_policy
    from clinic.settlement import settle
    policy = resolve_policy("yunnan", date(2026, 3, 2), local={"yunnan": YUNNAN})
    with pytest.raises(PolicyError, match="格列美脲片 缺少医保支付标准"):
        settle(policy, _yunnan_purchase(None))


def test_clinic_side_recheck_agrees_with_what_was_stored(tmp_path):
    from clinic.adjudication import compare, recheck_stored
    from clinic.profile import policy_in_force
    shop = make_shop(tmp_path / "c.db", diseases=("hypertension", "diabetes"))
    made = [shop.buy(date(2026, 3, 1), "T1", 100), shop.buy(date(2026, 3, 2), "D1", 80),
            shop.buy(date(2026, 3, 3), "T2", 100)]
    with shop.db.session() as s:
        policy = policy_in_force(s, date(2026, 3, 3))
        for settlement in made:
            row, diseases, ours = recheck_stored(s, settlement.id, policy)
            assert compare(row, diseases, ours) == []
            assert (ours.fund_pay, ours.self_pay) == (settlement.fund_pay, settlement.self_pay)
