"""The kinds of mock interview learners can book."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from services import audit
from services.access import require_staff
from services.db import db
from services.errors import NotFound, ValidationFailed
from services.models import InterviewType, User


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


# --- staff: the settings page ---------------------------------------------------------------------

NAME_MAX = 120  # the column's length
DESCRIPTION_MAX = 2000
# What the staff page edits, in its order (``expertise`` stays with the API).
EDITABLE = (
    "name",
    "description",
    "duration_minutes",
    "buffer_before_minutes",
    "buffer_after_minutes",
    "min_notice_hours",
    "horizon_days",
    "cancel_cutoff_hours",
    "active",
)


def list_all() -> list[InterviewType]:
    """Every type, inactive ones too, in the order they were made."""
    return list(db.session.scalars(select(InterviewType).order_by(InterviewType.id)))


def update(actor: User, slug: str, changes: dict[str, Any], reason: str = "") -> InterviewType:
    """Staff change a type's settings: ``configure`` checks and applies them (as the API does), plus
    text lengths and a minimum notice shorter than the horizon; what changed is one audit entry.
    Nothing changes on a bad value. Raises Forbidden, NotFound, ValidationFailed."""
    require_staff(actor, "Only staff change interview types.")
    itype = get(slug)
    errors: dict[str, list[str]] = {}
    if isinstance(changes.get("name"), str) and len(changes["name"].strip()) > NAME_MAX:
        errors["name"] = [f"Use at most {NAME_MAX} characters."]
    description = changes.get("description")
    if isinstance(description, str) and len(description.strip()) > DESCRIPTION_MAX:
        errors["description"] = [f"Use at most {DESCRIPTION_MAX} characters."]
    notice = changes.get("min_notice_hours", itype.min_notice_hours)
    horizon = changes.get("horizon_days", itype.horizon_days)

    def in_range(name: str, value: Any) -> bool:
        low, high = LIMITS[name]
        return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high

    # Each value on its own is configure's to judge; this is only the rule between the two.
    both_valid = in_range("min_notice_hours", notice) and in_range("horizon_days", horizon)
    if both_valid and notice >= horizon * 24:
        errors["min_notice_hours"] = [
            f"The minimum notice must be shorter than the booking horizon ({horizon} days), "
            "or nothing could be booked."
        ]
    if errors:
        raise ValidationFailed("Some settings are not valid.", errors)
    before = {name: getattr(itype, name) for name in changes}
    configure(slug, changes)
    after = {name: getattr(itype, name) for name in changes}
    changed = sorted(name for name in changes if before[name] != after[name])
    if changed:
        audit.record(
            actor,
            "interview_type.update",
            "interview_type",
            itype.id,
            reason,
            slug=itype.slug,
            before={name: before[name] for name in changed},
            after={name: after[name] for name in changed},
        )
    return itype
