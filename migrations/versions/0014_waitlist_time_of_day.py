"""waitlist time of day: when in the day a waiting learner accepts a session (any by default)

Entries already waiting keep accepting any time, as they did.

Revision ID: 0014
Revises: 0013
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('waitlist_entry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('time_of_day', sa.String(length=16), server_default='any', nullable=False))
        batch_op.create_check_constraint(op.f('ck_waitlist_entry_time_of_day'), "time_of_day IN ('any', 'morning', 'afternoon', 'evening')")


def downgrade():
    with op.batch_alter_table('waitlist_entry', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_waitlist_entry_time_of_day'), type_='check')
        batch_op.drop_column('time_of_day')
