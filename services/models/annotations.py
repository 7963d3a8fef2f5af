"""Annotations: a coach's comments anchored to the text of one résumé version (a text-quote and a
text-position selector, as the W3C Web Annotation model has them, plus a page and rectangles for
a PDF), or pinned to a point of a page; their reply threads; and where each open one was found
again in a later version."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from services.db import Model, utcnow
from services.models.accounts import User
from services.models.resumes import CRITERIA, ResumeVersion, _in

KINDS = ("text", "pin", "note")  # a note: carried over from text that is gone, placed nowhere
STATUSES = ("draft", "open", "resolved", "carried")
RESOLUTIONS = ("done", "resolved", "addressed")
MATCHES = ("exact", "approximate", "missing")


@dataclass(frozen=True)
class Quote:
    """A text-quote selector: the exact text, with a little before and after it."""

    exact: str
    prefix: str
    suffix: str


@dataclass(frozen=True)
class Span:
    """A text-position selector: character offsets in a version's extracted text."""

    start: int
    end: int


@dataclass(frozen=True)
class Point:
    """A point of a PDF's page, as fractions of the page from its top left."""

    x: float
    y: float


@dataclass(frozen=True)
class Target:
    """What a comment is on: its selectors, and for a PDF its page and rectangles or a point."""

    quote: Quote | None
    position: Span | None
    page: int | None
    rects: list[list[float]]
    point: Point | None


@dataclass(frozen=True)
class Reanchor:
    """Where an open comment was looked for in a later version, and how well it was found."""

    version: int
    match: str
    position: Span | None
    exact: str | None
    score: float | None


class Annotation(Model):
    """One comment on one version. ``draft`` until the coach's review is sent (only its coach
    sees it), then ``open``; ``resolved`` by the learner ("done") or the coach, or when the coach
    reviewing a later version closes it ("addressed"); ``carried`` when that coach carried it
    over to the later version (``carried_from_id`` on the new one)."""

    __tablename__ = "annotation"
    __table_args__ = (
        CheckConstraint(f"kind IN ({_in(KINDS)})", name="kind"),
        CheckConstraint(f"status IN ({_in(STATUSES)})", name="status"),
        CheckConstraint(
            f"resolution IS NULL OR resolution IN ({_in(RESOLUTIONS)})", name="resolution"
        ),
        CheckConstraint(f"criterion IS NULL OR criterion IN ({_in(CRITERIA)})", name="criterion"),
        CheckConstraint(
            f"reanchor_match IS NULL OR reanchor_match IN ({_in(MATCHES)})", name="reanchor_match"
        ),
        Index("ix_annotation_version_status", "version_id", "status"),
        Index("ix_annotation_resume_status", "resume_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    resume_id: Mapped[int] = mapped_column(ForeignKey("resume.id", ondelete="CASCADE"))
    version_id: Mapped[int] = mapped_column(ForeignKey("resume_version.id", ondelete="CASCADE"))
    coach_id: Mapped[int | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL"), index=True
    )
    review_id: Mapped[int | None] = mapped_column(ForeignKey("review.id", ondelete="SET NULL"))
    carried_from_id: Mapped[int | None] = mapped_column(
        ForeignKey("annotation.id", ondelete="SET NULL")
    )
    kind: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(12), default="draft")
    criterion: Mapped[str | None] = mapped_column(String(24))
    body: Mapped[str] = mapped_column(Text)
    suggestion: Mapped[str | None] = mapped_column(Text)
    # The text-quote selector (in the words the viewer selected) and the text-position selector
    # (character offsets in the version's extracted text, where the server found the quote).
    exact: Mapped[str] = mapped_column(Text, default="")
    prefix: Mapped[str] = mapped_column(Text, default="")
    suffix: Mapped[str] = mapped_column(Text, default="")
    start: Mapped[int | None]
    end: Mapped[int | None]
    # A PDF: the page (1-based), the selection's rectangles and a pin's point, as fractions of
    # the page's width and height from its top left corner: [[x, y, width, height], ...].
    page: Mapped[int | None]
    rects: Mapped[list[list[float]]] = mapped_column(JSON, default=list)
    x: Mapped[float | None]
    y: Mapped[float | None]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    published_at: Mapped[dt.datetime | None]
    resolved_at: Mapped[dt.datetime | None]
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    resolution: Mapped[str | None] = mapped_column(String(12))
    # Where the quote was found again in the newest later version (re-anchored when its text is
    # extracted): exact, approximate or missing, with the offsets and the text found there.
    reanchor_version_id: Mapped[int | None] = mapped_column(
        ForeignKey("resume_version.id", ondelete="SET NULL")
    )
    reanchor_match: Mapped[str | None] = mapped_column(String(12))
    reanchor_start: Mapped[int | None]
    reanchor_end: Mapped[int | None]
    reanchor_exact: Mapped[str | None] = mapped_column(Text)
    reanchor_score: Mapped[float | None]

    coach: Mapped[User | None] = relationship(foreign_keys=[coach_id])
    resolved_by: Mapped[User | None] = relationship(foreign_keys=[resolved_by_id])
    version: Mapped[ResumeVersion] = relationship(foreign_keys=[version_id])
    reanchor_version: Mapped[ResumeVersion | None] = relationship(
        foreign_keys=[reanchor_version_id]
    )
    replies: Mapped[list[AnnotationReply]] = relationship(
        back_populates="annotation",
        order_by="AnnotationReply.id",
        cascade="all, delete-orphan",
    )

    @property
    def target(self) -> Target:
        return Target(
            quote=Quote(self.exact, self.prefix, self.suffix) if self.exact else None,
            position=_span(self.start, self.end),
            page=self.page,
            rects=self.rects or [],
            point=Point(self.x, self.y)
            if self.kind == "pin" and self.x is not None and self.y is not None
            else None,
        )

    @property
    def reanchor(self) -> Reanchor | None:
        """None until a later version's text was searched for it."""
        later = self.reanchor_version
        if later is None or not self.reanchor_match:
            return None
        return Reanchor(
            version=later.number,
            match=self.reanchor_match,
            position=_span(self.reanchor_start, self.reanchor_end),
            exact=self.reanchor_exact,
            score=self.reanchor_score,
        )

    @property
    def detail(self) -> dict[str, Any]:
        return {"resume_id": self.resume_id, "version_id": self.version_id, "kind": self.kind}


class AnnotationReply(Model):
    """One message in an annotation's thread, by the learner or the coach; never edited."""

    __tablename__ = "annotation_reply"

    id: Mapped[int] = mapped_column(primary_key=True)
    annotation_id: Mapped[int] = mapped_column(
        ForeignKey("annotation.id", ondelete="CASCADE"), index=True
    )
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    annotation: Mapped[Annotation] = relationship(back_populates="replies")
    author: Mapped[User | None] = relationship()


def _span(start: int | None, end: int | None) -> Span | None:
    return Span(start, end) if start is not None and end is not None else None
