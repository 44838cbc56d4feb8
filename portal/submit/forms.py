"""Submitters' forms: the submission form, and the forms on a statement's page (actions, new versions)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional
from wtforms.widgets import HiddenInput

from portal.enums import FileRole, Language, StatementKind
from portal.models import MeetingSession, Organisation

NO_PANEL = 0
# Extra files on the submission form: the same statement in other languages, or annexes.
EXTRA_FILES = (1, 2)
LANGUAGE_CHOICES = [SelectChoice(lang.value, lang.label) for lang in Language]
EXTRA_ROLE_CHOICES = [
    SelectChoice(FileRole.TRANSLATION.value, "Translation (the statement in another official language)"),
    SelectChoice(FileRole.ANNEX.value, "Annex"),
]


def _int_or_none(value: object) -> int | None:
    if value in (None, ""):
        return None
    return int(value)  # type: ignore[arg-type]  # ValueError becomes invalid_value_message


class StatementForm(FlaskForm):
    title = StringField("Title", validators=[DataRequired(message="A title is required."), Length(max=300)])
    session_id = SelectField(
        "Session",
        coerce=_int_or_none,
        validators=[InputRequired(message="Choose the session this statement belongs to.")],
        invalid_value_message="Choose a session from the list.",
        invalid_choice_message="That session does not exist or is not open for submissions. Choose one from the list.",
    )
    area_ids = SelectMultipleField(
        "Area",
        coerce=int,
        validators=[InputRequired(message="Choose at least one area of discussion.")],
        invalid_value_message="Choose areas of discussion from the list.",
        invalid_choice_message="Choose areas of discussion of a session open for submissions, from the list.",
    )
    panel_id = SelectField(
        "Panel",
        coerce=_int_or_none,
        validators=[Optional()],
        invalid_value_message="Choose a panel from the list.",
        invalid_choice_message="That panel does not exist. Choose one from the list, or no particular panel.",
    )
    kind = SelectField(
        "Kind",
        choices=[SelectChoice(k.value, k.label) for k in StatementKind],
        default=StatementKind.DELIVERED.value,
        validators=[InputRequired(message="Choose the kind of statement.")],
        invalid_choice_message="Choose a kind of statement from the list.",
    )
    language = SelectField(
        "Language",
        choices=[SelectChoice(lang.value, lang.label) for lang in Language],
        default=Language.ENGLISH.value,
        validators=[InputRequired(message="Choose the language of the document.")],
        invalid_choice_message="Choose one of the six official languages from the list.",
    )
    delivered_on = DateField(
        "Date delivered",
        validators=[Optional()],
        format="%Y-%m-%d",
        render_kw={"placeholder": "YYYY-MM-DD"},
    )
    document = FileField("File", validators=[FileRequired(message="Choose the document to upload.")])
    # Joint statements. Labels avoid the words of the fields above ("File", "Language", ...):
    # browsers' and test tools' find-by-label matches parts of labels, so each must stay unique.
    on_behalf_of_ids = SelectMultipleField(
        "Delivered on behalf of",
        coerce=int,
        validators=[Optional()],
        invalid_value_message="Choose organisations from the list.",
        invalid_choice_message="Choose organisations from the list.",
    )
    cosignatory_ids = SelectMultipleField(
        "Co-signatories",
        coerce=int,
        validators=[Optional()],
        invalid_value_message="Choose organisations from the list.",
        invalid_choice_message="Choose organisations from the list.",
    )
    extra1_document = FileField("Extra document 1", validators=[Optional()])
    extra1_language = SelectField(
        "Written in (extra document 1)",
        choices=[SelectChoice("", "Choose")] + LANGUAGE_CHOICES,
        validators=[Optional()],
        invalid_choice_message="Choose one of the six official languages from the list.",
    )
    extra1_role = SelectField(
        "Role of extra document 1",
        choices=EXTRA_ROLE_CHOICES,
        default=FileRole.TRANSLATION.value,
        invalid_choice_message="Choose translation or annex.",
    )
    extra2_document = FileField("Extra document 2", validators=[Optional()])
    extra2_language = SelectField(
        "Written in (extra document 2)",
        choices=[SelectChoice("", "Choose")] + LANGUAGE_CHOICES,
        validators=[Optional()],
        invalid_choice_message="Choose one of the six official languages from the list.",
    )
    extra2_role = SelectField(
        "Role of extra document 2",
        choices=EXTRA_ROLE_CHOICES,
        default=FileRole.TRANSLATION.value,
        invalid_choice_message="Choose translation or annex.",
    )
    submit = SubmitField("Submit statement")
    save_draft = SubmitField("Save as draft")

    def __init__(
        self,
        *args: object,
        sessions: Sequence[MeetingSession],
        organisations: Sequence[Organisation] = (),
        **kwargs: object,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.sessions = list(sessions)
        # Grouped by kind (Member States, UN entities, ...); the operation checks they are approved.
        partners = [SelectChoice(o.id, o.name, optgroup=o.kind.label) for o in organisations]
        self.on_behalf_of_ids.choices = partners
        self.cosignatory_ids.choices = list(partners)
        self.session_id.choices = [SelectChoice("", "Choose a session")] + [
            SelectChoice(s.id, s.label) for s in self.sessions
        ]
        # Grouped by session; the operation checks that the areas belong to the chosen session.
        self.area_ids.choices = [
            SelectChoice(a.id, a.label, optgroup=s.label) for s in self.sessions for a in s.areas
        ]
        self.panel_id.choices = [SelectChoice(NO_PANEL, "No particular panel")] + [
            SelectChoice(p.id, p.label, optgroup=s.label) for s in self.sessions for p in s.panels
        ]

    def validate(self, extra_validators: Any = None) -> bool:
        valid = super().validate(extra_validators)
        for n in EXTRA_FILES:
            document, language = self[f"extra{n}_document"], self[f"extra{n}_language"]
            if document.data and not language.data and not language.errors:
                language.errors = [*language.errors, f"Choose the language of extra document {n}."]
                valid = False
        return valid

    def extra_files(self) -> Iterator[tuple[int, Any, Language, FileRole]]:
        """(number, uploaded file, language, role) of each extra file chosen, after validation."""
        for n in EXTRA_FILES:
            upload = self[f"extra{n}_document"].data
            if upload:
                yield n, upload, Language(self[f"extra{n}_language"].data), FileRole(self[f"extra{n}_role"].data)

    @property
    def is_draft(self) -> bool:
        return bool(self.save_draft.data)


class VersionedForm(FlaskForm):
    """A form about one statement; `version` is the version counter the submitter saw, so a
    change made meanwhile (by a moderator or a colleague) is refused rather than overridden."""

    version = IntegerField(widget=HiddenInput(), validators=[InputRequired(message="The form was incomplete.")])


class StatementActionForm(VersionedForm):
    """A workflow button (submit, resubmit, withdraw); the action is in the URL."""


class CorrectionForm(VersionedForm):
    """A new version of the statement's document (prefix "correction")."""

    document = FileField("File", validators=[FileRequired(message="Choose the document to upload.")])
    language = SelectField(
        "Language",
        choices=LANGUAGE_CHOICES,
        validators=[InputRequired(message="Choose the language of the document.")],
        invalid_choice_message="Choose one of the six official languages from the list.",
    )
    note = TextAreaField(
        "What changed",
        validators=[Optional(), Length(max=2000, message="The note must be at most 2000 characters.")],
    )
    keep_other_files = BooleanField("Keep the translations and annexes of the current version", default=True)
    submit = SubmitField("Upload the new version")


class AdditionForm(VersionedForm):
    """A translation or an annex, added as a new version that keeps the other files (prefix "addition")."""

    document = FileField("Translation or annex", validators=[FileRequired(message="Choose the document to upload.")])
    language = SelectField(
        "Written in",
        choices=LANGUAGE_CHOICES,
        validators=[InputRequired(message="Choose the language of the document.")],
        invalid_choice_message="Choose one of the six official languages from the list.",
    )
    role = SelectField(
        "Role",
        choices=EXTRA_ROLE_CHOICES,
        default=FileRole.TRANSLATION.value,
        validators=[InputRequired(message="Choose translation or annex.")],
        invalid_choice_message="Choose translation or annex.",
    )
    submit = SubmitField("Add the file")
