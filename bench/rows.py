"""Writing generated rows fast: SQLAlchemy Core executemany on SQLite, COPY on PostgreSQL.

Rows are completed the way clinic/demo completes them (the owning clinic, timestamps, column
defaults), then written parents first so foreign keys hold while they are written.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, Table
from sqlalchemy.types import TypeDecorator

from clinic.db.models import (
    Dispense,
    DispenseLine,
    Filing,
    FollowUp,
    Patient,
    Prescription,
    PrescriptionLine,
    Settlement,
    SettlementDisease,
    StockLot,
    StockMovement,
)
from clinic.demo.build import complete_rows

# Parents before children; a refund follows the settlement it reverses (rows keep their order).
ORDER = [Patient, Filing, Prescription, PrescriptionLine, Dispense, DispenseLine, Settlement, SettlementDisease,
         FollowUp, StockLot, StockMovement]
CHUNK = 20_000


def complete(tables: dict[type, list[dict]], institution_code: str, now: datetime) -> None:
    """Give every row of a table the same keys (the demo builder's rule, shared)."""
    complete_rows(tables, institution_code, now)


def ordered(tables: dict[type, list[dict]]) -> Iterable[tuple[type, list[dict]]]:
    for model in ORDER:
        if tables.get(model):
            yield model, tables[model]
    for model, rows in tables.items():
        if model not in ORDER and rows:
            yield model, rows


def insert_rows(conn: Connection, tables: dict[type, list[dict]]) -> dict[str, int]:
    """Core executemany in the caller's transaction; returns rows written per table."""
    counts = {}
    for model, rows in ordered(tables):
        for start in range(0, len(rows), CHUNK):
            conn.execute(model.__table__.insert(), rows[start:start + CHUNK])
        counts[model.__tablename__] = len(rows)
    return counts


def copy_rows(conn: Connection, tables: dict[type, list[dict]]) -> dict[str, int]:
    """PostgreSQL COPY through psycopg, with each column's own bind conversion (money → integer fen,
    exact decimals → text), so the stored values are what the ORM would have written."""
    raw = conn.connection.driver_connection
    dialect = conn.dialect
    counts = {}
    for model, rows in ordered(tables):
        table: Table = model.__table__
        columns = [c for c in table.c if c.name in rows[0]]
        convert = [(c.name, c.type.process_bind_param if isinstance(c.type, TypeDecorator) else None)
                   for c in columns]
        names = ", ".join(f'"{c.name}"' for c in columns)
        with raw.cursor() as cur, cur.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row([row[name] if fn is None else fn(row[name], dialect) for name, fn in convert])
        counts[table.name] = len(rows)
    return counts
