"""account clock: each user's 12- or 24-hour clock; everyone so far keeps the 24-hour one

Revision ID: 0015
Revises: 0014
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    # One ALTER on both databases: SQLite adds a column with its CHECK without copying the table.
    op.execute(
        'ALTER TABLE "user" ADD COLUMN clock VARCHAR(3) DEFAULT \'24h\' NOT NULL'
        " CONSTRAINT ck_user_clock CHECK (clock IN ('12h', '24h'))"
    )


def downgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_column('clock')
