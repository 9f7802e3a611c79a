"""The 调度表: national / 云南 (seeds/003 附件) and Shanxi (seeds/002 附件). The 专项保障机制 row is this
system's own settlements, checked against plain SQL; the two other categories are marked 不适用,
never filled with invented zeros."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import text

from clinic.reports import NOT_APPLICABLE, dispatch_table
from tests.reports.builders import MONTH
from tests.reports.sql import COUNTED, money_by_row

END = date(2026, 2, 28)
LANDED = date(2022, 10, 1)          # resources/policies/ezhou-2022-10-01.toml, the first Ezhou version


def uptake(session, start: date, end: date, disease: str) -> tuple[int, int]:
    """(人数, 人次): settlements paid under the disease, refunds −1; people with a positive net."""
    rows = session.execute(text(f"""
        SELECT s.patient_id, SUM(CASE WHEN s.reverses_id IS NULL THEN 1 ELSE -1 END)
        FROM settlement s JOIN settlement_disease sd ON sd.settlement_id = s.id
        WHERE sd.disease = :disease AND {COUNTED.format(ins="AND s.insurance = 'resident'", codes="")}
        GROUP BY s.patient_id"""), {"disease": disease, "start": str(start), "end": str(end)}).all()
    return sum(1 for _, n in rows if n > 0), sum(n for _, n in rows)


def managed(session, disease: str) -> int:
    return session.scalar(text(f"""
        SELECT COUNT(*) FROM patient p WHERE p.deleted_at IS NULL AND p.insurance = 'resident'
          AND p.managed_{disease} = 1
          AND NOT EXISTS (SELECT 1 FROM filing f WHERE f.patient_id = p.id AND f.disease = :disease
              AND f.state = 'approved' AND f.change_reason = 'cured' AND f.filed_on <= '2026-02-28')"""),
        {"disease": disease})


def money(session, start: date, end: date, disease: str) -> tuple[Decimal, Decimal, Decimal]:
    found = [v for (d, _, _), v in money_by_row(session, start, end, "resident").items() if d == disease]
    return tuple(sum((v[i] for v in found), Decimal("0.00")) for i in (0, 2, 1))


@pytest.mark.parametrize("variant", ["national", "shanxi"])
def test_special_scheme_rows_equal_sums_over_the_stored_rows(session, variant):
    table = dispatch_table(session, MONTH, variant=variant)
    lead = 1 if variant == "shanxi" else 0
    for key, start in (("month", MONTH), ("cumulative", LANDED)):
        cells = table.row("special", key).cells[lead + 2:]
        for n, disease in enumerate(("hypertension", "diabetes")):
            figures = cells[6 * n: 6 * n + 6]
            assert figures[0] == managed(session, disease)
            assert figures[1:3] == uptake(session, start, END, disease)
            assert figures[3:6] == money(session, start, END, disease)
            assert figures[2] > 0 and figures[5] > 0


def test_categories_this_system_does_not_record_are_marked_not_applicable(session):
    table = dispatch_table(session, MONTH)
    for category in ("普通门诊统筹中“两病”用药患者", "门诊慢性病、特殊疾病中“两病”用药患者"):
        row = table.row(category)
        assert row.cells[0] == category
        assert row.cells[2:14] == (NOT_APPLICABLE,) * 12
        assert 0 not in row.cells
    assert [row.cells[0] for row in table.rows] == [
        "普通门诊统筹中“两病”用药患者", "“两病”专项保障机制", "“两病”专项保障机制",
        "门诊慢性病、特殊疾病中“两病”用药患者"]


def test_national_and_shanxi_headers_follow_the_documents(session):
    national = dispatch_table(session, MONTH)
    assert national.title == "鄂州市“两病”门诊用药保障情况调度表"
    assert len(national.header) == 2
    assert national.column_paths()[2:8] == [("高血压", text) for text in (
        "规范化管理人数（人）", "待遇享受人数（人）", "待遇享受人次（次）", "降血压药品费用（元）",
        "降血压药品政策范围内费用（元）", "降血压药品基金支出（元）")]
    assert national.column_paths()[-1] == ("备注",)
    assert any(text.startswith("报送时间") for text in national.footer)
    shanxi = dispatch_table(session, MONTH, variant="shanxi")
    assert shanxi.title == "鄂州市“两病”门诊用药保障情况表"
    assert len(shanxi.header) == 3
    assert shanxi.column_paths()[0] == ("市别",)
    assert shanxi.column_paths()[6] == ("高血压", "药品费用（元）", "降血压药品费用（元）")
    assert shanxi.column_paths()[8] == ("高血压", "降血压药品基金支出（元）")
    assert {row.cells[0] for row in shanxi.rows} == {"鄂州市"}
    assert shanxi.row("special", "cumulative").cells[1] == "“两病”专项保障机制用药患者"


def test_all_insurance_types_can_be_counted(session):
    resident = dispatch_table(session, MONTH).row("special", "month").cells
    everyone = dispatch_table(session, MONTH, insurance=None).row("special", "month").cells
    assert everyone[4] > resident[4]            # 人次 of every insurance type


def test_bad_variant_is_refused(session):
    with pytest.raises(ValueError, match="调度表样式无效"):
        dispatch_table(session, MONTH, variant="hubei")
