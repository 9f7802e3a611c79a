"""fund ledger: accounting year of each settlement, opening balances, receipt counters

- `settlement.accounting_year`: the year whose caps an entry counts against. Existing rows get the
  year of their purchase; a refund the year of the settlement it reverses (a December purchase
  refunded in January gives back December's cap, not January's).
- `settlement.policy_settings`: the local policy settings a settlement was made with (JSON), for the
  township's re-adjudication. Existing rows: NULL (the township then says it cannot re-check them).
- `opening_balance`: a patient's fund use and deductible so far in a year, from the previous system.
- `receipt_counter`: the last receipt number per day and prefix, seeded from the receipts on file.
- `sync_pull_rejection`: pulled items a clinic could not apply, with the reason; the stream waits
  before the item until it applies (sync/pull_apply.py). Separate functions below.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 13:00:00

"""
from typing import Sequence, Union

from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision: str = '0006'
down_revision: Union[str, Sequence[str], None] = '0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def _ledger_upgrade() -> None:
    op.add_column("settlement", sa.Column("accounting_year", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("settlement", sa.Column("policy_settings", sa.Text(), nullable=True))
    op.execute("UPDATE settlement SET accounting_year = CAST(substr(settled_on, 1, 4) AS INTEGER)"
               if op.get_bind().dialect.name == "sqlite" else
               "UPDATE settlement SET accounting_year = EXTRACT(YEAR FROM settled_on)")
    op.execute("UPDATE settlement SET accounting_year = (SELECT o.accounting_year FROM settlement AS o "
               "WHERE o.id = settlement.reverses_id) WHERE reverses_id IS NOT NULL")
    with op.batch_alter_table("settlement") as batch_op:        # no default: the code always sets it
        batch_op.alter_column("accounting_year", server_default=None)
        batch_op.create_index("ix_settlement_patient_year", ["patient_id", "accounting_year"], unique=False)
    op.create_table(
        "opening_balance",
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("disease", sa.String(length=20), nullable=False),
        sa.Column("fund_paid", sa.BigInteger(), nullable=False),
        sa.Column("deductible_paid", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=False),
        sa.Column("entered_by", sa.String(length=40), nullable=False),
        sa.Column("patient_id", sa.String(length=36), nullable=False),
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("institution_code", sa.String(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["patient_id"], ["patient.id"], name=op.f("fk_opening_balance_patient_id_patient")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opening_balance")),
    )
    with op.batch_alter_table("opening_balance") as batch_op:
        batch_op.create_index("ix_opening_balance_patient_year", ["patient_id", "year", "disease"], unique=False)
        batch_op.create_index(batch_op.f("ix_opening_balance_patient_id"), ["patient_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_opening_balance_institution_code"), ["institution_code"], unique=False)
    op.create_table(
        "receipt_counter",
        sa.Column("stem", sa.String(length=40), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("stem", name=op.f("pk_receipt_counter")),
    )


def _ledger_downgrade() -> None:
    op.drop_table("receipt_counter")
    with op.batch_alter_table("opening_balance") as batch_op:
        batch_op.drop_index(batch_op.f("ix_opening_balance_institution_code"))
        batch_op.drop_index(batch_op.f("ix_opening_balance_patient_id"))
        batch_op.drop_index("ix_opening_balance_patient_year")
    op.drop_table("opening_balance")
    with op.batch_alter_table("settlement") as batch_op:
        batch_op.drop_index("ix_settlement_patient_year")
        batch_op.drop_column("policy_settings")
        batch_op.drop_column("accounting_year")


def _pull_rejections() -> None:
    op.create_table(
        "sync_pull_rejection",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("stream", sa.String(length=20), nullable=False),
        sa.Column("cursor", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("item_id", sa.String(length=100), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(), nullable=False),
        sa.Column("resolved_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_pull_rejection")),
    )
    with op.batch_alter_table("sync_pull_rejection") as batch_op:
        batch_op.create_index("ix_sync_pull_rejection_stream_open", ["stream", "resolved_at"], unique=False)


def _pull_rejections_downgrade() -> None:
    with op.batch_alter_table("sync_pull_rejection") as batch_op:
        batch_op.drop_index("ix_sync_pull_rejection_stream_open")
    op.drop_table("sync_pull_rejection")


def upgrade() -> None:
    _ledger_upgrade()
    _pull_rejections()


def downgrade() -> None:
    _pull_rejections_downgrade()
    _ledger_downgrade()
