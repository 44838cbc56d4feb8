from __future__ import annotations

from collections.abc import Sequence

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, SelectField, SelectMultipleField, StringField, SubmitField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from portal.enums import Language, StatementKind
from portal.models import MeetingSession

NO_PANEL = 0


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
    submit = SubmitField("Submit statement")

    def __init__(self, *args: object, sessions: Sequence[MeetingSession], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.sessions = list(sessions)
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
