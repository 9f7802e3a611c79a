"""What a clinic keeps for sync (issue 5): the outbox of records to push, and what the township server
sent back that is not a record of this clinic: other clinics' use of a patient's caps and supplies,
and policy documents the township published."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import Date, DateTime, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from clinic.db.models.base import Base
from clinic.db.types import DecimalText, Money, utcnow

OUTBOX_STATES = ("pending", "sending", "acknowledged", "rejected", "conflict")


class OutboxEntry(Base):
    """One version of one synced record waiting for (or having had) the server's answer.

    Written in the same transaction as the record (clinic/db/outbox.py), so a record can never exist
    without its outbox row. `seq` is the per-device sequence: the server applies records in its order,
    so a patient always arrives before the filing that names it."""

    __tablename__ = "sync_outbox"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    record_id: Mapped[str] = mapped_column(String(36), index=True)
    record_type: Mapped[str] = mapped_column(String(20))
    payload: Mapped[str] = mapped_column(Text)                     # canonical JSON of the row and its lines
    payload_hash: Mapped[str] = mapped_column(String(64))
    base_hash: Mapped[str | None] = mapped_column(String(64))      # the version this edit was made on
    status: Mapped[str] = mapped_column(String(12), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(DateTime)   # backoff survives restarts
    last_error: Mapped[str | None] = mapped_column(Text)
    batch_key: Mapped[str | None] = mapped_column(String(40))      # idempotency key while sending
    server_hash: Mapped[str | None] = mapped_column(String(64))    # on conflict: the server's version
    server_payload: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        Index("ix_sync_outbox_status_seq", "status", "seq"),
        # At most one unsent version per record: a later edit replaces the pending payload.
        Index("uq_sync_outbox_pending_record", "record_id", unique=True,
              sqlite_where=text("status = 'pending'"), postgresql_where=text("status = 'pending'")),
    )


class ExternalFundUse(Base):
    """Fund payments for a patient at other clinics, per year and disease, as last pulled; added to
    the local year-to-date so the annual cap holds across clinics (seeds/000 二(一)3)."""

    __tablename__ = "external_fund_use"
    patient_id: Mapped[str] = mapped_column(ForeignKey("patient.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    disease: Mapped[str] = mapped_column(String(20), primary_key=True)
    fund_paid: Mapped[Decimal] = mapped_column(Money)
    deductible_paid: Mapped[Decimal] = mapped_column(Money)
    pulled_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ExternalDispense(Base):
    """A supply handed to one of this clinic's patients by another clinic (one dispense line), so the
    refill window (seeds/000 附件3) counts drugs the patient already has from elsewhere."""

    __tablename__ = "external_dispense"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)      # the other clinic's line id
    patient_id: Mapped[str] = mapped_column(ForeignKey("patient.id"), index=True)
    institution_code: Mapped[str] = mapped_column(String(32))
    drug_code: Mapped[str] = mapped_column(String(40))
    dispensed_on: Mapped[date] = mapped_column(Date)
    quantity: Mapped[Decimal] = mapped_column(DecimalText)
    daily_dose: Mapped[Decimal] = mapped_column(DecimalText)


class PolicyDocument(Base):
    """A policy file (TOML) published by the township; on a clinic it counts beside the shipped files."""

    __tablename__ = "policy_document"
    id: Mapped[str] = mapped_column(String(60), primary_key=True)      # the policy's own id
    region: Mapped[str] = mapped_column(String(40), index=True)
    effective_from: Mapped[date] = mapped_column(Date)
    text: Mapped[str] = mapped_column(Text)
    published_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class PullRejection(Base):
    """A pulled item this clinic could not apply (malformed, or refused by the database), kept with
    the reason and the raw item (sync/pull_apply.py). Its stream stops there: the saved cursor stays
    before it, every pass tries it again, and the row is resolved once the stream gets past it (the
    township fixed the data, or stopped sending it). Unresolved rows are the "接收受阻" count."""

    __tablename__ = "sync_pull_rejection"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    stream: Mapped[str] = mapped_column(String(20))
    cursor: Mapped[str] = mapped_column(String(40))                # the stream waits here
    kind: Mapped[str] = mapped_column(String(40))
    item_id: Mapped[str] = mapped_column(String(100))
    payload: Mapped[str] = mapped_column(Text)                     # the item as received (JSON)
    reason: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    first_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)

    __table_args__ = (Index("ix_sync_pull_rejection_stream_open", "stream", "resolved_at"),)
