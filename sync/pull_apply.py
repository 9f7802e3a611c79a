"""Apply pulled pages on the clinic (issue 5 "Pull"): each page and the new cursor commit together, so
a pull cut off after page N starts again at page N+1, with no gap and nothing applied twice.

- review results (filings, settlements): the server's version replaces the local row and becomes the
  base of the next local edit, unless the row has a local change the server has not taken (pending,
  sending, in conflict or rejected): a pull never overwrites it; the push meets the server's version
  and the user chooses (sync.client.resolve_conflict);
- catalogue: drugs are added or updated, keeping this clinic's own selling price;
- policies: the published file is stored; it counts from its effective date (clinic/profile.py);
- usage: the patient's fund use and supplies at other clinics replace the last report.

All or nothing per item (issue 12 item 6): an item is parsed and checked completely before anything
is written, and written inside a savepoint of its own. An item that fails either step is kept in
`sync_pull_rejection` with the reason and the item as received, and its stream stops there: the saved
cursor stays where it was before the page, never past data that was not applied (one malformed usage
amount must not erase a patient's fund use elsewhere and then be skipped for good). Items of the page
before the failed one stay applied and are applied again from that cursor on the next pass (each
apply replaces by id, so that changes nothing): the server's items carry no position of their own,
and a new field would make older clinics refuse every page (the protocol forbids unknown fields).
Every pass retries the stream; once it gets past the item (the township fixed the data, or stopped
sending it) the rejection is resolved. `liangbing sync` exits 2 and the status bar counts them
(sync/status.py) while any is open.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy import insert, select, update
from sqlalchemy.exc import OperationalError, SQLAlchemyError
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
from clinic.db.models.exchange import PullRejection
from clinic.db.outbox import record_server_version
from clinic.db.records import RECORD_TYPES, parse_record, row_values, write_record
from clinic.db.types import utcnow
from clinic.money import MONEY_PLACES, to_decimal
from clinic.policy.loader import load_policy_text
from clinic.vocab import DISEASES
from sync.protocol import API, PullItem, PullPage
from sync.transport import Transport

LOCAL_DRUG_FIELDS = ("retail_price",)       # the clinic sets its own selling price
MAX_PAGES = 10_000                          # a bound for one pass; the next pass continues
FIRST_YEAR, LAST_YEAR = 2000, 2999          # a usage year outside these is a broken item, not history
SERVER_HASH = re.compile(r"[0-9a-f]{64}")   # sha256 of the canonical payload (clinic/db/records.py)
REJECTIONS = PullRejection.__table__
NOT_APPLIED = "not applied"                 # a plan's answer: nothing to do here, not a failure


class ItemRefused(ValueError):
    """The item cannot be applied; the message is the reason kept with it."""


@dataclass
class PullTally:
    applied: dict[str, int] = field(default_factory=dict)
    kept_local: int = 0                     # review results not applied over an unsent local change
    skipped: list[str] = field(default_factory=list)   # items refused this pass: each stopped its stream


def cursor_key(stream: str) -> str:
    return f"sync.cursor.{stream}"


def pull_stream(db: Database, transport: Transport, stream: str, tally: PullTally, page_size: int = 200) -> None:
    for _ in range(MAX_PAGES):
        with db.session("sync") as s:
            cursor = s.scalar(select(Setting.value).where(Setting.key == cursor_key(stream))) or "0"
        page = PullPage.model_validate(transport.request(
            "GET", f"{API}/sync/pull", params={"stream": stream, "cursor": cursor, "limit": page_size}))
        if not apply_page(db, page, tally, cursor) or not page.more:
            return


def apply_page(db: Database, page: PullPage, tally: PullTally, cursor: str = "0") -> bool:
    """Apply the page's items in order; True when all applied and the cursor moved to the page's.
    At the first item that cannot be applied: keep it as a rejection, leave the cursor at `cursor`
    (the one this page was asked with), return False."""
    with db.session("sync") as s:
        conn = s.connection()
        # pysqlite begins its transaction only at the first INSERT/UPDATE/DELETE: were a SAVEPOINT
        # first, releasing it would commit, and the page would no longer commit with its cursor.
        conn.execute(update(Setting.__table__).where(Setting.key == cursor_key(page.stream))
                     .values(value=Setting.__table__.c.value))
        for item in page.items:
            try:
                applied = apply_item(s, item, tally)
            except OperationalError:            # the file is busy or broken: the pass fails, nothing is blamed
                raise
            except (ValueError, ArithmeticError, KeyError, TypeError, SQLAlchemyError) as exc:
                reason = _reason(exc)
                _keep_rejection(conn, page.stream, cursor, item, reason)
                _save_cursor(s, page.stream, cursor)
                tally.skipped.append(f"{item.kind} {item.id}：{reason}")
                return False
            if applied:
                tally.applied[page.stream] = tally.applied.get(page.stream, 0) + 1
        _save_cursor(s, page.stream, page.cursor)
        conn.execute(update(REJECTIONS).where(REJECTIONS.c.stream == page.stream, REJECTIONS.c.resolved_at.is_(None))
                     .values(resolved_at=utcnow()))
    return True


def apply_item(s: Session, item: PullItem, tally: PullTally) -> bool:
    """Check and apply one item in a savepoint of its own; ItemRefused (a ValueError) or a database
    error leaves nothing of it written. True when it changed something here."""
    plan = plan_item(s, item, tally)
    with s.begin_nested():
        return plan(s) != NOT_APPLIED


def plan_item(s: Session, item: PullItem, tally: PullTally) -> Callable[[Session], object]:
    """Parse and check everything in the item, writing nothing; returns what writes it."""
    if item.kind in RECORD_TYPES:
        return _record(s, item, tally)
    if item.kind == "drug":
        return _drug(item)
    if item.kind == "policy":
        return _policy(item)
    if item.kind == "usage":
        return _usage(item)
    raise ItemRefused(f"本版本软件不认识的内容（{item.kind[:40]}），请升级软件")


def _reason(exc: Exception) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:500]


def _save_cursor(s: Session, stream: str, cursor: str) -> None:
    row = s.get(Setting, cursor_key(stream))
    if row is None:
        s.add(Setting(key=cursor_key(stream), value=cursor))
    else:
        row.value = cursor
    s.flush()


def _keep_rejection(conn, stream: str, cursor: str, item: PullItem, reason: str) -> None:
    """One open rejection per stream (the stream stops at it): the same item again counts an attempt;
    another item means the earlier one went through."""
    now = utcnow()
    raw = json.dumps(item.model_dump(mode="json"), ensure_ascii=False, sort_keys=True)
    item_id = item.id[:100]
    open_row = conn.execute(select(REJECTIONS.c.id, REJECTIONS.c.kind, REJECTIONS.c.item_id).where(
        REJECTIONS.c.stream == stream, REJECTIONS.c.resolved_at.is_(None))).first()
    if open_row is not None and (open_row.kind, open_row.item_id) == (item.kind[:40], item_id):
        conn.execute(update(REJECTIONS).where(REJECTIONS.c.id == open_row.id).values(
            cursor=cursor[:40], payload=raw, reason=reason, attempts=REJECTIONS.c.attempts + 1, last_seen_at=now))
        return
    if open_row is not None:
        conn.execute(update(REJECTIONS).where(REJECTIONS.c.id == open_row.id).values(resolved_at=now))
    conn.execute(insert(REJECTIONS).values(
        stream=stream[:20], cursor=cursor[:40], kind=item.kind[:40], item_id=item_id, payload=raw, reason=reason,
        attempts=1, first_seen_at=now, last_seen_at=now, resolved_at=None))


# --- one plan per kind: checks first, then a function that only writes ---------------------------

def _record(s: Session, item: PullItem, tally: PullTally):
    conn = s.connection()
    unsent = conn.scalar(select(OutboxEntry.seq).where(OutboxEntry.record_id == item.id, OutboxEntry.status.in_(
        ("pending", "sending", "conflict", "rejected"))).limit(1))
    if unsent is not None:
        tally.kept_local += 1
        return lambda _s: NOT_APPLIED
    row, lines = parse_record(item.kind, item.payload)
    if row["id"] != item.id:
        raise ItemRefused(f"记录编号与内容不符（{row['id'][:40]}）")
    if row["institution_code"] != s.info.get("institution_code"):
        raise ItemRefused(f"不是本机构的记录（{row['institution_code'][:40]}）")
    if not isinstance(item.hash, str) or not SERVER_HASH.fullmatch(item.hash):
        raise ItemRefused("缺少服务器版本校验值（hash）")
    table = RECORD_TYPES[item.kind].table

    def write(s: Session):
        conn = s.connection()
        exists = conn.scalar(select(table.c.id).where(table.c.id == item.id)) is not None
        write_record(conn, item.kind, row, lines, exists=exists)
        record_server_version(conn, item.kind, item.id, item.payload, item.hash)
    return write


def _drug(item: PullItem):
    values = row_values(Drug.__table__, item.payload, "药品.")
    if values["code"] != item.id:
        raise ItemRefused(f"药品编码与内容不符（{values['code'][:40]}）")

    def write(s: Session):
        conn = s.connection()
        if conn.scalar(select(Drug.code).where(Drug.code == values["code"])) is None:
            conn.execute(insert(Drug.__table__).values(values))
        else:
            keep = {k: v for k, v in values.items() if k not in LOCAL_DRUG_FIELDS}
            conn.execute(update(Drug.__table__).where(Drug.code == values["code"]).values(keep))
    return write


def _policy(item: PullItem):
    payload = _fields(item.payload, "政策", {"id", "region", "effective_from", "text"})
    text = _text(payload["text"], "政策.text", 1_000_000)
    policy = load_policy_text(text, Path(f"{_text(payload['id'], '政策.id', 60)}.toml"))   # refuse what cannot load
    if policy.id != item.id or payload["id"] != item.id:
        raise ItemRefused(f"政策编号与内容不符（{policy.id[:60]}）")

    def write(s: Session):
        doc = s.get(PolicyDocument, policy.id)
        if doc is None:
            doc = PolicyDocument(id=policy.id)
            s.add(doc)
        doc.region, doc.effective_from, doc.text = policy.region, policy.effective_from, text
        doc.published_at = utcnow()
    return write


def _usage(item: PullItem):
    payload = _fields(item.payload, "用量", {"patient_id", "fund", "dispenses"})
    patient_id = _text(payload["patient_id"], "用量.patient_id", 36)
    if patient_id != item.id:
        raise ItemRefused(f"患者编号与内容不符（{patient_id}）")
    fund, seen = [], set()
    for i, entry in enumerate(_list(payload["fund"], "用量.fund")):
        where = f"用量.fund[{i}]"
        entry = _fields(entry, where, {"year", "disease", "fund_paid", "deductible_paid"})
        year, disease = entry["year"], entry["disease"]
        if isinstance(year, bool) or not isinstance(year, int) or not FIRST_YEAR <= year <= LAST_YEAR:
            raise ItemRefused(f"{where}.year 应为 {FIRST_YEAR}–{LAST_YEAR} 之间的年份，收到 {str(year)[:20]!r}")
        if disease not in DISEASES:
            raise ItemRefused(f"{where}.disease 无效：{str(disease)[:20]!r}")
        if (year, disease) in seen:
            raise ItemRefused(f"{where}：{year} 年 {DISEASES[disease]} 重复出现")
        seen.add((year, disease))
        fund.append({"patient_id": patient_id, "year": year, "disease": disease,
                     "fund_paid": _amount(entry["fund_paid"], f"{where}.fund_paid", MONEY_PLACES),
                     "deductible_paid": _amount(entry["deductible_paid"], f"{where}.deductible_paid", MONEY_PLACES)})
    supplies, ids = [], set()
    for i, entry in enumerate(_list(payload["dispenses"], "用量.dispenses")):
        where = f"用量.dispenses[{i}]"
        entry = _fields(entry, where, {"id", "institution_code", "drug_code", "dispensed_on", "quantity", "daily_dose"})
        line_id = _text(entry["id"], f"{where}.id", 36)
        if line_id in ids:
            raise ItemRefused(f"{where}.id 重复：{line_id}")
        ids.add(line_id)
        try:
            on = date.fromisoformat(_text(entry["dispensed_on"], f"{where}.dispensed_on", 10))
        except ValueError:
            raise ItemRefused(f"{where}.dispensed_on 不是有效日期：{str(entry['dispensed_on'])[:20]!r}") from None
        supplies.append({"id": line_id, "patient_id": patient_id,
                         "institution_code": _text(entry["institution_code"], f"{where}.institution_code", 32),
                         "drug_code": _text(entry["drug_code"], f"{where}.drug_code", 40), "dispensed_on": on,
                         "quantity": _amount(entry["quantity"], f"{where}.quantity", None, positive=True),
                         "daily_dose": _amount(entry["daily_dose"], f"{where}.daily_dose", None, positive=True)})

    def write(s: Session):
        if s.get(Patient, patient_id) is None:          # not (or no longer) a patient here
            return NOT_APPLIED
        conn, now = s.connection(), utcnow()
        conn.execute(ExternalFundUse.__table__.delete().where(ExternalFundUse.patient_id == patient_id))
        conn.execute(ExternalDispense.__table__.delete().where(ExternalDispense.patient_id == patient_id))
        if fund:
            conn.execute(insert(ExternalFundUse.__table__), [{**row, "pulled_at": now} for row in fund])
        if supplies:
            conn.execute(ExternalDispense.__table__.delete().where(ExternalDispense.id.in_(list(ids))))
            conn.execute(insert(ExternalDispense.__table__), supplies)
    return write


def _fields(value: object, where: str, names: set[str]) -> dict:
    """A JSON object with exactly these keys: a key this version does not know could carry fund use
    it would otherwise ignore, so it is refused (and shown) rather than dropped."""
    if not isinstance(value, dict):
        raise ItemRefused(f"{where} 应为 JSON 对象")
    missing, unknown = names - set(value), set(value) - names
    if missing:
        raise ItemRefused(f"{where} 缺少 {', '.join(sorted(missing))}")
    if unknown:
        raise ItemRefused(f"{where} 含本版本软件不认识的字段 {', '.join(sorted(unknown))[:80]}，请升级软件")
    return value


def _list(value: object, where: str) -> list:
    if not isinstance(value, list):
        raise ItemRefused(f"{where} 应为列表")
    return value


def _text(value: object, where: str, length: int) -> str:
    if not isinstance(value, str) or not value:
        raise ItemRefused(f"{where} 应为非空文字")
    if len(value) > length:
        raise ItemRefused(f"{where} 超长（最多 {length} 字）")
    return value


def _amount(value: object, where: str, places: int | None, *, positive: bool = False):
    """Finite, not absurd (clinic/money.py), not negative; quantities as Decimal wrote them ("1E+1")."""
    if not isinstance(value, str):
        raise ItemRefused(f"{where} 应为字符串形式的十进制数，收到 {str(value)[:20]!r}")
    try:
        number = to_decimal(value, where, places=places, exponent=True)
    except ValueError as exc:
        raise ItemRefused(str(exc)) from None
    if number < 0 or (positive and number == 0):
        raise ItemRefused(f"{where} 必须{'大于' if positive else '不小于'} 0：{value}")
    return number
