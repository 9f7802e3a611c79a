"""The 备案 tab's work: a patient's filings with their history, 认定备案 / 变更备案 drafts and their
submission for review (clinic/filings.py holds every rule, seeds/000 items 9–11), and 附件2 as PDF.

The reviewer's decision comes back from the township through sync; the clinic never approves."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from clinic import filings as rules
from clinic.db.engine import Database
from clinic.db.models import Filing, Patient
from clinic.db.types import utcnow
from clinic.permissions import require
from clinic.vocab import CHANGE_REASONS, DISEASES, FILING_STATES, TIERS
from desktop.gui.context import UserInfo


@dataclass(frozen=True)
class FilingRow:
    id: str
    kind: str                    # initial | change
    change_reason: str | None
    disease: str
    tier: str
    is_primary: bool
    icd10: str
    history_diagnosis: str
    history_signer: str
    treatment_plan: str
    plan_signer: str
    hospital_opinion: str
    state: str
    reject_reason: str
    filed_on: date
    submitted_at: datetime | None
    reviewed_at: datetime | None
    supersedes_id: str | None

    @property
    def kind_text(self) -> str:
        if self.kind == "initial":
            return "认定备案"
        return f"变更备案（{CHANGE_REASONS.get(self.change_reason or '', self.change_reason or '')}）"

    @property
    def disease_text(self) -> str:
        return f"{DISEASES[self.disease]}·{TIERS[self.tier]}·{'主要' if self.is_primary else '次要'}病种"

    @property
    def state_text(self) -> str:
        word = FILING_STATES.get(self.state, self.state)
        if self.state == "approved" and self.change_reason == "cured":
            word += "（痊愈，待遇终止）"
        return word

    @property
    def note(self) -> str:
        """What the doctor should know about this filing's state, in one line."""
        if self.state == "rejected":
            return f"驳回原因：{self.reject_reason}"
        if self.state == "submitted":
            return f"{self.submitted_at:%Y-%m-%d} 已提交，等待医保经办审核" if self.submitted_at else "等待审核"
        if self.state == "draft":
            return "草稿：填写完整并签字后提交审核"
        if self.state in ("approved", "superseded") and self.reviewed_at:
            later = "，已被后来的变更备案取代" if self.state == "superseded" else ""
            return f"{self.reviewed_at:%Y-%m-%d} 审核通过{later}"
        return ""

    @property
    def can_change(self) -> bool:
        return self.state == "approved" and self.change_reason != "cured"


def _row(f: Filing) -> FilingRow:
    return FilingRow(f.id, f.kind, f.change_reason, f.disease, f.tier, bool(f.is_primary), f.icd10 or "",
                     f.history_diagnosis or "", f.history_signer or "", f.treatment_plan or "", f.plan_signer or "",
                     f.hospital_opinion or "", f.state, f.reject_reason or "", f.filed_on, f.submitted_at,
                     f.reviewed_at, f.supersedes_id)


def history(db: Database, patient_id: str) -> list[FilingRow]:
    """Every filing, newest first (the standing ones and the superseded or rejected history)."""
    with db.session() as s:
        patient = s.get(Patient, patient_id)
        if patient is None:
            raise LookupError("找不到该患者")
        return [_row(f) for f in reversed(rules.filing_history(s, patient))]


def _filing(session, filing_id: str) -> Filing:
    filing = session.get(Filing, filing_id)
    if filing is None or filing.deleted_at is not None:
        raise LookupError("找不到该备案记录")
    return filing


def create_initial(db: Database, user: UserInfo, patient_id: str, *, submit: bool, **fields) -> FilingRow:
    """认定备案; `submit` sends it for review in the same transaction (all or nothing)."""
    require(user.role, "filing.edit")
    with db.session(user.username) as s:
        patient = s.get(Patient, patient_id)
        if patient is None:
            raise LookupError("找不到该患者")
        filing = rules.new_initial_filing(s, patient, **fields)
        if submit:
            rules.submit(s, filing, utcnow())
        return _row(filing)


def create_change(db: Database, user: UserInfo, previous_id: str, *, submit: bool, **fields) -> FilingRow:
    """变更备案 of an approved filing (痊愈 / 病情进展 / 新病种 / 用药改变)."""
    require(user.role, "filing.edit")
    with db.session(user.username) as s:
        filing = rules.new_change_filing(s, _filing(s, previous_id), **fields)
        if submit:
            rules.submit(s, filing, utcnow())
        return _row(filing)


def update_draft(db: Database, user: UserInfo, filing_id: str, *, submit: bool, **changes) -> FilingRow:
    require(user.role, "filing.edit")
    with db.session(user.username) as s:
        filing = rules.update_filing(s, _filing(s, filing_id), **changes)
        if submit:
            rules.submit(s, filing, utcnow())
        return _row(filing)


def submit(db: Database, user: UserInfo, filing_id: str) -> FilingRow:
    require(user.role, "filing.edit")
    with db.session(user.username) as s:
        return _row(rules.submit(s, _filing(s, filing_id), utcnow()))


def reopen(db: Database, user: UserInfo, filing_id: str) -> FilingRow:
    require(user.role, "filing.edit")
    with db.session(user.username) as s:
        return _row(rules.reopen(s, _filing(s, filing_id)))


def form_pdf(db: Database, filing_id: str) -> tuple[bytes, str]:
    """附件2 审定表 of the filing (both diseases on one form when declared the same day), and a title."""
    from forms.filing_form import filing_form_data, render_filing_form  # reportlab: only when printing

    with db.session() as s:
        filing = _filing(s, filing_id)
        patient = s.get(Patient, filing.patient_id)
        return render_filing_form(filing_form_data(s, filing)), f"附件2 审定表 — {patient.name}"
