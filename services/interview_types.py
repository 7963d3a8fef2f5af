"""The kinds of mock interview learners can book."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from services.db import db
from services.errors import NotFound, ValidationFailed
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


# Each setting an interview type can change, with the values it accepts.
LIMITS = {
    "duration_minutes": (15, 240),
    "buffer_before_minutes": (0, 120),
    "buffer_after_minutes": (0, 120),
    "min_notice_hours": (0, 24 * 14),
    "horizon_days": (1, 365),
    "cancel_cutoff_hours": (0, 24 * 14),
}


def get(slug: str) -> InterviewType:
    """Any interview type, active or not. Raises NotFound."""
    itype = db.session.scalar(select(InterviewType).where(InterviewType.slug == slug))
    if itype is None:
        raise NotFound(f"There is no interview type {slug!r}.")
    return itype


def configure(slug: str, changes: dict[str, Any]) -> InterviewType:
    """Change a type's settings (duration, buffers, notice, horizon, cutoff, texts, active).
    Booked sessions keep their times. Raises NotFound, ValidationFailed."""
    itype = get(slug)
    errors: dict[str, list[str]] = {}
    for name, value in changes.items():
        if name in LIMITS:
            low, high = LIMITS[name]
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                errors[name] = [f"Use a whole number from {low} to {high}."]
        elif name in {"name", "description", "expertise"}:
            if not isinstance(value, str) or (name == "name" and not value.strip()):
                errors[name] = ["Give some text."]
        elif name == "active":
            if not isinstance(value, bool):
                errors[name] = ["Use true or false."]
        else:
            errors[name] = ["This setting does not exist."]
    if errors:
        raise ValidationFailed("Some settings are not valid.", errors)
    for name, value in changes.items():
        setattr(itype, name, value.strip() if isinstance(value, str) else value)
    db.session.flush()
    return itype
