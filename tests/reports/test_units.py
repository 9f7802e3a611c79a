"""附件7 (seeds/000) 参保人员“两病”情况统计表: one row per 填报单位 with the patients under 高血压 and
糖尿病 management at month end, 门诊重慢病 (重症) vs 普通, counted independently here in SQL."""

from __future__ import annotations

from datetime import date

from sqlalchemy import text

from clinic.reports import Scope, units_table
from tests.reports.builders import CLINIC_A, CLINIC_B, HOSPITAL_2, MONTH

END = "2026-02-28"


def expected(session, code: str, disease: str, end: str = END) -> tuple[int, int]:
    """(重症, 普通) at month end: the latest approved filing (not a cure) by its tier; a managed patient
    without any approved filing of the disease counts 普通 from the first day the clinic knew them."""
    filed = dict(session.execute(text("""
        WITH ranked AS (
            SELECT f.tier, f.change_reason, ROW_NUMBER() OVER (PARTITION BY f.patient_id
                   ORDER BY f.filed_on DESC, COALESCE(f.reviewed_at, f.created_at) DESC) AS n
            FROM filing f JOIN patient p ON p.id = f.patient_id
            WHERE p.institution_code = :code AND p.deleted_at IS NULL AND f.deleted_at IS NULL
              AND f.disease = :disease AND f.state IN ('approved', 'superseded') AND f.filed_on <= :end)
        SELECT tier, COUNT(*) FROM ranked WHERE n = 1 AND COALESCE(change_reason, '') <> 'cured' GROUP BY tier"""),
        {"code": code, "disease": disease, "end": end}).all())
    managed_only = session.scalar(text(f"""
        SELECT COUNT(*) FROM patient p
        WHERE p.institution_code = :code AND p.deleted_at IS NULL AND p.managed_{disease} = 1
          AND NOT EXISTS (SELECT 1 FROM filing f WHERE f.patient_id = p.id AND f.disease = :disease
                          AND f.deleted_at IS NULL AND f.state IN ('approved', 'superseded') AND f.filed_on <= :end)
          AND MIN(date(p.created_at),
                  COALESCE((SELECT MIN(filed_on) FROM filing WHERE patient_id = p.id AND deleted_at IS NULL), '9999'),
                  COALESCE((SELECT MIN(visit_on) FROM follow_up WHERE patient_id = p.id AND deleted_at IS NULL),
                           '9999')) <= :end"""), {"code": code, "disease": disease, "end": end})
    return filed.get("severe", 0), filed.get("ordinary", 0) + managed_only


def test_one_row_per_reporting_unit_with_counts_from_the_rows(session):
    table = units_table(session, MONTH)
    assert [row.key for row in table.rows] == [(CLINIC_A,), (CLINIC_B,), ("total",)]
    assert [row.cells[:2] for row in table.rows] == [
        (1, "鄂州市华容区临江乡临江村卫生室"), (2, "鄂州市华容区临江乡燕矶村卫生室"), (None, "合计")]
    for code in (CLINIC_A, CLINIC_B):
        row = table.row(code).cells
        htn, dm = expected(session, code, "hypertension"), expected(session, code, "diabetes")
        assert row[2:] == (*htn, sum(htn), *dm, sum(dm), sum(htn) + sum(dm))
        assert htn[0] > 0 and htn[1] > 0 and dm[1] > 0
    total = table.row("total").cells
    assert total[2:] == tuple(table.row(CLINIC_A).cells[i] + table.row(CLINIC_B).cells[i] for i in range(2, 9))


def test_columns_follow_the_paper_form(session):
    table = units_table(session, "2026-02")
    assert table.form_label == "附件7" and table.title == "鄂州市参保人员“两病”情况统计表"
    assert table.column_paths() == [
        ("序号",), ("填报单位",),
        ("纳入“高血压”管理人员情况统计（人数）", "门诊重慢病"), ("纳入“高血压”管理人员情况统计（人数）", "普通高血压"),
        ("纳入“高血压”管理人员情况统计（人数）", "合计"),
        ("纳入“糖尿病”管理人员情况统计（人数）", "门诊重慢病"), ("纳入“糖尿病”管理人员情况统计（人数）", "普通糖尿病"),
        ("纳入“糖尿病”管理人员情况统计（人数）", "合计"), ("总计",)]


def test_a_named_unit_without_patients_still_gets_its_row(session):
    table = units_table(session, MONTH, Scope.of([CLINIC_B, HOSPITAL_2]))
    assert [row.key for row in table.rows] == [(HOSPITAL_2,), (CLINIC_B,), ("total",)]     # by code
    assert table.row(HOSPITAL_2).cells[2:] == (0,) * 7
    assert table.row("total").cells[2:] == table.row(CLINIC_B).cells[2:]


def test_cure_ends_the_case_and_a_later_change_does_not_count_yet(session):
    # builders: one A patient's 痊愈 change (2026-02-10), one 普通→重症 (2026-02-05), one dated 2026-03-05.
    january, february = units_table(session, date(2026, 1, 1), [CLINIC_A]), units_table(session, MONTH, [CLINIC_A])
    jan, feb = january.row(CLINIC_A).cells, february.row(CLINIC_A).cells
    htn_jan = expected(session, CLINIC_A, "hypertension", "2026-01-31")
    htn_feb = expected(session, CLINIC_A, "hypertension")
    assert (jan[2], jan[3]) == htn_jan and (feb[2], feb[3]) == htn_feb
    assert (feb[2], feb[3]) == (jan[2] + 1, jan[3] - 2)      # one became 重症, one was cured
