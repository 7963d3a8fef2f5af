"""intake questions and job descriptions

``intake_question``: per interview type, ordered questions (short or long text, single or multiple
choice, URL, date), required or optional, with help text and one level of condition on an earlier
choice. ``booking.answers`` and ``waitlist_entry.answers``: the learner's answers with the wording
as asked; ``booking.placement_reason``: why round robin chose the coach. ``resume_version``: the
job description it is aimed at, the job's skills, and the gap analysis.

Revision ID: 0020
Revises: 0019
"""

from alembic import op
import sqlalchemy as sa

import services.db


# revision identifiers, used by Alembic.
revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

KINDS = "kind IN ('short', 'long', 'single', 'multi', 'url', 'date')"


def upgrade():
    op.create_table(
        "intake_question",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("interview_type_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("help", sa.Text(), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("condition_question_id", sa.Integer(), nullable=True),
        sa.Column("condition_value", sa.String(length=200), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", services.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(KINDS, name=op.f("ck_intake_question_kind")),
        sa.ForeignKeyConstraint(
            ["condition_question_id"],
            ["intake_question.id"],
            name=op.f("fk_intake_question_condition_question_id_intake_question"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["interview_type_id"],
            ["interview_type.id"],
            name=op.f("fk_intake_question_interview_type_id_interview_type"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_intake_question")),
    )
    with op.batch_alter_table("intake_question", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_intake_question_interview_type_id"), ["interview_type_id"], unique=False
        )
    with op.batch_alter_table("booking", schema=None) as batch_op:
        batch_op.add_column(sa.Column("answers", sa.JSON(), server_default="[]", nullable=False))
        batch_op.add_column(
            sa.Column("placement_reason", sa.Text(), server_default="", nullable=False)
        )
    with op.batch_alter_table("waitlist_entry", schema=None) as batch_op:
        batch_op.add_column(sa.Column("answers", sa.JSON(), server_default="[]", nullable=False))
    with op.batch_alter_table("resume_version", schema=None) as batch_op:
        batch_op.add_column(sa.Column("job_description", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("job_skills", sa.JSON(), server_default="[]", nullable=False))
        batch_op.add_column(sa.Column("job_match", sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table("resume_version", schema=None) as batch_op:
        batch_op.drop_column("job_match")
        batch_op.drop_column("job_skills")
        batch_op.drop_column("job_description")
    with op.batch_alter_table("waitlist_entry", schema=None) as batch_op:
        batch_op.drop_column("answers")
    with op.batch_alter_table("booking", schema=None) as batch_op:
        batch_op.drop_column("placement_reason")
        batch_op.drop_column("answers")
    with op.batch_alter_table("intake_question", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_intake_question_interview_type_id"))
    op.drop_table("intake_question")
