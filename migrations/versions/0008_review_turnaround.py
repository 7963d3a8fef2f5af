"""review turnaround: microseconds from upload to review stored on the review, indexed with its time

Revision ID: 0008
Revises: 0007
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

# Exact whole microseconds of review.created_at - resume_version.uploaded_at, as
# Review.turnaround_of computes them. PostgreSQL: EXTRACT gives numeric seconds (exact).
# SQLite: SQLAlchemy stores 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC); whole seconds by strftime('%s')
# of the first 19 characters (given the fraction, SQLite rounds to the millisecond, so .9995 s
# and more would count as the next second; julianday() rounds too), the microseconds from
# characters 21-26.
BACKFILL_POSTGRESQL = """
UPDATE review SET turnaround_us = CAST(
    EXTRACT(EPOCH FROM (review.created_at - resume_version.uploaded_at)) * 1000000 AS BIGINT)
FROM resume_version WHERE resume_version.id = review.version_id
"""
BACKFILL_SQLITE = """
UPDATE review SET turnaround_us = (
    SELECT (CAST(strftime('%s', substr(review.created_at, 1, 19)) AS INTEGER)
            - CAST(strftime('%s', substr(v.uploaded_at, 1, 19)) AS INTEGER)) * 1000000
         + CAST(substr(review.created_at, 21, 6) AS INTEGER)
         - CAST(substr(v.uploaded_at, 21, 6) AS INTEGER)
    FROM resume_version AS v WHERE v.id = review.version_id)
"""


def upgrade():
    with op.batch_alter_table('review', schema=None) as batch_op:
        batch_op.add_column(sa.Column('turnaround_us', sa.BigInteger(), nullable=True))
    bind = op.get_bind()
    op.execute(BACKFILL_POSTGRESQL if bind.dialect.name == "postgresql" else BACKFILL_SQLITE)
    with op.batch_alter_table('review', schema=None) as batch_op:
        batch_op.alter_column('turnaround_us', existing_type=sa.BigInteger(), nullable=False)
        batch_op.create_index(
            'ix_review_created_turnaround', ['created_at', 'turnaround_us'], unique=False
        )


def downgrade():
    with op.batch_alter_table('review', schema=None) as batch_op:
        batch_op.drop_index('ix_review_created_turnaround')
        batch_op.drop_column('turnaround_us')
