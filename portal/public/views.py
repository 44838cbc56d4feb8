"""The public record: sessions, their published statements, documents."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, render_template, send_file
from flask_login import current_user
from werkzeug.wrappers import Response

from portal import queries
from portal.extensions import db
from portal.models import MeetingSession, Statement
from portal.permissions import statement_for_user_or_404
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
    return render_template("public/statement.html", statement=statement)


@bp.get("/statements/<public_id>/document")
def download(public_id: str) -> Response:
    """The statement's document as an attachment, typed as detected on upload."""
    statement = statement_for_user_or_404(public_id, current_user)
    document = statement.document
    store = get_store()
    if not store.exists(document.storage_key):
        abort(404)
    response = send_file(
        store.path(document.storage_key),
        mimetype=document.content_type,
        as_attachment=True,
        download_name=f"{statement.public_id}.{document.extension}",
        etag=document.sha256,
        conditional=True,
        max_age=0,
    )
    response.headers["X-Content-Type-Options"] = "nosniff"
    if not statement.is_public:
        response.headers["Cache-Control"] = "private, no-store"
    return response
