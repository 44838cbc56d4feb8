from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SubmitField, TextAreaField
from wtforms.validators import InputRequired, Optional

from portal.workflow import TRANSITIONS


class DecisionForm(FlaskForm):
    """One workflow action on one statement; `version` is the version the moderator saw.

    Prefixed with the action, so several decision forms can share a page.
    """

    version = IntegerField(widget=HiddenField.widget, validators=[InputRequired()])
    # Length and presence are policy: workflow.apply checks them after trimming.
    note = TextAreaField("Note", validators=[Optional()])
    submit = SubmitField()

    def __init__(self, action: str, *, version: int) -> None:
        super().__init__(prefix=action)
        transition = TRANSITIONS[action]
        self.action = action
        self.transition = transition
        if self.version.data is None:
            self.version.data = version
        self.note.label.text = transition.note_label
        self.submit.label.text = transition.label
