"""The public record: sessions, their published statements, documents."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, render_template, send_file
from flask_login import current_user
from werkzeug.wrappers import Response

from portal import queries
from portal.enums import VersionStatus
from portal.extensions import db
from portal.models import MeetingSession, Statement, StatementFile, StatementVersion
from portal.permissions import can_view_statement, statement_for_user_or_404
from portal.storage import get_store

bp = Blueprint("public", __name__)


@bp.get("/")
def index() -> str:
    """The list of meeting sessions."""
    return render_template("public/index.html", sessions=queries.sessions_with_counts())


@bp.get("/sessions/<slug>")
def session(slug: str) -> str:
    """A session and its published statements, grouped by area."""
    meeting_session = db.session.scalar(sa.select(MeetingSession).where(MeetingSession.slug == slug))
    if meeting_session is None:
        abort(404)
    statements = queries.session_public_statements(meeting_session)
    by_area: dict[int, list[Statement]] = {area.id: [] for area in meeting_session.areas}
    for statement in statements:
        for area in statement.areas:
            by_area.setdefault(area.id, []).append(statement)
    return render_template(
        "public/session.html", meeting_session=meeting_session, statements=statements, by_area=by_area
    )


@bp.get("/statements/<public_id>")
def statement(public_id: str) -> str:
    """A statement's page. Unpublished ones exist only for their organisation and moderators."""
    statement = statement_for_user_or_404(public_id, current_user)
    return render_template(
        "public/statement.html", statement=statement, version=statement.version_for(current_user)
    )


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
    version = statement.version_for(current_user)
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
    privileged = current_user.is_authenticated and (
        current_user.is_moderator or current_user.organisation_id == statement.organisation_id
    )
    if not privileged and (item.version.status is not VersionStatus.APPROVED or not can_view_statement(None, statement)):
        abort(404)
    return _send(statement, item)
