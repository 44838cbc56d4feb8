"""Forms of the moderation pages: the queue's filters (GET, no CSRF), decisions, bulk
decisions, saved reasons and notification settings (POST, CSRF).

They check the shape of the input; workflow.apply and portal.moderation enforce the policy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    HiddenField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional

from portal.enums import Language, OrganisationKind
from portal.models import MeetingSession, ReasonTemplate
from portal.moderation import BULK_MAX_ITEMS, MAX_LABEL_LENGTH, REASON_ACTIONS
from portal.queries import QUEUE_STATUS_LABELS, WAITING, QueueFilter
from portal.workflow import MAX_NOTE_LENGTH, TRANSITIONS


class DecisionForm(FlaskForm):
    """One workflow action on one statement; `version` is the version the moderator saw.

    Prefixed with the action, so several decision forms can share a page.
    """

    version = IntegerField(widget=HiddenField.widget, validators=[InputRequired()])
    # Length and presence are policy: workflow.apply checks them after trimming.
    note = TextAreaField("Note", validators=[Optional()])
    template_id = SelectField("Or use a saved reason", validators=[Optional()], coerce=str)
    duplicate_of = StringField("Reference of the original statement", validators=[Optional(), Length(max=20)])
    publish_at = DateTimeLocalField(
        "Publish at (UTC, optional)", validators=[Optional()], format=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"]
    )
    submit = SubmitField()

    def __init__(self, action: str, *, version: int, templates: list[ReasonTemplate] | None = None) -> None:
        super().__init__(prefix=action)
        transition = TRANSITIONS[action]
        self.action = action
        self.transition = transition
        if self.version.data is None:
            self.version.data = version
        self.note.label.text = transition.note_label
        self.submit.label.text = transition.label
        self.templates = [t for t in templates or [] if t.action == action]
        self.template_id.choices = [SelectChoice("", "No saved reason")] + [
            SelectChoice(str(t.id), t.label) for t in self.templates
        ]

    def note_text(self) -> str:
        """The typed note, or the chosen saved reason when nothing was typed."""
        typed = (self.note.data or "").strip()
        if typed or not self.template_id.data:
            return typed
        chosen = next((t for t in self.templates if str(t.id) == self.template_id.data), None)
        return chosen.text if chosen else ""


# --- the queue ---------------------------------------------------------------------------------


def _int_or_none(value: object) -> int | None:
    if value in (None, ""):
        return None
    return int(value)  # type: ignore[arg-type]  # ValueError becomes invalid_value_message


class QueueFilterForm(FlaskForm):
    """The queue's filters, read from the query string: nothing changes, so no CSRF token."""

    class Meta:
        csrf = False

    status = SelectField("Status", default=WAITING, invalid_choice_message="Choose a status from the list.")
    session_id = SelectField(
        "Session", coerce=_int_or_none, validators=[Optional()], invalid_choice_message="Choose a session from the list."
    )
    area_id = SelectField(
        "Area", coerce=_int_or_none, validators=[Optional()], invalid_choice_message="Choose an area from the list."
    )
    organisation_kind = SelectField(
        "Organisation kind",
        choices=[SelectChoice("", "Any kind")] + [SelectChoice(k.value, k.label) for k in OrganisationKind],
        validators=[Optional()],
        invalid_choice_message="Choose a kind of organisation from the list.",
    )
    language = SelectField(
        "Language",
        choices=[SelectChoice("", "Any language")] + [SelectChoice(lang.value, lang.label) for lang in Language],
        validators=[Optional()],
        invalid_choice_message="Choose a language from the list.",
    )
    per_page = SelectField("Items per page", coerce=_int_or_none, validators=[Optional()])

    def __init__(self, args: Any, *, sessions: Sequence[MeetingSession], page_size: int) -> None:
        super().__init__(formdata=args)
        self.page_size = page_size
        self.status.choices = [SelectChoice(key, label) for key, label in QUEUE_STATUS_LABELS.items()]
        self.session_id.choices = [SelectChoice("", "Any session")] + [SelectChoice(s.id, s.label) for s in sessions]
        self.area_id.choices = [SelectChoice("", "Any area")] + [
            SelectChoice(a.id, a.label, optgroup=s.label) for s in sessions for a in s.areas
        ]
        sizes = sorted({page_size, *PAGE_SIZES})
        self.per_page.choices = [SelectChoice(n, str(n)) for n in sizes]
        if self.per_page.data is None:
            self.per_page.data = page_size

    def filters(self) -> QueueFilter:
        """The filters asked for; call after validate() succeeded."""
        return QueueFilter(
            status=self.status.data or WAITING,
            session_id=self.session_id.data,
            area_id=self.area_id.data,
            organisation_kind=OrganisationKind(self.organisation_kind.data) if self.organisation_kind.data else None,
            language=Language(self.language.data) if self.language.data else None,
        )

    def query_args(self) -> dict[str, str]:
        """The filters in use, as query arguments (for pagination and "select all" links)."""
        return {f.name: str(f.raw_data[0]) for f in self if f.raw_data and f.raw_data[0] not in ("", None)}


PAGE_SIZES = (50, 100, 200, 500)


class BulkDecisionForm(FlaskForm):
    """Approve or reject the items ticked on the queue. Each item is "<reference>:<version seen>"."""

    items = SelectMultipleField("Selected statements", validate_choice=False)
    note = TextAreaField("Reason", validators=[Optional()])
    template_id = SelectField("Use a saved reason", validators=[Optional()], coerce=str, validate_choice=False)
    approve = SubmitField("Approve selected")
    reject = SubmitField("Reject selected")

    def __init__(self, *args: Any, templates: Sequence[ReasonTemplate] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.templates = [t for t in templates if t.action == "reject"]
        self.template_id.choices = [SelectChoice("", "No saved reason")] + [
            SelectChoice(str(t.id), t.label) for t in self.templates
        ]

    @property
    def action(self) -> str | None:
        if self.reject.data:
            return "reject"
        if self.approve.data:
            return "approve"
        return None

    def selected(self) -> list[tuple[str, int | None]]:
        """The ticked items as (reference, version seen), each once, in the order given."""
        seen: dict[str, int | None] = {}
        for raw in self.items.data or []:
            reference, _, version = str(raw).strip().partition(":")
            reference = reference.strip().upper()
            if reference and reference not in seen:
                seen[reference] = int(version) if version.isdigit() else None
        return list(seen.items())

    def note_text(self) -> str:
        """The typed reason, or the chosen saved reason when nothing was typed."""
        typed = (self.note.data or "").strip()
        if typed or not self.template_id.data:
            return typed
        chosen = next((t for t in self.templates if str(t.id) == self.template_id.data), None)
        return chosen.text if chosen else ""

    def validate(self, extra_validators: Any = None) -> bool:
        if not super().validate(extra_validators):
            return False
        ok = True
        if self.action is None:
            self.form_errors.append("Choose “Approve selected” or “Reject selected”.")
            ok = False
        if not self.selected():
            self.items.errors = ["Tick at least one statement."]
            ok = False
        elif len(self.selected()) > BULK_MAX_ITEMS:
            self.items.errors = [f"Decide at most {BULK_MAX_ITEMS} statements at once."]
            ok = False
        if self.template_id.data and not any(str(t.id) == self.template_id.data for t in self.templates):
            self.template_id.errors = ["Choose a saved reason from the list."]
            ok = False
        if self.action == "approve" and self.template_id.data and not (self.note.data or "").strip():
            self.template_id.errors = ["Saved reasons are reasons for rejecting: leave this empty to approve."]
            ok = False
        if self.action == "reject" and not self.note_text():
            self.note.errors = ["A reason is required to reject: write one or choose a saved reason."]
            ok = False
        if len(self.note_text()) > MAX_NOTE_LENGTH:
            self.note.errors = [f"The reason must be at most {MAX_NOTE_LENGTH} characters."]
            ok = False
        return ok


# --- saved reasons and settings ----------------------------------------------------------------


class ReasonTemplateForm(FlaskForm):
    action = SelectField(
        "Action",
        choices=[SelectChoice(a, TRANSITIONS[a].label) for a in REASON_ACTIONS],
        validators=[InputRequired(message="Choose the decision this reason is for.")],
        invalid_choice_message="Choose the decision this reason is for from the list.",
    )
    label = StringField(
        "Label",
        validators=[InputRequired(message="Give the reason a short label."), Length(max=MAX_LABEL_LENGTH)],
    )
    text = TextAreaField("Text", validators=[InputRequired(message="Write the text of the reason.")])
    submit = SubmitField("Save reason")


class NotificationSettingsForm(FlaskForm):
    notify_new_submissions = BooleanField("E-mail me about each new submission")
    daily_digest = BooleanField("Send me a daily digest")
    submit = SubmitField("Save settings")
