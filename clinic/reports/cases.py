"""Who has which of the 两病 on a date, as the head-count columns of every report count them.

A *case* is one patient with one disease (a patient with both is two cases, as the forms' rows are per
disease). On day `on` a living patient is a case of a disease when
- an approved filing is in force for it — the same choice of filing as settlement entitlement
  (clinic/entitlements.py `_in_force_order`): the latest approved or since-superseded filing with
  filed_on ≤ on, by filed_on then review time; its tier gives 普通 / 重症 and the case counts as 备案
  (filed). An approved 痊愈 change ends the case.
- or, with no approved filing, the patient is under public-health 规范化管理 for it (the managed flag,
  云南 seeds/003 (七)); such a case is 普通 and not 备案. The flag carries no date, so it counts from
  the day the clinic first knew the patient: registration (created_at) or, when records were entered
  later, the earliest filing or follow-up on file.
`since` is when the case began: the first approved filing of the disease, or that first-known day for
a managed patient, whichever is earlier (the 濉溪 KPI leaves out cases new in the assessment year).
Cases are counted per clinic registration: on the township server a person registered in two villages
is a case in each, so per-clinic reports add up to the township's.
The filing in force is chosen in SQL (a window function, SQLite ≥ 3.25 and PostgreSQL alike), so a
township database of many clinics is not read into memory filing by filing.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clinic.db.models import Filing, FollowUp, Patient
from clinic.reports.scope import Scope
from clinic.vocab import DISEASES


@dataclass(frozen=True)
class Case:
    patient_id: str
    institution_code: str
    insurance: str
    disease: str          # hypertension | diabetes
    tier: str             # ordinary | severe
    filed: bool           # an approved filing is in force (备案)
    managed: bool         # flagged under public-health 规范化管理 for this disease
    signed: bool          # 家庭医生签约 (current flag: the schema keeps no signing date)
    since: date           # when the case began


def _living_patients(scope: Scope, insurance: str | None):
    query = scope.restrict(select(Patient.id).where(Patient.deleted_at.is_(None)), Patient.institution_code)
    return query if insurance is None else query.where(Patient.insurance == insurance)


def in_force_filings(on: date, scope: Scope, insurance: str | None = None):
    """A subquery: per living patient and disease with an approved filing on `on`, the filing in force
    (tier, change_reason) and the first approved filing date (first_filed)."""
    key = (Filing.patient_id, Filing.disease)
    latest = func.row_number().over(partition_by=key, order_by=(
        Filing.filed_on.desc(), func.coalesce(Filing.reviewed_at, Filing.created_at).desc()))
    ranked = (select(Filing.patient_id, Filing.disease, Filing.tier, Filing.change_reason,
                     func.min(Filing.filed_on).over(partition_by=key).label("first_filed"), latest.label("n"))
              .where(Filing.deleted_at.is_(None), Filing.state.in_(("approved", "superseded")), Filing.filed_on <= on,
                     Filing.patient_id.in_(_living_patients(scope, insurance)))
              .subquery())
    return select(ranked.c.patient_id, ranked.c.disease, ranked.c.tier, ranked.c.change_reason,
                  ranked.c.first_filed).where(ranked.c.n == 1).subquery()


def filed_counts(session: Session, on: date, scope: Scope, insurance: str | None = None) -> Counter:
    """(tier, disease) → cases with an approved filing in force on `on` (备案人数)."""
    filings = in_force_filings(on, scope, insurance)
    rows = session.execute(select(filings.c.tier, filings.c.disease, func.count())
                           .where(func.coalesce(filings.c.change_reason, "") != "cured")
                           .group_by(filings.c.tier, filings.c.disease))
    return Counter({(tier, disease): n for tier, disease, n in rows})


def cases_on(session: Session, on: date, scope: Scope, insurance: str | None = None) -> list[Case]:
    first_filing = (select(func.min(Filing.filed_on))
                    .where(Filing.patient_id == Patient.id, Filing.deleted_at.is_(None)).scalar_subquery())
    first_visit = (select(func.min(FollowUp.visit_on))
                   .where(FollowUp.patient_id == Patient.id, FollowUp.deleted_at.is_(None)).scalar_subquery())
    patients = session.execute(
        select(Patient.id, Patient.institution_code, Patient.insurance, Patient.created_at,
               Patient.managed_hypertension, Patient.managed_diabetes, Patient.family_doctor_signed,
               first_filing.label("first_filing"), first_visit.label("first_visit"))
        .where(Patient.id.in_(_living_patients(scope, insurance))))
    filings = in_force_filings(on, scope, insurance)
    in_force = {(f.patient_id, f.disease): f for f in session.execute(select(filings))}

    cases = []
    for p in patients:
        known = [d for d in (p.created_at.date() if p.created_at else None, p.first_filing, p.first_visit) if d]
        known_on = min(known, default=on)
        for disease in DISEASES:
            filing = in_force.get((p.id, disease))
            managed = bool(getattr(p, f"managed_{disease}")) and known_on <= on
            began = min([d for d in (filing.first_filed if filing else None, known_on if managed else None) if d],
                        default=on)
            if filing is not None:
                if filing.change_reason != "cured":
                    cases.append(Case(p.id, p.institution_code, p.insurance, disease, filing.tier, True, managed,
                                      p.family_doctor_signed, began))
            elif managed:
                cases.append(Case(p.id, p.institution_code, p.insurance, disease, "ordinary", False, True,
                                  p.family_doctor_signed, began))
    return cases
