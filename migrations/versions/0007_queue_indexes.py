"""queue indexes: the staff queue's default order (due soonest first) served from an index

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None

OPEN = "status IN ('submitted', 'assigned', 'in_review', 'unassigned')"
# SQLite: "+status", so its planner takes this index rather than ix_resume_status_queued and a sort
OPEN_SQLITE = "+" + OPEN


def upgrade():
    with op.batch_alter_table('resume', schema=None) as batch_op:
        batch_op.create_index(
            'ix_resume_open_due',
            ['due_at', 'id'],
            unique=False,
            postgresql_where=sa.text(OPEN),
            sqlite_where=sa.text(OPEN_SQLITE),
        )


def downgrade():
    with op.batch_alter_table('resume', schema=None) as batch_op:
        batch_op.drop_index('ix_resume_open_due')
