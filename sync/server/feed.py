"""The pull streams (issue 5 "Pull"): review results, drug catalogue, policies, cross-clinic usage.

Whatever a clinic should hear about is appended to `sync_feed`; its position is the cursor. A cursor
only works if positions become visible in order: were two transactions to take positions 10 and 11
and 11 commit first, a clinic reading "after 9" would see 11, move its cursor there, and never see 10.
So feed writers take one lock until they commit (PostgreSQL: a transaction advisory lock; SQLite has
a single writer anyway). Items are built when pulled, so a clinic always gets the current version.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from sqlalchemy import insert, or_, select, text
from sqlalchemy.orm import Session

from clinic.db.models import Drug, PolicyDocument, SyncFeed, SyncRecordHead
from clinic.db.records import read_record, to_plain
from clinic.db.types import utcnow
from sync.protocol import STREAMS, PullItem, PullPage
from sync.server import crossclinic

FEED_LOCK = 0x4C42_5346            # "LBSF": the advisory lock id of feed writers
PAGE_DEFAULT, PAGE_MAX = 200, 1000


class FeedError(ValueError):
    pass


def lock_writers(s: Session) -> None:
    """Take the writers' lock until this transaction ends (PostgreSQL; re-entrant). SQLite needs none:
    the server's write sessions already take turns (sync/server/storage.py)."""
    conn = s.connection()
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:lock)"), {"lock": FEED_LOCK})


def append(s: Session, entries: Iterable[tuple[str, str, str, str | None]]) -> None:
    """Entries are (stream, kind, entity id, target clinic or None for all); duplicates are dropped."""
    rows = [{"stream": stream, "kind": kind, "entity_id": entity, "target_institution": target, "created_at": utcnow()}
            for stream, kind, entity, target in dict.fromkeys(entries)]
    if not rows:
        return
    lock_writers(s)
    s.connection().execute(insert(SyncFeed.__table__), rows)


def parse_cursor(cursor: str | None) -> int:
    if cursor in (None, ""):
        return 0
    try:
        value = int(cursor)
    except ValueError:
        raise FeedError(f"游标无效：{cursor!r}") from None
    if value < 0:
        raise FeedError(f"游标无效：{cursor!r}")
    return value


def pull_page(s: Session, institution: str, stream: str, cursor: str | None, limit: int | None,
              today: date) -> PullPage:
    if stream not in STREAMS:
        raise FeedError(f"未知的数据流 {stream!r}（可用：{', '.join(STREAMS)}）")
    after = parse_cursor(cursor)
    limit = max(1, min(limit or PAGE_DEFAULT, PAGE_MAX))
    rows = s.scalars(select(SyncFeed).where(
        SyncFeed.stream == stream, SyncFeed.position > after,
        or_(SyncFeed.target_institution == institution, SyncFeed.target_institution.is_(None)))
        .order_by(SyncFeed.position).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    items = [item for row in rows if (item := _item(s, row, institution, today)) is not None]
    return PullPage(stream=stream, cursor=str(rows[-1].position if rows else after), more=more,
                    server_time=utcnow(), items=items)


def _item(s: Session, row: SyncFeed, institution: str, today: date) -> PullItem | None:
    if row.kind in ("filing", "settlement"):
        head = s.get(SyncRecordHead, row.entity_id)
        payload = read_record(s.connection(), row.kind, row.entity_id)
        if head is None or payload is None or payload["institution_code"] != institution:
            return None
        return PullItem(kind=row.kind, id=row.entity_id, hash=head.current_hash, payload=payload)
    if row.kind == "drug":
        drug = s.get(Drug, row.entity_id)
        if drug is None:
            return None
        return PullItem(kind="drug", id=drug.code, payload={c.name: to_plain(getattr(drug, c.key))
                                                           for c in Drug.__table__.columns})
    if row.kind == "policy":
        doc = s.get(PolicyDocument, row.entity_id)
        if doc is None:
            return None
        return PullItem(kind="policy", id=doc.id, payload={
            "id": doc.id, "region": doc.region, "effective_from": doc.effective_from.isoformat(), "text": doc.text})
    if row.kind == "usage":
        payload = crossclinic.usage_for(s, row.entity_id, institution, today)
        return None if payload is None else PullItem(kind="usage", id=row.entity_id, payload=payload)
    return None
