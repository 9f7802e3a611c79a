"""The Ezhou policy (seeds/000_12abe66d303e04d1.txt 二(一)4–5) reproduced in full."""

from __future__ import annotations

from decimal import Decimal

import pytest

from clinic.settlement import Filing, settle
from tests.settle_helpers import EZHOU, item, purchase

# 二(一)4(1)–(3): the ratios by institution level and the annual caps, written out from the text.
RATIOS = {
    "resident": {"1": "0.60", "2": "0.50", "3": "0.40"},
    "employee": {"1": "0.90", "2": "0.80", "3": "0.70"},
    "employee_supplementary": {"1": "0.95", "2": "0.85", "3": "0.75"},
}
CAPS = {
    "resident": {"ordinary": "1000", "severe": "2000"},
    "employee": {"ordinary": "2000", "severe": "2500"},
    "employee_supplementary": {"ordinary": "2500", "severe": "3000"},
}
# 二(一)4(2): employees paying at the 80 % / 60 % standard lose 5 / 10 points; 单建统筹 as 60 %.
CONTRIBUTION_POINTS = {"100": "0", "80": "0.05", "60": "0.10", "standalone": "0.10"}

CASES = [
    (ins, level, tier, contribution)
    for ins in RATIOS for level in ("1", "2", "3") for tier in ("ordinary", "severe")
    for contribution in (CONTRIBUTION_POINTS if ins == "employee" else [None])
]


@pytest.mark.parametrize(("insurance", "level", "tier", "contribution"), CASES)
def test_ezhou_ratio_and_cap_for_every_insurance_level_tier_and_contribution(
    insurance, level, tier, contribution
):
    ratio = Decimal(RATIOS[insurance][level]) - Decimal(CONTRIBUTION_POINTS.get(contribution, "0"))
    cap = Decimal(CAPS[insurance][tier])
    # 100.00 of policy-range drugs, nothing paid this year: the fund pays ratio × 100.
    p = purchase(item("200", "0.50"), insurance=insurance, contribution=contribution, level=level,
                 filings=[Filing("hypertension", tier, True)])
    result = settle(EZHOU, p)
    assert result.fund_pay == ratio * 100
    assert result.by_disease[0].cap == cap
    assert result.by_disease[0].cap_remaining == cap - ratio * 100
    # With all but 1.00 of the cap used, the fund pays exactly 1.00.
    capped = settle(EZHOU, purchase(item("200", "0.50"), insurance=insurance, contribution=contribution,
                                    level=level, filings=[Filing("hypertension", tier, True)],
                                    ytd={"hypertension": cap - 1}))
    assert capped.fund_pay == Decimal("1.00")
    assert capped.self_pay == Decimal("99.00")


def test_ezhou_has_no_deductible():
    assert EZHOU.deductible == 0
    assert settle(EZHOU, purchase()).deductible == 0


def test_contribution_adjustment_belongs_to_employee_basic_insurance_only():
    supplementary = settle(EZHOU, purchase(item("200", "0.50"), insurance="employee_supplementary"))
    assert supplementary.fund_pay == Decimal("95.00")


def test_worked_example_from_design():
    result = settle(EZHOU, purchase(item("28", "0.50")))
    assert (result.total, result.fund_pay, result.self_pay) == (Decimal("14.00"), Decimal("8.40"),
                                                                  Decimal("5.60"))


def test_worked_example_at_the_cap():
    result = settle(EZHOU, purchase(item("28", "0.50"), ytd={"hypertension": "998.00"}))
    assert result.fund_pay == Decimal("2.00")
    assert result.over_cap == Decimal("10.67")
    assert result.self_pay == Decimal("12.00")


def test_secondary_disease_gets_half_the_ratio():
    # 二(一)4(4): one primary disease at the normal ratio, the other at 50 % of it.
    filings = [Filing("hypertension", "ordinary", True), Filing("diabetes", "severe", False)]
    result = settle(EZHOU, purchase(item("200", "0.50"), item("200", "0.50", disease="diabetes"),
                                    filings=filings))
    by = {r.disease: r for r in result.by_disease}
    assert by["hypertension"].ratio == Decimal("0.60")
    assert by["diabetes"].ratio == Decimal("0.30")
    assert by["diabetes"].cap == Decimal("2000")     # its own tier's cap
    assert result.fund_pay == Decimal("90.00")


def test_secondary_halving_applies_after_the_employee_contribution_adjustment():
    filings = [Filing("diabetes", "ordinary", True), Filing("hypertension", "ordinary", False)]
    result = settle(EZHOU, purchase(item("200", "0.50"), insurance="employee", contribution="80",
                                    filings=filings))
    assert result.by_disease[1].ratio == Decimal("0.425")
    assert result.fund_pay == Decimal("42.50")


@pytest.mark.parametrize(("prescriber", "ratio"), [("1", "0.60"), ("2", "0.50"), ("3", "0.40")])
def test_pharmacy_pays_at_the_prescribing_institutions_level(prescriber, ratio):
    # 二(一)4(5): 定点零售药店 use the ratio of the institution that wrote the 外配 prescription.
    result = settle(EZHOU, purchase(item("200", "0.50"), level="pharmacy", prescriber=prescriber))
    assert result.by_disease[0].ratio == Decimal(ratio)


def test_above_the_cap_is_self_paid_and_eligible_for_major_illness_insurance():
    # 二(一)4(5) and 5: above the cap the patient pays; self-paid and above-cap parts go to 大病保险.
    result = settle(EZHOU, purchase(item("200", "0.50"), ytd={"hypertension": "1000"}))
    assert result.fund_pay == 0
    assert result.over_cap == Decimal("100.00")
    assert result.major_illness_eligible == Decimal("100.00")


def test_drugs_outside_the_scope_settle_as_ordinary_outpatient_not_here():
    # 二(一)5: not 两病 drugs, or a disease without filing → out of scope, wholly self-paid here.
    result = settle(EZHOU, purchase(item("10", "1.00"), item("10", "2.00", in_scope=False),
                                    item("10", "3.00", disease="diabetes")))
    assert result.out_of_scope == Decimal("50.00")
    assert result.fund_pay == Decimal("6.00")
    assert result.major_illness_eligible == Decimal("4.00")


def test_price_above_the_payment_standard_is_self_paid():
    # DESIGN.md / seeds/003 (四): the part of the price above the payment standard is self-paid.
    result = settle(EZHOU, purchase(item("28", "0.50", standard="0.45")))
    assert result.over_standard == Decimal("1.40")
    assert result.policy_range == Decimal("12.60")
    assert result.fund_pay == Decimal("7.56")
    assert result.self_pay == Decimal("6.44")


def test_each_line_is_rounded_half_up_to_the_cent_before_summing():
    result = settle(EZHOU, purchase(item("3", "0.335"), item("3", "0.335")))
    assert result.total == Decimal("2.02")          # 1.005 → 1.01, twice
