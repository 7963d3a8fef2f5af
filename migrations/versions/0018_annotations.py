"""annotations: a coach's comments anchored to the text of a résumé version, their replies, and
the review's count of what became of the earlier versions' comments

``annotation``: the text-quote and text-position selectors (plus page, rectangles or a pinned
point for a PDF), the comment, its state, and where it was found again in a later version;
``annotation_reply``: the thread; ``review.earlier_comments``.

Revision ID: 0018
Revises: 0017
"""

from alembic import op
import sqlalchemy as sa

import services.db


# revision identifiers, used by Alembic.
revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

CRITERIA = "'impact', 'clarity', 'ml_relevance', 'formatting', 'ats_readiness'"


def upgrade():
    op.create_table(
        "annotation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resume_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("coach_id", sa.Integer(), nullable=True),
        sa.Column("review_id", sa.Integer(), nullable=True),
        sa.Column("carried_from_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("criterion", sa.String(length=24), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("suggestion", sa.Text(), nullable=True),
        sa.Column("exact", sa.Text(), nullable=False),
        sa.Column("prefix", sa.Text(), nullable=False),
        sa.Column("suffix", sa.Text(), nullable=False),
        sa.Column("start", sa.Integer(), nullable=True),
        sa.Column("end", sa.Integer(), nullable=True),
        sa.Column("page", sa.Integer(), nullable=True),
        sa.Column("rects", sa.JSON(), nullable=False),
        sa.Column("x", sa.Float(), nullable=True),
        sa.Column("y", sa.Float(), nullable=True),
        sa.Column("created_at", services.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("published_at", services.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", services.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_by_id", sa.Integer(), nullable=True),
        sa.Column("resolution", sa.String(length=12), nullable=True),
        sa.Column("reanchor_version_id", sa.Integer(), nullable=True),
        sa.Column("reanchor_match", sa.String(length=12), nullable=True),
        sa.Column("reanchor_start", sa.Integer(), nullable=True),
        sa.Column("reanchor_end", sa.Integer(), nullable=True),
        sa.Column("reanchor_exact", sa.Text(), nullable=True),
        sa.Column("reanchor_score", sa.Float(), nullable=True),
        sa.CheckConstraint("kind IN ('text', 'pin', 'note')", name=op.f("ck_annotation_kind")),
        sa.CheckConstraint(
            "status IN ('draft', 'open', 'resolved', 'carried')", name=op.f("ck_annotation_status")
        ),
        sa.CheckConstraint(
            "resolution IS NULL OR resolution IN ('done', 'resolved', 'addressed')",
            name=op.f("ck_annotation_resolution"),
        ),
        sa.CheckConstraint(
            f"criterion IS NULL OR criterion IN ({CRITERIA})", name=op.f("ck_annotation_criterion")
        ),
        sa.CheckConstraint(
            "reanchor_match IS NULL OR reanchor_match IN ('exact', 'approximate', 'missing')",
            name=op.f("ck_annotation_reanchor_match"),
        ),
        sa.ForeignKeyConstraint(
            ["carried_from_id"],
            ["annotation.id"],
            name=op.f("fk_annotation_carried_from_id_annotation"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["coach_id"], ["user.id"], name=op.f("fk_annotation_coach_id_user"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["reanchor_version_id"],
            ["resume_version.id"],
            name=op.f("fk_annotation_reanchor_version_id_resume_version"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["resolved_by_id"],
            ["user.id"],
            name=op.f("fk_annotation_resolved_by_id_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["resume_id"],
            ["resume.id"],
            name=op.f("fk_annotation_resume_id_resume"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["review_id"],
            ["review.id"],
            name=op.f("fk_annotation_review_id_review"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"],
            ["resume_version.id"],
            name=op.f("fk_annotation_version_id_resume_version"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_annotation")),
    )
    with op.batch_alter_table("annotation", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_annotation_coach_id"), ["coach_id"], unique=False)
        batch_op.create_index("ix_annotation_resume_status", ["resume_id", "status"], unique=False)
        batch_op.create_index(
            "ix_annotation_version_status", ["version_id", "status"], unique=False
        )

    op.create_table(
        "annotation_reply",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("annotation_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", services.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["annotation_id"],
            ["annotation.id"],
            name=op.f("fk_annotation_reply_annotation_id_annotation"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["author_id"],
            ["user.id"],
            name=op.f("fk_annotation_reply_author_id_user"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_annotation_reply")),
    )
    with op.batch_alter_table("annotation_reply", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_annotation_reply_annotation_id"), ["annotation_id"], unique=False
        )

    with op.batch_alter_table("review", schema=None) as batch_op:
        batch_op.add_column(sa.Column("earlier_comments", sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table("review", schema=None) as batch_op:
        batch_op.drop_column("earlier_comments")
    with op.batch_alter_table("annotation_reply", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_annotation_reply_annotation_id"))
    op.drop_table("annotation_reply")
    with op.batch_alter_table("annotation", schema=None) as batch_op:
        batch_op.drop_index("ix_annotation_version_status")
        batch_op.drop_index("ix_annotation_resume_status")
        batch_op.drop_index(batch_op.f("ix_annotation_coach_id"))
    op.drop_table("annotation")
