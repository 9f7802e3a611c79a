"""Tables only the township server fills (issue 5). They are part of the one schema, so a clinic file
has them too, empty: one migration chain serves the clinic and the server."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from clinic.db.models.base import Base
from clinic.db.types import Money, new_uuid, utcnow


class SyncDevice(Base):
    """One enrolled (or enrolling) clinic computer. Codes and tokens are stored only as hashes."""

    __tablename__ = "sync_device"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    institution_code: Mapped[str] = mapped_column(ForeignKey("institution.code"), index=True)
    name: Mapped[str | None] = mapped_column(String(60))
    enrol_code_hash: Mapped[str | None] = mapped_column(String(64), unique=True)   # cleared once used
    enrol_expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    enrolled_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_push_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_pull_at: Mapped[datetime | None] = mapped_column(DateTime)
    reported_pending: Mapped[int | None] = mapped_column(Integer)     # the clinic's own outbox count


class SyncBatch(Base):
    """A push batch by its idempotency key, with what the server answered."""

    __tablename__ = "sync_batch"
    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    institution_code: Mapped[str] = mapped_column(String(32), index=True)
    device_id: Mapped[str] = mapped_column(String(36))
    received_at: Mapped[datetime] = mapped_column(DateTime)            # server clock
    client_time: Mapped[datetime | None] = mapped_column(DateTime)     # information only
    records: Mapped[int] = mapped_column(Integer)
    accepted: Mapped[int] = mapped_column(Integer)
    duplicates: Mapped[int] = mapped_column(Integer)
    rejected: Mapped[int] = mapped_column(Integer)
    conflicts: Mapped[int] = mapped_column(Integer)
    times_received: Mapped[int] = mapped_column(Integer, default=1)


class SyncReceipt(Base):
    """Every version of a record the server has stored: same UUID and hash again is a duplicate."""

    __tablename__ = "sync_receipt"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    record_id: Mapped[str] = mapped_column(String(36))
    payload_hash: Mapped[str] = mapped_column(String(64))
    batch_key: Mapped[str | None] = mapped_column(String(40))
    received_at: Mapped[datetime] = mapped_column(DateTime)
    __table_args__ = (UniqueConstraint("record_id", "payload_hash", name="uq_sync_receipt_record_hash"),)


class SyncRecordHead(Base):
    """The version of each record the server holds now; an edit must be based on it (else conflict)."""

    __tablename__ = "sync_record_head"
    record_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    record_type: Mapped[str] = mapped_column(String(20))
    institution_code: Mapped[str] = mapped_column(String(32), index=True)
    current_hash: Mapped[str] = mapped_column(String(64))
    first_received_at: Mapped[datetime] = mapped_column(DateTime)     # orders same-day settlements
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class SyncRejection(Base):
    """A record the server refused, and why (the township page counts them per clinic)."""

    __tablename__ = "sync_rejection"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    institution_code: Mapped[str] = mapped_column(String(32), index=True)
    record_id: Mapped[str] = mapped_column(String(64))
    record_type: Mapped[str] = mapped_column(String(40))
    reason: Mapped[str] = mapped_column(Text)
    batch_key: Mapped[str | None] = mapped_column(String(40))
    received_at: Mapped[datetime] = mapped_column(DateTime)


class SyncFeed(Base):
    """What a clinic should pull, in server order. `position` is the cursor: feed rows are written by
    one transaction at a time (sync/server/feed.py), so positions become visible in order."""

    __tablename__ = "sync_feed"
    position: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    stream: Mapped[str] = mapped_column(String(20))          # review | catalogue | policies | usage
    kind: Mapped[str] = mapped_column(String(20))            # filing | settlement | drug | policy | usage
    entity_id: Mapped[str] = mapped_column(String(60))
    target_institution: Mapped[str | None] = mapped_column(String(32))   # None: every clinic
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    __table_args__ = (Index("ix_sync_feed_stream_position", "stream", "position"),)


class ClaimFlag(Base):
    """A cross-clinic finding for the reviewer: a settlement over the annual cap (with the amount the
    fund paid beyond it) or a dispense while another clinic's supply was still running."""

    __tablename__ = "claim_flag"
    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_uuid)
    kind: Mapped[str] = mapped_column(String(20))            # over_cap | duplicate_dispense
    institution_code: Mapped[str] = mapped_column(String(32), index=True)
    record_id: Mapped[str] = mapped_column(String(36), index=True)     # the settlement or dispense
    patient_id: Mapped[str] = mapped_column(String(36))
    disease: Mapped[str | None] = mapped_column(String(20))
    amount: Mapped[Decimal | None] = mapped_column(Money)
    detail: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)
    resolution: Mapped[str | None] = mapped_column(Text)


class ServerAccount(Base):
    """A person who signs in to the server's web pages: 医保 reviewer or township staff."""

    __tablename__ = "server_account"
    username: Mapped[str] = mapped_column(String(40), primary_key=True)
    display_name: Mapped[str] = mapped_column(String(40))
    role: Mapped[str] = mapped_column(String(20))            # reviewer | township
    password_hash: Mapped[str] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ServerSignin(Base):
    """One attempt to sign in to the server's web pages (issue 13), for township staff to read:
    success | failure | lockout (the failure that locked the account) | locked (tried while locked)."""

    __tablename__ = "server_signin"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)        # UTC
    username: Mapped[str] = mapped_column(String(40))                # as typed (cut to 40)
    address: Mapped[str] = mapped_column(String(64))                 # the client's IP address
    outcome: Mapped[str] = mapped_column(String(10))
