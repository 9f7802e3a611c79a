"""The 濉溪 KPI scoring formulas (seeds/004 附件2 濉溪县门诊特殊疾病定额支付考核细则) and its table as
data in resources/policies/assessment/suixi-2021-01-01.toml."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from clinic.reports import AssessmentError, load_assessment
from clinic.reports.assessment import assessment_dir
from clinic.reports.scoring import banded_score, deduction_score, target_score


@pytest.mark.parametrize(("rate", "score"), [("0.90", "4.50"), ("0.95", "4.75"), ("0.951", "5.00"), ("1", "5.00"),
                                             ("0.50", "2.50")])
def test_signing_rate_scores_rate_times_weight_and_full_marks_above_95_percent(rate, score):
    # "80-95%；得分=达标率×分值，超过95%得满分" — 超过 is strictly above; below the band the same formula.
    assert banded_score(D(rate), D(5), D("0.95"), full_above=True) == D(score)


def test_bp_control_rate_full_marks_only_above_60_percent():
    # "0-60%；得分=达标率×分值，超过60%得满分", 分值 3
    assert banded_score(D("0.60"), D(3), D("0.60"), True) == D("1.80")
    assert banded_score(D("0.61"), D(3), D("0.60"), True) == D("3.00")
    assert banded_score(D("0.333"), D(3), D("0.60"), True) == D("1.00")      # 0.999 → 1.00, half up


def test_service_item_completion_has_no_full_marks_clause():
    # "95%-100%；得分=达标率×分值"
    assert banded_score(D("0.97"), D(5), D("1"), False) == D("4.85")
    assert banded_score(D("1"), D(5), D("1"), False) == D("5.00")


@pytest.mark.parametrize(("cases", "score"), [(0, "5.00"), (1, "4.50"), (3, "3.50"), (10, "0.00"), (12, "0.00")])
def test_each_complaint_or_bad_record_takes_half_a_point_never_below_zero(cases, score):
    # "出现1例合理投诉扣0.5分"; "不合格1例扣0.5分"; "每例扣0.5分"
    assert deduction_score(cases, D(5), D("0.5")) == D(score)


def test_negative_case_count_is_refused():
    with pytest.raises(ValueError, match="扣分例数不能为负数"):
        deduction_score(-1, D(5), D("0.5"))


@pytest.mark.parametrize(("rate", "score"), [("0.70", "10.00"), ("0.95", "10.00"), ("0.56", "8.00"),
                                             ("0.35", "5.00"), ("0.20", "2.86"), ("0", "0.00")])
def test_visit_rate_full_marks_at_70_percent_else_rate_over_70_percent_times_weight(rate, score):
    # "达到70%得满分，低于70%得分：实际门诊就诊率/70%×分值", 分值 10
    assert target_score(D(rate), D(10), D("0.70")) == D(score)


def test_the_shipped_table_is_the_documents_table():
    table = load_assessment()
    assert table.name == "濉溪县门诊特殊疾病定额支付考核细则" and table.source == "004_cb032aa18270c2f4.txt"
    assert [(i.no, i.second, i.weight) for i in table.indicators] == [
        ("1", "两病人员签约占比", 5), ("1", "慢性病人员签约占比", 5), ("2", "签约包完成率", 5),
        ("2", "服务包项目完成率", 5), ("3", "规范管理率", 2), ("3", "血压管理达标率", 3), ("4", "规范管理率", 2),
        ("4", "血糖管理达标率", 3), ("5", "县、镇、村慢性病用药保障到位", 5), ("6", "规范诊疗率", 5),
        ("7", "规范转诊率", 5), ("8", "规范报销率", 5), ("9", "两病人员就诊率", 10)]
    assert table.total_weight == 60
    assert table.insurance == "resident" and table.exclude_new_cases
    assert table.indicator("package_completion").lower == D("0.90")
    assert table.indicator("visits").target == D("0.70")
    assert table.indicator("bad_referrals").per_case == D("0.5")


def test_scoring_parameters_come_from_the_file(tmp_path):
    shipped = (assessment_dir() / "suixi-2021-01-01.toml").read_text(encoding="utf-8")
    changed = tmp_path / "changed.toml"
    changed.write_text(shipped.replace('\ntarget = "0.70"', '\ntarget = "0.80"'), encoding="utf-8")
    assert load_assessment(changed).indicator("visits").score(D("0.40")) == D("5.00")
    assert load_assessment().indicator("visits").score(D("0.40")) == D("5.71")


@pytest.mark.parametrize(("old", "new", "message"), [
    ('rule = "target"', 'rule = "guess"', "rule 无效"),
    ('weight = "10"', 'weight = 10.0', "请写成字符串形式的十进制数"),
    ('per_case = "0.5"', 'per_case = "-0.5"', "应为不小于 0 的数"),
    ('upper = "0.95"', 'upper = "95"', "应在 0 到 1 之间"),
    ('min_follow_ups = "4"', 'min_follow_ups = "four"', "应为正整数"),
])
def test_a_malformed_assessment_file_is_refused_with_a_reason(tmp_path, old, new, message):
    shipped = (assessment_dir() / "suixi-2021-01-01.toml").read_text(encoding="utf-8")
    broken = tmp_path / "broken.toml"
    assert f"\n{old}\n" in shipped
    broken.write_text(shipped.replace(f"\n{old}\n", f"\n{new}\n", 1), encoding="utf-8")
    with pytest.raises(AssessmentError, match=message):
        load_assessment(broken)
