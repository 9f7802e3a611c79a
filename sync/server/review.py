"""The 医保 reviewer's decisions, made on the server's copy and sent back through the review stream.

A filing is approved or rejected with clinic/filings.py, the same rules the clinic knows; every filing
the decision changes (the approved one, an earlier one it supersedes, another disease that stops being
primary) gets a new server version and a review-stream entry for its clinic. A cross-clinic flag on a
settlement is resolved by accepting, adjusting or rejecting the settlement, with a note.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from clinic import filings
from clinic.db.models import ClaimFlag, Filing, Institution, Patient, Settlement, SyncRecordHead
from clinic.db.records import payload_hash, read_record
from clinic.db.types import utcnow
from sync.server import feed
from sync.server.storage import ServerDatabase

DECISIONS = {"accepted": "审核通过", "adjusted": "调整", "rejected": "拒付"}


class ReviewError(ValueError):
    pass


@dataclass(frozen=True)
class QueuedFiling:
    filing: Filing
    patient: Patient
    clinic_name: str


def filing_queue(s: Session) -> list[QueuedFiling]:
    rows = s.execute(select(Filing, Patient, Institution.name)
                     .join(Patient, Patient.id == Filing.patient_id)
                     .outerjoin(Institution, Institution.code == Filing.institution_code)
                     .where(Filing.state == "submitted", Filing.deleted_at.is_(None))
                     .order_by(Filing.submitted_at, Filing.filed_on)).all()
    return [QueuedFiling(f, p, name or f.institution_code) for f, p, name in rows]


def open_flags(s: Session) -> list[tuple[ClaimFlag, str]]:
    rows = s.execute(select(ClaimFlag, Patient.name).join(Patient, Patient.id == ClaimFlag.patient_id)
                     .where(ClaimFlag.resolved_at.is_(None)).order_by(ClaimFlag.created_at)).all()
    return [(flag, name) for flag, name in rows]


def publish(s: Session, kind: str, record_ids: list[str], now: datetime) -> None:
    """New server versions of clinic records: the head moves on and the clinic's review stream hears."""
    entries = []
    for record_id in record_ids:
        head = s.get(SyncRecordHead, record_id)
        payload = read_record(s.connection(), kind, record_id)
        if head is None or payload is None:
            continue
        head.current_hash, head.updated_at = payload_hash(payload), now
        entries.append(("review", kind, record_id, head.institution_code))
    feed.append(s, entries)


def _decide(db: ServerDatabase, filing_id: str, reviewer: str, action) -> Filing:
    now = utcnow()
    with db.session(reviewer, write=True) as s:
        filing = s.get(Filing, filing_id)
        if filing is None:
            raise ReviewError("找不到该备案")
        before = dict(s.execute(select(Filing.id, Filing.version).where(Filing.patient_id == filing.patient_id)).all())
        try:
            action(s, filing, now)
        except filings.FilingError as exc:
            raise ReviewError(str(exc)) from None
        s.flush()
        after = dict(s.execute(select(Filing.id, Filing.version).where(Filing.patient_id == filing.patient_id)).all())
        publish(s, "filing", [fid for fid, version in after.items() if before.get(fid) != version], now)
        return filing


def approve_filing(db: ServerDatabase, filing_id: str, reviewer: str, opinion: str | None = None, *,
                   make_primary: bool = False) -> Filing:
    return _decide(db, filing_id, reviewer,
                   lambda s, f, now: filings.approve(s, f, now, opinion, make_primary=make_primary))


def reject_filing(db: ServerDatabase, filing_id: str, reviewer: str, reason: str) -> Filing:
    return _decide(db, filing_id, reviewer, lambda s, f, now: filings.reject(s, f, now, reason))


def resolve_flag(db: ServerDatabase, flag_id: str, reviewer: str, decision: str, note: str) -> ClaimFlag:
    if decision not in DECISIONS:
        raise ReviewError(f"处理结果无效：{decision!r}")
    note = (note or "").strip()
    if decision != "accepted" and not note:
        raise ReviewError("调整或拒付须填写说明（村卫生室会看到）")
    now = utcnow()
    with db.session(reviewer, write=True) as s:
        flag = s.get(ClaimFlag, flag_id)
        if flag is None or flag.resolved_at is not None:
            raise ReviewError("该提示不存在或已处理")
        flag.resolved_at, flag.resolution = now, f"{DECISIONS[decision]}：{note}" if note else DECISIONS[decision]
        settlement = s.get(Settlement, flag.record_id) if flag.kind == "over_cap" else None
        if settlement is not None:
            settlement.state, settlement.review_note = decision, note or None
            s.flush()
            publish(s, "settlement", [settlement.id], now)
        return flag
