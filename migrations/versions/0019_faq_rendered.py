"""faq rendered: each answer's HTML and plain text kept beside its Markdown, and a version per page

Answers are rendered when they are saved (services.faq does it as the entry is flushed), so the
public pages never render Markdown. ``page.version`` goes up with every change to the page or its
entries: the public pages are cached under it. Existing answers are rendered here.

Revision ID: 0019
Revises: 0018
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('page', sa.Column('version', sa.Integer(), server_default='1', nullable=False))
    op.add_column('faq_entry', sa.Column('answer_html', sa.Text(), nullable=True))
    op.add_column('faq_entry', sa.Column('answer_text', sa.Text(), nullable=True))

    from services.faq import plain_text, render_markdown

    entry = sa.table(
        'faq_entry',
        sa.column('id', sa.Integer()),
        sa.column('answer', sa.Text()),
        sa.column('answer_html', sa.Text()),
        sa.column('answer_text', sa.Text()),
    )
    conn = op.get_bind()
    for entry_id, answer in conn.execute(sa.select(entry.c.id, entry.c.answer)).all():
        conn.execute(
            entry.update()
            .where(entry.c.id == entry_id)
            .values(answer_html=render_markdown(answer), answer_text=plain_text(answer))
        )


def downgrade():
    with op.batch_alter_table('faq_entry', schema=None) as batch_op:
        batch_op.drop_column('answer_text')
        batch_op.drop_column('answer_html')
    with op.batch_alter_table('page', schema=None) as batch_op:
        batch_op.drop_column('version')
