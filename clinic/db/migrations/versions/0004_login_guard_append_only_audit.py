"""accounts and audit: login attempts per account; the audit log becomes append-only

- `login_guard`: wrong-password count and lock time per username (clinic/users.py), a local table that
  is not synced and leaves the user's own row alone.
- `audit_event` refuses UPDATE and DELETE with a trigger in the database itself, so no code path (nor
  someone with a SQLite browser who does not drop the trigger first) can quietly rewrite history.
  Note for later migrations: a batch (copy-and-move) alteration of audit_event on SQLite drops its
  triggers; recreate them with `create_audit_triggers()` afterwards. tests/ops checks they exist at head.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 17:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


revision: str = '0004'
down_revision: Union[str, Sequence[str], None] = '0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None

MESSAGE = "审计日志只能追加，不能修改或删除"


def create_audit_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"""
            CREATE OR REPLACE FUNCTION audit_event_append_only() RETURNS trigger AS $$
            BEGIN RAISE EXCEPTION '{MESSAGE}'; END; $$ LANGUAGE plpgsql""")
        for action in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER audit_event_no_{action.lower()} BEFORE {action} ON audit_event "
                       "FOR EACH ROW EXECUTE FUNCTION audit_event_append_only()")
        return
    for action in ("UPDATE", "DELETE"):
        op.execute(f"CREATE TRIGGER IF NOT EXISTS audit_event_no_{action.lower()} BEFORE {action} ON audit_event "
                   f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END")


def upgrade() -> None:
    op.create_table('login_guard',
    sa.Column('username', sa.String(length=40), nullable=False),
    sa.Column('failed_count', sa.Integer(), nullable=False),
    sa.Column('locked_until', sa.DateTime(), nullable=True),
    sa.Column('last_failed_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('username', name=op.f('pk_login_guard'))
    )
    create_audit_triggers()


def downgrade() -> None:
    for action in ("update", "delete"):
        if op.get_bind().dialect.name == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS audit_event_no_{action} ON audit_event")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS audit_event_no_{action}")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_event_append_only()")
    op.drop_table('login_guard')
