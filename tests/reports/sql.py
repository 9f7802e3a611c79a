"""Independent figures for the report tests: plain SQL over the stored rows, written from the rules
the documents and the report docstrings state, not from the report code. Money columns hold
integer fen."""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from decimal import Decimal

from sqlalchemy import text

COUNTED = """
    s.deleted_at IS NULL AND s.settled_on BETWEEN :start AND :end AND s.state <> 'rejected'
    AND (s.reverses_id IS NULL OR s.reverses_id NOT IN (SELECT id FROM settlement WHERE state = 'rejected'))
    {ins} {codes}
"""


def _where(insurance: str | None, codes: list[str] | None) -> str:
    ins = "AND s.insurance = :insurance" if insurance else ""
    inst = f"AND s.institution_code IN ({', '.join(repr(c) for c in codes)})" if codes else ""
    return COUNTED.format(ins=ins, codes=inst)


def yuan(fen) -> Decimal:
    return (Decimal(int(fen or 0)) / 100).quantize(Decimal("0.01"))


def money_by_row(session, start: date, end: date, insurance: str | None, codes: list[str] | None = None) -> dict:
    """(disease, tier, level) → (医疗费, 报销额, 政策范围内费用)."""
    params = {"start": str(start), "end": str(end), "insurance": insurance}
    found: dict = defaultdict(lambda: [Decimal("0.00")] * 3)
    fund = session.execute(text(f"""
        SELECT sd.disease, sd.tier, s.institution_level, SUM(sd.fund_pay), SUM(sd.policy_range)
        FROM settlement s JOIN settlement_disease sd ON sd.settlement_id = s.id
        WHERE {_where(insurance, codes)} GROUP BY 1, 2, 3"""), params)
    for disease, tier, level, paid, policy_range in fund:
        found[(disease, tier, level)][1] += yuan(paid)
        found[(disease, tier, level)][2] += yuan(policy_range)
    cost = session.execute(text(f"""
        SELECT sd.disease, sd.tier, s.institution_level,
               SUM(CASE WHEN s.reverses_id IS NULL THEN dl.line_total ELSE -dl.line_total END)
        FROM settlement s JOIN settlement_disease sd ON sd.settlement_id = s.id
        JOIN dispense_line dl ON dl.dispense_id = s.dispense_id AND dl.disease = sd.disease AND dl.in_scope = 1
        WHERE {_where(insurance, codes)} GROUP BY 1, 2, 3"""), params)
    for disease, tier, level, total in cost:
        found[(disease, tier, level)][0] += yuan(total)
    return {key: tuple(value) for key, value in found.items()}


def filed_counts(session, end: date, insurance: str | None, codes: list[str] | None = None) -> dict:
    """(tier, disease) → patients whose latest approved filing of the disease on `end` is not a cure."""
    inst = f"AND p.institution_code IN ({', '.join(repr(c) for c in codes)})" if codes else ""
    ins = "AND p.insurance = :insurance" if insurance else ""
    rows = session.execute(text(f"""
        WITH ranked AS (
            SELECT f.disease, f.tier, f.change_reason,
                   ROW_NUMBER() OVER (PARTITION BY f.patient_id, f.disease
                                      ORDER BY f.filed_on DESC, COALESCE(f.reviewed_at, f.created_at) DESC) AS n
            FROM filing f JOIN patient p ON p.id = f.patient_id
            WHERE f.deleted_at IS NULL AND p.deleted_at IS NULL AND f.state IN ('approved', 'superseded')
              AND f.filed_on <= :end {ins} {inst})
        SELECT tier, disease, COUNT(*) FROM ranked
        WHERE n = 1 AND COALESCE(change_reason, '') <> 'cured' GROUP BY 1, 2"""),
        {"end": str(end), "insurance": insurance})
    return {(tier, disease): n for tier, disease, n in rows}
