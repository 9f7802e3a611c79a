"""Apply pulled pages on the clinic (issue 5 "Pull"): each page and the new cursor commit together, so
a pull cut off after page N starts again at page N+1, with no gap and nothing applied twice.

- review results (filings, settlements): the server's version replaces the local row and becomes the
  base of the next local edit, unless the row has a local change the server has not taken (pending,
  sending, in conflict or rejected): a pull never overwrites it; the push meets the server's version
  and the user chooses (sync.client.resolve_conflict);
- catalogue: drugs are added or updated, keeping this clinic's own selling price;
- policies: the published file is stored; it counts from its effective date (clinic/profile.py);
- usage: the patient's fund use and supplies at other clinics replace the last report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from clinic.db.engine import Database
from clinic.db.models import (
    Drug,
    ExternalDispense,
    ExternalFundUse,
    OutboxEntry,
    Patient,
    PolicyDocument,
    Setting,
)
from clinic.db.outbox import record_server_version
from clinic.db.records import RECORD_TYPES, RecordError, parse_record, row_values, write_record
from clinic.db.types import utcnow
from clinic.policy.loader import load_policy_text
from clinic.policy.model import PolicyError
from sync.protocol import API, PullItem, PullPage
from sync.transport import Transport

LOCAL_DRUG_FIELDS = ("retail_price",)       # the clinic sets its own selling price
MAX_PAGES = 10_000                          # a bound for one pass; the next pass continues


@dataclass
class PullTally:
    applied: dict[str, int] = field(default_factory=dict)
    kept_local: int = 0                     # review results not applied over an unsent local change
    skipped: list[str] = field(default_factory=list)


def cursor_key(stream: str) -> str:
    return f"sync.cursor.{stream}"


def pull_stream(db: Database, transport: Transport, stream: str, tally: PullTally, page_size: int = 200) -> None:
    for _ in range(MAX_PAGES):
        with db.session("sync") as s:
            cursor = s.scalar(select(Setting.value).where(Setting.key == cursor_key(stream))) or "0"
        page = PullPage.model_validate(transport.request(
            "GET", f"{API}/sync/pull", params={"stream": stream, "cursor": cursor, "limit": page_size}))
        apply_page(db, page, tally)
        if not page.more:
            return


def apply_page(db: Database, page: PullPage, tally: PullTally) -> None:
    with db.session("sync") as s:
        for item in page.items:
            if apply_item(s, item, tally):
                tally.applied[page.stream] = tally.applied.get(page.stream, 0) + 1
        row = s.get(Setting, cursor_key(page.stream))
        if row is None:
            s.add(Setting(key=cursor_key(page.stream), value=page.cursor))
        else:
            row.value = page.cursor


def apply_item(s: Session, item: PullItem, tally: PullTally) -> bool:
    try:
        if item.kind in RECORD_TYPES:
            return _record(s, item, tally)
        if item.kind == "drug":
            return _drug(s, item)
        if item.kind == "policy":
            return _policy(s, item)
        if item.kind == "usage":
            return _usage(s, item)
    except (RecordError, PolicyError, KeyError, TypeError, ValueError, ArithmeticError) as exc:
        tally.skipped.append(f"{item.kind} {item.id}：{exc}")     # one bad item must not stop the stream
        return False
    tally.skipped.append(f"{item.kind} {item.id}：本版本软件不认识的内容")
    return False


def _record(s: Session, item: PullItem, tally: PullTally) -> bool:
    conn = s.connection()
    unsent = conn.scalar(select(OutboxEntry.seq).where(OutboxEntry.record_id == item.id, OutboxEntry.status.in_(
        ("pending", "sending", "conflict", "rejected"))).limit(1))
    if unsent is not None:
        tally.kept_local += 1
        return False
    row, lines = parse_record(item.kind, item.payload)
    if row["institution_code"] != s.info.get("institution_code"):
        raise RecordError(f"不是本机构的记录（{row['institution_code']}）")
    table = RECORD_TYPES[item.kind].table
    exists = conn.scalar(select(table.c.id).where(table.c.id == item.id)) is not None
    write_record(conn, item.kind, row, lines, exists=exists)
    record_server_version(conn, item.kind, item.id, item.payload, item.hash or "")
    return True


def _drug(s: Session, item: PullItem) -> bool:
    values = row_values(Drug.__table__, item.payload, "药品.")
    conn = s.connection()
    if conn.scalar(select(Drug.code).where(Drug.code == values["code"])) is None:
        conn.execute(insert(Drug.__table__).values(values))
    else:
        keep = {k: v for k, v in values.items() if k not in LOCAL_DRUG_FIELDS}
        conn.execute(update(Drug.__table__).where(Drug.code == values["code"]).values(keep))
    return True


def _policy(s: Session, item: PullItem) -> bool:
    payload = item.payload
    policy = load_policy_text(payload["text"], Path(f"{payload['id']}.toml"))    # refuse what cannot load
    doc = s.get(PolicyDocument, policy.id)
    if doc is None:
        doc = PolicyDocument(id=policy.id)
        s.add(doc)
    doc.region, doc.effective_from, doc.text, doc.published_at = (
        policy.region, policy.effective_from, payload["text"], utcnow())
    return True


def _usage(s: Session, item: PullItem) -> bool:
    payload = item.payload
    patient_id = payload["patient_id"]
    if s.get(Patient, patient_id) is None:
        return False
    conn = s.connection()
    conn.execute(delete(ExternalFundUse.__table__).where(ExternalFundUse.patient_id == patient_id))
    conn.execute(delete(ExternalDispense.__table__).where(ExternalDispense.patient_id == patient_id))
    now = utcnow()
    fund = [{"patient_id": patient_id, "year": int(f["year"]), "disease": str(f["disease"]),
             "fund_paid": Decimal(f["fund_paid"]), "deductible_paid": Decimal(f["deductible_paid"]), "pulled_at": now}
            for f in payload.get("fund", [])]
    supplies = [{"id": d["id"], "patient_id": patient_id, "institution_code": d["institution_code"],
                 "drug_code": d["drug_code"], "dispensed_on": date.fromisoformat(d["dispensed_on"]),
                 "quantity": Decimal(d["quantity"]), "daily_dose": Decimal(d["daily_dose"])}
                for d in payload.get("dispenses", [])]
    if fund:
        conn.execute(insert(ExternalFundUse.__table__), fund)
    if supplies:
        conn.execute(delete(ExternalDispense.__table__).where(ExternalDispense.id.in_([d["id"] for d in supplies])))
        conn.execute(insert(ExternalDispense.__table__), supplies)
    return True
