"""Record ids checked on receipt. Every clinic names its records by canonical UUID strings (clinic/db/
types.py `new_uuid`; the demo and benchmark data use `str(uuid.UUID(...))` too), so an id that is not
one did not come from clinic software: it is refused before it can be stored, shown on a page or named
by another record. Checked: the record's own id, its lines' ids, and every column naming another
synced record (patient_id, prescription_id, dispense_id, reverses_id, …). Drug codes, institution
codes and clinic user accounts are not UUIDs and are left to their own checks."""

from __future__ import annotations

import uuid
from functools import cache

from sqlalchemy import Table

from clinic.db.records import RECORD_TYPES, RecordError


def is_uuid(value: object) -> bool:
    """The lower-case hyphenated form `str(uuid.UUID(...))` gives, and nothing else."""
    if not isinstance(value, str) or len(value) != 36:
        return False
    try:
        return str(uuid.UUID(value)) == value
    except ValueError:
        return False


@cache
def _synced_tables() -> frozenset[str]:
    tables = set()
    for rt in RECORD_TYPES.values():
        tables.add(rt.table.name)
        tables.update(child.__table__.name for _, child, _ in rt.children)
    return frozenset(tables)


@cache
def _id_columns(table: Table) -> tuple[str, ...]:
    """`id` and the columns whose foreign key names a synced record, once per table."""
    named = [c.name for c in table.columns
             if any(fk.column.table.name in _synced_tables() and fk.column.name == "id" for fk in c.foreign_keys)]
    return ("id", *named)


def check_ids(type_name: str, row: dict, children: dict[str, list[dict]]) -> None:
    rt = RECORD_TYPES[type_name]
    checks = [(rt.table, row, "")] + [(child.__table__, line, f"{key}[{i}].")
                                      for key, child, _ in rt.children for i, line in enumerate(children.get(key, []))]
    for table, values, where in checks:
        for name in _id_columns(table):
            value = values.get(name)
            if value is not None and not is_uuid(value):
                raise RecordError(f"字段 {where}{name} 不是有效的记录编号（应为 UUID，如 "
                                  f"3f2b6c1e-8a4d-4e5f-9b7a-1c2d3e4f5a6b），收到 {str(value)[:40]!r}")
