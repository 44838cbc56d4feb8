from __future__ import annotations

from collections.abc import Sequence

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, InputRequired, Length, Optional

from portal.enums import Language, OrganisationKind
from portal.models import Organisation

NOT_LISTED = "new"
LANGUAGE_CHOICES = [SelectChoice(lang.value, lang.label) for lang in Language]


class PasswordFields:
    """New password with confirmation, shared by registration, reset and invitation forms."""

    password = PasswordField(
        "Password", validators=[DataRequired(message="Choose a password."), Length(max=1024)]
    )
    confirm = PasswordField(
        "Confirm password",
        validators=[
            DataRequired(message="Type the password again."),
            EqualTo("password", message="The two passwords are not the same."),
        ],
    )


class RegistrationForm(PasswordFields, FlaskForm):
    name = StringField("Full name", validators=[DataRequired(message="Your name is required."), Length(max=200)])
    email = EmailField("E-mail address", validators=[DataRequired(message="Your e-mail address is required."), Length(max=254)])
    locale = SelectField(
        "Language of correspondence",
        choices=LANGUAGE_CHOICES,
        default=Language.ENGLISH.value,
        invalid_choice_message="Choose one of the six official languages.",
    )
    organisation_id = SelectField(
        "Organisation",
        validators=[InputRequired(message="Choose your organisation.")],
        invalid_choice_message="Choose your organisation from the list.",
    )
    new_organisation_name = StringField("Name of the organisation", validators=[Optional(), Length(max=200)])
    new_organisation_kind = SelectField(
        "Kind of organisation",
        choices=[SelectChoice("", "Choose a kind")] + [SelectChoice(k.value, k.label) for k in OrganisationKind],
        validators=[Optional()],
        invalid_choice_message="Choose a kind from the list.",
    )
    new_organisation_website = StringField("Website", validators=[Optional(), Length(max=300)])
    new_organisation_country = StringField("Country", validators=[Optional(), Length(max=100)])
    submit = SubmitField("Register")

    def __init__(self, *args: object, organisations: Sequence[Organisation], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.organisation_id.choices = (
            [SelectChoice("", "Choose your organisation")]
            + [SelectChoice(str(o.id), o.name, optgroup=o.kind.label) for o in organisations]
            + [SelectChoice(NOT_LISTED, "My organisation is not listed (describe it below)", optgroup="Other")]
        )

    def validate(self, extra_validators: object = None) -> bool:
        ok = super().validate(extra_validators)  # type: ignore[arg-type]
        if self.organisation_id.data == NOT_LISTED:
            if not (self.new_organisation_name.data or "").strip():
                self.new_organisation_name.errors.append("Give the name of your organisation.")
                ok = False
            if not self.new_organisation_kind.data:
                self.new_organisation_kind.errors.append("Choose the kind of organisation.")
                ok = False
        return ok


class InvitationAcceptForm(PasswordFields, FlaskForm):
    name = StringField("Full name", validators=[DataRequired(message="Your name is required."), Length(max=200)])
    locale = SelectField("Language of correspondence", choices=LANGUAGE_CHOICES, default=Language.ENGLISH.value)
    submit = SubmitField("Create my account")


class ResetRequestForm(FlaskForm):
    email = EmailField("E-mail address", validators=[DataRequired(message="Enter your e-mail address."), Length(max=254)])
    submit = SubmitField("Send me a reset link")


class ResetPasswordForm(PasswordFields, FlaskForm):
    submit = SubmitField("Set the new password")


class ChangePasswordForm(PasswordFields, FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired(message="Enter your current password.")])
    submit = SubmitField("Change password")


class InviteForm(FlaskForm):
    email = EmailField("Colleague's e-mail address", validators=[DataRequired(message="Enter an e-mail address."), Length(max=254)])
    submit = SubmitField("Send invitation")


class ReasonForm(FlaskForm):
    reason = TextAreaField("Reason", validators=[Optional(), Length(max=2000)])
    submit = SubmitField()
