"""Today's work for the doctor (issue: home screen / `liangbing today`): each list a title and rows of
(patient id, what to do), most urgent first."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from clinic.db.models import Drug, Filing, Settlement
from clinic.dispensing import running_out
from clinic.health import overdue_follow_ups, suspected_unfiled
from clinic.profile import policy_in_force
from clinic.vocab import DISEASES

Rows = list[tuple[str, str]]


def supply_running_out(session: Session, on: date) -> Rows:
    """One row per patient: the drugs that run out first, soonest patient first."""
    window = policy_in_force(session, on).refill_window_days
    names = dict(session.execute(select(Drug.code, Drug.generic_name)).all())
    by_patient: dict[str, list] = {}
    for item in running_out(session, on, within_days=window):
        by_patient.setdefault(item.patient_id, []).append(item)
    rows = []
    for patient_id, items in by_patient.items():
        first = items[0]
        drugs = "、".join(names.get(i.drug_code, i.drug_code) for i in items if i.runs_out_on == first.runs_out_on)
        when = f"还剩 {first.days_left} 天" if first.days_left > 0 else f"已断药 {-first.days_left} 天"
        rows.append((patient_id, f"{drugs} {when}（{first.runs_out_on} 用完）"))
    return rows


def morning_lists(session: Session, on: date) -> dict[str, Rows]:
    policy = policy_in_force(session, on)
    pending = session.execute(
        select(Filing.patient_id, Filing.disease, Filing.submitted_at)
        .where(Filing.state == "submitted", Filing.deleted_at.is_(None)).order_by(Filing.filed_on)).all()
    unsent = session.execute(
        select(Settlement.patient_id, Settlement.receipt_no, Settlement.settled_on)
        .where(Settlement.state == "settled_offline", Settlement.deleted_at.is_(None))
        .order_by(Settlement.settled_on)).all()
    return {
        "将断药（可续配）": supply_running_out(session, on),
        "随访逾期": [(o.patient.id, f"应于 {o.due_on} 随访，已逾期 {o.days_overdue} 天")
                     for o in overdue_follow_ups(session, on)],
        "疑似未备案": [(s.patient.id, f"{DISEASES[s.disease]}：{s.reason}")
                       for s in suspected_unfiled(session, policy, on)],
        "备案待审核": [(p, f"{DISEASES[d]} 已提交，等待医保经办审核") for p, d, _ in pending],
        "结算待上传": [(p, f"结算单 {no}（{day}）") for p, no, day in unsent],
    }
