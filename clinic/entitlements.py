"""Which 两病 a patient is entitled to on a date, as settlement needs it (clinic.settlement.engine.Filing).

- An approved filing entitles from its filed_on (seeds/000 二(一)2: 经认定备案后开始享受待遇); a
  change replaces it from the change's filed_on, so a back-dated offline settlement sees the filing in
  force on that day; an approved 痊愈 change ends the entitlement.
- Where the policy says so (吕梁; 云南 seeds/003 (七), national plan 一(一)), a patient under public-health
  规范化管理 is entitled without a filing, as 普通. A reviewed filing, even a cure, decides over the flag.
- Exactly one primary disease (seeds/000 二(一)4(4)): the filing the patient named primary; else a filed
  disease before a managed-only one, hypertension before diabetes.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from clinic.db.models import Filing, Patient
from clinic.policy import Policy
from clinic.settlement.engine import Filing as Entitlement
from clinic.vocab import DISEASES


def _in_force_order(filing: Filing) -> tuple:
    return (filing.filed_on, filing.reviewed_at or filing.created_at or datetime.min)


def _approved_filings(session: Session, patient_ids: list[str], on: date, disease: str | None = None):
    query = select(Filing).where(
        Filing.patient_id.in_(patient_ids), Filing.deleted_at.is_(None),
        Filing.state.in_(("approved", "superseded")), Filing.filed_on <= on)
    if disease is not None:
        query = query.where(Filing.disease == disease)
    return session.scalars(query)


def filing_in_force(session: Session, patient: Patient, disease: str, on: date) -> Filing | None:
    """The approved (possibly since superseded) filing of a disease that applied on `on`, cured included."""
    return max(_approved_filings(session, [patient.id], on, disease), key=_in_force_order, default=None)


def _entitled(patient: Patient, in_force: dict[str, Filing], policy: Policy) -> tuple[Entitlement, ...]:
    found: list[tuple[str, str, int]] = []   # disease, tier, rank for primary (lower wins)
    for disease in DISEASES:
        filing = in_force.get(disease)
        if filing is not None:
            if filing.change_reason != "cured":
                found.append((disease, filing.tier, 0 if filing.is_primary else 1))
        elif policy.entitles_managed_patients() and getattr(patient, f"managed_{disease}"):
            found.append((disease, "ordinary", 2))
    if not found:
        return ()
    primary = min(found, key=lambda item: item[2])[0]    # min keeps the first (hypertension) on ties
    return tuple(Entitlement(disease=d, tier=tier, primary=d == primary) for d, tier, _ in found)


def entitlements(session: Session, patient: Patient, policy: Policy, on: date) -> tuple[Entitlement, ...]:
    return entitlements_of_many(session, [patient], policy, on)[patient.id]


def entitlements_of_many(session: Session, patients: list, policy: Policy,
                         on: date) -> dict[str, tuple[Entitlement, ...]]:
    """The same rules for many patients (Patient records, or rows with their id and managed_* flags)
    with one query per 500 patients (morning lists, reports); filings are read as plain rows."""
    in_force: dict[str, dict[str, Row]] = {p.id: {} for p in patients}
    ids = list(in_force)
    columns = (Filing.patient_id, Filing.disease, Filing.filed_on, Filing.reviewed_at, Filing.created_at,
               Filing.change_reason, Filing.tier, Filing.is_primary)
    query = select(*columns).where(Filing.deleted_at.is_(None), Filing.state.in_(("approved", "superseded")),
                                   Filing.filed_on <= on)
    # Thousands of patients (a morning list): one pass over the filings beats lists of ids to match.
    chunks = [query] if len(ids) > 2000 else [query.where(Filing.patient_id.in_(ids[start:start + 500]))
                                               for start in range(0, len(ids), 500)]
    for chunk in chunks:
        for filing in session.execute(chunk):
            if filing.patient_id not in in_force:
                continue
            current = in_force[filing.patient_id].get(filing.disease)
            if current is None or _in_force_order(filing) > _in_force_order(current):
                in_force[filing.patient_id][filing.disease] = filing
    return {p.id: _entitled(p, in_force[p.id], policy) for p in patients}
