from __future__ import annotations

from collections.abc import Sequence

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, SelectField, SelectMultipleField, StringField, SubmitField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, StopValidation

from portal.enums import Language, StatementKind
from portal.models import MeetingSession

NO_PANEL = 0


def _int_or_none(value: object) -> int | None:
    if value in (None, ""):
        return None
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return -1  # never a valid id: fails the choice check with a clear message


class ChoiceField(SelectField):
    """A select whose "not a valid choice" error says what to do."""

    def __init__(self, *args: object, invalid_message: str, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.invalid_message = invalid_message

    def pre_validate(self, form: FlaskForm) -> None:
        if self.data is not None and self.data not in {value for value, *_ in self.iter_choices()}:
            raise StopValidation(self.invalid_message)


class MultipleChoiceField(SelectMultipleField):
    def __init__(self, *args: object, invalid_message: str, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.invalid_message = invalid_message

    def process_formdata(self, valuelist: list[str]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError:
            self.data = []
            raise ValueError(self.invalid_message) from None

    def pre_validate(self, form: FlaskForm) -> None:
        allowed = {value for value, *_ in self.iter_choices()}
        if any(value not in allowed for value in self.data or []):
            raise StopValidation(self.invalid_message)


class StatementForm(FlaskForm):
    title = StringField(
        "Title", validators=[DataRequired(message="A title is required."), Length(max=300)]
    )
    session_id = ChoiceField(
        "Session",
        coerce=_int_or_none,
        validators=[InputRequired(message="Choose the session this statement belongs to.")],
        invalid_message="That session does not exist or is not open for submissions. Choose one from the list.",
    )
    area_ids = MultipleChoiceField(
        "Area",
        coerce=int,
        validators=[DataRequired(message="Choose at least one area of discussion.")],
        invalid_message="Choose areas of discussion of the chosen session from the list.",
    )
    panel_id = ChoiceField(
        "Panel",
        coerce=_int_or_none,
        validators=[Optional()],
        invalid_message="That panel does not exist. Choose one from the list, or no particular panel.",
    )
    kind = SelectField(
        "Kind",
        choices=[(k.value, k.label) for k in StatementKind],
        default=StatementKind.DELIVERED.value,
        validators=[InputRequired(message="Choose the kind of statement.")],
    )
    language = SelectField(
        "Language",
        choices=[(lang.value, lang.label) for lang in Language],
        default=Language.ENGLISH.value,
        validators=[InputRequired(message="Choose the language of the document.")],
    )
    delivered_on = DateField("Date delivered", validators=[Optional()], format="%Y-%m-%d")
    document = FileField("File", validators=[FileRequired(message="Choose the document to upload.")])
    submit = SubmitField("Submit statement")

    def __init__(self, *args: object, sessions: Sequence[MeetingSession], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.sessions = list(sessions)
        self.session_id.choices = [(None, "Choose a session")] + [(s.id, s.label) for s in self.sessions]
        # Grouped by session for display; the operation checks that areas match the session.
        self.area_ids.choices = {s.label: [(a.id, a.label) for a in s.areas] for s in self.sessions}
        self.panel_id.choices = {"": [(NO_PANEL, "No particular panel")]} | {
            s.label: [(p.id, p.label) for p in s.panels] for s in self.sessions if s.panels
        }

    def validate_session_id(self, field: SelectField) -> None:
        if field.data is None:
            raise StopValidation("Choose the session this statement belongs to.")
