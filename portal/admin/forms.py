"""Forms of the administration pages: filters (GET, no CSRF) and actions (POST, CSRF).

They check the shape of the input; portal.organisations and portal.admin_accounts
enforce the policy. Several action forms share a page, so each has its own prefix.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional, ValidationError

from portal import organisations
from portal.enums import OrganisationKind, OrganisationStatus, Role
from portal.models import Organisation

ROLE_LABELS = {Role.SUBMITTER: "Submitter", Role.MODERATOR: "Moderator", Role.ADMIN: "Administrator"}


def _int_or_none(value: object) -> int | None:
    if value in (None, ""):
        return None
    return int(value)  # type: ignore[arg-type]  # ValueError becomes invalid_value_message


class FilterForm(FlaskForm):
    """A GET form read from the query string: nothing changes, so no CSRF token."""

    class Meta:
        csrf = False

    def __init__(self, args: Any, **kwargs: Any) -> None:
        super().__init__(formdata=args, **kwargs)

    def active_filters(self) -> dict[str, str]:
        """The filters in use, as query arguments (for pagination links)."""
        return {f.name: str(f.raw_data[0]) for f in self if f.raw_data and f.raw_data[0] not in ("", None)}


class UserFilterForm(FilterForm):
    q = StringField("Name or e-mail address contains", validators=[Optional(), Length(max=200)])
    role = SelectField(
        "Role",
        choices=[SelectChoice("", "Any role")] + [SelectChoice(r.value, ROLE_LABELS[r]) for r in Role],
        validators=[Optional()],
        invalid_choice_message="Choose a role from the list.",
    )
    active = SelectField(
        "Account",
        choices=[SelectChoice("", "Active and deactivated"), SelectChoice("yes", "Active"), SelectChoice("no", "Deactivated")],
        validators=[Optional()],
        invalid_choice_message="Choose active or deactivated from the list.",
    )
    organisation = SelectField("Organisation", validators=[Optional()], invalid_choice_message="Choose an organisation from the list.")

    def __init__(self, args: Any, *, organisations: Sequence[Organisation]) -> None:
        super().__init__(args)
        self.organisation.choices = [SelectChoice("", "Any organisation"), SelectChoice("none", "No organisation")] + [
            SelectChoice(str(o.id), o.name) for o in organisations
        ]


class OrganisationFilterForm(FilterForm):
    q = StringField("Name, acronym or code contains", validators=[Optional(), Length(max=200)])
    status = SelectField(
        "Status",
        choices=[SelectChoice("", "Any status")] + [SelectChoice(s.value, s.label) for s in OrganisationStatus],
        validators=[Optional()],
        invalid_choice_message="Choose a status from the list.",
    )
    kind = SelectField(
        "Kind",
        choices=[SelectChoice("", "Any kind")] + [SelectChoice(k.value, k.label) for k in OrganisationKind],
        validators=[Optional()],
        invalid_choice_message="Choose a kind of organisation from the list.",
    )


class AuditFilterForm(FilterForm):
    actor = StringField("Actor's e-mail address contains", validators=[Optional(), Length(max=254)])
    object_type = SelectField("Object type", validators=[Optional()], invalid_choice_message="Choose an object type from the list.")
    object = StringField("Object id or reference", validators=[Optional(), Length(max=300)])
    action = SelectField("Action", validators=[Optional()], invalid_choice_message="Choose an action from the list.")
    since = DateField("From (date)", validators=[Optional()], format="%Y-%m-%d", render_kw={"placeholder": "YYYY-MM-DD"})
    until = DateField("To (date, inclusive)", validators=[Optional()], format="%Y-%m-%d", render_kw={"placeholder": "YYYY-MM-DD"})

    def __init__(self, args: Any, *, actions: Sequence[str], object_types: Sequence[str]) -> None:
        super().__init__(args)
        self.action.choices = [SelectChoice("", "Any action")] + [SelectChoice(a, a) for a in actions]
        self.object_type.choices = [SelectChoice("", "Any type")] + [SelectChoice(t, t) for t in object_types]

    def validate_until(self, field: DateField) -> None:
        since: date | None = self.since.data
        if since is not None and field.data is not None and field.data < since:
            raise ValidationError("The end date must not be before the start date.")


# --- accounts -------------------------------------------------------------------------------


class RoleForm(FlaskForm):
    role = SelectField(
        "Role",
        choices=[SelectChoice(r.value, ROLE_LABELS[r]) for r in Role],
        validators=[InputRequired(message="Choose a role.")],
        invalid_choice_message="Choose a role from the list.",
    )
    organisation_id = SelectField(
        "Organisation (for a submitter)",
        coerce=_int_or_none,
        validators=[Optional()],
        invalid_value_message="Choose an organisation from the list.",
        invalid_choice_message="Choose an approved organisation from the list.",
    )
    submit = SubmitField("Change role")

    def __init__(self, *, organisations: Sequence[Organisation], **kwargs: Any) -> None:
        super().__init__(prefix="role", **kwargs)
        self.organisation_id.choices = [SelectChoice("", "Keep the current one (or choose)")] + [
            SelectChoice(o.id, o.name) for o in organisations
        ]


class DeactivateUserForm(FlaskForm):
    note = TextAreaField("Reason for deactivating (optional)", validators=[Optional()])
    submit = SubmitField("Deactivate account")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(prefix="deactivate", **kwargs)


class ReactivateUserForm(FlaskForm):
    note = TextAreaField("Reason for reactivating (optional)", validators=[Optional()])
    submit = SubmitField("Reactivate account")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(prefix="reactivate", **kwargs)


class ResetTwoFactorForm(FlaskForm):
    submit = SubmitField("Reset two-factor authentication")

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(prefix="reset-2fa", **kwargs)


# --- organisations ----------------------------------------------------------------------------


class OrganisationActionForm(FlaskForm):
    """One action of portal.organisations.ACTIONS; the button says what it does."""

    submit = SubmitField()

    def __init__(self, action: str, **kwargs: Any) -> None:
        super().__init__(prefix=action, **kwargs)
        self.action = action
        self.submit.label.text = organisations.ACTIONS[action].label


class RejectOrganisationForm(OrganisationActionForm):
    # Presence and length are policy: reject_organisation checks them after trimming.
    reason = TextAreaField("Reason", validators=[Optional()])


class RenameOrganisationForm(OrganisationActionForm):
    name = StringField("New name", validators=[Optional()])


class MergeOrganisationForm(OrganisationActionForm):
    target_id = SelectField(
        "Merge into",
        coerce=_int_or_none,
        validators=[InputRequired(message="Choose the organisation to merge this one into.")],
        invalid_value_message="Choose an organisation from the list.",
        invalid_choice_message="Choose an approved organisation from the list.",
    )

    def __init__(self, action: str, *, targets: Sequence[Organisation], **kwargs: Any) -> None:
        super().__init__(action, **kwargs)
        self.targets = list(targets)
        self.target_id.choices = [SelectChoice("", "Choose an approved organisation")] + [
            SelectChoice(o.id, o.name) for o in self.targets
        ]


class NoteOrganisationForm(OrganisationActionForm):
    note = TextAreaField("Note (optional)", validators=[Optional()])


ORGANISATION_FORMS: dict[str, type[OrganisationActionForm]] = {
    "approve": OrganisationActionForm,
    "reject": RejectOrganisationForm,
    "merge": MergeOrganisationForm,
    "rename": RenameOrganisationForm,
    "deactivate": NoteOrganisationForm,
    "reactivate": NoteOrganisationForm,
}
