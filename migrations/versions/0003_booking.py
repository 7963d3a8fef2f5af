"""booking

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa

import services.db


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

# SQLite: writers are serialised, so a trigger that looks for an overlap before each write is
# race-free. (A later batch_alter_table on 'booking' recreates the table on SQLite: re-create them.)
SQLITE_TRIGGERS = (
    '''CREATE TRIGGER IF NOT EXISTS booking_no_overlap_insert
BEFORE INSERT ON booking
FOR EACH ROW WHEN NEW.status IN ('confirmed', 'completed', 'no_show', 'held')
BEGIN
    SELECT RAISE(ABORT, 'ex_booking_coach_overlap')
    WHERE EXISTS (
        SELECT 1 FROM booking AS other
        WHERE other.coach_id = NEW.coach_id AND other.id IS NOT NEW.id
          AND other.status IN ('confirmed', 'completed', 'no_show', 'held')
          AND other.block_start_at < NEW.block_end_at AND NEW.block_start_at < other.block_end_at
    );
    SELECT RAISE(ABORT, 'ex_booking_learner_overlap')
    WHERE EXISTS (
        SELECT 1 FROM booking AS other
        WHERE other.learner_id = NEW.learner_id AND other.id IS NOT NEW.id
          AND other.status IN ('confirmed', 'completed', 'no_show', 'held')
          AND other.start_at < NEW.end_at AND NEW.start_at < other.end_at
    );
END
''',

    '''CREATE TRIGGER IF NOT EXISTS booking_no_overlap_update
BEFORE UPDATE OF coach_id, learner_id, start_at, end_at, block_start_at, block_end_at, status ON booking
FOR EACH ROW WHEN NEW.status IN ('confirmed', 'completed', 'no_show', 'held')
BEGIN
    SELECT RAISE(ABORT, 'ex_booking_coach_overlap')
    WHERE EXISTS (
        SELECT 1 FROM booking AS other
        WHERE other.coach_id = NEW.coach_id AND other.id IS NOT NEW.id
          AND other.status IN ('confirmed', 'completed', 'no_show', 'held')
          AND other.block_start_at < NEW.block_end_at AND NEW.block_start_at < other.block_end_at
    );
    SELECT RAISE(ABORT, 'ex_booking_learner_overlap')
    WHERE EXISTS (
        SELECT 1 FROM booking AS other
        WHERE other.learner_id = NEW.learner_id AND other.id IS NOT NEW.id
          AND other.status IN ('confirmed', 'completed', 'no_show', 'held')
          AND other.start_at < NEW.end_at AND NEW.start_at < other.end_at
    );
END
''',
)

OCCUPYING = "status IN ('confirmed', 'completed', 'no_show', 'held')"


def upgrade():
    op.create_table('booking',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('uid', sa.String(length=120), nullable=False),
    sa.Column('learner_id', sa.Integer(), nullable=False),
    sa.Column('coach_id', sa.Integer(), nullable=False),
    sa.Column('interview_type_id', sa.Integer(), nullable=False),
    sa.Column('start_at', services.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('end_at', services.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('block_start_at', services.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('block_end_at', services.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('meeting_url', sa.String(length=500), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('reschedule_count', sa.Integer(), nullable=False),
    sa.Column('cancel_reason', sa.Text(), nullable=True),
    sa.Column('cancelled_at', services.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('cancelled_by_id', sa.Integer(), nullable=True),
    sa.Column('hold_expires_at', services.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reminder_24h_at', services.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reminder_1h_at', services.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', services.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', services.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('confirmed', 'cancelled', 'completed', 'no_show', 'held', 'released')", name=op.f('ck_booking_status')),
    sa.CheckConstraint('block_start_at <= start_at AND block_end_at >= end_at', name=op.f('ck_booking_block')),
    sa.CheckConstraint('reschedule_count >= 0', name=op.f('ck_booking_reschedule_count')),
    sa.CheckConstraint('start_at < end_at', name=op.f('ck_booking_window')),
    sa.ForeignKeyConstraint(['cancelled_by_id'], ['user.id'], name=op.f('fk_booking_cancelled_by_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['coach_id'], ['user.id'], name=op.f('fk_booking_coach_id_user')),
    sa.ForeignKeyConstraint(['interview_type_id'], ['interview_type.id'], name=op.f('fk_booking_interview_type_id_interview_type')),
    sa.ForeignKeyConstraint(['learner_id'], ['user.id'], name=op.f('fk_booking_learner_id_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_booking')),
    sa.UniqueConstraint('uid', name=op.f('uq_booking_uid'))
    )
    with op.batch_alter_table('booking', schema=None) as batch_op:
        batch_op.create_index('ix_booking_coach_start', ['coach_id', 'start_at'], unique=False)
        batch_op.create_index('ix_booking_learner_start', ['learner_id', 'start_at'], unique=False)
        batch_op.create_index('ix_booking_status_start', ['status', 'start_at'], unique=False)

    op.create_table('coach_booking_settings',
    sa.Column('coach_id', sa.Integer(), nullable=False),
    sa.Column('daily_session_cap', sa.Integer(), nullable=True),
    sa.Column('feed_token_hash', sa.String(length=64), nullable=True),
    sa.Column('feed_created_at', services.db.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['coach_id'], ['user.id'], name=op.f('fk_coach_booking_settings_coach_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('coach_id', name=op.f('pk_coach_booking_settings')),
    sa.UniqueConstraint('feed_token_hash', name=op.f('uq_coach_booking_settings_feed_token_hash'))
    )
    op.create_table('learner_suspension',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('learner_id', sa.Integer(), nullable=False),
    sa.Column('starts_at', services.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ends_at', services.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('created_at', services.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('lifted_at', services.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('lifted_by_id', sa.Integer(), nullable=True),
    sa.Column('lift_reason', sa.Text(), nullable=False),
    sa.CheckConstraint('starts_at < ends_at', name=op.f('ck_learner_suspension_window')),
    sa.ForeignKeyConstraint(['learner_id'], ['user.id'], name=op.f('fk_learner_suspension_learner_id_user'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['lifted_by_id'], ['user.id'], name=op.f('fk_learner_suspension_lifted_by_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_learner_suspension'))
    )
    with op.batch_alter_table('learner_suspension', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_learner_suspension_learner_id'), ['learner_id'], unique=False)

    op.create_table('booking_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('booking_id', sa.Integer(), nullable=False),
    sa.Column('at', services.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('event', sa.String(length=32), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['user.id'], name=op.f('fk_booking_event_actor_id_user'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['booking_id'], ['booking.id'], name=op.f('fk_booking_event_booking_id_booking'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_booking_event'))
    )
    with op.batch_alter_table('booking_event', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_booking_event_booking_id'), ['booking_id'], unique=False)

    op.create_table('booking_idempotency_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('learner_id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('booking_id', sa.Integer(), nullable=False),
    sa.Column('created_at', services.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['booking_id'], ['booking.id'], name=op.f('fk_booking_idempotency_key_booking_id_booking'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['learner_id'], ['user.id'], name=op.f('fk_booking_idempotency_key_learner_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_booking_idempotency_key')),
    sa.UniqueConstraint('learner_id', 'key', name=op.f('uq_booking_idempotency_key_learner_id_key'))
    )
    op.create_table('session_feedback',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('booking_id', sa.Integer(), nullable=False),
    sa.Column('coach_id', sa.Integer(), nullable=True),
    sa.Column('communication', sa.Integer(), nullable=False),
    sa.Column('technical_depth', sa.Integer(), nullable=False),
    sa.Column('problem_solving', sa.Integer(), nullable=False),
    sa.Column('ml_knowledge', sa.Integer(), nullable=False),
    sa.Column('notes', sa.Text(), nullable=False),
    sa.Column('created_at', services.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', services.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('communication BETWEEN 1 AND 5', name=op.f('ck_session_feedback_communication')),
    sa.CheckConstraint('ml_knowledge BETWEEN 1 AND 5', name=op.f('ck_session_feedback_ml_knowledge')),
    sa.CheckConstraint('problem_solving BETWEEN 1 AND 5', name=op.f('ck_session_feedback_problem_solving')),
    sa.CheckConstraint('technical_depth BETWEEN 1 AND 5', name=op.f('ck_session_feedback_technical_depth')),
    sa.ForeignKeyConstraint(['booking_id'], ['booking.id'], name=op.f('fk_session_feedback_booking_id_booking'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['coach_id'], ['user.id'], name=op.f('fk_session_feedback_coach_id_user'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_session_feedback')),
    sa.UniqueConstraint('booking_id', name=op.f('uq_session_feedback_booking_id'))
    )
    op.create_table('waitlist_entry',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('learner_id', sa.Integer(), nullable=False),
    sa.Column('interview_type_id', sa.Integer(), nullable=False),
    sa.Column('coach_id', sa.Integer(), nullable=True),
    sa.Column('day', sa.Date(), nullable=True),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('earliest_at', services.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('latest_at', services.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('hold_id', sa.Integer(), nullable=True),
    sa.Column('offered_at', services.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('offer_expires_at', services.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', services.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', services.db.UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('waiting', 'offered', 'booked', 'expired', 'cancelled')", name=op.f('ck_waitlist_entry_status')),
    sa.CheckConstraint('earliest_at < latest_at', name=op.f('ck_waitlist_entry_window')),
    sa.ForeignKeyConstraint(['coach_id'], ['user.id'], name=op.f('fk_waitlist_entry_coach_id_user'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['hold_id'], ['booking.id'], name=op.f('fk_waitlist_entry_hold_id_booking'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['interview_type_id'], ['interview_type.id'], name=op.f('fk_waitlist_entry_interview_type_id_interview_type')),
    sa.ForeignKeyConstraint(['learner_id'], ['user.id'], name=op.f('fk_waitlist_entry_learner_id_user'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_waitlist_entry'))
    )
    with op.batch_alter_table('waitlist_entry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_waitlist_entry_learner_id'), ['learner_id'], unique=False)
        batch_op.create_index('ix_waitlist_entry_status_created', ['status', 'created_at'], unique=False)

    # No double booking, enforced by the database (see services/models/booking.py).
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        op.execute(
            "ALTER TABLE booking ADD CONSTRAINT ex_booking_coach_overlap EXCLUDE USING gist "
            "(coach_id WITH =, tstzrange(block_start_at, block_end_at, '[)') WITH &&) "
            f"WHERE ({OCCUPYING})"
        )
        op.execute(
            "ALTER TABLE booking ADD CONSTRAINT ex_booking_learner_overlap EXCLUDE USING gist "
            "(learner_id WITH =, tstzrange(start_at, end_at, '[)') WITH &&) "
            f"WHERE ({OCCUPYING})"
        )
    elif dialect == "sqlite":
        for ddl in SQLITE_TRIGGERS:
            op.execute(ddl)


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS booking_no_overlap_insert")
        op.execute("DROP TRIGGER IF EXISTS booking_no_overlap_update")
    with op.batch_alter_table('waitlist_entry', schema=None) as batch_op:
        batch_op.drop_index('ix_waitlist_entry_status_created')
        batch_op.drop_index(batch_op.f('ix_waitlist_entry_learner_id'))

    op.drop_table('waitlist_entry')
    op.drop_table('session_feedback')
    op.drop_table('booking_idempotency_key')
    with op.batch_alter_table('booking_event', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_booking_event_booking_id'))

    op.drop_table('booking_event')
    with op.batch_alter_table('learner_suspension', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_learner_suspension_learner_id'))

    op.drop_table('learner_suspension')
    op.drop_table('coach_booking_settings')
    with op.batch_alter_table('booking', schema=None) as batch_op:
        batch_op.drop_index('ix_booking_status_start')
        batch_op.drop_index('ix_booking_learner_start')
        batch_op.drop_index('ix_booking_coach_start')

    op.drop_table('booking')
