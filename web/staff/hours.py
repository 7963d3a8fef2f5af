"""Staff: the desk's working hours and holidays, which résumé deadlines count."""

from __future__ import annotations

import datetime as dt
from typing import Any

from flask import flash, redirect, render_template, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import SelectMultipleField, StringField, TextAreaField, TimeField
from wtforms.validators import DataRequired, Length, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from services import workhours
from services.errors import DomainError
from services.resumes import routing
from web.fields import ZoneField
from web.forms import apply_errors
from web.roles import role_required
from web.staff import bp
from web.transactions import writing


def _form_class() -> type[FlaskForm]:
    fields: dict[str, Any] = {
        "timezone": ZoneField("Time zone of these hours"),
        "holidays": TextAreaField(
            "Holidays",
            validators=[Optional(), Length(max=20000)],
            description="One a line: the date, then its name (2027-01-01 New Year).",
        ),
        "own_hours": SelectMultipleField(
            "Coaches on their own hours",
            coerce=int,
            choices=[],
            widget=ListWidget(prefix_label=False),
            option_widget=CheckboxInput(),
        ),
        "reason": StringField(
            "Reason", validators=[DataRequired("Say why, for the audit log."), Length(max=1000)]
        ),
    }
    for day, name in enumerate(workhours.WEEKDAYS):
        fields[f"d{day}_start"] = TimeField(f"{name} from", validators=[Optional()])
        fields[f"d{day}_end"] = TimeField(f"{name} until", validators=[Optional()])
    return type("DeskHoursForm", (FlaskForm,), fields)


DeskHoursForm = _form_class()


def _holidays(text: str) -> tuple[dict[dt.date, str], list[str]]:
    days: dict[dt.date, str] = {}
    errors = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        first, _, name = line.strip().partition(" ")
        try:
            days[dt.date.fromisoformat(first)] = name.strip()
        except ValueError:
            errors.append(f"Line {number}: start with a date, e.g. 2027-01-01.")
    return days, errors


@bp.route("/desk-hours", methods=["GET", "POST"])
@role_required("staff")
def desk_hours() -> str | Response:
    row, holidays = workhours.get_schedule()
    form = DeskHoursForm()
    form.own_hours.choices = [  # type: ignore[attr-defined]
        (coach.id, coach.name) for coach in workhours.coaches()
    ]
    if not form.is_submitted():
        clock = workhours.desk_clock()
        form.timezone.data = row.timezone if row else "UTC"
        for day, windows in (clock.hours or {}).items():
            if windows:
                getattr(form, f"d{day}_start").data = windows[0][0]
                getattr(form, f"d{day}_end").data = windows[0][1]
        form.holidays.data = "\n".join(f"{h.day.isoformat()} {h.name}".strip() for h in holidays)
        form.own_hours.data = workhours.own_hours_coach_ids()  # type: ignore[attr-defined]
    elif form.validate():
        days, errors = _holidays(form.holidays.data or "")
        hours: dict[int, list[tuple[dt.time, dt.time]]] = {}
        for day, name in enumerate(workhours.WEEKDAYS):
            start = getattr(form, f"d{day}_start").data
            end = getattr(form, f"d{day}_end").data
            if start and end:
                hours[day] = [(start, end)]
            elif start or end:
                getattr(form, f"d{day}_end").errors = [f"Give {name}'s start and end, or neither."]
                errors.append("")
        if errors:
            form.holidays.errors = [e for e in errors if e]
        else:
            try:
                with writing():
                    moved = routing.change_desk_hours(
                        current_user,
                        workhours.ScheduleInput(
                            form.timezone.data,
                            hours,
                            days,
                            frozenset(form.own_hours.data or ()),  # type: ignore[attr-defined]
                        ),
                        form.reason.data or "",
                    )
            except DomainError as exc:
                apply_errors(
                    form,
                    exc,
                    fallback=form.reason,
                    names={
                        "own_hours_coach_ids": "own_hours",
                        # "hours.N": day N's until; "hours" (none given): Monday's
                        **{
                            k: f"d{k.partition('.')[2] or 0}_end"
                            for k in exc.errors
                            if k.startswith("hours")
                        },
                    },
                )
            else:
                flash(f"The desk's hours are saved; {moved} open due times moved.", "success")
                return redirect(url_for("staff.desk_hours"))
    return render_template(
        "staff/desk_hours.html", form=form, weekdays=workhours.WEEKDAYS, is_set=row is not None
    )
