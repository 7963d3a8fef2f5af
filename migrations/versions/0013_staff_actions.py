"""staff actions: pinned hand assignments, and learners' requests to staff about a booking

``assignment.pinned_at`` (with who and why): staff chose the coach by hand, so a rebalance leaves
the offer where it is until staff unpin it. ``staff_request``: a learner's message about one
booking, open until staff answer it in the app.

Revision ID: 0013
Revises: 0012
"""
from alembic import op
import sqlalchemy as sa

import services.db


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pinned_at', services.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('pinned_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('pin_reason', sa.Text(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_assignment_pinned_by_id_user'), 'user', ['pinned_by_id'], ['id'], ondelete='SET NULL')

    op.create_table('staff_request',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('booking_id', sa.Integer(), nullable=False),
    sa.Column('learner_id', sa.Integer(), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', services.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reply', sa.Text(), nullable=True),
    sa.Column('replied_at', services.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('replied_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("status IN ('open', 'answered')", name=op.f('ck_staff_request_status')),
    sa.ForeignKeyConstraint(['booking_id'], ['booking.id'], name=op.f('fk_staff_request_booking_id_booking'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['learner_id'], ['user.id'], name=op.f('fk_staff_request_learner_id_user'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['replied_by_id'], ['user.id'], name=op.f('fk_staff_request_replied_by_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_staff_request'))
    )
    with op.batch_alter_table('staff_request', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_request_booking_id'), ['booking_id'], unique=False)
        batch_op.create_index('ix_staff_request_status_created', ['status', 'created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('staff_request', schema=None) as batch_op:
        batch_op.drop_index('ix_staff_request_status_created')
        batch_op.drop_index(batch_op.f('ix_staff_request_booking_id'))
    op.drop_table('staff_request')

    with op.batch_alter_table('assignment', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_assignment_pinned_by_id_user'), type_='foreignkey')
        batch_op.drop_column('pin_reason')
        batch_op.drop_column('pinned_by_id')
        batch_op.drop_column('pinned_at')
