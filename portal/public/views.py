"""The public record: sessions, organisations, their published statements, documents.

A statement's page also serves the members of its organisation (actions, new versions,
its history) and moderators (its history); `render_statement` builds it for both.
"""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from portal import audit, operations, queries, workflow
from portal.enums import OrganisationStatus, VersionStatus
from portal.extensions import db
from portal.models import MeetingSession, Organisation, Statement, StatementFile, StatementVersion, User
from portal.permissions import (
    can_moderate,
    can_submit,
    can_view_statement,
    is_member_of_statement_organisation,
    statement_for_user_or_404,
)
from portal.storage import get_store
from portal.submit.forms import AdditionForm, CorrectionForm

bp = Blueprint("public", __name__)

# The moves a member of the statement's organisation makes from its page.
SUBMITTER_ACTIONS = tuple(name for name, t in workflow.TRANSITIONS.items() if t.roles == workflow.SUBMITTERS)


@bp.get("/")
def index() -> str:
    """The list of meeting sessions."""
    return render_template("public/index.html", sessions=queries.sessions_with_counts())


@bp.get("/sessions/<slug>")
def session(slug: str) -> str:
    """A session and its published statements, grouped by area; `?organisation=<id>` keeps
    those by, on behalf of, or co-signed by one organisation."""
    meeting_session = db.session.scalar(sa.select(MeetingSession).where(MeetingSession.slug == slug))
    if meeting_session is None:
        abort(404)
    organisations = queries.session_organisations(meeting_session)
    chosen = None
    raw = request.args.get("organisation", "")
    if raw:
        chosen = queries.public_organisation(int(raw)) if raw.isdigit() and len(raw) < 10 else None
        if chosen is None:
            abort(404)
    statements = queries.session_public_statements(meeting_session, chosen.id if chosen else None)
    by_area: dict[int, list[Statement]] = {area.id: [] for area in meeting_session.areas}
    for statement in statements:
        for area in statement.areas:
            by_area.setdefault(area.id, []).append(statement)
    return render_template(
        "public/session.html",
        meeting_session=meeting_session,
        statements=statements,
        by_area=by_area,
        organisations=organisations,
        chosen=chosen,
    )


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
    }
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
