"""résumé preview: a DOCX version's formatted view, as sanitised HTML (nullable; None for a PDF)

Revision ID: 0009
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('resume_version', schema=None) as batch_op:
        batch_op.add_column(sa.Column('preview_html', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('resume_version', schema=None) as batch_op:
        batch_op.drop_column('preview_html')
