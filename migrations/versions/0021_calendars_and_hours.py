"""calendars and hours: coaches' own calendar feeds and the busy times read from them

``calendar_feed``: a coach's iCalendar address, whether its all-day events block, and its fetch
state (validators for a conditional request, last attempt and success, next fetch, last error).
``feed_busy``: the busy intervals read from a feed (no titles), found by coach and start.
``desk_schedule`` (one row) and ``desk_holiday``: the desk's working hours, which résumé due times
and accept windows count.

Revision ID: 0021
Revises: 0020
"""
from alembic import op
import sqlalchemy as sa

import services.db


# revision identifiers, used by Alembic.
revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('calendar_feed',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('coach_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('url', sa.Text(), nullable=False),
    sa.Column('all_day_blocks', sa.Boolean(), nullable=False),
    sa.Column('created_at', services.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('etag', sa.String(length=500), nullable=True),
    sa.Column('last_modified', sa.String(length=100), nullable=True),
    sa.Column('last_attempt_at', services.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_success_at', services.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('next_fetch_at', services.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.ForeignKeyConstraint(['coach_id'], ['user.id'], name=op.f('fk_calendar_feed_coach_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_calendar_feed'))
    )
    with op.batch_alter_table('calendar_feed', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_calendar_feed_coach_id'), ['coach_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_calendar_feed_next_fetch_at'), ['next_fetch_at'], unique=False)
    op.create_table('feed_busy',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('feed_id', sa.Integer(), nullable=False),
    sa.Column('coach_id', sa.Integer(), nullable=False),
    sa.Column('start_at', services.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('end_at', services.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('start_at < end_at', name=op.f('ck_feed_busy_window')),
    sa.ForeignKeyConstraint(['coach_id'], ['user.id'], name=op.f('fk_feed_busy_coach_id_user'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['feed_id'], ['calendar_feed.id'], name=op.f('fk_feed_busy_feed_id_calendar_feed'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_feed_busy'))
    )
    with op.batch_alter_table('feed_busy', schema=None) as batch_op:
        batch_op.create_index('ix_feed_busy_coach_start', ['coach_id', 'start_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_feed_busy_feed_id'), ['feed_id'], unique=False)
    op.create_table('desk_schedule',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('hours', sa.JSON(), nullable=False),
    sa.Column('updated_at', services.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_desk_schedule'))
    )
    op.create_table('desk_holiday',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_desk_holiday')),
    sa.UniqueConstraint('day', name=op.f('uq_desk_holiday_day'))
    )


def downgrade():
    op.drop_table('desk_holiday')
    op.drop_table('desk_schedule')
    with op.batch_alter_table('feed_busy', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feed_busy_feed_id'))
        batch_op.drop_index('ix_feed_busy_coach_start')
    op.drop_table('feed_busy')
    with op.batch_alter_table('calendar_feed', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_calendar_feed_next_fetch_at'))
        batch_op.drop_index(batch_op.f('ix_calendar_feed_coach_id'))
    op.drop_table('calendar_feed')
