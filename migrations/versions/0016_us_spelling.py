"""us spelling: the behavioural interview type and expertise tag become "behavioral", as the
rest of the product's copy is US English; a name staff changed is left as they wrote it

Revision ID: 0016
Revises: 0015
"""
import json

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

SPELLINGS = {'behavioural': 'behavioral', 'Behavioural': 'Behavioral'}


def _respell(old_to_new):
    conn = op.get_bind()
    tag_old, tag_new = next((o, n) for o, n in old_to_new.items() if o.islower())
    name_old, name_new = next((o, n) for o, n in old_to_new.items() if not o.islower())
    conn.execute(
        sa.text("UPDATE interview_type SET slug = :new WHERE slug = :old"),
        {"old": tag_old, "new": tag_new},
    )
    conn.execute(
        sa.text("UPDATE interview_type SET name = :new WHERE name = :old"),
        {"old": name_old, "new": name_new},
    )
    for row in conn.execute(sa.text("SELECT id, expertise FROM interview_type")).all():
        tags = [tag_new if t.strip().lower() == tag_old else t for t in row.expertise.split(",")]
        if ",".join(tags) != row.expertise:
            conn.execute(
                sa.text("UPDATE interview_type SET expertise = :tags WHERE id = :id"),
                {"tags": ",".join(tags), "id": row.id},
            )
    # A coach's expertise is a JSON list: read and written in Python, alike on both databases.
    users = conn.execute(sa.text('SELECT id, expertise FROM "user" WHERE expertise IS NOT NULL'))
    for row in users.all():
        tags = row.expertise if isinstance(row.expertise, list) else json.loads(row.expertise)
        new = [tag_new if str(t).lower() == tag_old else t for t in tags]
        if new != tags:
            update = sa.text('UPDATE "user" SET expertise = :tags WHERE id = :id')
            conn.execute(
                update.bindparams(sa.bindparam("tags", type_=sa.JSON)),
                {"tags": new, "id": row.id},
            )


def upgrade():
    _respell(SPELLINGS)


def downgrade():
    _respell({new: old for old, new in SPELLINGS.items()})
