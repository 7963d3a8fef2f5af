"""Learner pages: book a mock interview (type, slot, confirm), see, reschedule, cancel; waitlist."""

from __future__ import annotations

import datetime as dt
from collections import OrderedDict
from typing import Any

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import HiddenField, RadioField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from services import availability, calendar, interview_types, proposals, waitlist
from services import booking as booking_service
from services.db import utcnow
from services.errors import DomainError, NotFound
from services.models import Booking, BookingStatus, InterviewType
from web.formatting import clock_time, viewer_zone
from web.forms import flash_errors
from web.learner import bp
from web.roles import role_required
from web.transactions import writing

WEEK = dt.timedelta(days=7)


class ConfirmForm(FlaskForm):
    type = HiddenField(validators=[DataRequired()])
    start = HiddenField(validators=[DataRequired()])
    coach_id = HiddenField()
    # The coach the confirm page named: tried first when the learner confirms.
    prefer = HiddenField()
    notes = TextAreaField(
        "Notes for your coach (optional)",
        validators=[Optional(), Length(max=2000)],
        description="What you would like to practise, the role you are applying for.",
    )


class RescheduleForm(FlaskForm):
    start = HiddenField(validators=[DataRequired()])
    coach_id = HiddenField()


class CancelForm(FlaskForm):
    reason = TextAreaField("Reason (optional)", validators=[Optional(), Length(max=1000)])


class AcceptProposalForm(FlaskForm):
    proposal = HiddenField(validators=[DataRequired()])


class DeclineProposalForm(FlaskForm):
    proposal = HiddenField(validators=[DataRequired()])
    reply = TextAreaField(
        "Note for your coach (optional)",
        validators=[Optional(), Length(max=proposals.MAX_TEXT)],
        description="A time that would suit you better, for example.",
    )


class WaitlistForm(FlaskForm):
    type = HiddenField(validators=[DataRequired()])
    day = SelectField("Which day?", validate_choice=False)
    time_of_day = RadioField(
        "What time of day suits you?",
        choices=[
            SelectChoice(part, waitlist.time_of_day_label(part)) for part in waitlist.TIMES_OF_DAY
        ],
        default="any",
        validate_choice=False,  # the service says which parts exist
    )


class ActionForm(FlaskForm):
    """A button that only needs its CSRF token."""


# --- helpers -------------------------------------------------------------------------------------


def _today() -> dt.date:
    return dt.datetime.now(viewer_zone()).date()


def _week_start(raw: str | None) -> dt.date:
    try:
        day = dt.date.fromisoformat(raw) if raw else _today()
    except ValueError:
        day = _today()
    return max(day, _today())


def _parse_start(raw: str | None) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(raw or "")
    except ValueError:
        return None
    return moment if moment.tzinfo else None


def _coach_id(raw: str | None) -> int | None:
    return int(raw) if raw and raw.isdigit() else None


def own_booking(booking_id: int) -> Booking:
    """The signed-in learner's booking (404 for anyone else's: get_booking shows a learner only
    their own)."""
    try:
        booking = booking_service.get_booking(booking_id, current_user._get_current_object())
    except NotFound:
        abort(404)
    return booking


def _slot_days(
    itype: InterviewType,
    week: dt.date,
    link: Any,
    *,
    coach_id: int | None = None,
    exclude_booking_id: int | None = None,
) -> OrderedDict[dt.date, list[dict[str, Any]]]:
    """The week's free slots grouped by day in the learner's zone, each with its link."""
    tz = viewer_zone()
    slots = availability.find_slots(
        availability.SlotQuery(
            itype.slug, week, week + WEEK - dt.timedelta(days=1), tz.key, coach_id
        ),
        learner_id=current_user.id,
        exclude_booking_id=exclude_booking_id,
    )
    days: OrderedDict[dt.date, list[dict[str, Any]]] = OrderedDict()
    for slot in slots:
        local = slot.start.astimezone(tz)
        start_text, end_text = clock_time(local.time()), clock_time(slot.end.astimezone(tz).time())
        days.setdefault(local.date(), []).append(
            {
                "start": slot.start,
                "label": start_text,
                "aria": f"{local:%A %-d %B}, {start_text} to {end_text}",
                "url": link(slot),
            }
        )
    return days


def _last_final(itype: InterviewType, days: OrderedDict[dt.date, list[dict[str, Any]]]) -> Any:
    """The latest slot shown that is already inside the cancellation cutoff (final once booked,
    when the minimum notice is shorter than the cutoff), or None."""
    now = utcnow()
    final = [
        slot["start"]
        for slots in days.values()
        for slot in slots
        if now >= booking_service.change_cutoff(itype, slot["start"])
    ]
    return max(final, default=None)


def _last_day(itype: InterviewType) -> dt.date:
    """The last day (in the learner's zone) with a bookable start: the horizon's."""
    _, latest = availability.booking_window(itype, utcnow())
    return latest.astimezone(viewer_zone()).date()


def _horizon_text(itype: InterviewType) -> str:
    """``4 weeks``, ``30 days``: how far ahead the type can be booked."""
    days = itype.horizon_days
    if days % 7 == 0:
        weeks = days // 7
        return f"{weeks} week{'' if weeks == 1 else 's'}"
    return f"{days} day{'' if days == 1 else 's'}"


def _week_links(
    endpoint: str, week: dt.date, last_day: dt.date, **args: Any
) -> dict[str, str | None]:
    """Earlier and later weeks: none before today, none starting past the horizon's last day; and
    the last bookable week, for a page beyond it."""
    earlier = week - WEEK
    return {
        "earlier": url_for(endpoint, week=max(earlier, _today()).isoformat(), **args)
        if week > _today()
        else None,
        "later": url_for(endpoint, week=(week + WEEK).isoformat(), **args)
        if week + WEEK <= last_day
        else None,
        "last": url_for(
            endpoint, week=max(_today(), last_day - WEEK + dt.timedelta(days=1)).isoformat(), **args
        ),
    }


# --- list and detail -----------------------------------------------------------------------------


@bp.route("/bookings")
@role_required("learner")
def bookings() -> str:
    user = current_user._get_current_object()
    page = booking_service.list_bookings(
        user, booking_service.BookingFilter(), limit=200, cursor=None
    )
    now = utcnow()
    upcoming = [b for b in page.items if b.status == BookingStatus.CONFIRMED and b.end_at > now]
    past = [b for b in page.items if b not in upcoming]
    past.reverse()
    return render_template(
        "learner/bookings/list.html",
        upcoming=upcoming,
        past=past,
        entries=waitlist.list_entries(user),
        suspension=booking_service.active_suspension(user.id),
        action_form=ActionForm(),
        time_of_day_label=waitlist.time_of_day_label,
    )


def _change_state(booking: Booking) -> dict[str, Any]:
    """What the detail and cancel pages say about changing the booking."""
    now = utcnow()
    cutoff = booking_service.change_cutoff(booking.interview_type, booking.start_at)
    return {
        "cutoff": cutoff,
        "changeable": booking.status == BookingStatus.CONFIRMED and now < cutoff,
        # Booked (or moved) inside the cutoff: it never could be changed online.
        "locked_from_start": booking_service.locked_from_the_start(booking),
        "cutoff_text": booking_service.hours_text(booking.interview_type.cancel_cutoff_hours),
    }


@bp.route("/bookings/<int:booking_id>")
@role_required("learner")
def booking_detail(booking_id: int) -> str:
    booking = own_booking(booking_id)
    upcoming = booking.status == BookingStatus.CONFIRMED and booking.end_at > utcnow()
    event = booking_service.session_event(booking, viewer=current_user) if upcoming else None
    standing = proposals.standing(booking)
    answer = {"proposal": str(standing.proposal.id)} if standing else {}
    # Accepting a time already inside its own cutoff fixes the session there.
    final = bool(standing) and utcnow() >= booking_service.change_cutoff(
        booking.interview_type, standing.proposal.start_at
    )
    return render_template(
        "learner/bookings/detail.html",
        booking=booking,
        upcoming=upcoming,
        standing=standing,
        proposal_final=final,
        accept_form=AcceptProposalForm(**answer),
        decline_form=DeclineProposalForm(**answer),
        google_link=calendar.google_link(event) if event else None,
        outlook_link=calendar.outlook_link(event) if event else None,
        reschedules_left=max(
            0, booking_service.policy().max_reschedules - booking.reschedule_count
        ),
        cancel_form=CancelForm(),
        **_change_state(booking),
    )


@bp.route("/bookings/<int:booking_id>/calendar.ics")
@role_required("learner")
def booking_ics(booking_id: int) -> Response:
    booking = own_booking(booking_id)
    response = make_response(booking_service.ics_for(booking, current_user._get_current_object()))
    response.mimetype = "text/calendar"
    response.headers["Content-Disposition"] = (
        f'attachment; filename="mock-interview-{booking.id}.ics"'
    )
    return response


# --- booking: type, slot, confirm ----------------------------------------------------------------


@bp.route("/bookings/new")
@role_required("learner")
def new_booking() -> str:
    types = interview_types.list_active()
    slug = request.args.get("type")
    itype = next((t for t in types if t.slug == slug), None)
    if itype is None:
        return render_template("learner/bookings/choose_type.html", types=types)
    week = _week_start(request.args.get("week"))
    last_day = _last_day(itype)
    coach_id = _coach_id(request.args.get("coach_id"))
    coaches = availability.bookable_coaches(itype)

    def link(slot: availability.Slot) -> str:
        return url_for(
            "learner.confirm_booking",
            type=itype.slug,
            start=slot.start.isoformat(),
            coach_id=coach_id or "",
            week=week.isoformat(),
        )

    beyond = week > last_day
    days = OrderedDict() if beyond else _slot_days(itype, week, link, coach_id=coach_id)
    form = WaitlistForm(type=itype.slug)
    # Only days some coach who runs the type works, inside the horizon: the days worth waiting for.
    form.day.choices = [SelectChoice("", f"Any day in the next {itype.horizon_days} days")] + [
        SelectChoice(day.isoformat(), f"{day:%A %-d %B}")
        for day in waitlist.covered_days(itype.slug, viewer_zone().key)
    ]
    return render_template(
        "learner/bookings/pick.html",
        itype=itype,
        days=days,
        week=week,
        week_end=week + WEEK - dt.timedelta(days=1),
        beyond=beyond,
        last_day=last_day,
        horizon=_horizon_text(itype),
        last_final=_last_final(itype, days),
        cutoff_text=booking_service.hours_text(itype.cancel_cutoff_hours),
        links=_week_links(
            "learner.new_booking", week, last_day, type=itype.slug, coach_id=coach_id or ""
        ),
        coaches=coaches,
        coach_id=coach_id,
        waitlist_form=form,
        heading=f"Pick a time for {itype.name}",
        rescheduling=None,
    )


@bp.route("/bookings/new/confirm", methods=["GET", "POST"])
@role_required("learner")
def confirm_booking() -> str | Response | tuple[str, int]:
    form = ConfirmForm(
        type=request.args.get("type", ""),
        start=request.args.get("start", ""),
        coach_id=request.args.get("coach_id", ""),
    )
    start = _parse_start(form.start.data)
    itype = next((t for t in interview_types.list_active() if t.slug == form.type.data), None)
    if start is None or itype is None:
        flash("Pick a time from the list.", "error")
        return redirect(url_for("learner.new_booking", type=itype.slug if itype else None))
    coach_id = _coach_id(form.coach_id.data)
    picker = url_for(
        "learner.new_booking",
        type=itype.slug,
        week=request.args.get("week") or None,
        coach_id=coach_id or None,
    )
    wanted = booking_service.BookingRequest(
        type=itype.slug,
        start=start,
        coach_id=coach_id,
        notes=form.notes.data or "",
        prefer_coach_id=_coach_id(form.prefer.data),
    )
    learner_id = current_user.id
    if form.validate_on_submit():
        try:
            with writing():
                booking, _ = booking_service.book(learner_id, wanted)
        except booking_service.AlreadyBooked:
            return redirect(request.full_path)  # the confirm page links to the booking
        except DomainError as exc:
            flash_errors(exc)
            return redirect(picker)
        coach = booking.coach.name
        if wanted.prefer_coach_id and booking.coach_id != wanted.prefer_coach_id:
            flash(f"The coach shown was just taken, so {coach} takes your session.", "info")
        flash(
            f"Booked with {coach}. We sent you a confirmation with a calendar invitation.",
            "success",
        )
        return redirect(url_for("learner.booking_detail", booking_id=booking.id))
    # Checked before the learner commits: a past, off-grid, too-soon or too-far time, a taken
    # slot or a learner who may not book goes back to the picker with the reason.
    try:
        preview = booking_service.preview(learner_id, wanted)
    except DomainError as exc:
        flash_errors(exc)
        return redirect(picker)
    if not form.is_submitted() and preview.coach is not None:
        form.prefer.data = str(preview.coach.id)
    return render_template(
        "learner/bookings/confirm.html",
        form=form,
        itype=itype,
        preview=preview,
        picked=coach_id is not None,
        picker=picker,
        cutoff_text=booking_service.hours_text(itype.cancel_cutoff_hours),
    ), (422 if form.is_submitted() else 200)


# --- reschedule and cancel -----------------------------------------------------------------------


@bp.route("/bookings/<int:booking_id>/reschedule")
@role_required("learner")
def reschedule_booking(booking_id: int) -> str | Response:
    booking = own_booking(booking_id)
    if booking.status != BookingStatus.CONFIRMED:
        flash("Only an upcoming session can be moved.", "error")
        return redirect(url_for("learner.booking_detail", booking_id=booking.id))
    # Open on the booking's own day: its neighbours first, earlier weeks a click away.
    week = _week_start(
        request.args.get("week") or booking.start_at.astimezone(viewer_zone()).date().isoformat()
    )

    def link(slot: availability.Slot) -> str:
        return url_for(
            "learner.confirm_reschedule",
            booking_id=booking.id,
            start=slot.start.isoformat(),
            week=week.isoformat(),
        )

    itype = booking.interview_type
    last_day = _last_day(itype)
    beyond = week > last_day
    days = OrderedDict() if beyond else _slot_days(itype, week, link, exclude_booking_id=booking.id)
    for slots in days.values():
        for slot in slots:
            slot["current"] = slot["start"] == booking.start_at
    return render_template(
        "learner/bookings/pick.html",
        itype=itype,
        days=days,
        week=week,
        week_end=week + WEEK - dt.timedelta(days=1),
        beyond=beyond,
        last_day=last_day,
        horizon=_horizon_text(itype),
        last_final=_last_final(itype, days),
        cutoff_text=booking_service.hours_text(itype.cancel_cutoff_hours),
        links=_week_links("learner.reschedule_booking", week, last_day, booking_id=booking.id),
        coaches=[],
        coach_id=None,
        waitlist_form=None,
        heading=f"Move your {booking.interview_type.name} session",
        rescheduling=booking,
    )


@bp.route("/bookings/<int:booking_id>/reschedule/confirm", methods=["GET", "POST"])
@role_required("learner")
def confirm_reschedule(booking_id: int) -> str | Response | tuple[str, int]:
    booking = own_booking(booking_id)
    form = RescheduleForm(start=request.args.get("start", ""))
    start = _parse_start(form.start.data)
    picker = url_for(
        "learner.reschedule_booking", booking_id=booking.id, week=request.args.get("week") or None
    )
    if start is None:
        flash("Pick a time from the list.", "error")
        return redirect(picker)
    learner_id = current_user.id
    wanted = booking_service.RescheduleRequest(start=start)
    if form.validate_on_submit():
        try:
            with writing():
                booking_service.reschedule(booking_id, learner_id, wanted)
        except DomainError as exc:
            flash_errors(exc)
            return redirect(url_for("learner.booking_detail", booking_id=booking_id))
        flash("Moved. Your calendar invitation is updated.", "success")
        return redirect(url_for("learner.booking_detail", booking_id=booking_id))
    try:
        preview = booking_service.preview_move(booking_id, learner_id, wanted)
    except DomainError as exc:
        flash_errors(exc)
        return redirect(picker)
    return render_template(
        "learner/bookings/confirm_reschedule.html",
        form=form,
        booking=booking,
        preview=preview,
        picker=picker,
        cutoff_text=booking_service.hours_text(booking.interview_type.cancel_cutoff_hours),
    ), (422 if form.is_submitted() else 200)


@bp.route("/bookings/<int:booking_id>/cancel", methods=["GET"])
@role_required("learner")
def cancel_booking_page(booking_id: int) -> str | Response:
    """The cancel question as a page of its own: where the detail page's dialog cannot open
    (no JavaScript), its link leads here."""
    booking = own_booking(booking_id)
    state = _change_state(booking)
    if not state["changeable"]:
        if booking.status == BookingStatus.CANCELLED:
            flash("This session is already cancelled.", "info")
        else:
            flash("This session can no longer be cancelled online.", "error")
        return redirect(url_for("learner.booking_detail", booking_id=booking.id))
    return render_template(
        "learner/bookings/cancel.html", booking=booking, cancel_form=CancelForm(), **state
    )


@bp.route("/bookings/<int:booking_id>/cancel", methods=["POST"])
@role_required("learner")
def cancel_booking(booking_id: int) -> Response:
    form = CancelForm()
    if not form.validate_on_submit():
        flash("The reason is too long.", "error")
        return redirect(url_for("learner.booking_detail", booking_id=booking_id))
    learner_id = current_user.id
    try:
        with writing():
            booking_service.cancel(booking_id, learner_id, reason=form.reason.data or "")
    except NotFound:
        abort(404)
    except DomainError as exc:
        flash_errors(exc)
        return redirect(url_for("learner.booking_detail", booking_id=booking_id))
    flash("Cancelled. The calendar event will be removed.", "success")
    return redirect(url_for("learner.booking_detail", booking_id=booking_id))


# --- a new time the coach proposed ---------------------------------------------------------------


def _answer_proposal(booking_id: int, form: FlaskForm, answer: Any) -> bool:
    """Run the learner's answer to a proposal (``answer(learner_id, proposal_id)``) as one write;
    flash why it was refused."""
    valid = form.validate_on_submit()
    if "csrf_token" in form.errors or not (form.proposal.data or "").isdigit():
        abort(400)
    if not valid:
        for name, messages in form.errors.items():
            for message in messages:
                flash(f"{form[name].label.text}: {message}", "error")
        return False
    learner_id, proposal_id = current_user.id, int(form.proposal.data or 0)
    try:
        with writing():
            answer(learner_id, proposal_id)
    except NotFound:
        abort(404)
    except DomainError as exc:
        flash_errors(exc)
        return False
    return True


@bp.route("/bookings/<int:booking_id>/proposal/accept", methods=["POST"])
@role_required("learner")
def accept_proposal(booking_id: int) -> Response:
    def accept(learner_id: int, proposal_id: int) -> None:
        proposals.accept(booking_id, learner_id, proposal_id)

    if _answer_proposal(booking_id, AcceptProposalForm(), accept):
        flash("Moved to the new time. Your calendar invitation is updated.", "success")
    return redirect(url_for("learner.booking_detail", booking_id=booking_id))


@bp.route("/bookings/<int:booking_id>/proposal/decline", methods=["POST"])
@role_required("learner")
def decline_proposal(booking_id: int) -> Response:
    form = DeclineProposalForm()

    def decline(learner_id: int, proposal_id: int) -> None:
        proposals.decline(booking_id, learner_id, proposal_id, form.reply.data or "")

    if _answer_proposal(booking_id, form, decline):
        flash("Declined. Your session keeps its time, and your coach is told.", "success")
    return redirect(url_for("learner.booking_detail", booking_id=booking_id))


# --- waitlist ------------------------------------------------------------------------------------


@bp.route("/bookings/waitlist", methods=["GET"])
@role_required("learner")
def waitlist_page() -> Response:
    return redirect(url_for("learner.bookings") + "#waitlist")


@bp.route("/bookings/waitlist", methods=["POST"])
@role_required("learner")
def join_waitlist() -> Response:
    form = WaitlistForm()
    form.day.choices = []
    slug = form.type.data or ""
    if not form.validate_on_submit():
        abort(400)
    try:
        day = dt.date.fromisoformat(form.day.data) if form.day.data else None
    except ValueError:
        abort(400)
    learner_id = current_user.id
    try:
        with writing():
            waitlist.join(
                learner_id,
                waitlist.WaitlistRequest(
                    type=slug, day=day, time_of_day=form.time_of_day.data or "any"
                ),
            )
    except DomainError as exc:
        flash_errors(exc)
        return redirect(url_for("learner.new_booking", type=slug))
    flash("You are on the waitlist. We will hold the first free slot for you.", "success")
    return redirect(url_for("learner.bookings") + "#waitlist")


def _waitlist_action(entry_id: int, action: str) -> Response:
    if not ActionForm().validate_on_submit():
        abort(400)
    learner_id = current_user.id
    try:
        with writing():
            if action == "accept":
                held = waitlist.accept(entry_id, learner_id)
            elif action == "decline":
                waitlist.decline(entry_id, learner_id)
            else:
                waitlist.leave(entry_id, learner_id)
    except NotFound:
        abort(404)
    except DomainError as exc:
        flash_errors(exc)
        return redirect(url_for("learner.bookings") + "#waitlist")
    if action == "accept":
        flash("Booked. We sent you a confirmation with a calendar invitation.", "success")
        return redirect(url_for("learner.booking_detail", booking_id=held.id))
    flash("Done.", "success")
    return redirect(url_for("learner.bookings") + "#waitlist")


@bp.route("/bookings/waitlist/<int:entry_id>/accept", methods=["POST"])
@role_required("learner")
def accept_offer(entry_id: int) -> Response:
    return _waitlist_action(entry_id, "accept")


@bp.route("/bookings/waitlist/<int:entry_id>/decline", methods=["POST"])
@role_required("learner")
def decline_offer(entry_id: int) -> Response:
    return _waitlist_action(entry_id, "decline")


@bp.route("/bookings/waitlist/<int:entry_id>/leave", methods=["POST"])
@role_required("learner")
def leave_waitlist(entry_id: int) -> Response:
    return _waitlist_action(entry_id, "leave")
