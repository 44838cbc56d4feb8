from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, HiddenField, IntegerField, SelectField, StringField, SubmitField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional

from portal.models import ReasonTemplate
from portal.workflow import TRANSITIONS


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
