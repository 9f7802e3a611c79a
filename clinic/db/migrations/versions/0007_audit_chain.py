"""tamper-evident audit: each event carries the hash of the previous one

`audit_event` gets `seq` (place in its institution's chain), `prev_hash` and `hash` (clinic/db/audit.py),
and an index to find a chain's head. Existing events are chained here, in id order, so an old file
verifies from its first event. The append-only triggers of 0004 refuse the UPDATE that fills them in:
they are dropped for it and recreated with 0004's helper.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 13:00:00

"""
import importlib.util
from pathlib import Path
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0007'
down_revision: Union[str, Sequence[str], None] = '0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def _migration_0004():
    path = Path(__file__).with_name("0004_login_guard_append_only_audit.py")
    spec = importlib.util.spec_from_file_location("migration_0004", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _drop_triggers() -> None:
    for action in ("update", "delete"):
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS audit_event_no_{action} ON audit_event")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS audit_event_no_{action}")


def _chain_existing_events() -> None:
    from clinic.db.audit import GENESIS, event_hash

    conn = op.get_bind()
    table = sa.table("audit_event", sa.column("id", sa.Integer), sa.column("at", sa.DateTime),
                     sa.column("user_name", sa.String), sa.column("institution_code", sa.String),
                     sa.column("entity", sa.String), sa.column("entity_id", sa.String),
                     sa.column("action", sa.String), sa.column("changes", sa.Text), sa.column("seq", sa.Integer),
                     sa.column("prev_hash", sa.String), sa.column("hash", sa.String))
    heads: dict = {}
    updates = []
    for row in conn.execute(sa.select(table).order_by(table.c.id)).mappings():
        seq, prev = heads.get(row["institution_code"], (0, GENESIS))
        values = {**row, "seq": seq + 1}
        digest = event_hash(values, prev)
        heads[row["institution_code"]] = (seq + 1, digest)
        updates.append({"event_id": row["id"], "seq_": seq + 1, "prev_": prev, "hash_": digest})
    if updates:
        conn.execute(table.update().where(table.c.id == sa.bindparam("event_id")).values(
            seq=sa.bindparam("seq_"), prev_hash=sa.bindparam("prev_"), hash=sa.bindparam("hash_")), updates)


def upgrade() -> None:
    _drop_triggers()
    op.add_column('audit_event', sa.Column('seq', sa.Integer(), nullable=True))
    op.add_column('audit_event', sa.Column('prev_hash', sa.String(length=64), nullable=True))
    op.add_column('audit_event', sa.Column('hash', sa.String(length=64), nullable=True))
    op.create_index('ix_audit_event_chain', 'audit_event', ['institution_code', 'id'], unique=False)
    _chain_existing_events()
    _migration_0004().create_audit_triggers()


def downgrade() -> None:
    _drop_triggers()
    op.drop_index('ix_audit_event_chain', table_name='audit_event')
    with op.batch_alter_table('audit_event') as batch:
        batch.drop_column('hash')
        batch.drop_column('prev_hash')
        batch.drop_column('seq')
    _migration_0004().create_audit_triggers()
