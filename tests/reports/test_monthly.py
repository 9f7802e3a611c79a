"""附件4/5/6 (seeds/000): one monthly report per insurance type; figures equal plain-SQL sums over the
stored rows; refunds net in their month; refused claims and drugs outside the 两病 scope are left out;
参保人数 (which no clinic holds) is an input shown 待录入 until given."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from clinic.reports import NOT_ENTERED, Scope, monthly_table
from clinic.reports.monthly import LEVEL_COLUMNS
from tests.reports.builders import CLINIC_A, CLINIC_B, HOSPITAL_2, HOSPITAL_3, MONTH, OTHERS, PHARMACY
from tests.reports.sql import filed_counts, money_by_row

END = date(2026, 2, 28)
INSURANCES = ("resident", "employee", "employee_supplementary")
ROWS = [("ordinary", "hypertension", "普通高血压"), ("ordinary", "diabetes", "普通糖尿病"),
        ("ordinary", "total", "合计"), ("severe", "hypertension", "重症高血压"), ("severe", "diabetes", "重症糖尿病"),
        ("severe", "total", "合计")]


def _money(table, key, level_name):
    return table.value(key, level_name, "医疗费"), table.value(key, level_name, "报销额")


@pytest.mark.parametrize("insurance", INSURANCES)
def test_monthly_figures_equal_sums_over_the_stored_rows(session, insurance):
    table = monthly_table(session, MONTH, insurance)
    expected_money = money_by_row(session, MONTH, END, insurance)
    expected_filed = filed_counts(session, END, insurance)
    for tier in ("ordinary", "severe"):
        for disease in ("hypertension", "diabetes"):
            key = (tier, disease)
            assert table.value(key, "备案人数") == expected_filed.get(key, 0)
            total_cost = total_fund = Decimal("0.00")
            for level, name in LEVEL_COLUMNS:
                cost, fund, _ = expected_money.get((disease, tier, level), (Decimal("0.00"),) * 3)
                assert _money(table, key, name) == (cost, fund), (key, name)
                total_cost, total_fund = total_cost + cost, total_fund + fund
            assert _money(table, key, "合计") == (total_cost, total_fund)
        block = [table.row(tier, d).cells for d in ("hypertension", "diabetes")]
        totals = table.row(tier, "total").cells
        for i in range(2, table.columns):
            assert totals[i] == block[0][i] + block[1][i]
    # Every level column is exercised by the data, so the comparison above is not vacuous.
    for _, name in LEVEL_COLUMNS:
        assert sum(table.value((tier, "total"), name, "报销额") for tier in ("ordinary", "severe")) > 0, name


def test_level_columns_take_the_settling_institutions_level(session):
    table = monthly_table(session, MONTH, "resident")
    for code, (_, level) in OTHERS.items():
        name = dict(LEVEL_COLUMNS)[level]
        alone = monthly_table(session, MONTH, "resident", [code])
        paid = alone.value(("ordinary", "total"), name, "报销额")
        assert paid > 0 and alone.value(("ordinary", "total"), "合计", "报销额") == paid
    assert table.value(("ordinary", "total"), "定点药店", "医疗费") > 0


def test_medical_cost_is_the_full_drug_price_including_the_part_above_the_standard(session):
    # The hospitals sold at 1.37 a tablet against a payment standard of 1.10 (tests/reports/builders.py):
    # 医疗费 counts the full price, not only the policy-range part.
    table = monthly_table(session, MONTH, "employee", [HOSPITAL_2, HOSPITAL_3, PHARMACY])
    money = money_by_row(session, MONTH, END, "employee", [HOSPITAL_2, HOSPITAL_3, PHARMACY])
    cost, _, policy_range = money[("hypertension", "ordinary", "2")]
    assert table.value(("ordinary", "hypertension"), "二级医疗机构", "医疗费") == cost > policy_range


def test_antibiotic_outside_the_two_diseases_is_not_in_the_medical_cost(session):
    from sqlalchemy import select

    from clinic.db.models import Settlement
    settlements = session.scalars(select(Settlement).where(Settlement.institution_code == HOSPITAL_3)).all()
    table = monthly_table(session, MONTH, "resident", [HOSPITAL_3])
    resident = [s for s in settlements if s.insurance == "resident"]
    in_scope = sum((s.total - s.out_of_scope for s in resident), Decimal("0.00"))
    assert all(s.out_of_scope > 0 for s in resident)
    assert table.value(("ordinary", "total"), "三级医疗机构", "医疗费") + table.value(
        ("severe", "total"), "三级医疗机构", "医疗费") == in_scope


def test_rows_and_columns_are_the_paper_forms(session):
    for insurance, label, word in (("resident", "附件4", "城乡居民医保"), ("employee", "附件5", "城镇职工医保"),
                                   ("employee_supplementary", "附件6", "城镇职工补充医保")):
        table = monthly_table(session, "2026-02", insurance)
        assert table.form_label == label
        assert table.title == f"鄂州市{word}“两病”门诊用药保障和健康管理示范城市活动月报表"
        assert [(row.key, row.cells[0]) for row in table.rows] == [((t, d), text) for t, d, text in ROWS]
        assert [row.total for row in table.rows] == [False, False, True, False, False, True]
        assert table.column_paths()[:3] == [("疾病病种",), ("参保人数",), ("备案人数",)]
        assert table.column_paths()[3:] == [(group, word) for group in (
            "一级及以下医疗机构", "二级医疗机构", "三级医疗机构", "定点药店", "合计") for word in ("医疗费", "报销额")]
        assert table.period == "2026年2月"


def test_insured_count_is_an_input_shown_as_pending_until_given(session):
    table = monthly_table(session, MONTH, "resident")
    assert all(row.cells[1] == NOT_ENTERED for row in table.rows)
    partial = monthly_table(session, MONTH, "resident", insured={"ordinary.hypertension": 1200,
                                                                  "ordinary.diabetes": "640"})
    assert partial.value(("ordinary", "hypertension"), "参保人数") == 1200
    assert partial.value(("ordinary", "total"), "参保人数") == 1840
    assert partial.value(("severe", "hypertension"), "参保人数") == NOT_ENTERED
    assert partial.value(("severe", "total"), "参保人数") == NOT_ENTERED
    assert any("已录入" in note for note in partial.notes)


@pytest.mark.parametrize(("insured", "message"), [
    ({"ordinary.hypertension": -3}, "普通高血压参保人数应为不小于 0 的整数"),
    ({"ordinary.hypertension": "many"}, "不小于 0 的整数"),
    ({"ordinary.hypertension": 12.5}, "不小于 0 的整数"),
    ({"mild.hypertension": 3}, "未知的参保人数录入项"),
])
def test_bad_insured_input_is_refused_with_a_reason(session, insured, message):
    with pytest.raises(ValueError, match=message):
        monthly_table(session, MONTH, "resident", insured=insured)


def test_unknown_insurance_is_refused(session):
    with pytest.raises(ValueError, match="险种 无效"):
        monthly_table(session, MONTH, "farmers")


def test_scope_restricts_every_figure_to_the_named_clinics(session):
    only_a = monthly_table(session, MONTH, "resident", Scope.of([CLINIC_A]))
    money = money_by_row(session, MONTH, END, "resident", [CLINIC_A])
    filed = filed_counts(session, END, "resident", [CLINIC_A])
    assert only_a.value(("ordinary", "hypertension"), "备案人数") == filed[("ordinary", "hypertension")]
    assert _money(only_a, ("ordinary", "diabetes"), "一级及以下医疗机构") == money[("diabetes", "ordinary", "1")][:2]
    for name in ("二级医疗机构", "三级医疗机构", "定点药店"):
        assert _money(only_a, ("ordinary", "total"), name) == (Decimal("0.00"), Decimal("0.00"))
    assert only_a.unit == "鄂州市华容区临江乡临江村卫生室"


def test_reports_of_each_clinic_add_up_to_the_township_report(session):
    everything = monthly_table(session, MONTH, "resident")
    parts = [monthly_table(session, MONTH, "resident", [code]) for code in (CLINIC_A, CLINIC_B, *OTHERS)]
    for row in everything.rows:
        for i in range(2, everything.columns):
            assert row.cells[i] == sum(part.row(*row.key).cells[i] for part in parts), (row.key, i)
    assert everything.unit == "华容区临江乡卫生院"     # several clinics: the township collects them


def test_money_is_decimal_to_the_cent(session):
    table = monthly_table(session, MONTH, "resident")
    for row in table.rows:
        for value in row.cells[3:]:
            assert isinstance(value, Decimal) and value == value.quantize(Decimal("0.01"))
