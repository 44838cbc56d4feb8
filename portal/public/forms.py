"""Forms of the public pages: the session page's filters (read from the query string)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from wtforms import SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional
from wtforms.widgets import Select, html_params

from portal.enums import Language, OrganisationKind, StatementKind
from portal.listing import Sort
from portal.models import MeetingSession

GROUP_BY_AREA = "area"
NOT_GROUPED = "none"

# The names of the session page's filters, as in portal.listing.parse_args.
FILTER_NAMES = ("area", "panel", "organisation_kind", "organisation", "language", "kind")


class LongSelect(Select):
    """WTForms' select, its options joined in one pass: the organisation list has hundreds,
    and html_params per option was a measurable part of rendering the session page."""

    def __call__(self, field: SelectField, **kwargs: Any) -> Markup:
        kwargs.setdefault("id", field.id)
        options = "".join(
            f'<option{" selected" if choice.selected else ""} value="{escape(choice.value)}">{escape(choice.label)}</option>'
            for choice in field.iter_choices()
        )
        return Markup(f"<select {html_params(name=field.name, **kwargs)}>{options}</select>")


class SessionFilterForm(FlaskForm):
    """The session page's filters, sort and grouping. Listing changes nothing: no CSRF token.

    The form only checks that each value is one of its choices (this session's areas and
    panels, the organisations of its published statements); portal.listing.parse_args turns
    the same arguments into filters.
    """

    class Meta:
        csrf = False

    area = SelectField("Area of discussion", default="", validators=[Optional()], invalid_choice_message="Choose an area of this session from the list.")
    panel = SelectField("Panel", default="", validators=[Optional()], invalid_choice_message="Choose a panel of this session from the list.")
    organisation_kind = SelectField(
        "Kind of organisation",
        default="",
        choices=[SelectChoice("", "All kinds")] + [SelectChoice(k.value, k.label) for k in OrganisationKind],
        validators=[Optional()],
        invalid_choice_message="Choose a kind of organisation from the list.",
    )
    organisation = SelectField(
        "Organisation", default="", widget=LongSelect(), validators=[Optional()], invalid_choice_message="Choose an organisation from the list."
    )
    language = SelectField(
        "Language",
        default="",
        choices=[SelectChoice("", "All languages")] + [SelectChoice(lang.value, lang.label) for lang in Language],
        validators=[Optional()],
        invalid_choice_message="Choose a language from the list.",
    )
    kind = SelectField(
        "Kind of statement",
        default="",
        choices=[SelectChoice("", "All kinds")] + [SelectChoice(k.value, k.label) for k in StatementKind],
        validators=[Optional()],
        invalid_choice_message="Choose a kind of statement from the list.",
    )
    sort = SelectField(
        "Sort by",
        default=Sort.ORGANISATION.value,
        choices=[SelectChoice(Sort.ORGANISATION.value, "Organisation, A to Z"), SelectChoice(Sort.DATE.value, "Date published, newest first")],
        validators=[Optional()],
        invalid_choice_message="Choose an order from the list.",
    )
    group = SelectField(
        "Group by area",
        default=GROUP_BY_AREA,
        choices=[
            SelectChoice(GROUP_BY_AREA, "Yes, and by kind"),
            SelectChoice(NOT_GROUPED, "No, one list"),
        ],
        validators=[Optional()],
        invalid_choice_message="Choose whether to group by area from the list.",
    )

    def __init__(self, args: Mapping[str, Any], *, meeting_session: MeetingSession, organisations: Sequence[tuple[int, str]]) -> None:
        super().__init__(formdata=args)
        self.area.choices = [SelectChoice("", "All areas")] + [SelectChoice(str(a.id), a.label) for a in meeting_session.areas]
        self.panel.choices = [SelectChoice("", "All panels")] + [SelectChoice(str(p.id), p.label) for p in meeting_session.panels]
        self.organisation.choices = [SelectChoice("", "All organisations")] + [
            SelectChoice(str(id_), name) for id_, name in organisations
        ]

    @property
    def sort_order(self) -> Sort:
        return Sort(self.sort.data) if self.sort.data in {s.value for s in Sort} else Sort.ORGANISATION

    @property
    def grouped(self) -> bool:
        return self.group.data != NOT_GROUPED

    def active(self) -> dict[str, str]:
        """The choices in use, as query arguments: filters, and sort and grouping when not the default."""
        args = {name: str(self[name].data) for name in FILTER_NAMES if self[name].data}
        if self.sort_order is not Sort.ORGANISATION:
            args["sort"] = self.sort_order.value
        if not self.grouped:
            args["group"] = NOT_GROUPED
        return args

    def has_filters(self) -> bool:
        return any(self[name].data for name in FILTER_NAMES)

    def described(self) -> list[tuple[str, str]]:
        """The filters in use, in words: (field label, chosen option)."""
        described = []
        for name in FILTER_NAMES:
            field = self[name]
            if field.data:
                label = next((c.label for c in field.choices if c.value == field.data), field.data)
                described.append((field.label.text, label))
        return described
