"""The kinds of mock interview learners can book."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, SQLColumnExpression, and_, delete, exists, or_, select, true

from services import audit
from services.access import require_staff
from services.accounts.operations import find_coach
from services.booking import intake
from services.db import db, utcnow
from services.errors import NotFound, ValidationFailed
from services.models import (
    AvailabilityException,
    AvailabilityRule,
    CoachBookingSettings,
    CoachInterviewType,
    InterviewType,
    Role,
    User,
)


@dataclass(frozen=True)
class TypeSpec:
    slug: str
    name: str
    duration_minutes: int
    description: str
    expertise: str


DEFAULT_TYPES = (
    TypeSpec(
        "behavioral",
        "Behavioral",
        45,
        "Tell your story: teamwork, conflict, ownership and impact, in the STAR format.",
        "behavioral",
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
    for itype in existing.values():
        intake.seed_questions(itype)
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
        elif name in {"name", "description", "expertise"}:  # expertise: for ranking, not running
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


def late_booking_warning(min_notice_hours: int, cancel_cutoff_hours: int) -> str | None:
    """What staff should know before they keep a minimum notice shorter than the cancellation
    cutoff: a slot between the two is locked the moment it is booked. It is allowed (the shipped
    defaults, 12 and 24 hours, do it: late bookings are final), and learners are told on the
    confirm page and in the email; None when the notice is at least the cutoff."""
    if min_notice_hours >= cancel_cutoff_hours:
        return None
    hours = f"{cancel_cutoff_hours} hour{'' if cancel_cutoff_hours == 1 else 's'}"
    return (
        f"The minimum notice ({min_notice_hours} h) is shorter than the cancellation cutoff "
        f"({cancel_cutoff_hours} h): a session booked less than {hours} ahead cannot be moved "
        "or cancelled online from the moment it is booked (learners are told before they "
        f"confirm). To let every booking be changed for a while, make the minimum notice at "
        f"least {cancel_cutoff_hours} hours."
    )


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


# --- who runs which type --------------------------------------------------------------------------
# A coach runs every active type (``CoachBookingSettings.runs_all_types``, true by default and for
# a coach without a settings row) unless staff, or ``users create --interview-types``, narrowed
# them to their ``CoachInterviewType`` rows. Expertise tags never decide it: they route résumés.


def runs(
    coach_id: SQLColumnExpression[int], type_id: SQLColumnExpression[int] | int
) -> ColumnElement[bool]:
    """SQL: the coach runs the type (whether either is active is the caller's to add)."""
    narrowed = select(CoachBookingSettings.coach_id).where(
        CoachBookingSettings.runs_all_types.is_(False)
    )
    chosen = exists().where(
        CoachInterviewType.coach_id == coach_id, CoachInterviewType.interview_type_id == type_id
    )
    return or_(coach_id.not_in(narrowed), chosen)


def offered_by(type_id: int) -> ColumnElement[bool]:
    """SQL over ``User``: an active coach who runs the type (what a learner may book with)."""
    return and_(User.role == Role.COACH, User.active.is_(True), runs(User.id, type_id))


def _pairs(coach_ids: Sequence[int] | None = None) -> list[tuple[int, int, str]]:
    """(coach id, type id, slug) for each active type each coach runs, in type order: the active
    coaches when ``coach_ids`` is None, else those coaches (active or not). One query."""
    query = (
        select(User.id, InterviewType.id, InterviewType.slug)
        .select_from(User)
        .join(InterviewType, true())
        .where(
            User.role == Role.COACH,
            InterviewType.active.is_(True),
            runs(User.id, InterviewType.id),
        )
        .order_by(InterviewType.id, User.id)
    )
    if coach_ids is None:
        query = query.where(User.active.is_(True))
    else:
        query = query.where(User.id.in_(list(coach_ids)))
    return [(c, t, slug) for c, t, slug in db.session.execute(query)]


def slugs_by_coach(coach_ids: Sequence[int]) -> dict[int, list[str]]:
    """The active types each of these coaches runs, as slugs in type order."""
    result: dict[int, list[str]] = {coach_id: [] for coach_id in coach_ids}
    for coach_id, _, slug in _pairs(coach_ids) if coach_ids else ():
        result[coach_id].append(slug)
    return result


def coach_ids_by_type(types: Iterable[InterviewType]) -> dict[int, list[int]]:
    """The active coaches who run each of these types (by type id), ids ascending."""
    result: dict[int, list[int]] = {itype.id: [] for itype in types}
    for coach_id, type_id, _ in _pairs():
        if type_id in result:
            result[type_id].append(coach_id)
    return result


@dataclass(frozen=True)
class CoachTypes:
    """Which types a coach runs: every active one, or the set staff chose (active slugs)."""

    coach_id: int
    runs_all_types: bool
    interview_types: tuple[str, ...]


def coach_types(coach_id: int, *, active_only: bool = False) -> CoachTypes:
    """The types a coach runs. Raises NotFound (for an inactive coach too, with ``active_only``)."""
    find_coach(coach_id, active_only=active_only)
    settings = db.session.get(CoachBookingSettings, coach_id)
    return CoachTypes(
        coach_id=coach_id,
        runs_all_types=settings is None or settings.runs_all_types,
        interview_types=tuple(slugs_by_coach([coach_id])[coach_id]),
    )


def _active_types_named(slugs: Sequence[str]) -> list[InterviewType]:
    wanted = list(dict.fromkeys(s.strip().lower() for s in slugs if s.strip()))
    active = {t.slug: t for t in list_active()}
    unknown = [slug for slug in wanted if slug not in active]
    if unknown:
        raise ValidationFailed.field(
            "interview_types",
            f"There is no active interview type {', '.join(map(repr, unknown))}. "
            f"Use any of: {', '.join(active) or 'none yet'}.",
        )
    return [active[slug] for slug in wanted]


def set_coach_types(coach_id: int, slugs: Sequence[str] | None) -> CoachTypes:
    """Let a coach run every active type (``slugs`` None) or exactly the active types named (none
    is allowed: the dashboard then warns). Rows of inactive types stay as they were, for the day a
    type returns. Raises NotFound, ValidationFailed (an unknown or inactive slug)."""
    find_coach(coach_id)
    chosen = None if slugs is None else _active_types_named(slugs)
    settings = db.session.get(CoachBookingSettings, coach_id)
    if settings is None:
        settings = CoachBookingSettings(coach_id=coach_id)
        db.session.add(settings)
    settings.runs_all_types = chosen is None
    active_ids = select(InterviewType.id).where(InterviewType.active.is_(True))
    db.session.execute(
        delete(CoachInterviewType).where(
            CoachInterviewType.coach_id == coach_id,
            CoachInterviewType.interview_type_id.in_(active_ids),
        )
    )
    for itype in chosen or ():
        db.session.add(CoachInterviewType(coach_id=coach_id, interview_type_id=itype.id))
    db.session.flush()
    return coach_types(coach_id)


def change_coach_types(
    actor: User, coach_id: int, slugs: Sequence[str] | None, reason: str = ""
) -> CoachTypes:
    """Staff choose the types a coach runs (``set_coach_types``); a change is one audit entry.
    Raises Forbidden, NotFound, ValidationFailed."""
    require_staff(actor, "Only staff choose which types a coach runs.")
    before = coach_types(coach_id)
    after = set_coach_types(coach_id, slugs)
    if (before.runs_all_types, before.interview_types) != (
        after.runs_all_types,
        after.interview_types,
    ):
        audit.record(
            actor,
            "coach.interview_types",
            "coach",
            coach_id,
            reason,
            before={
                "runs_all_types": before.runs_all_types,
                "interview_types": list(before.interview_types),
            },
            after={
                "runs_all_types": after.runs_all_types,
                "interview_types": list(after.interview_types),
            },
        )
    return after


@dataclass(frozen=True)
class Coverage:
    """What staff should hear about: coaches who keep hours but run no active type (learners can
    book them for nothing), and active types no active coach runs (nobody can book them)."""

    idle_coaches: list[User]
    uncovered_types: list[InterviewType]


def coverage() -> Coverage:
    """The coaches with availability who run no type, and the types no coach runs. Three queries."""
    pairs = _pairs()
    busy_coaches = {coach_id for coach_id, _, _ in pairs}
    covered = {type_id for _, type_id, _ in pairs}
    has_hours = or_(
        exists().where(AvailabilityRule.coach_id == User.id),
        exists().where(
            AvailabilityException.coach_id == User.id,
            AvailabilityException.available.is_(True),
            AvailabilityException.end_at > utcnow(),
        ),
    )
    with_hours = db.session.scalars(
        select(User)
        .where(User.role == Role.COACH, User.active.is_(True), has_hours)
        .order_by(User.name, User.id)
    )
    return Coverage(
        idle_coaches=[c for c in with_hours if c.id not in busy_coaches],
        uncovered_types=[t for t in list_active() if t.id not in covered],
    )
