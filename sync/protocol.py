"""The wire format between a clinic and the township server (issue 5), as pydantic models.

Push: POST /api/v1/sync/push, a gzip JSON PushRequest, `Authorization: Bearer <device token>`.
The answer names every record by UUID; a record missing from it is sent again later.
Pull: GET /api/v1/sync/pull?stream=…&cursor=…, a PullPage; the cursor is the server's, never a clock.
Reconcile: POST /api/v1/sync/reconcile, the UUIDs a clinic holds as acknowledged; the answer lists
those the server lacks. Every answer carries `server_time` (the clinic shows a clock skew, nothing more).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

API = "/api/v1"
STREAMS = ("review", "catalogue", "policies", "usage")
MAX_BATCH_RECORDS = 100
MAX_BATCH_BYTES = 1_000_000            # uncompressed JSON of one batch, as the client builds it
MAX_RECONCILE_IDS = 5000

MAX_INT64 = 2**63 - 1
MAX_INT32 = 2**31 - 1

Outcome = Literal["accepted", "duplicate", "rejected", "conflict"]


def _utc_representable(moment: datetime | None) -> datetime | None:
    """The server keeps naive UTC: an offset must not push the moment outside the calendar."""
    if moment is not None and moment.tzinfo is not None:
        try:
            moment.astimezone(UTC)
        except OverflowError:
            raise ValueError("时间换算为 UTC 后超出范围") from None
    return moment


ClientTime = Annotated[datetime | None, AfterValidator(_utc_representable)]


class Message(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PushRecord(Message):
    id: str = Field(min_length=1, max_length=64)
    type: str = Field(max_length=40)
    seq: int = Field(ge=0, le=MAX_INT64)   # the clinic's outbox sequence: the server applies in this order
    hash: str = Field(max_length=64)       # sha256 of the canonical payload (clinic/db/records.py)
    base_hash: str | None = Field(default=None, max_length=64)   # the version this edit was made on; None: new
    payload: dict
    drugs: list[dict] = []                 # catalogue entries the record refers to


class PushRequest(Message):
    batch_key: str = Field(min_length=8, max_length=40)   # idempotency key: the same batch keeps its key
    client_time: ClientTime = None         # information only
    pending: int | None = Field(default=None, ge=0, le=MAX_INT32)   # the clinic's outbox, shown to township staff
    records: list[PushRecord]


class RecordResult(Message):
    id: str
    status: Outcome
    hash: str                              # the hash the server judged, so the clinic acks that version
    reason: str | None = None              # rejected and conflict: what a person should do
    server_hash: str | None = None         # conflict: the version the server holds
    server_payload: dict | None = None
    flags: list[str] = []                  # accepted, but the township's re-adjudication differs: its figures


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
    ids: list[Annotated[str, Field(max_length=64)]] = Field(max_length=MAX_RECONCILE_IDS)


class ReconcileResponse(Message):
    server_time: datetime
    missing: list[str]


class EnrolRequest(Message):
    code: str = Field(min_length=4, max_length=40)
    institution_code: str = Field(max_length=32)     # checked before the one-time code is used up
    device_name: str | None = Field(default=None, max_length=60)
    client_time: ClientTime = None


class EnrolResponse(Message):
    token: str
    institution_code: str
    institution_name: str
    server_time: datetime


class ErrorBody(Message):
    error: str                             # one sentence a person can act on
    server_time: datetime | None = None
