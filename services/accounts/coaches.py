"""The staff console: steer the queue (assign, reassign, move a coach's reviews), the coaches
(activate, edit, invite) and the sessions (cancel with override); export CSV. Every action is
written to the audit log (services.audit) in the same transaction."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import hashlib
import hmac
import io
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import ColumnElement, Select, String, func, literal_column, or_, select

from services import audit, booking, localtime, outbox
from services.access import require_staff
from services.accounts import find_coach, hash_password, normalise_email, password_problem
from services.db import MAX_ID, db, utcnow
from services.errors import Forbidden, NotFound, ValidationFailed
from services.models import (
    Assignment,
    AssignmentStatus,
    AvailabilityException,
    Booking,
    CoachInvite,
    Resume,
    ResumeStatus,
    Role,
    RoutingDecision,
    User,
)
from services.models.booking import VISIBLE
from services.models.resumes import LIVE_ASSIGNMENT_STATES, OPEN_STATUS_VALUES
from services.notifications import Message, base_url, handles, register_kind
from services.pagination import Page, _decode, _encode, check_limit, paginate
from services.resumes import current_version, live_assignment, log_event, queue, routing

FAR_FUTURE = dt.datetime(9999, 12, 31, tzinfo=dt.UTC)
INVITE_TTL = dt.timedelta(days=7)
MAX_CAPACITY = 50


class InviteInvalid(NotFound):
    code = "invite_invalid"


def _clean(text: str | None, limit: int = 1000) -> str:
    return " ".join((text or "").replace("\x00", "").split())[:limit]


# --- the queue ------------------------------------------------------------------------------------

SORTS = ("due", "oldest")


@dataclass(frozen=True)
class QueueFilter:
    status: str | None = None  # None: the open ones; "all": every status
    coach_id: int | None = None
    overdue: bool = False
    search: str | None = None
    sort: str = "due"  # "due": overdue first, then the soonest due, unrouted last; "oldest"


def _status() -> ColumnElement[str]:
    """The status column as the partial index ix_resume_open_due spells it: "+status" on SQLite
    (see services.models.resumes.OPEN_STATUS_SQLITE)."""
    if db.session.get_bind().dialect.name == "sqlite":
        return literal_column("+resume.status", String())
    return Resume.status.expression


def _open_term() -> ColumnElement[bool]:
    """``status IN ('submitted', …)`` with literals, not bound parameters: the very term of the
    partial index ix_resume_open_due, which SQLite uses only when a query spells it so."""
    return _status().in_([literal_column(f"'{s}'") for s in OPEN_STATUS_VALUES])


def _queue_query(filters: QueueFilter, now: dt.datetime) -> Select[tuple[Resume]]:
    query = select(Resume)
    if filters.status == "all":
        pass
    elif filters.status:
        if filters.status not in {s.value for s in ResumeStatus}:
            raise ValidationFailed.field("status", "Not a résumé status.")
        if filters.status in OPEN_STATUS_VALUES:
            # the open term too (redundant), so the open queue's index serves it
            query = query.where(_status() == filters.status, _open_term())
        else:
            query = query.where(Resume.status == filters.status)
    else:
        query = query.where(_open_term())
    if filters.coach_id is not None:
        query = query.where(Resume.reviewer_id == filters.coach_id)
    if filters.overdue:
        query = query.where(Resume.status.in_(queue.IN_HANDS), Resume.due_at < now)
    search = _clean(filters.search, 100)
    if search:
        needle = f"%{search}%"
        learners = select(User.id).where(or_(User.name.ilike(needle), User.email.ilike(needle)))
        clauses: list[ColumnElement[bool]] = [
            Resume.target_role.ilike(needle),
            Resume.learner_id.in_(learners),
        ]
        if search.isdigit() and int(search) <= MAX_ID:
            clauses.append(Resume.id == int(search))
        query = query.where(or_(*clauses))
    return query


def _due_page(query: Select[tuple[Resume]], limit: int | None, cursor: str | None) -> Page[Resume]:
    """Keyset pages in the order (due_at or FAR_FUTURE, id): overdue first, then the soonest due,
    unrouted (no due time) last. Spelled as two index range scans on (due_at, id), the dated ones
    then the undated ones, instead of ``ORDER BY coalesce(due_at, …)``, which no plain index
    serves: every page reads about ``limit`` index entries, whatever the size of the queue.
    The cursor is the same as ``paginate`` would make for that order. Raises ValidationFailed."""
    size = check_limit(limit)
    after_due: dt.datetime | None = None
    after_id: int | None = None
    if cursor:
        due, after_id = _decode(cursor, [Resume.due_at, Resume.id])
        after_due = None if due == FAR_FUTURE else due
    rows: list[Resume] = []
    if after_id is None or after_due is not None:
        dated = query.where(Resume.due_at.is_not(None))
        if after_due is not None:
            dated = dated.where(
                Resume.due_at >= after_due, or_(Resume.due_at > after_due, Resume.id > after_id)
            )
        rows = list(db.session.scalars(dated.order_by(Resume.due_at, Resume.id).limit(size + 1)))
    if len(rows) <= size:
        undated = query.where(Resume.due_at.is_(None))
        if after_id is not None and after_due is None:
            undated = undated.where(Resume.id > after_id)
        rows += db.session.scalars(
            undated.order_by(Resume.due_at, Resume.id).limit(size + 1 - len(rows))
        )
    items = rows[:size]
    more = len(rows) > size and bool(items)
    last = items[-1] if more else None
    return Page(
        items=items,
        next_cursor=_encode([last.due_at or FAR_FUTURE, last.id]) if last is not None else None,
    )


def queue_page(
    viewer: User, filters: QueueFilter, *, limit: int | None = None, cursor: str | None = None
) -> Page[queue.QueueItem]:
    """The console's queue: a fixed number of queries per page, each reading about one page of
    an index in the default order. Raises Forbidden, ValidationFailed."""
    require_staff(viewer)
    now = utcnow()
    query = _queue_query(filters, now)
    if filters.sort == "oldest":
        page = paginate(
            query,
            [(Resume.queued_at, "asc"), (Resume.id, "asc")],
            limit=limit,
            cursor=cursor,
            key=lambda r: (r.queued_at, r.id),
        )
    else:
        page = _due_page(query, limit, cursor)
    return Page(items=queue.queue_items(page.items, now, viewer), next_cursor=page.next_cursor)


def assign(staff: User, resume_id: int, coach_id: int, reason: str) -> Resume:
    """Assign or reassign one résumé by hand, with a reason; the offer is pinned (a rebalance
    leaves it with this coach until staff unpin it), with that reason. Choosing the coach who
    holds it already pins it there. Raises Forbidden, NotFound, ValidationFailed,
    InvalidStatus."""
    require_staff(staff)
    why = audit.required_reason(reason)
    before = live_assignment(resume_id) if 0 < resume_id <= MAX_ID else None
    from_id = before.coach_id if before else None
    resume = routing.assign_manually(staff, resume_id, coach_id, why, pin=True)
    if from_id != coach_id:
        audit.record(
            staff,
            "resume.reassign" if from_id else "resume.assign",
            "resume",
            resume.id,
            why,
            from_coach_id=from_id,
            to_coach_id=coach_id,
        )
    else:
        audit.record(staff, "resume.pin", "resume", resume.id, why, coach_id=coach_id)
    return resume


def unpin(staff: User, resume_id: int) -> bool:
    """Let a rebalance move this résumé's offer again. False when nothing was pinned.
    Raises Forbidden, NotFound."""
    require_staff(staff)
    unpinned = routing.unpin(staff, resume_id)
    if unpinned is None:
        return False
    audit.record(staff, "resume.unpin", "resume", resume_id, "", coach_id=unpinned.coach_id)
    return True


@dataclass(frozen=True)
class Move:
    resume_id: int
    to_coach_id: int | None
    reason: str


def move_all(staff: User, coach_id: int, reason: str) -> list[Move]:
    """Move every open review of one coach (offers and reviews in progress) elsewhere, the routing
    policy choosing each target among the other coaches; a résumé nobody can take becomes
    unassigned. Raises Forbidden, NotFound, ValidationFailed."""
    require_staff(staff)
    why = audit.required_reason(reason)
    coach = find_coach(coach_id)
    routing.take_lock()
    now = utcnow()
    live = list(
        db.session.scalars(
            select(Assignment)
            .where(Assignment.coach_id == coach.id, Assignment.status.in_(LIVE_ASSIGNMENT_STATES))
            .order_by(Assignment.due_at, Assignment.id)
        )
    )
    moves: list[Move] = []
    for assignment in live:
        resume = db.session.scalar(
            select(Resume).where(Resume.id == assignment.resume_id).with_for_update()
        )
        assert resume is not None
        version = current_version(resume)
        candidates = [c for c in routing.candidates_for(resume, now) if c.id != coach.id]
        choice = routing.choose(
            candidates, routing.resume_tags(resume, version), routing.last_reviewer(resume)
        )
        if choice.coach_id is not None:
            routing.assign_manually(
                staff,
                resume.id,
                choice.coach_id,
                f"moved from {coach.name}: {why}; policy: {choice.reason}",
            )
        else:
            assignment.status = AssignmentStatus.WITHDRAWN
            assignment.responded_at = now
            resume.status = ResumeStatus.UNASSIGNED
            resume.reviewer_id = None
            resume.due_at = None
            log_event(resume, "withdrawn", staff, f"Taken from {coach.name}: {why}")
            outbox.record(
                "resume.moved",
                resume_id=resume.id,
                from_assignment_id=assignment.id,
                to_assignment_id=None,
                back=False,
            )
            db.session.add(
                RoutingDecision(
                    resume_id=resume.id,
                    version_number=version.number,
                    at=now,
                    actor_id=staff.id,
                    outcome="unassigned",
                    coach_id=None,
                    reason=f"moved from {coach.name} by {staff.name}: {why}; {choice.reason}",
                    components={**choice.components, "policy": routing.POLICY, "why": why},
                )
            )
            db.session.flush()
        moves.append(Move(resume.id, choice.coach_id, choice.reason))
    audit.record(
        staff,
        "coach.move_all",
        "coach",
        coach.id,
        why,
        moved=[{"resume_id": m.resume_id, "to_coach_id": m.to_coach_id} for m in moves],
    )
    return moves


# --- coaches --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CoachRow:
    coach: User
    open: int
    in_review: int
    time_off: list[AvailabilityException]
    invite_pending: bool


def coaches(viewer: User, *, horizon_days: int = 30) -> list[CoachRow]:
    """Every coach with load against capacity and time off in the coming weeks. Four queries."""
    require_staff(viewer)
    now = utcnow()
    people = list(
        db.session.scalars(select(User).where(User.role == Role.COACH).order_by(User.name))
    )
    counts: dict[tuple[int, str], int] = {
        (int(c), str(s)): int(n)
        for c, s, n in db.session.execute(
            select(Assignment.coach_id, Assignment.status, func.count(Assignment.id))
            .where(Assignment.status.in_(LIVE_ASSIGNMENT_STATES))
            .group_by(Assignment.coach_id, Assignment.status)
        )
    }
    off: dict[int, list[AvailabilityException]] = {}
    for exc in db.session.scalars(
        select(AvailabilityException)
        .where(
            AvailabilityException.available.is_(False),
            AvailabilityException.end_at > now,
            AvailabilityException.start_at < now + dt.timedelta(days=horizon_days),
        )
        .order_by(AvailabilityException.start_at)
    ):
        off.setdefault(exc.coach_id, []).append(exc)
    pending = set(
        db.session.scalars(
            select(CoachInvite.user_id).where(
                CoachInvite.used_at.is_(None), CoachInvite.expires_at > now
            )
        )
    )
    return [
        CoachRow(
            coach=c,
            open=counts.get((c.id, "offered"), 0) + counts.get((c.id, "accepted"), 0),
            in_review=counts.get((c.id, "accepted"), 0),
            time_off=off.get(c.id, []),
            invite_pending=c.id in pending,
        )
        for c in people
    ]


def set_active(staff: User, coach_id: int, active: bool, reason: str) -> User:
    """Activate or deactivate a coach (a deactivated coach is offered nothing and cannot sign in;
    what they hold stays until moved). Raises Forbidden, NotFound, ValidationFailed."""
    require_staff(staff)
    why = audit.required_reason(reason)
    coach = find_coach(coach_id)
    if coach.active != active:
        coach.active = active
        if not active:
            coach.session_version += 1  # sign them out everywhere
        db.session.flush()
        audit.record(
            staff, "coach.activate" if active else "coach.deactivate", "coach", coach.id, why
        )
        if active:
            outbox.enqueue_after_commit("resumes.drain")
    return coach


@dataclass(frozen=True)
class CoachProfile:
    expertise: tuple[str, ...]
    review_capacity: int


def _clean_profile(profile: CoachProfile) -> tuple[list[str], int]:
    tags = sorted({_clean(t, 40).lower() for t in profile.expertise if _clean(t, 40)})
    if len(tags) > 30:
        raise ValidationFailed.field("expertise", "Use at most 30 tags.")
    if not 0 <= profile.review_capacity <= MAX_CAPACITY:
        raise ValidationFailed.field("review_capacity", f"Use a capacity from 0 to {MAX_CAPACITY}.")
    return tags, profile.review_capacity


def update_coach(staff: User, coach_id: int, profile: CoachProfile, reason: str = "") -> User:
    """Edit expertise and review capacity. Raises Forbidden, NotFound, ValidationFailed."""
    require_staff(staff)
    coach = find_coach(coach_id)
    tags, capacity = _clean_profile(profile)
    old_capacity = coach.review_capacity
    before: dict[str, Any] = {
        "expertise": list(coach.expertise or []),
        "review_capacity": old_capacity,
    }
    after: dict[str, Any] = {"expertise": tags, "review_capacity": capacity}
    if before != after:
        coach.expertise = tags
        coach.review_capacity = capacity
        db.session.flush()
        audit.record(
            staff, "coach.update", "coach", coach.id, _clean(reason), before=before, after=after
        )
        if capacity > old_capacity:
            outbox.enqueue_after_commit("resumes.drain")
    return coach


def _invite_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# An invitation's secret is derived, never stored: an HMAC (keyed by SECRET_KEY) of the invite's
# id and creation time. The row keeps only its sha256 (to find the invite from a link), the
# outbox event only the invite's id, so whoever reads the database cannot open the account.
# (Changing SECRET_KEY invalidates the links of invites not yet emailed; ask staff to re-invite.)
INVITE_PURPOSE = "coach-invite"


def invite_secret(invite: CoachInvite) -> str:
    """The secret of ``invite``'s link, recomputed from the row (the same every time)."""
    key = str(current_app.config["SECRET_KEY"]).encode()
    created = invite.created_at.astimezone(dt.UTC).isoformat(timespec="microseconds")
    material = f"{INVITE_PURPOSE}:{invite.id}:{created}".encode()
    digest = hmac.new(key, material, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True)
class Invitation:
    email: str
    name: str
    expertise: tuple[str, ...] = ()
    review_capacity: int = 5
    timezone: str = "UTC"


def invite_coach(staff: User, invitation: Invitation) -> tuple[User, CoachInvite]:
    """Make an inactive coach account and email them a single-use link to set a password.
    Raises Forbidden, ValidationFailed."""
    require_staff(staff)
    email = normalise_email(invitation.email)
    name = _clean(invitation.name, 120)
    if "@" not in email or len(email) > 254 or " " in email:
        raise ValidationFailed.field("email", "Enter an email address.")
    if not name:
        raise ValidationFailed.field("name", "Enter the coach's name.")
    if db.session.scalar(select(User.id).where(User.email == email)) is not None:
        raise ValidationFailed.field("email", "Someone already uses this email address.")
    tags, capacity = _clean_profile(CoachProfile(invitation.expertise, invitation.review_capacity))
    timezone = localtime.check_zone(invitation.timezone or localtime.UTC_NAME)
    coach = User(
        email=email,
        name=name,
        role=Role.COACH,
        timezone=timezone,
        # Nobody knows this password: the account opens when the invite sets one.
        password_hash=hash_password(secrets.token_urlsafe(32)),
        active=False,
        expertise=tags,
        review_capacity=capacity,
    )
    db.session.add(coach)
    db.session.flush()
    now = utcnow()
    invite = CoachInvite(
        user_id=coach.id,
        # A stand-in nobody knows the secret of, until the id the real secret needs exists.
        token_hash=_invite_hash(secrets.token_urlsafe(32)),
        invited_by_id=staff.id,
        created_at=now,
        expires_at=now + INVITE_TTL,
    )
    db.session.add(invite)
    db.session.flush()
    invite.token_hash = _invite_hash(invite_secret(invite))
    db.session.flush()
    # The email's handler recomputes the link from the invite: no secret in the event.
    outbox.record("staff.coach_invited", invite_id=invite.id, user_id=coach.id)
    audit.record(staff, "coach.invite", "coach", coach.id, "", email=email)
    return coach, invite


def invite_expires_text(invite: CoachInvite) -> str:
    """When the invite's link stops working, in the invitee's time zone (the one staff chose for
    them), labelled: ``Tue 8 Dec 2026, 14:00 CET (Europe/Berlin)``."""
    zone = invite.user.timezone or "UTC"
    text = localtime.for_user(invite.expires_at, invite.user)
    return text if zone == "UTC" else f"{text} ({localtime.display_name(zone)})"


def valid_invite(secret: str) -> CoachInvite | None:
    invite = db.session.scalar(
        select(CoachInvite).where(CoachInvite.token_hash == _invite_hash(secret or ""))
    )
    if invite is None or invite.used_at is not None or invite.expires_at <= utcnow():
        return None
    return invite


def accept_invite(
    secret: str, password: str, timezone: str | None = None, clock: str | None = None
) -> User:
    """Set the invited coach's password (and their time zone and clock, if given) and open the
    account; the link then stops working. Raises InviteInvalid, ValidationFailed."""
    invite = valid_invite(secret)
    if invite is None:
        raise InviteInvalid("This invitation link is not valid any more: ask staff for a new one.")
    user = invite.user
    errors: dict[str, list[str]] = {}
    if problem := password_problem(password, email=user.email):
        errors["password"] = [problem]
    try:
        if timezone is not None:
            timezone = localtime.check_zone(timezone, current=user.timezone)
        if clock is not None:
            clock = localtime.check_clock(clock)
    except ValidationFailed as exc:
        errors.update(exc.errors)
    if errors:
        raise ValidationFailed("Some fields need attention.", errors)
    user.timezone = timezone or user.timezone
    user.clock = clock or user.clock
    now = utcnow()
    invite.used_at = now
    user.password_hash = hash_password(password)
    user.password_changed_at = now
    user.active = True
    db.session.flush()
    return user


register_kind(
    "coach_invite",
    "Coach invitation",
    email_template="coach_invite",
    roles=(Role.COACH,),
    configurable=False,
    secret=True,
)


@handles("staff.coach_invited")
def _invited(payload: dict[str, Any]) -> list[Message]:
    user = db.session.get(User, payload["user_id"])
    invite = db.session.get(CoachInvite, payload["invite_id"])
    if user is None or invite is None or invite.used_at is not None:
        return []
    # Events recorded before secrets were derived carry theirs (`token`): still honoured.
    secret = payload.get("token") or invite_secret(invite)
    return [
        Message(
            user=user,
            kind="coach_invite",
            title="You are invited to coach at Career Services",
            body="Set your password with the link we emailed you, to start reviewing résumés and "
            "running mock interviews.",
            # The link goes in the email only (redacted once sent), not in the in-app notification.
            context={
                "link": f"{base_url()}/staff/invite/{secret}",
                "expires_at": invite_expires_text(invite),
            },
        )
    ]


# --- sessions -------------------------------------------------------------------------------------


def cancel_booking(staff: User, booking_id: int, reason: str) -> Booking:
    """Cancel any session, inside the cutoff too (override). Raises Forbidden, NotFound,
    ValidationFailed, InvalidState."""
    require_staff(staff)
    why = audit.required_reason(reason)
    now = utcnow()
    before = db.session.get(Booking, booking_id) if 0 < booking_id <= MAX_ID else None
    if before is None:
        raise NotFound("There is no such booking.")
    was = before.status
    cancelled = booking.cancel(booking_id, staff.id, reason=why, now=now)
    if was != cancelled.status:
        cutoff = cancelled.start_at - dt.timedelta(
            hours=cancelled.interview_type.cancel_cutoff_hours
        )
        audit.record(staff, "booking.cancel", "booking", cancelled.id, why, override=now >= cutoff)
    return cancelled


@dataclass(frozen=True)
class SessionFilter:
    status: str | None = None
    coach_id: int | None = None
    learner: str | None = None
    start_from: dt.datetime | None = None
    start_to: dt.datetime | None = None


def _sessions_query(filters: SessionFilter) -> Select[tuple[Booking]]:
    query = select(Booking).where(Booking.status.in_(VISIBLE))
    if filters.status:
        if filters.status not in VISIBLE:
            raise ValidationFailed.field("status", f"Use one of {', '.join(VISIBLE)}.")
        query = query.where(Booking.status == filters.status)
    if filters.coach_id:
        query = query.where(Booking.coach_id == filters.coach_id)
    if filters.learner:
        needle = f"%{_clean(filters.learner, 100)}%"
        query = query.where(
            Booking.learner_id.in_(
                select(User.id).where(or_(User.name.ilike(needle), User.email.ilike(needle)))
            )
        )
    if filters.start_from:
        query = query.where(Booking.start_at >= filters.start_from)
    if filters.start_to:
        query = query.where(Booking.start_at < filters.start_to)
    return query


def sessions(
    viewer: User, filters: SessionFilter, *, limit: int | None = None, cursor: str | None = None
) -> Page[Booking]:
    """All bookings, soonest first, with filters. Raises Forbidden, ValidationFailed."""
    require_staff(viewer)
    from sqlalchemy.orm import selectinload

    query = _sessions_query(filters).options(
        selectinload(Booking.coach),
        selectinload(Booking.learner),
        selectinload(Booking.interview_type),
    )
    return paginate(
        query,
        [(Booking.start_at, "asc"), (Booking.id, "asc")],
        limit=limit,
        cursor=cursor,
        key=lambda b: (b.start_at, b.id),
    )


# --- CSV exports (streamed: one batch in memory at a time) ----------------------------------------
#
# A streamed answer's body runs after the view has returned, in a session other than the one that
# loaded the signed-in user (web.streaming). So the exports take the staff member's id, not the
# User, and read everything in the session current when they run; and an export is audited by
# ``record_export`` only once its last line is out.

EXPORT_BATCH = 200  # the largest page paginate() allows
QUEUE_COLUMNS = (
    "id",
    "status",
    "target_role",
    "learner",
    "learner_email",
    "reviewer",
    "version",
    "filename",
    "queued_at",
    "age_hours",
    "due_at",
    "overdue",
    "routing_reason",
)
BOOKING_COLUMNS = (
    "id",
    "status",
    "type",
    "start",
    "end",
    "coach",
    "learner",
    "learner_email",
    "created_at",
    "cancelled_at",
    "cancel_reason",
)


def _csv_line(values: list[Any]) -> str:
    buffer = io.StringIO()
    # Neutralise spreadsheet formulas (CSV injection): a leading =, +, - or @ becomes text.
    safe = [
        f"'{v}" if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r") else v
        for v in values
    ]
    csv.writer(buffer).writerow(safe)
    return buffer.getvalue()


def _iso(at: dt.datetime | None) -> str:
    return at.isoformat() if at else ""


def _forget(objects: list[Any]) -> None:
    """Drop one exported batch from the session, so memory stays flat over a long export."""
    for obj in objects:
        if obj in db.session:
            db.session.expunge(obj)


def _staff(staff_id: int) -> User:
    """The staff member, loaded in the current session. Raises Forbidden."""
    user = db.session.get(User, staff_id) if 0 < staff_id <= MAX_ID else None
    if user is None:
        raise Forbidden("Only staff use the console.")
    require_staff(user)
    return user


def export_queue(staff_id: int, filters: QueueFilter) -> Iterator[str]:
    """The queue as CSV, header first, one CSV record per item yielded, read in keyset batches of
    EXPORT_BATCH in the current session. Raises Forbidden (on the first item)."""
    staff = _staff(staff_id)
    yield _csv_line(list(QUEUE_COLUMNS))
    cursor: str | None = None
    while True:
        page = queue_page(staff, filters, limit=EXPORT_BATCH, cursor=cursor)
        for item in page.items:
            r = item.resume
            yield _csv_line(
                [
                    r.id,
                    r.status,
                    r.target_role,
                    item.learner.name,
                    item.learner.email,
                    item.reviewer.name if item.reviewer else "",
                    item.version.number,
                    item.version.filename,
                    _iso(r.queued_at),
                    round(item.age.total_seconds() / 3600, 2),
                    _iso(r.due_at),
                    "yes" if item.overdue else "no",
                    item.routing_reason or "",
                ]
            )
        _forget(
            [x for item in page.items for x in (item.resume, item.version, item.assignment) if x]
        )
        if not page.next_cursor:
            return
        cursor = page.next_cursor


def export_bookings(staff_id: int, filters: SessionFilter) -> Iterator[str]:
    """Every session as CSV, like ``export_queue``. Raises Forbidden (on the first item)."""
    staff = _staff(staff_id)
    yield _csv_line(list(BOOKING_COLUMNS))
    cursor: str | None = None
    while True:
        page = sessions(staff, filters, limit=EXPORT_BATCH, cursor=cursor)
        for b in page.items:
            yield _csv_line(
                [
                    b.id,
                    b.status,
                    b.interview_type.slug,
                    _iso(b.start_at),
                    _iso(b.end_at),
                    b.coach.name,
                    b.learner.name,
                    b.learner.email,
                    _iso(b.created_at),
                    _iso(b.cancelled_at),
                    b.cancel_reason or "",
                ]
            )
        _forget(page.items)
        if not page.next_cursor:
            return
        cursor = page.next_cursor


def record_export(staff_id: int, what: str, filters: Any, rows: int) -> None:
    """Audit a finished export ("queue" or "bookings") of ``rows`` rows, with its filters: call it
    after its last line, in a write transaction. Raises Forbidden."""
    staff = _staff(staff_id)
    plain = {
        k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in vars(filters).items()
    }
    audit.record(staff, f"export.{what}", "export", None, "", filters=plain, rows=rows)
