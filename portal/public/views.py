"""The public record: sessions, organisations, their published statements, documents.

A statement's page also serves the members of its organisation (actions, new versions,
its history) and moderators (its history); `render_statement` builds it for both.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any
from urllib.parse import urlencode

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from sqlalchemy.orm import selectinload
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from portal import audit, listing, operations, queries, search, workflow
from portal.cache import public_memo
from portal.enums import OrganisationKind, OrganisationStatus, StatementKind, VersionStatus
from portal.extensions import db
from portal.models import (
    Area,
    MeetingSession,
    Organisation,
    Statement,
    StatementFile,
    StatementVersion,
    User,
    utcnow,
)
from portal.permissions import (
    can_moderate,
    can_submit,
    can_view_statement,
    is_member_of_statement_organisation,
    statement_for_user_or_404,
)
from portal.public.forms import SessionFilterForm
from portal.storage import get_store
from portal.submit.forms import AdditionForm, CorrectionForm

bp = Blueprint("public", __name__)

# The moves a member of the statement's organisation makes from its page.
SUBMITTER_ACTIONS = tuple(name for name, t in workflow.TRANSITIONS.items() if t.roles == workflow.SUBMITTERS)


@bp.get("/")
def index() -> str:
    """The list of meeting sessions."""
    counts = public_memo(("sessions",), queries.public_counts_by_session)
    return render_template("public/index.html", sessions=queries.sessions_with_counts(counts))


@bp.get("/sessions/<slug>")
def session(slug: str) -> tuple[str, int]:
    """A session's record: counts per area, panel and kind of organisation, then its published
    statements, filtered, sorted, grouped by area and kind of organisation, a page at a time."""
    meeting_session = db.session.scalar(
        sa.select(MeetingSession)
        .where(MeetingSession.slug == slug)
        .options(selectinload(MeetingSession.areas), selectinload(MeetingSession.panels))
    )
    if meeting_session is None:
        abort(404)
    # Arguments the page does not use (a tracking tag, an old link's `page`) are ignored.
    args = MultiDict([(k, v) for k, v in request.args.items(multi=True) if k in SESSION_PAGE_ARGS])
    organisations = _organisation_choices(meeting_session, args.get("organisation", ""))
    form = SessionFilterForm(args, meeting_session=meeting_session, organisations=organisations)
    form.validate()
    page_errors: list[str] = []
    params = None
    try:
        params = listing.parse_args(
            MultiDict([(k, v) for k, v in args.items(multi=True) if k != "group"]),
            allowed=LISTING_ARGS,
        )
    except listing.InvalidParameter as exc:
        _report(form, exc, page_errors)
    active = form.active()

    base = url_for("public.session", slug=meeting_session.slug)

    def link(**changes: str | None) -> str:
        """This page with the active filters, sort and grouping, changed by `changes` (None removes).
        (The overview makes a hundred of these: one url_for, then plain query strings.)"""
        merged = {k: v for k, v in {**active, **changes}.items() if v}
        return f"{base}?{urlencode(merged)}" if merged else base

    context: dict[str, Any] = {
        "meeting_session": meeting_session,
        "form": form,
        "page_errors": page_errors,
        "link": link,
        "kind_groups": KIND_GROUP_LABELS,
        "submissions": _submissions_state(meeting_session, utcnow()),
        "paged": bool(args.get("after") or args.get("before")),
        "counts": None,
        "session_total": 0,
        "page": None,
        "groups": [],
    }
    if form.errors or params is None:
        return render_template("public/session.html", **context), 400

    filters = replace(params.filters, session_id=meeting_session.id)
    counts: listing.GroupCounts = public_memo(
        ("counts", filters, bool(meeting_session.panels)),
        lambda: listing.group_counts(filters, panels=bool(meeting_session.panels)),
    )
    session_total = counts.total
    if replace(filters, session_id=None).any:
        session_total = public_memo(
            ("count", meeting_session.id),
            lambda: listing.count_public(search.SearchFilters(session_id=meeting_session.id)),
        )
    if counts.total:
        sort, grouped = form.sort_order, form.grouped
        try:
            page = listing.list_public(
                filters, sort=sort, grouped=grouped, after=params.after, before=params.before,
                limit=current_app.config.get("PORTAL_PAGE_SIZE", 50),
            )
        except listing.InvalidParameter as exc:
            _report(form, exc, page_errors)
            return render_template("public/session.html", **context), 400
        context["page"] = page
        if grouped:
            context["groups"] = _groups(page, counts, filters, _group_before(page, params, filters, sort))
    context.update(counts=counts, session_total=session_total)
    return render_template("public/session.html", **context), 200


# The session page's own arguments: the listing's, less the session (the slug names it), the
# free text (the search page has it) and the page size, plus the grouping.
LISTING_ARGS = ("area", "panel", "organisation_kind", "organisation", "language", "kind", "sort", "after", "before")
SESSION_PAGE_ARGS = (*LISTING_ARGS, "group")

# Headings of the organisation-kind groups, as on the records of UN meetings.
KIND_GROUP_LABELS = {
    OrganisationKind.MEMBER_STATE: "Member States",
    OrganisationKind.OBSERVER_STATE: "Observer States",
    OrganisationKind.UN_ENTITY: "UN system",
    OrganisationKind.IGO: "Intergovernmental organisations",
    OrganisationKind.NGO: "Civil society",
    OrganisationKind.OTHER: "Other stakeholders",
}

CURSOR_MESSAGE = (
    "This page link is not valid: it may have been shortened, changed or made for another order "
    "of the list. Start again from the first page."
)


def _organisation_choices(meeting_session: MeetingSession, requested: str) -> list[tuple[int, str]]:
    """(id, name) of the organisations of the session's published statements (authors, on
    behalf of, co-signatories), and of the requested one if it has a public page though nothing
    here: choosing it shows that nothing matches rather than an error."""
    organisations: list[tuple[int, str]] = public_memo(
        ("organisations", meeting_session.id),
        lambda: [(o.id, o.name) for o in queries.session_organisations(meeting_session)],
    )
    if requested.isascii() and requested.isdigit() and len(requested) < 10:
        if int(requested) not in {id_ for id_, _ in organisations}:
            extra = queries.public_organisation(int(requested))
            if extra is not None:
                organisations = sorted([*organisations, (extra.id, extra.name)], key=lambda o: o[1])
    return organisations


def _report(form: SessionFilterForm, exc: listing.InvalidParameter, page_errors: list[str]) -> None:
    """Put a bad argument's message on its field (unless the field already says why), or on the page."""
    if exc.name in ("after", "before"):
        page_errors.append(CURSOR_MESSAGE)
    elif exc.name in form and not form[exc.name].errors:
        form[exc.name].errors = [*form[exc.name].errors, exc.message]
    elif exc.name not in form:
        page_errors.append(exc.message)


@dataclass
class KindGroup:
    kind: OrganisationKind
    count: int  # in the whole listing, not only on this page
    continued: bool  # began on an earlier page
    items: list[listing.Item] = field(default_factory=list)


@dataclass
class AreaGroup:
    area: Area
    count: int
    continued: bool
    kinds: list[KindGroup] = field(default_factory=list)


def _group_before(
    page: listing.Page, params: listing.Params, filters: search.SearchFilters, sort: listing.Sort
) -> tuple[int, OrganisationKind] | None:
    """The group (area id, kind) of the row just before this page, to say "continued"."""
    if params.after:
        return listing.cursor_group(params.after)  # the last row of the page before
    if params.before and page.previous_cursor:
        before = listing.list_public(filters, sort=sort, grouped=True, before=page.previous_cursor, limit=1, options=())
        if before.items and before.items[0].area is not None and before.items[0].kind is not None:
            return before.items[0].area.id, before.items[0].kind
    return None


def _groups(
    page: listing.Page,
    counts: listing.GroupCounts,
    filters: search.SearchFilters,
    before: tuple[int, OrganisationKind] | None,
) -> list[AreaGroup]:
    """The page's rows under their area and organisation-kind headings, with the counts."""
    groups: list[AreaGroup] = []
    for item in page.items:
        area, kind = item.area, item.kind
        assert area is not None and kind is not None  # a grouped listing
        if not groups or groups[-1].area.id != area.id:
            continued = not groups and before is not None and before[0] == area.id
            groups.append(AreaGroup(area, counts.area_total(area.id, filters.organisation_kind), continued))
        current = groups[-1]
        if not current.kinds or current.kinds[-1].kind is not kind:
            continued = len(groups) == 1 and not current.kinds and before == (area.id, kind)
            current.kinds.append(KindGroup(kind, counts.area_total(area.id, kind), continued))
        current.kinds[-1].items.append(item)
    return groups


def _submissions_state(meeting_session: MeetingSession, now: datetime) -> str:
    """Where the session's submission window stands: unscheduled, upcoming, open or closed."""
    if meeting_session.submissions_open_at is None:
        return "unscheduled"
    if now < meeting_session.submissions_open_at:
        return "upcoming"
    if meeting_session.submissions_close_at is None or now < meeting_session.submissions_close_at:
        return "open"
    return "closed"


@bp.get("/organisations/<int:organisation_id>")
def organisation(organisation_id: int) -> str | Response:
    """An organisation and the published statements it made, co-signed or had delivered on its behalf."""
    found = db.session.get(Organisation, organisation_id)
    if found is not None and found.status is OrganisationStatus.MERGED and found.merged_into_id is not None:
        return redirect(url_for("public.organisation", organisation_id=found.merged_into_id), 301)
    organisation = queries.public_organisation(organisation_id)
    if organisation is None:
        abort(404)
    return render_template(
        "public/organisation.html",
        organisation=organisation,
        statements=queries.organisation_public_statements(organisation.id),
    )


@bp.get("/statements/<public_id>")
def statement(public_id: str) -> tuple[str, int]:
    """A statement's page. Unpublished ones exist only for their organisation and moderators."""
    return render_statement(statement_for_user_or_404(public_id, current_user))


def render_statement(
    statement: Statement,
    *,
    correction_form: CorrectionForm | None = None,
    addition_form: AdditionForm | None = None,
    status: int = 200,
) -> tuple[str, int]:
    """The statement page for the current viewer; the caller has checked they may see it.

    Members of its organisation get the moves open to them, the new-version forms and the
    history; moderators the history; everyone the publication history.
    """
    user = current_user
    member = is_member_of_statement_organisation(user, statement)
    version = viewer_version(statement, user)
    context: dict[str, object] = {
        "statement": statement,
        "version": version,
        "member": member,
        "moderator": user.is_authenticated and can_moderate(user),
        "timeline": None,
        "actions": [],
        "correction_form": None,
        "addition_form": None,
        "sharing": None,
    }
    if statement.is_public:
        context["sharing"] = sharing(statement)
    if member or context["moderator"]:
        context["timeline"] = list(db.session.scalars(audit.events_for(statement)))
    if member:
        context["actions"] = [
            (name, workflow.TRANSITIONS[name])
            for name in workflow.allowed_actions(statement, user)
            if name in SUBMITTER_ACTIONS
        ]
        if can_submit(user) and operations.accepts_new_version(statement):
            original = version.original if version else None
            defaults = {"version": statement.version, "language": (original.language if original else statement.language).value}
            context["correction_form"] = correction_form or CorrectionForm(
                formdata=None, prefix="correction", data=defaults
            )
            context["addition_form"] = addition_form or AdditionForm(
                formdata=None, prefix="addition", data={"version": statement.version}
            )
    return render_template("public/statement.html", **context), status



# How a citation names what the statement is, by its kind.
CITED_AS = {
    StatementKind.DELIVERED: "statement delivered at",
    StatementKind.WRITTEN: "written input to",
    StatementKind.JOINT: "joint statement delivered at",
}


def first_published(statement: Statement) -> datetime | None:
    """When the public could first read the statement: its approval, or the end of its embargo."""
    if statement.publish_at is not None and statement.published_at is not None and statement.publish_at > statement.published_at:
        return statement.publish_at
    return statement.published_at


def _names(organisations: list[Organisation]) -> str:
    names = [o.name for o in organisations]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _day(value: date | datetime) -> str:
    return f"{value.day} {value:%B %Y}"


def citation(statement: Statement, *, permalink: str, site_name: str, accessed: date) -> str:
    """A plain-text reference to the published statement, e.g.

    Mexico, on behalf of Group of Friends, co-signed by Peru and Chile, “Title”, joint statement
    delivered at Session 1: Human rights of all migrants, Geneva, 8 May 2017. Published 2 June
    2017; version 2, corrected 9 June 2017. Stakeholder Inputs Portal, ST-7K3Q-F9XM.
    https://…/statements/ST-7K3Q-F9XM (accessed 1 July 2017).
    """
    who = statement.organisation.name
    if statement.on_behalf_of:
        who += f", on behalf of {_names(statement.on_behalf_of)}"
    if statement.cosignatories:
        who += f", co-signed by {_names(statement.cosignatories)}"
    where = [statement.meeting_session.label]
    if statement.meeting_session.city:
        where.append(statement.meeting_session.city)
    if statement.delivered_on:
        where.append(_day(statement.delivered_on))
    text = f"{who}, “{statement.title}”, {CITED_AS[statement.kind]} {', '.join(where)}."
    published = first_published(statement)
    version = statement.published_version
    if published is not None:
        text += f" Published {_day(published)}"
        if version is not None and version.number > 1 and statement.corrected_at is not None:
            text += f"; version {version.number}, corrected {_day(statement.corrected_at)}."
        elif version is not None:
            text += f"; version {version.number}."
        else:
            text += "."
    return f"{text} {site_name}, {statement.public_id}. {permalink} (accessed {_day(accessed)})."


def sharing(statement: Statement) -> dict[str, Any]:
    """What the page of a public statement tells others: permalink, description, citation, the
    PDF for citation_pdf_url. Only for public statements (their metadata is public)."""
    permalink = url_for("public.statement", public_id=statement.public_id, _external=True)
    site_name = current_app.config.get("PORTAL_SITE_NAME", "Stakeholder Inputs Portal")
    published = first_published(statement)
    session_label = statement.meeting_session.label
    description = f"{statement.kind.label} by {statement.organisation.name}"
    if statement.on_behalf_of:
        description += f" on behalf of {_names(statement.on_behalf_of)}"
    description += f", {session_label}"
    if statement.meeting_session.city or statement.delivered_on:
        description += " (" + ", ".join(
            part for part in (statement.meeting_session.city, _day(statement.delivered_on) if statement.delivered_on else "") if part
        ) + ")"
    description += f". {statement.language.label}. Areas: " + "; ".join(a.label for a in statement.areas) + "."
    version = statement.published_version
    original = version.original if version else None
    pdf_url = None
    if original is not None and original.stored.content_type == "application/pdf":
        pdf_url = url_for("public.download", public_id=statement.public_id, _external=True)
    return {
        "permalink": permalink,
        "site_name": site_name,
        "description": description,
        "citation": citation(statement, permalink=permalink, site_name=site_name, accessed=utcnow().date()),
        "published": published,
        "version": version,
        "pdf_url": pdf_url,
        "authors": [statement.organisation, *statement.cosignatories],
    }


def _privileged(user: User | None, statement: Statement) -> bool:
    """Moderators and approved members of the statement's organisation see every version."""
    return bool(user is not None and user.is_authenticated and can_moderate(user)) or is_member_of_statement_organisation(
        user, statement
    )


def viewer_version(statement: Statement, user: User | None) -> StatementVersion | None:
    """The version `user` is shown and served as "the document": the newest for moderators and
    approved members of its organisation, the published one for everyone else.

    Unlike Statement.version_for, a pending, rejected or removed member is "everyone else", and
    a member is shown the published version rather than a correction the secretariat rejected
    (the newest version is then not the statement's text).
    """
    if not _privileged(user, statement):
        return statement.published_version
    current = statement.current_version
    if (
        current is not None
        and current.status is VersionStatus.REJECTED
        and statement.published_version is not None
        and not can_moderate(user)
    ):
        return statement.published_version
    return current


def _send(statement: Statement, item: StatementFile) -> Response:
    document = item.stored
    store = get_store()
    if not store.exists(document.storage_key):
        abort(404)
    suffix = "" if item.role.value == "original" else f"-{item.role.value}-{item.language.value}"
    response = send_file(
        store.path(document.storage_key),
        mimetype=document.content_type,
        as_attachment=True,
        download_name=f"{statement.public_id}{suffix}.{document.extension}",
        etag=document.sha256,
        conditional=True,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    if not statement.is_public:
        response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.get("/statements/<public_id>/document")
def download(public_id: str) -> Response:
    """The original document of the version the viewer sees, as an attachment."""
    statement = statement_for_user_or_404(public_id, current_user)
    version = viewer_version(statement, current_user)
    original = version.original if version else None
    if original is None:
        abort(404)
    return _send(statement, original)


@bp.get("/statements/<public_id>/files/<int:file_id>")
def download_file(public_id: str, file_id: int) -> Response:
    """One file of the statement: of an approved version for the public; any for its
    organisation and moderators."""
    statement = statement_for_user_or_404(public_id, current_user)
    item = db.session.scalar(
        sa.select(StatementFile)
        .join(StatementFile.version)
        .where(StatementFile.id == file_id, StatementVersion.statement_id == statement.id)
    )
    if item is None:
        abort(404)
    if not _privileged(current_user, statement) and (item.version.status is not VersionStatus.APPROVED or not can_view_statement(None, statement)):
        abort(404)
    return _send(statement, item)
