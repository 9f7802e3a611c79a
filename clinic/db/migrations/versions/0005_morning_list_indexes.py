"""indexes for the morning lists (clinic/worklist.py)

- `ix_dispense_day_patient`: a date range of dispenses with who, whether deleted, the id to join lines
  and when recorded, read from the index alone (supply running out, suspected unfiled).
- `ix_dispense_line_supply`: each line's drug, quantity and daily dose, read from the index alone.
- `ix_settlement_state`: settlements waiting to be uploaded, without reading every settlement.

At 10,000 patients (112,000 dispenses) they take the home screen's lists from about 3.1 s to 2.0 s on
a shared 2-core machine (bench/bench_worklist.py), and add about 28 MB to that 310 MB clinic file.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 18:45:00

"""
from typing import Sequence, Union

from alembic import op


revision: str = '0005'
down_revision: Union[str, Sequence[str], None] = '0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

INDEXES = [
    ("ix_dispense_day_patient", "dispense", ["dispensed_on", "patient_id", "deleted_at", "id", "created_at"]),
    ("ix_dispense_line_supply", "dispense_line", ["dispense_id", "drug_code", "quantity", "daily_dose"]),
    ("ix_settlement_state", "settlement", ["state", "settled_on"]),
]


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
