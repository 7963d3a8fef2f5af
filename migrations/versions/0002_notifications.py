"""notifications

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

import services.db


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbox_event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('relayed_at', services.db.UTCDateTime(timezone=True), nullable=True))

    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.create_index('ix_notification_user_created', ['user_id', 'created_at', 'id'], unique=False)

    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.add_column(sa.Column('next_attempt_at', services.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('relayed_at', services.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('failed_at', services.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('retried_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('retried_at', services.db.UTCDateTime(timezone=True), nullable=True))
    # Rows made before this migration are due since they were made.
    op.execute('UPDATE delivery SET next_attempt_at = created_at WHERE next_attempt_at IS NULL')
    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.alter_column('next_attempt_at', existing_type=services.db.UTCDateTime(timezone=True), nullable=False)
        batch_op.create_foreign_key(batch_op.f('fk_delivery_retried_by_id_user'), 'user', ['retried_by_id'], ['id'], ondelete='SET NULL')
        batch_op.create_index('ix_delivery_status_next_attempt', ['status', 'next_attempt_at'], unique=False)

    op.create_table('notification_preference',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=64), nullable=False),
    sa.Column('email', sa.Boolean(), nullable=False),
    sa.Column('updated_at', services.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['user.id'], name=op.f('fk_notification_preference_user_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_notification_preference')),
    sa.UniqueConstraint('user_id', 'kind', name=op.f('uq_notification_preference_user_id_kind'))
    )


def downgrade():
    op.drop_table('notification_preference')

    with op.batch_alter_table('delivery', schema=None) as batch_op:
        batch_op.drop_index('ix_delivery_status_next_attempt')
        batch_op.drop_constraint(batch_op.f('fk_delivery_retried_by_id_user'), type_='foreignkey')
        batch_op.drop_column('retried_at')
        batch_op.drop_column('retried_by_id')
        batch_op.drop_column('failed_at')
        batch_op.drop_column('relayed_at')
        batch_op.drop_column('next_attempt_at')

    with op.batch_alter_table('notification', schema=None) as batch_op:
        batch_op.drop_index('ix_notification_user_created')

    with op.batch_alter_table('outbox_event', schema=None) as batch_op:
        batch_op.drop_column('relayed_at')
