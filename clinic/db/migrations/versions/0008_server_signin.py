"""server sign-in protection and backups: lockout, sign-in log

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 13:00:00

"""
from typing import Sequence, Union

from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


revision: str = '0008'
down_revision: Union[str, Sequence[str], None] = '0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


# -- sign-in log (sync/server/signin.py): every attempt at the server's web pages ------------------

def signin_upgrade() -> None:
    op.create_table('server_signin',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('username', sa.String(length=40), nullable=False),
    sa.Column('address', sa.String(length=64), nullable=False),
    sa.Column('outcome', sa.String(length=10), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_server_signin'))
    )
    op.create_index(op.f('ix_server_signin_at'), 'server_signin', ['at'], unique=False)


def signin_downgrade() -> None:
    op.drop_index(op.f('ix_server_signin_at'), table_name='server_signin')
    op.drop_table('server_signin')


def upgrade() -> None:
    signin_upgrade()


def downgrade() -> None:
    signin_downgrade()
