"""time proposals: a coach proposes moving a session to another time, the learner accepts or declines

``time_proposal``: the proposed start and end, the session's time it would move from, the coach's
message, and until when it counts; at most one open per booking (a unique partial index, on both
databases).

Revision ID: 0017
Revises: 0016
"""
from alembic import op
import sqlalchemy as sa

import services.db


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

OPEN = "status = 'open'"


def upgrade():
    op.create_table('time_proposal',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('booking_id', sa.Integer(), nullable=False),
    sa.Column('proposed_by_id', sa.Integer(), nullable=True),
    sa.Column('original_start_at', services.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('start_at', services.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('end_at', services.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', services.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('expires_at', services.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('closed_at', services.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('reply', sa.Text(), nullable=False),
    sa.CheckConstraint('start_at < end_at', name=op.f('ck_time_proposal_window')),
    sa.CheckConstraint(
        "status IN ('open', 'accepted', 'declined', 'withdrawn', 'replaced', 'expired', 'closed')",
        name=op.f('ck_time_proposal_status'),
    ),
    sa.ForeignKeyConstraint(['booking_id'], ['booking.id'], name=op.f('fk_time_proposal_booking_id_booking'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['closed_by_id'], ['user.id'], name=op.f('fk_time_proposal_closed_by_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['proposed_by_id'], ['user.id'], name=op.f('fk_time_proposal_proposed_by_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_time_proposal'))
    )
    with op.batch_alter_table('time_proposal', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_time_proposal_booking_id'), ['booking_id'], unique=False)
        batch_op.create_index('uq_time_proposal_open_booking', ['booking_id'], unique=True, postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN))


def downgrade():
    with op.batch_alter_table('time_proposal', schema=None) as batch_op:
        batch_op.drop_index('uq_time_proposal_open_booking', postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN))
        batch_op.drop_index(batch_op.f('ix_time_proposal_booking_id'))
    op.drop_table('time_proposal')
