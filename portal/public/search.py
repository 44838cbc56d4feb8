"""The public search page: full-text search of published statements, with filters."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Load, load_only
from flask import Blueprint, current_app, get_template_attribute, render_template, request
from markupsafe import Markup
from flask_wtf import FlaskForm
from wtforms import SearchField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional, ValidationError
from wtforms.widgets import Select

from portal import queries, search
from portal.enums import Language, OrganisationKind, StatementKind
from portal.extensions import db
from portal.models import Area, MeetingSession, Organisation, Statement
from portal.cache import public_memo

bp = Blueprint("search", __name__)

MAX_PAGE = 500
# What a result of the page shows (templates/search/index.html), and only that, is loaded: a
# statement's two dozen columns and its organisation's and session's cost more to load than
# to show the few the page needs.
RESULT_OPTIONS = (
    load_only(
        Statement.public_id, Statement.title, Statement.kind, Statement.language, Statement.delivered_on, Statement.published_at
    ),
    Load(Statement).joinedload(Statement.organisation, innerjoin=True).load_only(Organisation.name),
    Load(Statement).joinedload(Statement.meeting_session, innerjoin=True).load_only(MeetingSession.number, MeetingSession.short_title),
)


def _int_or_none(value: object) -> int | None:
    if value in (None, ""):
        return None
    return int(value)  # type: ignore[arg-type]  # a ValueError becomes the invalid choice message


class RememberedSelect(Select):
    """A select whose HTML is kept per public revision (portal.cache.public_memo), keyed by
    its field, value and attributes: its choices come from public data alone, and rendering
    the hundreds of organisations afresh took longer than the search itself."""

    def __call__(self, field: Any, **kwargs: Any) -> Any:
        key = ("select-html", field.name, repr(field.data), repr(field.raw_data), tuple(sorted((k, repr(v)) for k, v in kwargs.items())))
        return public_memo(key, lambda: Select.__call__(self, field, **kwargs))


class ListedSelectField(SelectField):
    """A select whose choice is checked with a set of its values: SelectField's own check
    builds an option object for each of its hundreds of choices, on every search."""

    def pre_validate(self, form: Any) -> None:
        if self.process_errors or not self.validate_choice:
            return
        values = public_memo(("select-values", self.name), lambda: frozenset(self.coerce(c.value) for c in self.choices))
        if self.data not in values:
            raise ValidationError(self.invalid_choice_message or self.gettext("Not a valid choice."))


class SearchForm(FlaskForm):
    """Read from the query string: searching changes nothing, so there is no CSRF token."""

    class Meta:
        csrf = False

    q = SearchField("Search statements", validators=[Optional(), Length(max=search.MAX_QUERY_LENGTH)])
    session = ListedSelectField("Session", widget=RememberedSelect(), coerce=_int_or_none, validators=[Optional()], invalid_choice_message="Choose a session from the list.")
    area = ListedSelectField("Area of discussion", widget=RememberedSelect(), coerce=_int_or_none, validators=[Optional()], invalid_choice_message="Choose an area from the list.")
    organisation_kind = SelectField(
        "Kind of organisation",
        widget=RememberedSelect(),
        choices=[SelectChoice("", "Any kind of organisation")] + [SelectChoice(k.value, k.label) for k in OrganisationKind],
        validators=[Optional()],
        invalid_choice_message="Choose a kind of organisation from the list.",
    )
    organisation = ListedSelectField("Organisation", widget=RememberedSelect(), coerce=_int_or_none, validators=[Optional()], invalid_choice_message="Choose an organisation from the list.")
    language = SelectField(
        "Language",
        widget=RememberedSelect(),
        choices=[SelectChoice("", "Any language")] + [SelectChoice(lang.value, lang.label) for lang in Language],
        validators=[Optional()],
        invalid_choice_message="Choose a language from the list.",
    )
    kind = SelectField(
        "Kind of statement",
        widget=RememberedSelect(),
        choices=[SelectChoice("", "Any kind")] + [SelectChoice(k.value, k.label) for k in StatementKind],
        validators=[Optional()],
        invalid_choice_message="Choose a kind of statement from the list.",
    )

    def __init__(self, args: Any) -> None:
        super().__init__(formdata=args)
        self.session.choices, self.area.choices, self.organisation.choices = public_memo(("search-form-choices",), _choices)

    def filters(self) -> search.SearchFilters:
        return search.SearchFilters(
            session_id=self.session.data,
            area_id=self.area.data,
            organisation_kind=OrganisationKind(self.organisation_kind.data) if self.organisation_kind.data else None,
            organisation_id=self.organisation.data,
            language=Language(self.language.data) if self.language.data else None,
            kind=StatementKind(self.kind.data) if self.kind.data else None,
        )

    def filters_html(self) -> Markup:
        """The filter fields as the form shows them (label, select, error), rendered once per
        public revision for each set of their values and errors and kept (public_memo): the
        same for most searches, and rendering them took some 0.7 ms of every search page."""
        fields = [self[name] for name in FILTER_FIELDS]
        key = ("search-filters-html", *((f.name, repr(f.raw_data), repr(f.data), tuple(f.errors)) for f in fields))
        render_field = get_template_attribute("_macros.html", "render_field")
        return public_memo(key, lambda: Markup("\n".join(str(render_field(f)) for f in fields)))

    def active(self) -> dict[str, str]:
        """The fields in use, as query arguments (for pagination links)."""
        return {f.name: str(f.raw_data[0]) for f in self if f.raw_data and str(f.raw_data[0]).strip()}


FILTER_FIELDS = ("session", "area", "organisation_kind", "organisation", "language", "kind")


def _choices() -> tuple[list[SelectChoice], list[SelectChoice], list[SelectChoice]]:
    """The form's sessions, areas and organisations (those with something published: the list
    stays short and reveals nothing), each with its "any" choice first. Kept per public
    revision by public_memo (the organisations query reads every published statement); the
    lists are shared by the requests of that revision, which only read them."""
    sessions = [
        (s.id, f"Session {s.number}: {s.short_title}")
        for s in db.session.scalars(sa.select(MeetingSession).order_by(MeetingSession.number))
    ]
    areas = [
        (a.id, f"Session {number}: {a.code}. {a.title}")
        for a, number in db.session.execute(
            sa.select(Area, MeetingSession.number).join(Area.meeting_session).order_by(MeetingSession.number, Area.position)
        )
    ]
    published = queries.public_statements().order_by(None).with_only_columns(Statement.organisation_id)
    organisations = [
        (o.id, o.name)
        for o in db.session.scalars(sa.select(Organisation).where(Organisation.id.in_(published)).order_by(Organisation.name))
    ]
    return (
        [SelectChoice("", "Any session")] + [SelectChoice(i, label) for i, label in sessions],
        [SelectChoice("", "Any area")] + [SelectChoice(i, label) for i, label in areas],
        [SelectChoice("", "Any organisation")] + [SelectChoice(i, label) for i, label in organisations],
    )


def _page_arg() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < int(raw) <= MAX_PAGE else 1


@bp.get("/search")
def index() -> tuple[str, int]:
    """Search published statements by words in their title, organisation and documents."""
    form = SearchForm(request.args)
    valid = form.validate()
    result = None
    if valid:
        result = search.search_public(
            form.q.data, form.filters(), page=_page_arg(), per_page=current_app.config["PORTAL_SEARCH_PAGE_SIZE"],
            options=RESULT_OPTIONS,
        )
    return render_template("search/index.html", form=form, result=result, args=form.active()), 200 if valid else 400
