"""The monthly exchange lists of 云南 seeds/003 (八), drawn from the records the villages sent:

1. 新增人员: people who became 两病 cases this month — under public-health 规范化管理 or with an
   approved 认定备案 in force at month end and not at the end of the previous month (clinic/reports/
   cases.py, the same rule as the reports' head counts);
2. 减少人员: cases at the previous month end that are no longer cases at this month end (an approved
   痊愈 change, a filing or management that ended), and people whose registration was deleted this
   month while they were cases. The managed flag carries no date, so a flag switched off is seen only
   through this difference;
3. 疑似未标识: people who received 两病 drugs or had abnormal blood pressure / glucose this month but
   are not marked (clinic/health.py `suspected_unfiled`, the clinic's own rule), left out when the
   same person (ID number) is a case at any clinic on this server.
卫健 sends lists 1–2 to 医保 and 医保 sends list 3 to 卫健, each by the 20th of the month.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from clinic.db.models import Filing, Institution, Patient
from clinic.health import suspected_unfiled
from clinic.policy import Policy, PolicyError, resolve_policy
from clinic.reports.cases import Case, cases_on
from clinic.reports.scope import Scope, month_end
from clinic.vocab import DISEASES, FILING_STATES, TIERS

DUE_DAY = 20            # 云南 (八) 应于每月20日前推送


@dataclass(frozen=True)
class Listed:
    institution_code: str
    patient: Patient
    disease: str
    kind: str            # what the person is: 认定备案 / 规范化管理 / both, or for list 3 the evidence
    day: date | None     # when it began / ended / was last seen
    note: str


def _kind(case: Case) -> str:
    parts = []
    if case.filed:
        parts.append(f"认定备案（{TIERS[case.tier]}）")
    if case.managed:
        parts.append("规范化管理")
    return "、".join(parts)


def _patients(session: Session, ids: set[str]) -> dict[str, Patient]:
    ids_list, found = sorted(ids), {}
    for start in range(0, len(ids_list), 500):
        chunk = ids_list[start:start + 500]
        found.update((p.id, p) for p in session.scalars(select(Patient).where(Patient.id.in_(chunk))))
    return found


def _ended_on(session: Session, patient_id: str, disease: str, start: date, end: date) -> tuple[date | None, str]:
    cured = session.scalar(select(Filing.filed_on).where(
        Filing.patient_id == patient_id, Filing.disease == disease, Filing.change_reason == "cured",
        Filing.state.in_(("approved", "superseded")), Filing.filed_on >= start, Filing.filed_on <= end,
        Filing.deleted_at.is_(None)))
    if cured is not None:
        return cured, "痊愈（变更备案审核通过）"
    return None, "月末已不符合（备案或规范化管理标记已变更）"


def managed_changes(session: Session, month: date, scope: Scope) -> tuple[list[Listed], list[Listed]]:
    """(新增, 减少) for the month."""
    start, end = month.replace(day=1), month_end(month)
    before = {(c.patient_id, c.disease): c for c in cases_on(session, start - timedelta(days=1), scope)}
    after = {(c.patient_id, c.disease): c for c in cases_on(session, end, scope)}
    deleted = list(session.scalars(scope.restrict(select(Patient).where(
        Patient.deleted_at >= datetime.combine(start, time.min),
        Patient.deleted_at < datetime.combine(end + timedelta(days=1), time.min)), Patient.institution_code)))
    patients = _patients(session, {pid for pid, _ in set(before) | set(after)})
    added = [Listed(c.institution_code, patients[c.patient_id], c.disease, _kind(c), max(c.since, start),
                    "本月新纳入") for key, c in after.items() if key not in before]
    removed = []
    for key, c in before.items():
        if key not in after:
            day, why = _ended_on(session, c.patient_id, c.disease, start, end)
            removed.append(Listed(c.institution_code, patients[c.patient_id], c.disease, _kind(c), day, why))
    for p in deleted:   # cases_on no longer sees a deleted registration: list what it held
        for disease in DISEASES:
            held = session.scalar(select(Filing.id).where(
                Filing.patient_id == p.id, Filing.disease == disease, Filing.deleted_at.is_(None),
                Filing.state.in_(("approved", "superseded")), Filing.filed_on < start).limit(1))
            if held is not None or getattr(p, f"managed_{disease}"):
                removed.append(Listed(p.institution_code, p, disease, "认定备案" if held else "规范化管理",
                                      p.deleted_at.date(), "村卫生室已删除该登记"))
    return sorted(added, key=_order), sorted(removed, key=_order)


def _policy(session: Session, on: date, scope: Scope) -> Policy:
    """The settlement policy of the listed villages' 统筹区 (its entitlement rule decides who is marked)."""
    regions = set(session.scalars(scope.restrict(select(Institution.region), Institution.code)))
    if len(regions) != 1:
        raise PolicyError("所选机构属于多个统筹区，请按统筹区分别列出" if regions else "找不到所选机构的统筹区")
    return resolve_policy(regions.pop(), on)


def _order(item: Listed) -> tuple:
    return item.institution_code, item.patient.name, item.patient.id_number, item.disease


def unmarked(session: Session, month: date, scope: Scope) -> list[Listed]:
    """List 3: 两病 drugs or abnormal readings this month, not marked anywhere on this server."""
    start, end = month.replace(day=1), month_end(month)
    policy = _policy(session, end, scope)
    numbers = dict(session.execute(select(Patient.id, Patient.id_number)).all())
    marked = {numbers[c.patient_id] for c in cases_on(session, end, Scope.everything())}
    wanted = None if scope.institutions is None else set(scope.institutions)
    found = []
    for item in suspected_unfiled(session, policy, end, since_days=(end - start).days):
        p = item.patient
        if (wanted is None or p.institution_code in wanted) and p.id_number not in marked:
            state = FILING_STATES.get(item.filing_state or "", "")
            kind = f"备案{state}" if state else "未标识"
            found.append(Listed(p.institution_code, p, item.disease, kind, item.last_seen_on, item.reason))
    return sorted(found, key=_order)

