"""calendars version: the token under which each process keeps coaches' calendars

``calendars_version``: one row whose random ``token`` is replaced by every change to what slot
search reads of interview types and coaches' calendars (services/booking/facts.py).

Revision ID: 0023
Revises: 0022
"""
import secrets

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade():
    table = op.create_table('calendars_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('token', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendars_version'))
    )
    op.bulk_insert(table, [{"id": 1, "token": secrets.randbits(62)}])


def downgrade():
    op.drop_table('calendars_version')
