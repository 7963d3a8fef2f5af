"""Staff: coaches (load, time off, activate, edit, move their reviews, invite), the invite link."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import (
    EmailField,
    HiddenField,
    IntegerField,
    PasswordField,
    RadioField,
    SelectMultipleField,
    StringField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, Length, NumberRange
from wtforms.widgets import CheckboxInput, ListWidget

from services import accounts, localtime
from services.accounts import coaches as coach_accounts
from services.booking import interview_types
from services.errors import DomainError
from services.resumes import queue
from web.auth.routes import remember_new_account
from web.fields import ZoneField
from web.formatting import locale_clock
from web.forms import apply_errors
from web.roles import role_required
from web.slot_explainer import explain_context
from web.staff import bp
from web.transactions import writing


class InviteForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=254)])
    expertise = StringField(
        "Expertise", description="Tags separated by commas, e.g. ml, python, system-design."
    )
    review_capacity = IntegerField(
        "Review capacity",
        default=5,
        validators=[NumberRange(min=0, max=coach_accounts.MAX_CAPACITY)],
    )
    timezone = ZoneField(description="The coach can change it when they set their password.")


class CoachForm(FlaskForm):
    expertise = StringField(
        "Expertise",
        description="Tags separated by commas, for résumé routing; they do not decide which "
        "interview types the coach runs.",
    )
    types_scope = RadioField(
        "Interview types",
        choices=[
            SelectChoice("all", "Every active type, also types added later"),
            SelectChoice("chosen", "Only the types ticked below"),
        ],
        # Left out of a post (an older form): the types stay as they are.
        validate_choice=False,
    )
    interview_types = SelectMultipleField(
        "Types this coach runs",
        choices=[],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    review_capacity = IntegerField(
        "Review capacity",
        validators=[NumberRange(min=0, max=coach_accounts.MAX_CAPACITY)],
        description="Open offers and reviews at once.",
    )
    reason = StringField("Reason (optional)", validators=[Length(max=1000)])


class SetPasswordForm(FlaskForm):
    password = PasswordField(
        "New password", validators=[DataRequired(), Length(max=accounts.MAX_PASSWORD_LENGTH)]
    )
    timezone = ZoneField(description="Times on the site and in emails are shown in this zone.")
    # Filled in from the browser's own setting (static/js/app.js); else Accept-Language decides.
    clock = HiddenField(render_kw={"data-browser-clock": True})


def _tags(text: str | None) -> tuple[str, ...]:
    return tuple(t.strip() for t in (text or "").split(",") if t.strip())


def _fail(exc: DomainError, what: str) -> None:
    message = " ".join([exc.detail, *(m for ms in exc.errors.values() for m in ms)])
    flash(f"{what}: {message}", "error")


@bp.route("/coaches")
@role_required("staff")
def coaches() -> str:
    rows = coach_accounts.coaches(current_user)
    runs = interview_types.slugs_by_coach([row.coach.id for row in rows])
    return render_template("staff/coaches.html", rows=rows, runs=runs)


@bp.route("/coaches/<int:coach_id>/active", methods=["POST"])
@role_required("staff")
def set_active(coach_id: int) -> Response:
    active = request.form.get("active") == "1"
    try:
        with writing():
            coach = coach_accounts.set_active(
                current_user, coach_id, active, request.form.get("reason", "")
            )
    except DomainError as exc:
        _fail(exc, "Nothing changed")
        return redirect(url_for("staff.coaches"))
    flash(f"{coach.name} is {'active' if coach.active else 'inactive'}.", "success")
    return redirect(url_for("staff.coaches"))


@bp.route("/coaches/<int:coach_id>/move-all", methods=["POST"])
@role_required("staff")
def move_all(coach_id: int) -> Response:
    try:
        with writing():
            moves = queue.move_all(current_user, coach_id, request.form.get("reason", ""))
    except DomainError as exc:
        _fail(exc, "Nothing moved")
        return redirect(url_for("staff.coaches"))
    placed = sum(1 for m in moves if m.to_coach_id)
    flash(
        f"Moved {placed} of {len(moves)} open reviews"
        + (f"; {len(moves) - placed} wait unassigned." if placed < len(moves) else "."),
        "success",
    )
    return redirect(url_for("staff.coaches"))


@bp.route("/coaches/<int:coach_id>/edit", methods=["GET", "POST"])
@role_required("staff")
def edit_coach(coach_id: int) -> str | Response:
    coach = next(
        (r.coach for r in coach_accounts.coaches(current_user) if r.coach.id == coach_id), None
    )
    if coach is None:
        abort(404)
    runs = interview_types.coach_types(coach_id)
    form = CoachForm(
        data={
            "expertise": ", ".join(coach.expertise or []),
            "review_capacity": coach.review_capacity,
            "types_scope": "all" if runs.runs_all_types else "chosen",
            "interview_types": list(runs.interview_types),
        }
        if request.method == "GET"
        else None
    )
    form.interview_types.choices = [
        SelectChoice(t.slug, t.name) for t in interview_types.list_active()
    ]
    valid = form.validate_on_submit()
    scope = (form.types_scope.raw_data or [None])[0] if form.is_submitted() else None
    if valid and scope not in (None, "all", "chosen"):
        form.types_scope.errors = ["Pick every type or only the ticked ones."]
        valid = False
    if valid:
        chosen = None if scope == "all" else list(form.interview_types.data or [])
        try:
            with writing():
                coach_accounts.update_coach(
                    current_user,
                    coach_id,
                    coach_accounts.CoachProfile(
                        _tags(form.expertise.data), form.review_capacity.data or 0
                    ),
                    form.reason.data or "",
                )
                if scope is not None:
                    interview_types.change_coach_types(
                        current_user, coach_id, chosen, form.reason.data or ""
                    )
        except DomainError as exc:
            apply_errors(form, exc, fallback=form.reason)
        else:
            flash(f"{coach.name} is updated.", "success")
            return redirect(url_for("staff.coaches"))
    return render_template(
        "staff/coach_edit.html", form=form, coach=coach, explain=explain_context(coach.id)
    )


@bp.route("/coaches/invite", methods=["GET", "POST"])
@role_required("staff")
def invite_coach() -> str | Response:
    form = InviteForm()
    if form.validate_on_submit():
        try:
            with writing():
                coach, invite = coach_accounts.invite_coach(
                    current_user,
                    coach_accounts.Invitation(
                        email=form.email.data or "",
                        name=form.name.data or "",
                        expertise=_tags(form.expertise.data),
                        review_capacity=form.review_capacity.data or 0,
                        timezone=form.timezone.data or "UTC",
                    ),
                )
        except DomainError as exc:
            apply_errors(form, exc, fallback=form.email)
        else:
            flash(
                f"{coach.name} is invited: the link to set a password is on its way. It works "
                f"until {coach_accounts.invite_expires_text(invite)}.",
                "success",
            )
            return redirect(url_for("staff.coaches"))
    return render_template("staff/invite.html", form=form)


@bp.route("/invite/<token>", methods=["GET", "POST"])
def accept_invite(token: str) -> str | Response:
    """The invited coach sets a password (no sign-in: the link is the credential, once)."""
    invite = coach_accounts.valid_invite(token)
    if invite is None:
        return render_template("staff/invite_invalid.html"), 404  # type: ignore[return-value]
    form = SetPasswordForm(timezone=invite.user.timezone)
    form.timezone.offer(keep=invite.user.timezone)
    if form.validate_on_submit():
        clock = form.clock.data
        try:
            with writing():
                coach_accounts.accept_invite(
                    token,
                    form.password.data or "",
                    timezone=form.timezone.data,
                    clock=clock if clock in localtime.CLOCKS else locale_clock(),
                )
        except DomainError as exc:
            apply_errors(form, exc, fallback=form.password)
        else:
            remember_new_account(invite.user.email)
            flash("Your password is set. Sign in with it to set your hours.", "success")
            # First stop after signing in: the hours learners can book them in.
            return redirect(
                url_for("auth.sign_in", next=url_for("coach.availability_page", welcome=1))
            )
    return render_template(
        "staff/accept_invite.html",
        form=form,
        user=invite.user,
        expires=coach_accounts.invite_expires_text(invite),
        # Staff left the zone at UTC: the browser's own is the better guess.
        browser_zone=not form.is_submitted() and invite.user.timezone == localtime.UTC_NAME,
    )
