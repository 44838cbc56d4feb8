"""Forms of signing in and of second factors."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, Length, Regexp


class LoginForm(FlaskForm):
    email = EmailField("E-mail address", validators=[DataRequired(message="Enter your e-mail address."), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(message="Enter your password."), Length(max=1024)])
    next = HiddenField()
    submit = SubmitField("Sign in")


def _without_spaces(value: str | None) -> str | None:
    """People copy codes as "123 456"; the spaces are not part of them."""
    return "".join(value.split()) if isinstance(value, str) else value


def _authentication_code() -> StringField:
    return StringField(
        "Authentication code",
        filters=[_without_spaces],
        validators=[
            DataRequired(message="Enter the 6-digit code your authenticator app shows."),
            Regexp(r"^[0-9]{6}$", message="The authentication code is the 6 digits your authenticator app shows."),
        ],
    )


class TwoFactorCodeForm(FlaskForm):
    """The second step of signing in: a code from the authenticator app."""

    code = _authentication_code()
    submit = SubmitField("Verify")


class RecoveryCodeForm(FlaskForm):
    """The second step of signing in, with a recovery code instead of the app."""

    code = StringField(
        "Recovery code",
        validators=[DataRequired(message="Enter one of your recovery codes."), Length(max=64)],
    )
    submit = SubmitField("Verify")


class EnableTwoFactorForm(FlaskForm):
    code = _authentication_code()
    submit = SubmitField("Turn on two-factor authentication")


class RegenerateRecoveryCodesForm(FlaskForm):
    code = _authentication_code()
    submit = SubmitField("Regenerate recovery codes")


class DisableTwoFactorForm(FlaskForm):
    password = PasswordField("Password", validators=[DataRequired(message="Enter your password."), Length(max=1024)])
    code = _authentication_code()
    submit = SubmitField("Turn off two-factor authentication")
