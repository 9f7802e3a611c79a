"""How a synced record travels (issue 5): one row with its lines as plain JSON values, the hash of that
content, and the way back from JSON to column values. The clinic's outbox and the township server
share this module, so both sides read, hash and check a record the same way.

Values are strings for dates, times and decimals (money keeps its cents: "8.40"), so the hash of a
record does not depend on a float or on the database that stored it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import cache

from sqlalchemy import Boolean, Date, DateTime, Integer, String, Table, delete, insert, select, update
from sqlalchemy.engine import Connection

from clinic.db.models import (
    Base,
    Dispense,
    DispenseLine,
    Filing,
    FollowUp,
    OpeningBalance,
    Patient,
    Prescription,
    PrescriptionLine,
    Settlement,
    SettlementDisease,
    StockLot,
    StockMovement,
)
from clinic.db.types import DecimalText, Money


class RecordError(ValueError):
    """A payload that cannot be stored; the message names the field and what is wrong, in Chinese."""


@dataclass(frozen=True)
class RecordType:
    name: str
    model: type
    children: tuple[tuple[str, type, str], ...] = ()    # (payload key, line model, column naming the parent)
    append_only: bool = False                          # facts: corrected by a new record, never edited

    @property
    def table(self) -> Table:
        return self.model.__table__


RECORD_TYPES = {rt.name: rt for rt in (
    RecordType("patient", Patient),
    RecordType("filing", Filing),
    RecordType("prescription", Prescription, (("lines", PrescriptionLine, "prescription_id"),)),
    RecordType("dispense", Dispense, (("lines", DispenseLine, "dispense_id"),), append_only=True),
    RecordType("settlement", Settlement, (("diseases", SettlementDisease, "settlement_id"),), append_only=True),
    RecordType("follow_up", FollowUp),
    RecordType("stock_lot", StockLot),
    RecordType("stock_movement", StockMovement, append_only=True),
    RecordType("opening_balance", OpeningBalance),          # 期初余额 (issue 12 item 2): corrected by re-import
)}
BY_MODEL = {rt.model: rt for rt in RECORD_TYPES.values()}
# A changed line makes its parent record change: line model → (record type, column naming the parent).
PARENT_OF_LINE = {child: (rt, fk) for rt in RECORD_TYPES.values() for _, child, fk in rt.children}
# Parents before children (patient before filing, dispense before settlement), as the tables depend.
_TABLE_ORDER = {table.name: i for i, table in enumerate(Base.metadata.sorted_tables)}
TYPE_ORDER = {name: _TABLE_ORDER[rt.table.name] for name, rt in RECORD_TYPES.items()}


def to_plain(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _row_dict(row, skip: str | None = None) -> dict:
    return {key: to_plain(value) for key, value in row._mapping.items() if key != skip}


def read_records(conn: Connection, type_name: str, ids: Iterable[str]) -> dict[str, dict]:
    """Current content of the given records (missing ids are left out), lines in position order."""
    rt = RECORD_TYPES[type_name]
    found: dict[str, dict] = {}
    ids = list(dict.fromkeys(ids))
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        for row in conn.execute(select(rt.table).where(rt.table.c.id.in_(chunk))):
            found[row.id] = _row_dict(row)
        for key, child, fk in rt.children:
            table = child.__table__
            for payload in found.values():
                payload.setdefault(key, [])
            rows = conn.execute(select(table).where(table.c[fk].in_(chunk)).order_by(table.c.position, table.c.id))
            for row in rows:
                if row._mapping[fk] in found:
                    found[row._mapping[fk]][key].append(_row_dict(row, skip=fk))
    return found


def read_record(conn: Connection, type_name: str, record_id: str) -> dict | None:
    return read_records(conn, type_name, [record_id]).get(record_id)


def canonical(payload: dict) -> str:
    return json.dumps(payload, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def payload_hash(payload: dict) -> str:
    return hashlib.sha256(canonical(payload).encode("utf-8")).hexdigest()


CENT = Decimal("0.01")
NO_DEFAULT = object()
MAX_MONEY, MAX_DECIMAL, MAX_INTEGER = Decimal(10**10), Decimal(10**12), 2**31 - 1
FIRST_YEAR, LAST_YEAR = 1900, 2999


def _decimal(value: object, label: str, money: bool) -> Decimal:
    if not isinstance(value, str):
        raise RecordError(f"字段 {label} 应为字符串形式的十进制数，收到 {value!r}")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise RecordError(f"字段 {label} 的值无效：{value!r}") from None
    if not number.is_finite():
        raise RecordError(f"字段 {label} 的值无效：{value!r}")
    # What a column can hold and sums can add up without overflow (money as fen in 64 bits, other
    # decimals as text of 40 characters); far beyond any clinic's figures.
    if abs(number) >= (MAX_MONEY if money else MAX_DECIMAL) or len(str(number)) > 40:
        raise RecordError(f"字段 {label} 的值超出范围：{value[:60]!r}")
    if money and number != number.quantize(CENT):      # stored in fen: never round what was sent
        raise RecordError(f"字段 {label} 的金额须精确到分，收到 {value!r}")
    return number


def _iso(parse):
    def convert(value: object, label: str):
        try:
            moment = parse(_text(value, label))
        except ValueError:
            raise RecordError(f"字段 {label} 的值无效：{value!r}") from None
        if not FIRST_YEAR <= moment.year <= LAST_YEAR:      # date arithmetic near year 9999 overflows
            raise RecordError(f"字段 {label} 的日期超出范围（{FIRST_YEAR}–{LAST_YEAR} 年）：{value!r}")
        return moment
    return convert


def _boolean(value: object, label: str) -> bool:
    if not isinstance(value, bool):
        raise RecordError(f"字段 {label} 应为 true 或 false，收到 {value!r}")
    return value


def _integer(value: object, label: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise RecordError(f"字段 {label} 应为整数，收到 {value!r}")
    if abs(value) > MAX_INTEGER:                           # a 32-bit INTEGER column on PostgreSQL
        raise RecordError(f"字段 {label} 的值超出范围：{value}")
    return value


def _string(length: int | None):
    def convert(value: object, label: str) -> str:
        text = _text(value, label)
        if length and len(text) > length:
            raise RecordError(f"字段 {label} 超长（最多 {length} 字，收到 {len(text)} 字）")
        return text
    return convert


def _converter(column):
    kind = column.type
    if isinstance(kind, Money):
        return lambda value, label: _decimal(value, label, True)
    if isinstance(kind, DecimalText):
        return lambda value, label: _decimal(value, label, False)
    if isinstance(kind, DateTime):
        return _iso(datetime.fromisoformat)
    if isinstance(kind, Date):
        return _iso(date.fromisoformat)
    if isinstance(kind, Boolean):
        return _boolean
    if isinstance(kind, Integer):
        return _integer
    return _string(kind.length if isinstance(kind, String) else None)


@cache
def _plan(table: Table, skip: tuple[str, ...]) -> tuple[frozenset[str], tuple[tuple, ...]]:
    """Per column, once per table: (name, converter, may be left out, may be null, default if left out)."""
    columns = [c for c in table.columns if c.name not in skip]
    return frozenset(c.name for c in columns), tuple(
        (c.name, _converter(c), c.nullable, c.nullable or c.primary_key,
         c.default.arg if c.default is not None and c.default.is_scalar else NO_DEFAULT) for c in columns)


def _text(value: object, label: str) -> str:
    if not isinstance(value, str):
        raise RecordError(f"字段 {label} 应为文字，收到 {value!r}")
    return value


def row_values(table: Table, payload: object, where: str, skip: tuple[str, ...] = ()) -> dict:
    if not isinstance(payload, dict):
        raise RecordError(f"{where or '记录'}应为 JSON 对象")
    names, plan = _plan(table, skip)
    if not names.issuperset(payload):
        raise RecordError(f"{where}含未知字段：{', '.join(sorted(set(payload) - names))}")
    values = {}
    for name, convert, optional, nullable, default in plan:
        if name not in payload:
            if default is not NO_DEFAULT:
                values[name] = default
                continue
            if not optional:
                raise RecordError(f"{where}缺少必填字段 {name}")
        value = payload.get(name)
        if value is None:
            if not nullable:
                raise RecordError(f"字段 {where}{name} 不能为空")
            values[name] = None
        else:
            values[name] = convert(value, f"{where}{name}")
    return values


def parse_record(type_name: str, payload: object) -> tuple[dict, dict[str, list[dict]]]:
    """Column values of the row and of each kind of line; RecordError says what is wrong."""
    rt = RECORD_TYPES.get(type_name)
    if rt is None:
        raise RecordError(f"未知的记录类型：{type_name!r}（可同步：{', '.join(RECORD_TYPES)}）")
    if not isinstance(payload, dict):
        raise RecordError("记录内容应为 JSON 对象")
    child_keys = {key for key, _, _ in rt.children}
    row = row_values(rt.table, {k: v for k, v in payload.items() if k not in child_keys}, "")
    children = {}
    for key, child, fk in rt.children:
        lines = payload.get(key, [])
        if not isinstance(lines, list):
            raise RecordError(f"{key} 应为列表")
        children[key] = [{**row_values(child.__table__, line, f"{key}[{i}].", skip=(fk,)), fk: row["id"]}
                         for i, line in enumerate(lines)]
    return row, children


def write_record(conn: Connection, type_name: str, row: dict, children: dict[str, list[dict]], *,
                 exists: bool) -> None:
    """Insert the row with its lines, or replace an existing row's columns and lines (explicit values,
    so no column default or onupdate rewrites what the other side wrote)."""
    rt = RECORD_TYPES[type_name]
    if exists:
        for _, child, fk in rt.children:
            conn.execute(delete(child.__table__).where(child.__table__.c[fk] == row["id"]))
        conn.execute(update(rt.table).where(rt.table.c.id == row["id"]).values(row))
    else:
        conn.execute(insert(rt.table), [row])      # parameters, not .values(): one cached statement
    for key, child, _ in rt.children:
        if children.get(key):
            conn.execute(insert(child.__table__), children[key])


def drug_codes(payload: dict) -> set[str]:
    """Catalogue entries a record refers to (the server needs them to store the record)."""
    codes = {payload["drug_code"]} if isinstance(payload.get("drug_code"), str) else set()
    for value in payload.values():
        if isinstance(value, list):
            codes |= {line["drug_code"] for line in value if isinstance(line, dict)
                      and isinstance(line.get("drug_code"), str)}
    return codes
