"""own hours and clashes: a coach's own week as their deadline clock; clashes told once

``user.deadlines_own_hours``: staff chose that this coach's own weekly availability, not the desk's
hours, is the clock of their review due times and accept windows.
``feed_clash``: a session that a busy time of the coach's own calendar overlaps, recorded when the
coach and staff were told, so each clash is told once.

Revision ID: 0022
Revises: 0021
"""
from alembic import op
import sqlalchemy as sa

import services.db


# revision identifiers, used by Alembic.
revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.add_column(sa.Column('deadlines_own_hours', sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_table('feed_clash',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('booking_id', sa.Integer(), nullable=False),
    sa.Column('feed_id', sa.Integer(), nullable=False),
    sa.Column('found_at', services.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['booking_id'], ['booking.id'], name=op.f('fk_feed_clash_booking_id_booking'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['feed_id'], ['calendar_feed.id'], name=op.f('fk_feed_clash_feed_id_calendar_feed'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feed_clash')),
    sa.UniqueConstraint('booking_id', 'feed_id', name=op.f('uq_feed_clash_booking_id_feed_id'))
    )
    with op.batch_alter_table('feed_clash', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feed_clash_feed_id'), ['feed_id'], unique=False)


def downgrade():
    with op.batch_alter_table('feed_clash', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feed_clash_feed_id'))
    op.drop_table('feed_clash')
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('deadlines_own_hours')
