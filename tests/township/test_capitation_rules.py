"""濉溪 按人头包干 and 结余分配 (seeds/004 三(一), 附件1 二–四): the parameters come from the rules file,
and the arithmetic reproduces a worked example derived by hand from the document.

Worked example — one 医共体 area with one township (临江镇) and two village clinics, a year's figures:

  Heads (实际门诊就诊人数)          村A                村B
    两病 签约 / 未签约              6 / 2              3 / 4
    常见慢性病 签约 / 未签约        1 / 1              0 / 3
  门诊结算总额 (附件1 二(一)1, 定额 三(一): 两病 340 签约 / 240; 慢性病 1000 / 900)
    村A = 6×340 + 2×240 + 1×1000 + 1×900 = 2040 + 480 + 1000 + 900 = 4420
    村B = 3×340 + 4×240 + 0×1000 + 3×900 = 1020 + 960 + 0 + 2700    = 4680      合计 9100
  住院结算总额 (二(一)2) = 核定住院人数 1 × 7500 = 7500
  门诊年度结余 (二(三)1) = 9100 − 门诊实际基金支出 (两病 2000 + 其他 3000) − 签约基金 1000 − 违规扣款 100 = 3000
  住院年度结余 (二(三)2) = 7500 − 住院实际支出 6500 − 违规扣款 0 = 1000
  年度结余总额 = 4000 > 0 → 结余留用, 村 : 镇 : 县 = 3 : 5 : 2 (二(三))
  辖区试点人群数 = 村A (6+2+1+1 = 10) + 村B (3+4+0+3 = 10) = 20;  人均结余额 = 4000 ÷ 20 = 200
  所得 = 得分比 × 份额 × 人均结余额 × 人数 (三(一)–(三)); 扣减部分回归医共体包干基金:
    村A   0.90 × 30% × 200 × 10 =  540.00   (满分 600.00, 回归  60.00)
    村B   0.75 × 30% × 200 × 10 =  450.00   (满分 600.00, 回归 150.00)
    镇    0.80 × 50% × 200 × 20 = 1600.00   (满分 2000.00, 回归 400.00)
    县    0.95 × 20% × 200 × 20 =  760.00   (满分 800.00, 回归  40.00)
  分出 3350.00, 留在医共体包干基金 650.00.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from clinic.township.capitation import (
    Claimant,
    Surplus,
    group_budget,
    inpatient_budget,
    outpatient_budget,
    returned_to_fund,
    split_surplus,
)
from clinic.township.rules import RulesError, capitation_programme, stocking_rule

D = Decimal


@pytest.fixture(scope="module")
def rules():
    return capitation_programme("suixi-2021-01-01", date(2021, 12, 31))


def test_suixi_parameters_are_read_from_the_policy_file_not_code(rules):
    assert rules.source == "004_cb032aa18270c2f4.txt" and rules.insurance == "resident"
    two, chronic = rules.two_diseases, rules.chronic
    assert (two.signed, two.signed_outpatient, two.signed_family_doctor, two.unsigned) == (D(340), D(240), D(100),
                                                                                           D(240))
    assert (chronic.signed, chronic.signed_outpatient, chronic.signed_family_doctor, chronic.unsigned) == (
        D(1000), D(900), D(100), D(900))
    assert rules.inpatient_per_head == D(7500)
    assert (rules.village_share, rules.township_share, rules.county_share) == (D("0.30"), D("0.50"), D("0.20"))


def test_the_ezhou_stocking_rule_is_seventy_percent_of_the_upper_level_list():
    rule = stocking_rule("ezhou", date(2026, 1, 1))
    assert rule.min_ratio == D("0.70") and rule.source == "000_12abe66d303e04d1.txt"
    assert stocking_rule("ezhou", date(2022, 9, 30)) is None        # before the plan took effect
    assert stocking_rule("lvliang", date(2026, 1, 1)) is None       # its documents set no such rule


def test_worked_example_budgets_surplus_and_split(rules):
    assert outpatient_budget(rules, 6, 2, 1, 1) == D("4420.00")
    assert outpatient_budget(rules, 3, 4, 0, 3) == D("4680.00")
    assert inpatient_budget(rules, 1) == D("7500.00")
    surplus = Surplus(outpatient_budget=D("9100.00"), outpatient_spend=D("2000.00") + D("3000.00"),
                      signing_fund_paid=D("1000.00"), outpatient_penalties=D("100.00"),
                      inpatient_budget=D("7500.00"), inpatient_spend=D("6500.00"), inpatient_penalties=D("0.00"))
    assert (surplus.outpatient, surplus.inpatient, surplus.total) == (D("3000.00"), D("1000.00"), D("4000.00"))
    claimants = [Claimant("village", "A", "村A", 10, D("0.90")), Claimant("village", "B", "村B", 10, D("0.75")),
                 Claimant("township", "镇:临江镇", "临江镇卫生院", 20, D("0.80")),
                 Claimant("county", "county", "县级牵头医院", 20, D("0.95"))]
    split = split_surplus(rules, surplus.total, 20, claimants)
    assert [(a.entitled, a.earned, a.returned) for a in split] == [
        (D("600.00"), D("540.00"), D("60.00")), (D("600.00"), D("450.00"), D("150.00")),
        (D("2000.00"), D("1600.00"), D("400.00")), (D("800.00"), D("760.00"), D("40.00"))]
    assert returned_to_fund(surplus.total, split) == D("650.00")


def test_an_overspent_year_is_not_split_and_the_fund_bears_it(rules):
    # 附件1 四: 年度结余总额小于0时 … 超支部分由医共体包干基金承担
    assert split_surplus(rules, D("-10.00"), 20, [Claimant("village", "A", "村A", 10, D(1))]) == []
    assert split_surplus(rules, D("0.00"), 20, [Claimant("village", "A", "村A", 10, D(1))]) == []


def test_a_score_ratio_outside_zero_to_one_or_negative_heads_is_refused(rules):
    with pytest.raises(ValueError, match="得分比"):
        split_surplus(rules, D(100), 1, [Claimant("village", "A", "村A", 1, D("1.2"))])
    with pytest.raises(ValueError, match="人数"):
        group_budget(rules.two_diseases, -1, 0)


def test_a_rules_file_whose_shares_or_per_head_parts_do_not_add_up_is_refused(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text('id = "x"\nname = "x"\neffective_from = 2021-01-01\nsource = "004"\n'
                   '[capitation.two_diseases]\nsigned = "340"\nsigned_outpatient = "240"\n'
                   'signed_family_doctor = "100"\nunsigned = "240"\n'
                   '[capitation.chronic]\nsigned = "1000"\nsigned_outpatient = "900"\n'
                   'signed_family_doctor = "100"\nunsigned = "900"\n'
                   '[capitation.inpatient]\nchronic_per_head = "7500"\n'
                   '[surplus]\nvillage = "0.30"\ntownship = "0.50"\ncounty = "0.30"\n', encoding="utf-8")
    with pytest.raises(RulesError, match="份额之和应为 1"):
        capitation_programme(str(bad), date(2021, 1, 1))
    good_shares = bad.read_text(encoding="utf-8").replace('county = "0.30"', 'county = "0.20"')
    bad.write_text(good_shares.replace('signed = "340"', 'signed = "350"'), encoding="utf-8")
    with pytest.raises(RulesError, match="签约定额"):
        capitation_programme(str(bad), date(2021, 1, 1))
