"""review drafts and corrections: what a coach has typed and not sent (one per version and coach),
and when a sent review was last corrected

Revision ID: 0012
Revises: 0011
"""
from alembic import op
import sqlalchemy as sa

import services.db


# revision identifiers, used by Alembic.
revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('review_draft',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('coach_id', sa.Integer(), nullable=False),
    sa.Column('scores', sa.JSON(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=False),
    sa.Column('comments', sa.Text(), nullable=False),
    sa.Column('outcome', sa.String(length=24), nullable=True),
    sa.Column('updated_at', services.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['coach_id'], ['user.id'], name=op.f('fk_review_draft_coach_id_user'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['version_id'], ['resume_version.id'], name=op.f('fk_review_draft_version_id_resume_version'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_review_draft')),
    sa.UniqueConstraint('version_id', 'coach_id', name=op.f('uq_review_draft_version_id_coach_id'))
    )
    with op.batch_alter_table('review_draft', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_review_draft_coach_id'), ['coach_id'], unique=False)

    with op.batch_alter_table('review', schema=None) as batch_op:
        batch_op.add_column(sa.Column('corrected_at', services.db.UTCDateTime(timezone=True), nullable=True))



def downgrade():
    with op.batch_alter_table('review', schema=None) as batch_op:
        batch_op.drop_column('corrected_at')

    with op.batch_alter_table('review_draft', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_review_draft_coach_id'))

    op.drop_table('review_draft')
