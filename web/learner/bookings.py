"""Learner pages: book a mock interview (type, slot, confirm), see, reschedule, cancel; waitlist."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from flask import abort, flash, make_response, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import BooleanField, Form, HiddenField, RadioField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from services import accounts, localtime
from services import booking as booking_service
from services.booking import (
    availability,
    calendar,
    intake,
    interview_types,
    proposals,
    waitlist,
)
from services.db import utcnow
from services.errors import DomainError, NotFound
from services.models import Booking, BookingStatus, IntakeQuestion, InterviewType
from web.fields import ZoneField, slot_start
from web.formatting import clock_time, local, viewer_zone
from web.forms import flash_errors, write_or_flash
from web.learner import bp
from web.roles import role_required
from web.transactions import writing

WEEK = dt.timedelta(days=7)
DAY = dt.timedelta(days=1)


class ConfirmForm(FlaskForm):
    type = HiddenField(validators=[DataRequired()])
    start = HiddenField(validators=[DataRequired()])
    coach_id = HiddenField()
    # The coach the confirm page named: tried first when the learner confirms.
    prefer = HiddenField()
    # Booking while the booker shows another zone than the learner's own: also make it theirs.
    save_zone = BooleanField()
    notes = TextAreaField(
        "Notes for your coach (optional)",
        validators=[Optional(), Length(max=2000)],
        description="What you would like to practice, the role you are applying for.",
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


def _horizon_text(itype: InterviewType) -> str:
    """``4 weeks``, ``30 days``: how far ahead the type can be booked."""
    days = itype.horizon_days
    if days % 7 == 0:
        weeks = days // 7
        return f"{weeks} week{'' if weeks == 1 else 's'}"
    return f"{days} day{'' if days == 1 else 's'}"


# --- the booker: the zone it shows, a week (at a desk), a month and a day (on a phone) ----------


class ZoneViewForm(Form):
    """The booker's zone switcher: a GET form (it only changes what the page shows, so it needs no
    CSRF token)."""

    tz = ZoneField("Show times in")


@dataclass(frozen=True)
class ShownZone:
    """The zone the booker shows times in: the learner's own, or another one they look at
    (``?tz=``, e.g. while travelling), which leaves their account's zone as it is."""

    name: str
    own: str
    form: ZoneViewForm

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return localtime.zone(self.name)

    @property
    def other(self) -> bool:
        return self.name != self.own

    @property
    def param(self) -> str | None:
        """What the booker's links carry: the zone when it is not the learner's own."""
        return self.name if self.other else None

    @property
    def display(self) -> str:
        return localtime.display_name(self.name)

    @property
    def own_display(self) -> str:
        return localtime.display_name(self.own)

    @property
    def offset(self) -> str:
        return localtime.offset_label(localtime.utc_offset(self.name, utcnow()))


def _shown_zone() -> ShownZone:
    """The zone ``?tz=`` names when a person may pick it (the learner's own, even an old name, is
    always fine); otherwise their own, with the reason on the switcher's field."""
    own = str(current_user.timezone)
    raw = (request.args.get("tz") or "").strip()
    form = ZoneViewForm(formdata=request.args if raw else None, tz=own)
    form.tz.offer(keep=own)
    if not raw or raw == own:
        return ShownZone(own, own, form)
    if form.validate():
        return ShownZone(str(form.tz.data), own, form)
    form.tz.data = own  # the switcher shows the zone the times are in, with the message
    return ShownZone(own, own, form)


def _today(tz: zoneinfo.ZoneInfo) -> dt.date:
    return dt.datetime.now(tz).date()


def _date_arg(name: str) -> dt.date | None:
    raw = request.args.get(name) or ""
    try:
        return dt.date.fromisoformat(raw) if len(raw) == 10 else None
    except ValueError:
        return None


def _month_arg() -> dt.date | None:
    """``?month=2026-12``: that month's first day."""
    raw = request.args.get("month") or ""
    try:
        return dt.date.fromisoformat(f"{raw}-01") if len(raw) == 7 else None
    except ValueError:
        return None


def _month_end(month: dt.date) -> dt.date:
    return _next_month(month) - DAY


def _next_month(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def _last_day(itype: InterviewType, tz: zoneinfo.ZoneInfo) -> dt.date:
    """The last day (in ``tz``) with a bookable start: the horizon's."""
    _, latest = availability.booking_window(itype, utcnow())
    return latest.astimezone(tz).date()


SlotLink = Callable[[availability.Slot, dict[str, Any]], str]


@dataclass(frozen=True)
class BookerView:
    """What differs between booking and moving a booking: where the page and its slots link, the
    coach asked for, the booking being moved (its own time is shown, not offered)."""

    endpoint: str
    args: dict[str, Any]  # the page's own: the type or the booking
    slot_link: SlotLink  # a slot's confirm page, given the arguments that lead back here
    coach_id: int | None = None
    moving: Booking | None = None


def _free_days(
    itype: InterviewType,
    tz: zoneinfo.ZoneInfo,
    spans: list[tuple[dt.date, dt.date]],
    view: BookerView,
) -> dict[dt.date, list[availability.Slot]]:
    """The free slots in the spans of days (in ``tz``), by day: one query when they fit in one."""
    spans = [(lo, hi) for lo, hi in spans if lo <= hi]
    if not spans:
        return {}
    lo, hi = min(s[0] for s in spans), max(s[1] for s in spans)
    if (hi - lo).days < availability.MAX_RANGE_DAYS:
        spans = [(lo, hi)]
    found: dict[dt.datetime, availability.Slot] = {}
    for first, last in spans:
        for slot in availability.find_slots(
            availability.SlotQuery(itype.slug, first, last, tz.key, view.coach_id),
            learner_id=current_user.id,
            exclude_booking_id=view.moving.id if view.moving else None,
        ):
            found[slot.start] = slot
    days: dict[dt.date, list[availability.Slot]] = {}
    for start in sorted(found):
        days.setdefault(start.astimezone(tz).date(), []).append(found[start])
    return days


def _slot_items(
    slots: list[availability.Slot],
    tz: zoneinfo.ZoneInfo,
    view: BookerView,
    back: dict[str, Any],
) -> list[dict[str, Any]]:
    """A day's slots as the page lists them: the time on the viewer's clock in ``tz``, a full
    label for screen readers, the link to confirm (or, moving, the booking's own time marked)."""
    items = []
    for slot in slots:
        moment = slot.start.astimezone(tz)
        start_text, end_text = clock_time(moment.time()), clock_time(slot.end.astimezone(tz).time())
        items.append(
            {
                "start": slot.start,
                "label": start_text,
                "aria": f"{moment:%A %-d %B}, {start_text} to {end_text}",
                "url": view.slot_link(slot, {**back, "day": moment.date().isoformat()}),
                "current": view.moving is not None and slot.start == view.moving.start_at,
            }
        )
    return items


def _day_state(day: dt.date, free: bool, today: dt.date, last_day: dt.date) -> str:
    if day < today:
        return "past"
    if day > last_day:
        return "beyond"
    return "free" if free else "none"


def _month_rows(
    month: dt.date,
    days: dict[dt.date, list[availability.Slot]],
    chosen: dt.date | None,
    today: dt.date,
    last_day: dt.date,
    day_link: Callable[[dt.date], str],
) -> list[list[dict[str, Any] | None]]:
    """The month as weeks from Monday: each of its days with its state and, when it has free
    times, its link; None for the days of the months around it."""
    rows: list[list[dict[str, Any] | None]] = []
    day = month - dt.timedelta(days=month.weekday())
    end = _month_end(month)
    while day <= end:
        row: list[dict[str, Any] | None] = []
        for _ in range(7):
            if day.month != month.month:
                row.append(None)
            else:
                state = _day_state(day, day in days, today, last_day)
                row.append(
                    {
                        "date": day,
                        "state": state,
                        "count": len(days.get(day, ())),
                        "url": day_link(day) if state == "free" else None,
                        "chosen": day == chosen,
                        "today": day == today,
                    }
                )
            day += DAY
        rows.append(row)
    return rows


def _booker(itype: InterviewType, view: BookerView) -> dict[str, Any]:
    """Everything the booker page shows: the zone, the week (desk), the month and the chosen
    day's times (phone; the CSS shows one or the other, both work without JavaScript)."""
    shown = _shown_zone()
    tz = shown.zone
    today = _today(tz)
    last_day = _last_day(itype, tz)
    day = _date_arg("day")
    # Moving a booking opens on its own day: its neighbours first, earlier weeks a click away.
    default = view.moving.start_at.astimezone(tz).date() if view.moving else today
    week = max(_date_arg("week") or day or default, today)
    month = max(_month_arg() or (day or week).replace(day=1), today.replace(day=1))
    # What every link of the page keeps: the page's own arguments, the zone, the coach.
    keep = {**view.args, "tz": shown.param, "coach_id": view.coach_id}

    def here(**args: Any) -> str:
        return url_for(view.endpoint, **keep, **args)

    page = urlsplit(url_for(view.endpoint, **view.args))
    beyond = week > last_day
    week_end = week + WEEK - DAY
    month_from, month_to = max(month, today), min(_month_end(month), last_day)
    days = _free_days(itype, tz, [(week, min(week_end, last_day)), (month_from, month_to)], view)
    # The chosen day: the one asked for (in the month shown), else the month's first free day
    # from the week shown on.
    if day is not None and (day.year, day.month) == (month.year, month.month):
        chosen: dt.date | None = day
    else:
        start_from = week if (week.year, week.month) == (month.year, month.month) else month
        chosen = next((d for d in sorted(days) if d >= start_from and d <= month_to), None)
        if chosen is None:
            chosen = next((d for d in sorted(days) if month_from <= d <= month_to), None)
    back = {"week": week.isoformat(), "tz": shown.param}
    week_days = OrderedDict(
        (d, _slot_items(slots, tz, view, back))
        for d, slots in days.items()
        if not beyond and week <= d <= week_end
    )
    chosen_slots = _slot_items(days.get(chosen, []), tz, view, back) if chosen else []
    now = utcnow()
    final = [
        item["start"]
        for items in [*week_days.values(), chosen_slots]
        for item in items
        if now >= booking_service.change_cutoff(itype, item["start"])
    ]
    earlier = week - WEEK
    next_month = _next_month(month)
    previous_month = (month - DAY).replace(day=1)
    return {
        "itype": itype,
        "zone": shown,
        "days": week_days,
        "week": week,
        "week_end": week_end,
        "beyond": beyond,
        "last_day": last_day,
        "horizon": _horizon_text(itype),
        # The latest slot shown that is already inside the cancellation cutoff (final once
        # booked, when the minimum notice is shorter than the cutoff).
        "last_final": max(final, default=None),
        "cutoff_text": booking_service.hours_text(itype.cancel_cutoff_hours),
        "links": {
            # Earlier and later weeks: none before today, none starting past the horizon's last
            # day; and the last bookable week, for a page beyond it.
            "earlier": here(week=max(earlier, today).isoformat()) if week > today else None,
            "later": here(week=(week + WEEK).isoformat()) if week + WEEK <= last_day else None,
            "last": here(week=max(today, last_day - WEEK + DAY).isoformat()),
            "previous_month": here(month=f"{previous_month:%Y-%m}") + "#month"
            if month > today
            else None,
            "next_month": here(month=f"{next_month:%Y-%m}") + "#month"
            if next_month <= last_day
            else None,
            # The same page in the learner's own zone.
            "own_zone": url_for(
                view.endpoint,
                **{**keep, "tz": None},
                week=request.args.get("week") or None,
                day=request.args.get("day") or None,
                month=request.args.get("month") or None,
            ),
        },
        "month": month,
        "previous_month": previous_month,
        "next_month": next_month,
        "month_rows": _month_rows(
            month, days, chosen, today, last_day, lambda d: here(day=d.isoformat()) + "#times"
        ),
        "month_has_beyond": last_day < _month_end(month),
        "chosen": chosen,
        "chosen_state": _day_state(chosen, chosen in days, today, last_day) if chosen else None,
        "chosen_slots": chosen_slots,
        # The page's address and what its GET forms (the zone switcher, the coach filter) keep
        # when they are sent: a form's own query string is not (the browser replaces it).
        "page_url": page.path,
        "state": {
            **dict(parse_qsl(page.query)),
            **{
                name: request.args[name]
                for name in ("week", "day", "month")
                if request.args.get(name)
            },
        },
        "coach_id": view.coach_id,
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
        proposed=proposals.open_for([b.id for b in upcoming], now=now),
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
def new_booking() -> str | tuple[str, int]:
    types = interview_types.list_active()
    slug = request.args.get("type")
    itype = next((t for t in types if t.slug == slug), None)
    if itype is None:
        return render_template("learner/bookings/choose_type.html", types=types)
    coach_id = _coach_id(request.args.get("coach_id"))

    def link(slot: availability.Slot, back: dict[str, Any]) -> str:
        return url_for(
            "learner.confirm_booking",
            type=itype.slug,
            start=slot.start.isoformat(),
            coach_id=coach_id or "",
            **back,
        )

    booker = _booker(
        itype, BookerView("learner.new_booking", {"type": itype.slug}, link, coach_id=coach_id)
    )
    form = WaitlistForm(type=itype.slug)
    # Only days some coach who runs the type works, inside the horizon: the days worth waiting
    # for, in the learner's own zone (the waitlist's).
    form.day.choices = [SelectChoice("", f"Any day in the next {itype.horizon_days} days")] + [
        SelectChoice(day.isoformat(), f"{day:%A %-d %B}")
        for day in waitlist.covered_days(itype.slug, viewer_zone().key)
    ]
    return _pick_page(
        booker,
        coaches=availability.bookable_coaches(itype),
        waitlist_form=form,
        waitlist_questions=intake.questions_of(itype.id),
        waitlist_until=_last_day(itype, viewer_zone()),
        heading=f"Pick a time for {itype.name}",
        rescheduling=None,
    )


def _pick_page(booker: dict[str, Any], **extra: Any) -> str | tuple[str, int]:
    """The booker; 400 when the zone asked for was refused (it shows the learner's own, and
    says why)."""
    page = render_template("learner/bookings/pick.html", **booker, **extra)
    return (page, 400) if booker["zone"].form.tz.errors else page


def _posted_answers(questions: list[IntakeQuestion]) -> dict[str, Any]:
    """The intake answers in the confirm form (fields ``answer-<id>``), as the service takes
    them."""
    answers: dict[str, Any] = {}
    for question in questions:
        name = f"answer-{question.id}"
        if question.kind == "multi":
            answers[str(question.id)] = request.form.getlist(name)
        else:
            answers[str(question.id)] = request.form.get(name, "")
    return answers


def _booked_in(shown: ShownZone, start: dt.datetime, saved: bool) -> str:
    """The time booked, as the flash after booking states it: in the zone the booker showed;
    when that is not the learner's own, their own zone's time too, which their bookings and
    emails use (unless they just made the shown zone theirs)."""
    when = local(start, tz=shown.name)
    if not shown.other:
        return when
    if saved:
        return f"{when}; your time zone is now {shown.display}"
    own = local(start, tz=shown.own)
    return f"{when} ({shown.display}), which is {own} in your own time zone, {shown.own_display}"


@bp.route("/bookings/new/confirm", methods=["GET", "POST"])
@role_required("learner")
def confirm_booking() -> str | Response | tuple[str, int]:
    form = ConfirmForm(
        type=request.args.get("type", ""),
        start=request.args.get("start", ""),
        coach_id=request.args.get("coach_id", ""),
    )
    start = slot_start(form.start.data)
    itype = next((t for t in interview_types.list_active() if t.slug == form.type.data), None)
    if start is None or itype is None:
        flash("Pick a time from the list.", "error")
        return redirect(url_for("learner.new_booking", type=itype.slug if itype else None))
    coach_id = _coach_id(form.coach_id.data)
    shown = _shown_zone()
    picker = url_for(
        "learner.new_booking",
        type=itype.slug,
        week=request.args.get("week") or None,
        day=request.args.get("day") or None,
        tz=shown.param,
        coach_id=coach_id or None,
    )
    if shown.form.tz.errors:
        flash(" ".join(shown.form.tz.errors), "error")
        return redirect(picker)
    questions = intake.questions_of(itype.id)
    answers = _posted_answers(questions) if form.is_submitted() else {}
    wanted = booking_service.BookingRequest(
        type=itype.slug,
        start=start,
        coach_id=coach_id,
        notes=form.notes.data or "",
        prefer_coach_id=_coach_id(form.prefer.data),
        answers=answers,
    )
    learner_id = current_user.id
    answer_errors: dict[str, list[str]] = {}
    if form.validate_on_submit():
        save_zone = shown.other and form.save_zone.data
        try:
            with writing():
                booking, _ = booking_service.book(learner_id, wanted)
                if save_zone:
                    accounts.update_profile(learner_id, accounts.ProfileChange(timezone=shown.name))
        except booking_service.AlreadyBooked:
            return redirect(request.full_path)  # the confirm page links to the booking
        except DomainError as exc:
            if exc.errors and all(k.startswith("answers.") for k in exc.errors):
                answer_errors = exc.errors  # shown beside the questions, the answers kept
            else:
                flash_errors(exc)
                return redirect(picker)
        else:
            return _booked(booking, wanted, shown, save_zone)
    # Checked before the learner commits: a past, off-grid, too-soon or too-far time, a taken
    # slot or a learner who may not book goes back to the picker with the reason.
    try:
        preview = booking_service.preview(learner_id, wanted)
    except DomainError as exc:
        flash_errors(exc)
        return redirect(picker)
    # With no coach picked, answers that name skills may send the session to another free coach
    # whose expertise covers more of them: the page says who, and for which skills.
    movers = (
        intake.answers_may_move(questions, preview.coach, preview.others)
        if coach_id is None and preview.coach is not None
        else []
    )
    if not form.is_submitted() and preview.coach is not None:
        form.prefer.data = str(preview.coach.id)
    if answer_errors:
        flash("Some answers need a look: see the questions below.", "error")
    return render_template(
        "learner/bookings/confirm.html",
        form=form,
        itype=itype,
        preview=preview,
        picked=coach_id is not None,
        movers=movers,
        picker=picker,
        zone=shown,
        cutoff_text=booking_service.hours_text(itype.cancel_cutoff_hours),
        questions=questions,
        answers=answers,
        answer_errors=answer_errors,
    ), (422 if form.is_submitted() else 200)


def _booked(
    booking: Booking, wanted: booking_service.BookingRequest, shown: ShownZone, save_zone: bool
) -> Response:
    """Where the learner goes once booked, with what happened."""
    coach = booking.coach.name
    expertise = {tag.lower() for tag in booking.coach.expertise or []}
    covered = sorted(intake.wanted_tags(booking.answers or []) & expertise)
    if covered and wanted.prefer_coach_id != booking.coach_id:
        flash(
            f"{coach} takes your session: their expertise covers what your answers ask "
            f"({', '.join(covered)}).",
            "info",
        )
    elif wanted.prefer_coach_id and booking.coach_id != wanted.prefer_coach_id:
        flash(f"The coach shown was just taken, so {coach} takes your session.", "info")
    booked = "" if not shown.other else f" for {_booked_in(shown, booking.start_at, save_zone)}"
    flash(
        f"Booked with {coach}{booked}. We sent you a confirmation with a calendar invitation.",
        "success",
    )
    return redirect(url_for("learner.booking_detail", booking_id=booking.id))


# --- reschedule and cancel -----------------------------------------------------------------------


@bp.route("/bookings/<int:booking_id>/reschedule")
@role_required("learner")
def reschedule_booking(booking_id: int) -> str | tuple[str, int] | Response:
    booking = own_booking(booking_id)
    if booking.status != BookingStatus.CONFIRMED:
        flash("Only an upcoming session can be moved.", "error")
        return redirect(url_for("learner.booking_detail", booking_id=booking.id))

    def link(slot: availability.Slot, back: dict[str, Any]) -> str:
        return url_for(
            "learner.confirm_reschedule",
            booking_id=booking.id,
            start=slot.start.isoformat(),
            **back,
        )

    booker = _booker(
        booking.interview_type,
        BookerView("learner.reschedule_booking", {"booking_id": booking.id}, link, moving=booking),
    )
    return _pick_page(
        booker,
        coaches=[],
        waitlist_form=None,
        heading=f"Move your {booking.interview_type.name} session",
        rescheduling=booking,
    )


@bp.route("/bookings/<int:booking_id>/reschedule/confirm", methods=["GET", "POST"])
@role_required("learner")
def confirm_reschedule(booking_id: int) -> str | Response | tuple[str, int]:
    booking = own_booking(booking_id)
    form = RescheduleForm(start=request.args.get("start", ""))
    start = slot_start(form.start.data)
    shown = _shown_zone()
    picker = url_for(
        "learner.reschedule_booking",
        booking_id=booking.id,
        week=request.args.get("week") or None,
        day=request.args.get("day") or None,
        tz=shown.param,
    )
    if start is None:
        flash("Pick a time from the list.", "error")
        return redirect(picker)
    if shown.form.tz.errors:
        flash(" ".join(shown.form.tz.errors), "error")
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
        moved = "" if not shown.other else f" The new time: {_booked_in(shown, start, False)}."
        flash(f"Moved. Your calendar invitation is updated.{moved}", "success")
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
        zone=shown,
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
    return write_or_flash(lambda: answer(learner_id, proposal_id))


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
    itype = next((t for t in interview_types.list_active() if t.slug == slug), None)
    answers = _posted_answers(intake.questions_of(itype.id)) if itype else {}
    try:
        with writing():
            waitlist.join(
                learner_id,
                waitlist.WaitlistRequest(
                    type=slug,
                    day=day,
                    time_of_day=form.time_of_day.data or "any",
                    answers=answers,
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
