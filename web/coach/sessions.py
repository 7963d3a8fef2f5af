"""Coach pages: upcoming sessions, a new time proposed to the learner, outcomes and feedback;
weekly availability as a calendar."""

from __future__ import annotations

import datetime as dt
import itertools
import zoneinfo
from typing import Any

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy import select
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from services import booking as booking_service
from services import outbox, resumes
from services.booking import availability, busy, calendar, proposals
from services.db import db, utcnow
from services.errors import DomainError, NotFound, ValidationFailed
from services.models import Booking, BookingStatus
from services.resumes import routing
from web.coach import bp
from web.fields import ZoneField, slot_start
from web.formatting import clock_time, local, viewer_zone
from web.forms import apply_errors, flash_errors, write_or_flash
from web.roles import role_required
from web.slot_explainer import explain_context
from web.transactions import writing

SCORE_CHOICES = [
    SelectChoice(str(n), f"{n} – {label}")
    for n, label in enumerate(("needs work", "developing", "solid", "strong", "excellent"), start=1)
]
WINDOWS_PER_DAY = 2
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


class ActionForm(FlaskForm):
    """A button that only needs its CSRF token."""


class CancelForm(FlaskForm):
    reason = TextAreaField(
        "Reason (shown to the learner)", validators=[Optional(), Length(max=1000)]
    )


class ProposeForm(FlaskForm):
    start = HiddenField(validators=[DataRequired()])
    message = TextAreaField(
        "Message for the learner (optional)",
        validators=[Optional(), Length(max=proposals.MAX_TEXT)],
        description="Why the new time, or anything else they should know.",
    )


class ProposalForm(FlaskForm):
    """A button about one proposal (withdraw it)."""

    proposal = HiddenField(validators=[DataRequired()])


class FeedbackForm(FlaskForm):
    communication = SelectField("Communication", choices=SCORE_CHOICES, validators=[DataRequired()])
    technical_depth = SelectField(
        "Technical depth", choices=SCORE_CHOICES, validators=[DataRequired()]
    )
    problem_solving = SelectField(
        "Problem solving", choices=SCORE_CHOICES, validators=[DataRequired()]
    )
    ml_knowledge = SelectField("ML knowledge", choices=SCORE_CHOICES, validators=[DataRequired()])
    notes = TextAreaField(
        "Notes for the learner",
        validators=[Optional(), Length(max=10000)],
        description="What went well, what to practice next.",
    )


def _rules_form_class() -> type[FlaskForm]:
    fields: dict[str, Any] = {
        "timezone": ZoneField(
            "Time zone of these hours",
            description="Your own time zone too: times on the site and in emails use it.",
        ),
        "daily_session_cap": IntegerField(
            "Most sessions a day",
            validators=[Optional(), NumberRange(min=1, max=24)],
            description="Leave empty for the default.",
        ),
    }
    for day, name in enumerate(WEEKDAYS):
        for window in range(WINDOWS_PER_DAY):
            suffix = "" if window == 0 else " (second window)"
            fields[f"d{day}_{window}_start"] = TimeField(
                f"{name} from{suffix}", validators=[Optional()]
            )
            fields[f"d{day}_{window}_end"] = TimeField(
                f"{name} until{suffix}", validators=[Optional()]
            )
    return type("RulesForm", (FlaskForm,), fields)


RulesForm = _rules_form_class()


class ExceptionForm(FlaskForm):
    day = DateField("Date", validators=[DataRequired("Enter the date.")])
    start = TimeField("From", validators=[DataRequired("Enter the start time.")])
    end = TimeField("Until", validators=[DataRequired("Enter the end time.")])
    available = BooleanField("Extra hours (leave unticked for time off)")
    reason = StringField("Note (optional)", validators=[Optional(), Length(max=500)])


class CalendarForm(FlaskForm):
    name = StringField(
        "Name",
        validators=[DataRequired("Name the calendar."), Length(max=80)],
        description="Yours alone, e.g. Day job; learners see only that you are busy.",
    )
    url = StringField(
        "Calendar address",
        validators=[DataRequired("Paste the calendar's address."), Length(max=2000)],
        description="The iCalendar (secret) address from Google, Outlook, Apple or CalDAV.",
    )
    all_day_blocks = BooleanField("All-day events make me busy")


# --- helpers -------------------------------------------------------------------------------------


def _session(booking_id: int) -> Booking:
    try:
        booking = booking_service.get_booking(booking_id, current_user._get_current_object())
    except NotFound:
        abort(404)
    if booking.coach_id != current_user.id:
        abort(404)
    return booking


# --- sessions ------------------------------------------------------------------------------------


@bp.route("/sessions")
@role_required("coach")
def sessions() -> str:
    now = utcnow()
    mine = list(
        db.session.scalars(
            select(Booking)
            .where(
                Booking.coach_id == current_user.id,
                Booking.status.in_(("confirmed", "completed", "no_show")),
                Booking.start_at >= now - dt.timedelta(days=30),
            )
            .options(
                selectinload(Booking.learner),
                selectinload(Booking.interview_type),
                selectinload(Booking.feedback),
            )
            .order_by(Booking.start_at)
        )
    )
    upcoming = [b for b in mine if b.status == BookingStatus.CONFIRMED and b.start_at > now]
    to_record = [b for b in mine if b.status == BookingStatus.CONFIRMED and b.start_at <= now]
    recent = [b for b in reversed(mine) if b.status != BookingStatus.CONFIRMED]
    return render_template(
        "coach/sessions/list.html",
        upcoming=upcoming,
        to_record=to_record,
        recent=recent,
        proposed=proposals.open_for([b.id for b in upcoming], now=now),
        needs_feedback={b.id for b in recent if b.status == "completed" and b.feedback is None},
    )


def _changeable(booking: Booking) -> tuple[bool, dt.datetime]:
    """Whether the coach may still cancel the session or propose a new time online, and until
    when (its cancellation cutoff)."""
    cutoff = booking_service.change_cutoff(booking.interview_type, booking.start_at)
    return booking.status == BookingStatus.CONFIRMED and utcnow() < cutoff, cutoff


@bp.route("/sessions/<int:booking_id>")
@role_required("coach")
def session_detail(booking_id: int) -> str:
    booking = _session(booking_id)
    form = FeedbackForm(obj=booking.feedback) if booking.feedback else FeedbackForm()
    if booking.feedback:
        for name in booking_service.SCORES:
            getattr(form, name).data = str(getattr(booking.feedback, name))
    now = utcnow()
    changeable, cutoff = _changeable(booking)
    standing = proposals.standing(booking, now=now)
    return render_template(
        "coach/sessions/detail.html",
        booking=booking,
        resume=resumes.latest_visible_of(current_user._get_current_object(), booking.learner_id),
        started=booking.start_at <= now,
        changeable=changeable,
        cutoff=cutoff,
        standing=standing,
        proposal_form=ProposalForm(proposal=str(standing.proposal.id)) if standing else None,
        feedback_form=form,
        action_form=ActionForm(),
        cancel_form=CancelForm(),
    )


@bp.route("/sessions/<int:booking_id>/outcome", methods=["POST"])
@role_required("coach")
def record_outcome(booking_id: int) -> Response:
    outcome = request.form.get("outcome", "")
    if not ActionForm().validate_on_submit() or outcome not in ("completed", "no_show"):
        abort(400)
    coach_id = current_user.id
    if write_or_flash(lambda: booking_service.mark_outcome(booking_id, coach_id, outcome)):
        flash(
            "Marked completed. Write your feedback below."
            if outcome == "completed"
            else "Marked as a no-show.",
            "success",
        )
    return redirect(url_for("coach.session_detail", booking_id=booking_id))


@bp.route("/sessions/<int:booking_id>/feedback", methods=["POST"])
@role_required("coach")
def save_feedback(booking_id: int) -> Response | tuple[str, int]:
    form = FeedbackForm()
    if not form.validate_on_submit():
        for name, messages in form.errors.items():
            for message in messages:
                flash(f"{getattr(form, name).label.text}: {message}", "error")
        return redirect(url_for("coach.session_detail", booking_id=booking_id))
    coach_id = current_user.id
    data = booking_service.FeedbackInput(
        communication=int(form.communication.data or 0),
        technical_depth=int(form.technical_depth.data or 0),
        problem_solving=int(form.problem_solving.data or 0),
        ml_knowledge=int(form.ml_knowledge.data or 0),
        notes=form.notes.data or "",
    )
    if write_or_flash(lambda: booking_service.save_feedback(booking_id, coach_id, data)):
        flash("Feedback saved. The learner can read it now.", "success")
    return redirect(url_for("coach.session_detail", booking_id=booking_id))


@bp.route("/sessions/<int:booking_id>/cancel", methods=["GET"])
@role_required("coach")
def cancel_session_page(booking_id: int) -> str | Response:
    """The cancel question as a page of its own: where the session page's dialog cannot open
    (no JavaScript), its link leads here."""
    booking = _session(booking_id)
    changeable, _ = _changeable(booking)
    if not changeable:
        if booking.status == BookingStatus.CANCELLED:
            flash("This session is already cancelled.", "info")
        else:
            flash("This session can no longer be cancelled online; ask staff.", "error")
        return redirect(url_for("coach.session_detail", booking_id=booking.id))
    return render_template("coach/sessions/cancel.html", booking=booking, cancel_form=CancelForm())


@bp.route("/sessions/<int:booking_id>/cancel", methods=["POST"])
@role_required("coach")
def cancel_session(booking_id: int) -> Response:
    form = CancelForm()
    if not form.validate_on_submit():
        abort(400)
    coach_id, reason = current_user.id, form.reason.data or ""
    if write_or_flash(lambda: booking_service.cancel(booking_id, coach_id, reason=reason)):
        flash("Cancelled. The learner is told.", "success")
    return redirect(url_for("coach.session_detail", booking_id=booking_id))


# --- proposing a new time ------------------------------------------------------------------------

WEEK = dt.timedelta(days=7)


def _movable(booking: Booking) -> Response | None:
    """A redirect back to the session, with why, when its time can no longer be changed online."""
    changeable, cutoff = _changeable(booking)
    if changeable:
        return None
    if booking.status != BookingStatus.CONFIRMED:
        flash("Only an upcoming session can move.", "error")
    else:
        hours = booking_service.hours_text(booking.interview_type.cancel_cutoff_hours)
        flash(
            f"Sessions can be moved until {hours} before they start "
            f"({local(cutoff)}); after that, ask staff.",
            "error",
        )
    return redirect(url_for("coach.session_detail", booking_id=booking.id))


@bp.route("/sessions/<int:booking_id>/propose")
@role_required("coach")
def propose_time(booking_id: int) -> str | Response:
    """The coach's free times for this session, a week at a time (the booking rules' slots, the
    learner's other sessions left out), each leading to the proposal's confirm page."""
    booking = _session(booking_id)
    refused = _movable(booking)
    if refused is not None:
        return refused
    tz, itype, now = viewer_zone(), booking.interview_type, utcnow()
    today = now.astimezone(tz).date()
    last_day = availability.booking_window(itype, now)[1].astimezone(tz).date()
    try:
        asked = dt.date.fromisoformat(request.args.get("week", ""))
    except ValueError:
        asked = booking.start_at.astimezone(tz).date()
    week = min(max(asked, today), last_day)
    try:
        slots = availability.find_slots(
            availability.SlotQuery(
                itype.slug,
                week,
                min(week + WEEK - dt.timedelta(days=1), last_day),
                tz.key,
                booking.coach_id,
            ),
            learner_id=booking.learner_id,
            exclude_booking_id=booking.id,
        )
    except DomainError as exc:
        flash_errors(exc)
        return redirect(url_for("coach.session_detail", booking_id=booking.id))
    standing = proposals.standing(booking, now=now)
    proposed = standing.proposal.start_at if standing and standing.pending else None
    days: dict[dt.date, list[dict[str, Any]]] = {}
    for slot in slots:
        moment = slot.start.astimezone(tz)
        start_text, end_text = clock_time(moment.time()), clock_time(slot.end.astimezone(tz).time())
        days.setdefault(moment.date(), []).append(
            {
                "label": start_text,
                "aria": f"{moment:%A %-d %B}, {start_text} to {end_text}",
                "current": slot.start == booking.start_at,
                "proposed": slot.start == proposed,
                "url": url_for(
                    "coach.confirm_proposal",
                    booking_id=booking.id,
                    start=slot.start.isoformat(),
                    week=week.isoformat(),
                ),
            }
        )
    return render_template(
        "coach/sessions/propose.html",
        booking=booking,
        days=days,
        week=week,
        week_end=min(week + WEEK - dt.timedelta(days=1), last_day),
        last_day=last_day,
        earlier=url_for(
            "coach.propose_time",
            booking_id=booking.id,
            week=max(week - WEEK, today).isoformat(),
        )
        if week > today
        else None,
        later=url_for("coach.propose_time", booking_id=booking.id, week=(week + WEEK).isoformat())
        if week + WEEK <= last_day
        else None,
        standing=standing,
    )


@bp.route("/sessions/<int:booking_id>/propose/confirm", methods=["GET", "POST"])
@role_required("coach")
def confirm_proposal(booking_id: int) -> str | Response | tuple[str, int]:
    booking = _session(booking_id)
    form = ProposeForm(start=request.args.get("start", ""))
    picker = url_for(
        "coach.propose_time", booking_id=booking.id, week=request.args.get("week") or None
    )
    start = slot_start(form.start.data)
    if start is None:
        flash("Pick a time from the list.", "error")
        return redirect(picker)
    coach_id = current_user.id
    wanted = proposals.ProposalRequest(start=start, message=form.message.data or "")
    if form.validate_on_submit():
        try:
            with writing():
                proposals.propose(booking_id, coach_id, wanted)
        except NotFound:
            abort(404)
        except ValidationFailed as exc:
            if not exc.errors.keys() <= {"message"}:
                flash_errors(exc)
                return redirect(picker)
            apply_errors(form, exc)
        except DomainError as exc:
            flash_errors(exc)
            return redirect(picker)
        else:
            flash(
                f"New time proposed. {booking.learner.name} is asked to accept or decline it; "
                "until then the session keeps its time.",
                "success",
            )
            return redirect(url_for("coach.session_detail", booking_id=booking_id))
    elif "csrf_token" in form.errors:
        abort(400)
    # Checked before the coach sends it: a time no longer free goes back to the list, with why.
    try:
        draft = proposals.preview(booking_id, coach_id, proposals.ProposalRequest(start=start))
    except NotFound:
        abort(404)
    except DomainError as exc:
        flash_errors(exc)
        return redirect(picker)
    return render_template(
        "coach/sessions/propose_confirm.html",
        form=form,
        booking=booking,
        draft=draft,
        picker=picker,
        cutoff_text=booking_service.hours_text(booking.interview_type.cancel_cutoff_hours),
    ), (422 if form.is_submitted() else 200)


@bp.route("/sessions/<int:booking_id>/proposal/withdraw", methods=["POST"])
@role_required("coach")
def withdraw_proposal(booking_id: int) -> Response:
    form = ProposalForm()
    if not form.validate_on_submit() or not (form.proposal.data or "").isdigit():
        abort(400)
    coach_id, proposal_id = current_user.id, int(form.proposal.data or 0)
    if write_or_flash(lambda: proposals.withdraw(booking_id, coach_id, proposal_id)):
        flash("Proposal withdrawn. The session keeps its time.", "success")
    return redirect(url_for("coach.session_detail", booking_id=booking_id))


# --- availability --------------------------------------------------------------------------------


def _week_start(raw: str | None, tz: zoneinfo.ZoneInfo) -> dt.date:
    today = dt.datetime.now(tz).date()
    try:
        day = dt.date.fromisoformat(raw) if raw else today
    except ValueError:
        day = today
    return day - dt.timedelta(days=day.weekday())


def _calendar(week: dt.date) -> dict[str, Any]:
    """The week as rows of half hours (in the coach's zone) × seven days: open, booked or closed."""
    tz, windows, bookings = availability.week_view(current_user.id, week)
    days = [week + dt.timedelta(days=i) for i in range(7)]
    step = dt.timedelta(minutes=30)

    def cell(day: dt.date, minutes: int) -> dict[str, Any]:
        start = availability.local_to_utc(day, dt.time(minutes // 60, minutes % 60), tz)
        end = start + step
        booked = next((b for b in bookings if b.start_at < end and start < b.end_at), None)
        if booked is not None:
            return {"state": "booked", "booking": booked}
        if any(s <= start and end <= e for s, e in windows):
            return {"state": "open"}
        return {"state": "closed"}

    busy = [m for day in days for m in range(0, 24 * 60, 30) if cell(day, m)["state"] != "closed"]
    first = min([7 * 60, *busy])
    last = max([19 * 60, *(m + 30 for m in busy)])
    rows = [
        {
            "label": clock_time(dt.time(m // 60, m % 60)),
            "cells": [cell(day, m) for day in days],
        }
        for m in range(first, last, 30)
    ]
    # A session longer than half an hour is named (and linked) once, in its first cell.
    for above, row in itertools.pairwise(rows):
        for upper, lower in zip(above["cells"], row["cells"], strict=True):
            if lower["state"] == "booked" and upper.get("booking") is lower["booking"]:
                lower["continued"] = True
    return {"tz": tz, "days": days, "rows": rows}


def _rules_form(*, bind: bool = True) -> Any:
    """The weekly form, bound to the request's form data (or, with ``bind=False``, to none)."""
    form = RulesForm() if bind else RulesForm(formdata=None)
    form.timezone.offer(keep=current_user.timezone)
    return form


def _saved_rules_form(current: availability.Availability) -> Any:
    """The weekly form filled in with the hours as saved."""
    form = _rules_form(bind=False)
    form.timezone.data = current.timezone
    form.daily_session_cap.data = current.daily_session_cap
    per_day: dict[int, list[Any]] = {}
    for rule in current.rules:
        per_day.setdefault(rule.weekday, []).append(rule)
    for day in range(7):
        for window, rule in enumerate(per_day.get(day, [])[:WINDOWS_PER_DAY]):
            getattr(form, f"d{day}_{window}_start").data = rule.start_time
            getattr(form, f"d{day}_{window}_end").data = rule.end_time
    return form


def _availability_page(
    *,
    form: Any = None,
    exception_form: ExceptionForm | None = None,
    day_errors: dict[int, list[str]] | None = None,
    week: dt.date | None = None,
    focus: str | None = None,
    status: int = 200,
    calendar_form: Any = None,
) -> Response:
    """The availability page; after a refused form, that form as typed with its errors in place
    and the first field to fix (``focus``) focused, so the page opens where the problem is."""
    coach = current_user._get_current_object()
    current = availability.get_availability(coach.id)
    week = week or _week_start(request.args.get("week"), zoneinfo.ZoneInfo(current.timezone))
    secret = booking_service.feed_secret_of(coach.id)
    feed_url = booking_service.feed_url(secret) if secret else None
    body = render_template(
        "coach/sessions/availability.html",
        calendar=_calendar(week),
        week=week,
        previous_week=(week - dt.timedelta(days=7)).isoformat(),
        next_week=(week + dt.timedelta(days=7)).isoformat(),
        form=form or _saved_rules_form(current),
        day_errors=day_errors or {},
        focus=focus,
        weekdays=WEEKDAYS,
        windows=range(WINDOWS_PER_DAY),
        exception_form=exception_form or ExceptionForm(formdata=None),
        exceptions=availability.upcoming_exceptions(coach.id),
        action_form=ActionForm(),
        has_hours=bool(availability.with_hours([coach])),
        welcome=request.args.get("welcome") == "1",
        feed_created_at=booking_service.feed_created_at(coach.id),
        feed_url=feed_url,
        webcal_url=calendar.webcal_url(feed_url) if feed_url else None,
        explain=explain_context(coach.id),
        calendar_form=calendar_form or CalendarForm(formdata=None),
        own_calendars=[
            {
                "feed": feed,
                "address": busy.display_url(feed.url),
                "stale": busy.is_stale(feed),
            }
            for feed in busy.list_feeds(coach.id)
        ],
        stale_blocks=availability.stale_feeds_block(),
        clashes=busy.clashes([coach.id]),
    )
    response = make_response(body, status)
    # The page may carry the private calendar address: no cache keeps a copy.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/availability")
@role_required("coach")
def availability_page() -> Response:
    return _availability_page()


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


@bp.route("/availability/weekly", methods=["POST"])
@role_required("coach")
def save_weekly() -> Response:
    """Save the weekly hours; a refused form comes back as typed, each error on its day."""
    form = _rules_form()
    valid = form.validate_on_submit()
    if not valid and "csrf_token" in form.errors:
        abort(400)
    day_errors: dict[int, list[str]] = {}
    rules: list[availability.RuleInput] = []
    origin: list[int] = []  # the day of each rule
    for day in range(7):
        for window in range(WINDOWS_PER_DAY):
            start_field = getattr(form, f"d{day}_{window}_start")
            end_field = getattr(form, f"d{day}_{window}_end")
            typed = [m for f in (start_field, end_field) for m in f.errors]
            if typed:
                day_errors.setdefault(day, []).append("Enter times as hours and minutes.")
                continue
            start, end = start_field.data, end_field.data
            if start is None and end is None:
                continue
            if start is None or end is None:
                day_errors.setdefault(day, []).append(
                    "Give both a start and an end time (or leave both empty)."
                )
                continue
            rules.append(availability.RuleInput(day, start, end))
            origin.append(day)
    if valid and not day_errors:
        coach_id = current_user.id
        timezone, cap = form.timezone.data or "UTC", form.daily_session_cap.data
        try:
            with writing():
                availability.set_weekly(coach_id, timezone, tuple(rules), cap)
                outbox.enqueue_after_commit("bookings.match_waitlist")
                routing.coach_hours_changed(current_user)
        except DomainError as exc:
            for key, messages in exc.errors.items():
                parts = key.split(".")
                if parts[0] == "rules" and len(parts) == 3 and parts[1].isdigit():
                    i = int(parts[1])
                    rule = rules[i]
                    for message in messages:
                        if parts[2] == "end":
                            message = (
                                f"{rule.start:%H:%M}–{rule.end:%H:%M}: {_lower_first(message)}"
                            )
                        day_errors.setdefault(origin[i], []).append(message)
                elif key in ("timezone", "daily_session_cap"):
                    getattr(form, key).errors = list(messages)
                else:
                    for message in messages:
                        flash(message, "error")
            if not exc.errors:
                flash(exc.detail, "error")
        else:
            flash("Weekly hours saved. Booked sessions keep their times.", "success")
            return redirect(url_for("coach.availability_page"))
    days = ", ".join(WEEKDAYS[d] for d in sorted(day_errors))
    flash(
        f"Nothing was saved: fix the hours on {days}."
        if days
        else "Nothing was saved: fix what is marked below.",
        "error",
    )
    invalid = [f"d{day}_0_start" for day in sorted(day_errors)] + [
        name for name in ("timezone", "daily_session_cap") if getattr(form, name).errors
    ]
    return _availability_page(
        form=form, day_errors=day_errors, focus=invalid[0] if invalid else None, status=422
    )


def _refused_exception(form: ExceptionForm, week: dt.date | None = None) -> Response:
    flash("Nothing was added: fix what is marked under Time off and extra hours.", "error")
    invalid = [f.id for f in (form.day, form.start, form.end, form.reason) if f.errors]
    return _availability_page(
        exception_form=form, week=week, focus=invalid[0] if invalid else None, status=422
    )


@bp.route("/availability/exceptions", methods=["POST"])
@role_required("coach")
def add_exception() -> Response:
    """Add time off or extra hours; a refused form comes back as typed, each error on its field."""
    form = ExceptionForm()
    if not form.validate_on_submit():
        if "csrf_token" in form.errors:
            abort(400)
        return _refused_exception(form)
    tz = viewer_zone()
    day, start_time, end_time = form.day.data, form.start.data, form.end.data
    if day is None or start_time is None or end_time is None:
        abort(400)
    data = availability.ExceptionInput(
        availability.local_to_utc(day, start_time, tz),
        availability.local_to_utc(day, end_time, tz),
        bool(form.available.data),
        form.reason.data or "",
    )
    coach_id = current_user.id
    try:
        with writing():
            availability.add_exception(coach_id, data)
            outbox.enqueue_after_commit("bookings.match_waitlist")
            routing.coach_hours_changed(current_user)
    except DomainError as exc:
        fields = {"start": form.day, "end": form.end}
        for key, messages in exc.errors.items():
            target = fields.get(key.rsplit(".", 1)[-1])
            if target is not None:
                target.errors = list(messages)
            else:
                for message in messages:
                    flash(message, "error")
        if not exc.errors:
            flash(exc.detail, "error")
        return _refused_exception(form, week=_week_start(day.isoformat(), tz))
    flash("Extra hours added." if data.available else "Time off added.", "success")
    return redirect(url_for("coach.availability_page", week=day.isoformat()))


@bp.route("/availability/exceptions/<int:exception_id>/delete", methods=["POST"])
@role_required("coach")
def delete_exception(exception_id: int) -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    coach_id = current_user.id

    def delete() -> None:
        availability.delete_exception(coach_id, exception_id)
        outbox.enqueue_after_commit("bookings.match_waitlist")
        routing.coach_hours_changed(current_user)

    if write_or_flash(delete):
        flash("Removed.", "success")
    return redirect(url_for("coach.availability_page"))


@bp.route("/availability/feed", methods=["POST"])
@role_required("coach")
def create_feed() -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    coach_id = current_user.id
    had_one = booking_service.feed_created_at(coach_id) is not None
    if write_or_flash(lambda: booking_service.create_feed(coach_id)):
        flash(
            "Your new calendar address is ready; the old one no longer works."
            if had_one
            else "Your private calendar address is ready.",
            "success",
        )
    return redirect(url_for("coach.availability_page", _anchor="feed-heading"))


@bp.route("/availability/feed/revoke", methods=["POST"])
@role_required("coach")
def revoke_feed() -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    coach_id = current_user.id
    if write_or_flash(lambda: booking_service.revoke_feed(coach_id)):
        flash("The calendar address no longer works.", "success")
    return redirect(url_for("coach.availability_page", _anchor="feed-heading"))


@bp.route("/availability/calendars", methods=["POST"])
@role_required("coach")
def add_calendar() -> Response:
    form = CalendarForm()
    if form.validate_on_submit():
        coach_id = current_user.id
        try:
            with writing():
                busy.add_feed(
                    coach_id,
                    form.name.data or "",
                    form.url.data or "",
                    all_day_blocks=bool(form.all_day_blocks.data),
                )
        except DomainError as exc:
            apply_errors(form, exc, fallback=form.url)
        else:
            flash(f"{form.name.data} is added: its busy times are read within minutes.", "success")
            return redirect(url_for("coach.availability_page", _anchor="own-calendars-heading"))
    return _availability_page(calendar_form=form, focus="url", status=422)


@bp.route("/availability/calendars/<int:feed_id>/delete", methods=["POST"])
@role_required("coach")
def remove_calendar(feed_id: int) -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    coach_id = current_user.id
    if write_or_flash(lambda: busy.remove_feed(coach_id, feed_id)):
        flash("The calendar is removed; its busy times no longer block you.", "success")
    return redirect(url_for("coach.availability_page", _anchor="own-calendars-heading"))
