"""The kinds of mock interview learners can book."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from services.db import db
from services.models import InterviewType


@dataclass(frozen=True)
class TypeSpec:
    slug: str
    name: str
    duration_minutes: int
    description: str
    expertise: str


DEFAULT_TYPES = (
    TypeSpec(
        "behavioural",
        "Behavioural",
        45,
        "Tell your story: teamwork, conflict, ownership and impact, in the STAR format.",
        "behavioural",
    ),
    TypeSpec(
        "technical-ml",
        "Technical ML",
        60,
        "Python and ML fundamentals: models, metrics, bias and variance, feature work.",
        "ml,python",
    ),
    TypeSpec(
        "ml-system-design",
        "ML system design",
        60,
        "Design a production ML system end to end: data, training, serving, monitoring.",
        "ml,mlops,system-design",
    ),
    TypeSpec(
        "coding",
        "Coding",
        45,
        "A live coding exercise in Python with a coach, as in a technical screen.",
        "python,algorithms",
    ),
)


def ensure_defaults() -> list[InterviewType]:
    """Create the default interview types that are missing; existing ones keep their settings."""
    existing = {t.slug: t for t in db.session.scalars(select(InterviewType))}
    for spec in DEFAULT_TYPES:
        if spec.slug not in existing:
            existing[spec.slug] = InterviewType(
                slug=spec.slug,
                name=spec.name,
                duration_minutes=spec.duration_minutes,
                description=spec.description,
                expertise=spec.expertise,
            )
            db.session.add(existing[spec.slug])
    db.session.flush()
    return list_active()


def list_active() -> list[InterviewType]:
    return list(
        db.session.scalars(
            select(InterviewType).where(InterviewType.active.is_(True)).order_by(InterviewType.id)
        )
    )
