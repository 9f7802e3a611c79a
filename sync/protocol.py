"""The wire format between a clinic and the township server (issue 5), as pydantic models.

Push: POST /api/v1/sync/push, a gzip JSON PushRequest, `Authorization: Bearer <device token>`.
The answer names every record by UUID; a record missing from it is sent again later.
Pull: GET /api/v1/sync/pull?stream=…&cursor=…, a PullPage; the cursor is the server's, never a clock.
Reconcile: POST /api/v1/sync/reconcile, the UUIDs a clinic holds as acknowledged; the answer lists
those the server lacks. Every answer carries `server_time` (the clinic shows a clock skew, nothing more).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

API = "/api/v1"
STREAMS = ("review", "catalogue", "policies", "usage")
MAX_BATCH_RECORDS = 100
MAX_BATCH_BYTES = 1_000_000            # uncompressed JSON of one batch, as the client builds it
MAX_RECONCILE_IDS = 5000

Outcome = Literal["accepted", "duplicate", "rejected", "conflict"]


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PushRecord(Message):
    id: str = Field(min_length=1, max_length=64)
    type: str = Field(max_length=40)
    seq: int                               # the clinic's outbox sequence: the server applies in this order
    hash: str = Field(max_length=64)       # sha256 of the canonical payload (clinic/db/records.py)
    base_hash: str | None = None           # the version this edit was made on; None for a new record
    payload: dict
    drugs: list[dict] = []                 # catalogue entries the record refers to


class PushRequest(Message):
    batch_key: str = Field(min_length=8, max_length=40)   # idempotency key: the same batch keeps its key
    client_time: datetime | None = None    # information only
    pending: int | None = None             # the clinic's outbox size, shown to township staff
    records: list[PushRecord]


class RecordResult(Message):
    id: str
    status: Outcome
    hash: str                              # the hash the server judged, so the clinic acks that version
    reason: str | None = None              # rejected and conflict: what a person should do
    server_hash: str | None = None         # conflict: the version the server holds
    server_payload: dict | None = None


class PushResponse(Message):
    batch_key: str
    server_time: datetime
    replayed: bool = False                 # this batch key was received before
    results: list[RecordResult]
    deferred: dict[str, str] = {}          # not stored yet (e.g. its patient has not arrived): retried


class PullItem(Message):
    kind: str                              # filing | settlement | drug | policy | usage
    id: str
    hash: str | None = None                # records: the server's version, the base for later edits
    payload: dict


class PullPage(Message):
    stream: str
    cursor: str                            # pass back to get the next page
    more: bool
    server_time: datetime
    items: list[PullItem]


class ReconcileRequest(Message):
    ids: list[str] = Field(max_length=MAX_RECONCILE_IDS)


class ReconcileResponse(Message):
    server_time: datetime
    missing: list[str]


class EnrolRequest(Message):
    code: str = Field(min_length=4, max_length=40)
    institution_code: str = Field(max_length=32)     # checked before the one-time code is used up
    device_name: str | None = Field(default=None, max_length=60)
    client_time: datetime | None = None


class EnrolResponse(Message):
    token: str
    institution_code: str
    institution_name: str
    server_time: datetime


class ErrorBody(Message):
    error: str                             # one sentence a person can act on
    server_time: datetime | None = None
