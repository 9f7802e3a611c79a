"""Who has which of the 两病 on a date, as the head-count columns of every report count them.

A *case* is one patient with one disease (a patient with both is two cases, as the forms' rows are per
disease). On day `on` a living patient is a case of a disease when
- an approved filing is in force for it (the same choice of filing as settlement entitlement,
  clinic/entitlements.py: the latest approved or since-superseded filing with filed_on ≤ on); its tier
  gives 普通 / 重症, and the case counts as 备案 (filed). An approved 痊愈 change ends the case.
- or, with no approved filing, the patient is under public-health 规范化管理 for it (the managed flag,
  云南 seeds/003 (七)); such a case is 普通 and not 备案. The flag carries no date, so it counts from
  the day the clinic first knew the patient: registration (created_at) or, when records were entered
  later, the earliest filing or follow-up on file.
Cases are counted per clinic registration: on the township server a person registered in two villages
is a case in each, so per-clinic reports add up to the township's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from clinic.db.models import Filing, FollowUp, Patient
from clinic.entitlements import _in_force_order  # one rule for "the filing in force", shared with settlement
from clinic.reports.scope import restrict
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


def cases_on(session: Session, on: date, institutions: Sequence[str] | None = None,
             insurance: str | None = None) -> list[Case]:
    patients_q = restrict(select(Patient.id, Patient.institution_code, Patient.insurance, Patient.created_at,
                                 Patient.managed_hypertension, Patient.managed_diabetes,
                                 Patient.family_doctor_signed).where(Patient.deleted_at.is_(None)),
                          Patient.institution_code, institutions)
    if insurance is not None:
        patients_q = patients_q.where(Patient.insurance == insurance)
    patients = {p.id: p for p in session.execute(patients_q)}

    filings_q = restrict(
        select(Filing.patient_id, Filing.disease, Filing.tier, Filing.change_reason, Filing.filed_on,
               Filing.reviewed_at, Filing.created_at)
        .join(Patient, Patient.id == Filing.patient_id)
        .where(Patient.deleted_at.is_(None), Filing.deleted_at.is_(None),
               Filing.state.in_(("approved", "superseded")), Filing.filed_on <= on),
        Patient.institution_code, institutions)
    in_force: dict[tuple[str, str], object] = {}
    for filing in session.execute(filings_q):
        key = (filing.patient_id, filing.disease)
        if filing.patient_id in patients and (key not in in_force or
                                              _in_force_order(filing) > _in_force_order(in_force[key])):
            in_force[key] = filing

    known = _known_since(session, institutions)
    cases = []
    for p in patients.values():
        known_on = min([p.created_at.date(), *known.get(p.id, ())]) if p.created_at else on
        for disease in DISEASES:
            filing = in_force.get((p.id, disease))
            managed = getattr(p, f"managed_{disease}") and known_on <= on
            if filing is not None:
                if filing.change_reason != "cured":
                    cases.append(Case(p.id, p.institution_code, p.insurance, disease, filing.tier, True, managed,
                                      p.family_doctor_signed))
            elif managed:
                cases.append(Case(p.id, p.institution_code, p.insurance, disease, "ordinary", False, True,
                                  p.family_doctor_signed))
    return cases


def _known_since(session: Session, institutions: Sequence[str] | None) -> dict[str, list[date]]:
    """patient → the earliest filing and follow-up dates on file (records may be entered after the fact)."""
    known: dict[str, list[date]] = {}
    for model, column in ((Filing, Filing.filed_on), (FollowUp, FollowUp.visit_on)):
        query = restrict(select(model.patient_id, func.min(column)).where(model.deleted_at.is_(None))
                         .group_by(model.patient_id), model.institution_code, institutions)
        for patient_id, first in session.execute(query):
            known.setdefault(patient_id, []).append(first)
    return known
