"""outbox jobs: every job for the workers is a row until a worker finishes it; failed hand-overs

Revision ID: 0011
Revises: 0010
"""
from alembic import op
import sqlalchemy as sa

import services.db


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('outbox_job',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('task', sa.String(length=100), nullable=False),
    sa.Column('args', sa.JSON(), nullable=False),
    sa.Column('created_at', services.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('relay_after', services.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('claimed_at', services.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('failed_at', services.db.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_job'))
    )
    with op.batch_alter_table('outbox_job', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_job_relay_after', ['relay_after'], unique=False)

    with op.batch_alter_table('outbox_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('handover_failed_at', services.db.UTCDateTime(timezone=True), nullable=True))

    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.add_column(sa.Column('handover_failed_at', services.db.UTCDateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_column('handover_failed_at')

    with op.batch_alter_table('outbox_event', schema=None) as batch_op:
        batch_op.drop_column('handover_failed_at')

    with op.batch_alter_table('outbox_job', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_job_relay_after')

    op.drop_table('outbox_job')
