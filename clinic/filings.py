"""两病 filings (seeds/000 items 9–11, form 附件2): 认定备案 and 变更备案, and the reviewer's decision.

A filing moves draft → submitted → approved | rejected; a rejected one may be reopened as a draft,
edited and resubmitted. A change filing (痊愈 / 病情进展 / 新病种 / 用药改变) references the filing it
changes; when it is approved the earlier filing of that disease becomes `superseded`. Nothing is
deleted, so the history of every decision stays readable. Every edit bumps `version` (sync conflicts).
What settlement may pay for, `entitlements()`, lives in clinic/entitlements.py and is re-exported here.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from clinic.db.models import Filing, Patient
from clinic.entitlements import entitlements
from clinic.vocab import CHANGE_REASONS, DISEASES, TIERS

__all__ = ["FilingError", "approve", "current_filings", "entitlements", "filing_history", "is_live",
           "new_change_filing", "new_initial_filing", "reject", "reopen", "submit", "update_filing"]

OPEN_STATES = ("draft", "submitted")
EDITABLE_FIELDS = ("tier", "is_primary", "icd10", "history_diagnosis", "history_signer", "history_signed_on",
                   "treatment_plan", "plan_signer", "plan_signed_on", "filed_on")


class FilingError(ValueError):
    """A filing cannot be made or moved on; the message says why, in Chinese."""


def _name(disease: str) -> str:
    return DISEASES.get(disease, disease)


def _touch(filing: Filing) -> None:
    filing.version = (filing.version or 1) + 1


def _order(filing: Filing) -> tuple:
    return (filing.filed_on, filing.created_at or datetime.max)


def _is_cured(filing: Filing) -> bool:
    return filing.change_reason == "cured"


def is_live(filing: Filing) -> bool:
    """Open, or approved and still giving entitlement (a cured filing ends it)."""
    return filing.state in OPEN_STATES or (filing.state == "approved" and not _is_cured(filing))


def _filings(session: Session, patient_id: str, disease: str | None = None) -> list[Filing]:
    query = select(Filing).where(Filing.patient_id == patient_id, Filing.deleted_at.is_(None))
    if disease is not None:
        query = query.where(Filing.disease == disease)
    return sorted(session.scalars(query), key=_order)


def _check_content(disease: str, tier: str, history_diagnosis: str | None) -> None:
    if disease not in DISEASES:
        raise FilingError(f"申报病种无效：{disease!r}（只能是高血压或糖尿病）")
    if tier not in TIERS:
        raise FilingError(f"病种分级无效：{tier!r}（只能是普通或重症）")
    if not (history_diagnosis or "").strip():
        raise FilingError("病史及诊断不能为空（附件2 专家意见）")


def _refuse_second_live(session: Session, patient_id: str, disease: str, except_id: str | None = None) -> None:
    for other in _filings(session, patient_id, disease):
        if other.id != except_id and is_live(other):
            word = "已通过" if other.state == "approved" else "尚在办理中"
            raise FilingError(f"该患者{_name(disease)}已有{word}的备案，请办理变更备案，不能重复认定")


def _other_primary(session: Session, patient_id: str, disease: str) -> list[Filing]:
    return [f for f in _filings(session, patient_id) if f.disease != disease and is_live(f) and f.is_primary]


def _refuse_second_primary(session: Session, patient_id: str, disease: str) -> None:
    # seeds/000 二(一)4(4): the patient names one primary disease; the other gets half the ratio.
    others = _other_primary(session, patient_id, disease)
    if others:
        raise FilingError(
            f"该患者的主要病种已是{_name(others[0].disease)}，每人只能有一个主要病种；"
            f"请按次要病种备案，或在审核通过时选择“设为主要病种”")


def _signed(signer: str | None, on: date) -> tuple[str | None, date | None]:
    signer = (signer or "").strip() or None
    return signer, on if signer else None


def new_initial_filing(session: Session, patient: Patient, *, disease: str, tier: str, primary: bool,
                       icd10: str | None, history_diagnosis: str, treatment_plan: str,
                       history_signer: str | None = None, plan_signer: str | None = None,
                       filed_on: date) -> Filing:
    """认定备案 (item 9): a draft for one disease of a patient who has no live filing for it."""
    _check_content(disease, tier, history_diagnosis)
    _refuse_second_live(session, patient.id, disease)
    if primary:
        _refuse_second_primary(session, patient.id, disease)
    # After a cure the disease may come back: a new 认定 links to the cured filing it replaces.
    cured = [f for f in _filings(session, patient.id, disease) if f.state == "approved" and _is_cured(f)]
    if cured and filed_on < cured[-1].filed_on:
        raise FilingError(f"备案日期不能早于痊愈变更备案的日期 {cured[-1].filed_on}")
    h_signer, h_on = _signed(history_signer, filed_on)
    p_signer, p_on = _signed(plan_signer, filed_on)
    filing = Filing(
        patient_id=patient.id, kind="initial", change_reason=None, disease=disease, tier=tier,
        is_primary=bool(primary), icd10=(icd10 or "").strip() or None, history_diagnosis=history_diagnosis.strip(),
        history_signer=h_signer, history_signed_on=h_on, treatment_plan=(treatment_plan or "").strip(),
        plan_signer=p_signer, plan_signed_on=p_on, state="draft", filed_on=filed_on,
        supersedes_id=cured[-1].id if cured else None, version=1,
    )
    session.add(filing)
    session.flush()
    return filing


def _other_disease(disease: str) -> str:
    return next(d for d in DISEASES if d != disease)


def new_change_filing(session: Session, previous: Filing, *, reason: str, filed_on: date,
                      tier: str | None = None, primary: bool | None = None, disease: str | None = None,
                      treatment_plan: str | None = None, history_diagnosis: str | None = None,
                      icd10: str | None = None, history_signer: str | None = None,
                      plan_signer: str | None = None) -> Filing:
    """变更备案 (item 10) of an approved filing; fields not given are copied from it.

    新病种 (new_disease) is a filing for the other disease that references this one; it does not end
    this disease's filing, it defaults to ordinary and secondary, and needs its own 病史及诊断."""
    if reason not in CHANGE_REASONS:
        raise FilingError(f"变更原因无效：{reason!r}（可选：{' / '.join(CHANGE_REASONS.values())}）")
    if previous.state != "approved":
        raise FilingError("只有审核通过的备案才能办理变更备案")
    if _is_cured(previous):
        raise FilingError(f"{_name(previous.disease)}已痊愈，如复发请重新办理认定备案")
    if filed_on < previous.filed_on:
        raise FilingError(f"变更备案日期不能早于原备案日期 {previous.filed_on}")
    new_disease = reason == "new_disease"
    if new_disease:
        disease = disease or _other_disease(previous.disease)
        if disease == previous.disease:
            raise FilingError("新病种变更备案须为另一病种")
        if not (history_diagnosis or "").strip():
            raise FilingError(f"新病种{_name(disease)}须填写病史及诊断")
    elif disease not in (None, previous.disease):
        raise FilingError("病种不同请选择“新病种”变更原因")
    disease = disease or previous.disease
    if new_disease:
        _refuse_second_live(session, previous.patient_id, disease)
    else:
        pending = [f for f in _filings(session, previous.patient_id, disease) if f.state in OPEN_STATES]
        if pending:
            raise FilingError(f"该患者{_name(disease)}已有办理中的变更备案，请先完成审核")
    if reason == "medication" and (treatment_plan or "").strip() in ("", previous.treatment_plan):
        raise FilingError("用药改变须填写新的治疗方案")
    if reason == "progression" and tier in (None, previous.tier) and not any(
            value is not None and value.strip() != (old or "")
            for value, old in ((history_diagnosis, previous.history_diagnosis),
                               (treatment_plan, previous.treatment_plan), (icd10, previous.icd10))):
        raise FilingError("病情进展须写明变化（如普通→重症，或新的诊断、治疗方案）")

    tier = tier or ("ordinary" if new_disease else previous.tier)
    is_primary = (False if new_disease else previous.is_primary) if primary is None else bool(primary)
    _check_content(disease, tier, history_diagnosis if history_diagnosis is not None
                   else previous.history_diagnosis)
    if is_primary:
        _refuse_second_primary(session, previous.patient_id, disease)

    # A signer vouches for the text as it was on the day signed: copied text keeps its signature.
    if history_diagnosis is None:
        text, h_signer, h_on = previous.history_diagnosis, previous.history_signer, previous.history_signed_on
    else:
        text, (h_signer, h_on) = history_diagnosis.strip(), _signed(history_signer, filed_on)
    if treatment_plan is None:
        plan, p_signer, p_on = previous.treatment_plan, previous.plan_signer, previous.plan_signed_on
    else:
        plan, (p_signer, p_on) = treatment_plan.strip(), _signed(plan_signer, filed_on)
    filing = Filing(
        patient_id=previous.patient_id, kind="change", change_reason=reason, disease=disease, tier=tier,
        is_primary=is_primary, icd10=(icd10.strip() or None) if icd10 is not None else
        (None if new_disease else previous.icd10), history_diagnosis=text, history_signer=h_signer,
        history_signed_on=h_on, treatment_plan=plan, plan_signer=p_signer, plan_signed_on=p_on,
        state="draft", filed_on=filed_on, supersedes_id=previous.id, version=1,
    )
    session.add(filing)
    session.flush()
    return filing


def _clean(key: str, value: object) -> object:
    if not isinstance(value, str):
        return value
    optional = key in ("icd10", "history_signer", "plan_signer")    # blank means "not given"
    return (value.strip() or None) if optional else value.strip()


def update_filing(session: Session, filing: Filing, **changes: object) -> Filing:
    """Edit a draft (a rejected filing is reopened first). Fields: EDITABLE_FIELDS (`primary` also accepted)."""
    if filing.state != "draft":
        raise FilingError("只有草稿状态的备案可以修改（已驳回的请先重新打开）")
    if "primary" in changes:
        changes["is_primary"] = changes.pop("primary")
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise FilingError(f"不能修改的字段：{', '.join(sorted(unknown))}")
    _check_content(filing.disease, str(changes.get("tier", filing.tier)),
                   str(changes.get("history_diagnosis", filing.history_diagnosis) or ""))
    if changes.get("is_primary") and not filing.is_primary:
        _refuse_second_primary(session, filing.patient_id, filing.disease)
    earlier = session.get(Filing, filing.supersedes_id) if filing.supersedes_id else None
    if "filed_on" in changes and earlier is not None and changes["filed_on"] < earlier.filed_on:
        raise FilingError(f"备案日期不能早于原备案日期 {earlier.filed_on}")
    values = {key: _clean(key, value) for key, value in changes.items()}
    for signer, signed_on in (("history_signer", "history_signed_on"), ("plan_signer", "plan_signed_on")):
        who = values.get(signer, getattr(filing, signer))
        if who is None:
            values[signer], values[signed_on] = None, None       # no signature, no signing date
        elif values.get(signed_on, getattr(filing, signed_on)) is None:
            values[signed_on] = values.get("filed_on", filing.filed_on)
    changed = False
    for key, value in values.items():
        if getattr(filing, key) != value:
            setattr(filing, key, value)
            changed = True
    if changed:
        _touch(filing)
    session.flush()
    return filing


def submit(session: Session, filing: Filing, at: datetime) -> Filing:
    """传报医保经办机构审核 (item 9): the 附件2 form must be complete and signed."""
    if filing.state != "draft":
        raise FilingError(f"只有草稿可以提交审核（当前：{filing.state}）")
    missing = [label for label, value in (("病史及诊断", filing.history_diagnosis),
                                          ("病史及诊断签字", filing.history_signer),
                                          ("治疗方案", filing.treatment_plan), ("治疗方案签字", filing.plan_signer))
               if not (value or "").strip()]
    if missing:
        raise FilingError(f"审定表尚未填写完整：{'、'.join(missing)}")
    filing.state, filing.submitted_at = "submitted", at
    _touch(filing)
    session.flush()
    return filing


def approve(session: Session, filing: Filing, at: datetime, opinion: str | None = None, *,
            make_primary: bool = False) -> Filing:
    """The reviewer approves. The approved filing of the same disease it changes becomes superseded;
    `make_primary` makes this filing the primary disease and turns the other disease's secondary."""
    if filing.state != "submitted":
        raise FilingError("只有已提交的备案可以审核通过")
    others = _other_primary(session, filing.patient_id, filing.disease)
    if filing.is_primary and others and not make_primary:
        raise FilingError(f"该患者的主要病种已是{_name(others[0].disease)}，每人只能有一个主要病种；"
                          f"如患者选择改以{_name(filing.disease)}为主要病种，请选择“设为主要病种”")
    if make_primary:
        for other in others:
            other.is_primary = False
            _touch(other)
        filing.is_primary = True
    for earlier in _filings(session, filing.patient_id, filing.disease):
        if earlier.id != filing.id and earlier.state == "approved":
            earlier.state = "superseded"
            _touch(earlier)
    filing.state, filing.reviewed_at = "approved", at
    if opinion is not None and opinion.strip():
        filing.hospital_opinion, filing.hospital_signed_on = opinion.strip(), at.date()
    _touch(filing)
    session.flush()
    return filing


def reject(session: Session, filing: Filing, at: datetime, reason: str) -> Filing:
    """The reviewer rejects, and must say why (the clinic sees the reason)."""
    if filing.state != "submitted":
        raise FilingError("只有已提交的备案可以驳回")
    if not (reason or "").strip():
        raise FilingError("驳回备案须填写驳回原因")
    filing.state, filing.reviewed_at, filing.reject_reason = "rejected", at, reason.strip()
    _touch(filing)
    session.flush()
    return filing


def reopen(session: Session, filing: Filing) -> Filing:
    """A rejected filing goes back to draft to be corrected; the reviewer's reason is kept."""
    if filing.state != "rejected":
        raise FilingError("只有被驳回的备案可以重新打开修改")
    if filing.kind == "change" and filing.change_reason != "new_disease":
        previous = session.get(Filing, filing.supersedes_id) if filing.supersedes_id else None
        if previous is None or previous.state != "approved":
            raise FilingError("原备案已被变更，不能再按此变更备案修改，请重新办理")
        if any(f.state in OPEN_STATES for f in _filings(session, filing.patient_id, filing.disease)):
            raise FilingError(f"该患者{_name(filing.disease)}已有办理中的变更备案")
    else:
        _refuse_second_live(session, filing.patient_id, filing.disease, except_id=filing.id)
    filing.state = "draft"
    _touch(filing)
    session.flush()
    return filing


def filing_history(session: Session, patient: Patient) -> list[Filing]:
    """Every filing of the patient, oldest first, superseded and rejected ones included."""
    return _filings(session, patient.id)


def current_filings(session: Session, patient: Patient) -> list[Filing]:
    """Per disease, the latest filing that has not been superseded (it may still be open or rejected;
    entitlement comes only from approved filings, see clinic/entitlements.py)."""
    result = []
    for disease in DISEASES:
        standing = [f for f in _filings(session, patient.id, disease) if f.state != "superseded"]
        if standing:
            result.append(standing[-1])
    return result
