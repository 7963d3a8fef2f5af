from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, RadioField, StringField
from wtforms.validators import DataRequired, Email, EqualTo, Length

from services import accounts
from web.fields import CLOCK_CHOICES, ZoneField

_PASSWORD_LENGTH = Length(
    min=accounts.MIN_PASSWORD_LENGTH,
    max=accounts.MAX_PASSWORD_LENGTH,
    message=f"Use {accounts.MIN_PASSWORD_LENGTH} to {accounts.MAX_PASSWORD_LENGTH} characters.",
)
_PASSWORD_HINT = (
    f"At least {accounts.MIN_PASSWORD_LENGTH} characters; any characters; a passphrase works well."
)


class SignInForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


class ForgotPasswordForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=254)])


class ResetPasswordForm(FlaskForm):
    password = PasswordField(
        "New password", validators=[DataRequired(), _PASSWORD_LENGTH], description=_PASSWORD_HINT
    )
    confirm = PasswordField(
        "New password again",
        validators=[DataRequired(), EqualTo("password", message="The two passwords differ.")],
    )


class SignUpForm(FlaskForm):
    name = StringField("Full name", validators=[DataRequired(), Length(max=120)])
    email = EmailField("Email", validators=[DataRequired(), Email(), Length(max=254)])
    password = PasswordField(
        "Password", validators=[DataRequired(), _PASSWORD_LENGTH], description=_PASSWORD_HINT
    )
    timezone = ZoneField(
        description="Times are shown in this zone. We picked your browser's; change it any time "
        "on your account page."
    )
    # Filled in from the browser's own setting (static/js/app.js); else Accept-Language decides.
    clock = HiddenField(render_kw={"data-browser-clock": True})


class ProfileForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120)])
    timezone = ZoneField(description="Every time on the site and in emails is shown in this zone.")
    clock = RadioField("Clock", choices=CLOCK_CHOICES, validators=[DataRequired()])


class CodeForm(FlaskForm):
    code = StringField(
        "Code",
        validators=[DataRequired(), Length(max=32)],
        description="The 6 digits from your authenticator app, or one of your recovery codes.",
    )


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired()])
    new_password = PasswordField(
        "New password", validators=[DataRequired(), _PASSWORD_LENGTH], description=_PASSWORD_HINT
    )


class ConfirmForm(FlaskForm):
    """A form that is only a button (with its CSRF token)."""
