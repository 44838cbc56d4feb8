"""Submitters: submit a statement, list their organisation's submissions."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from portal import operations, queries
from portal.enums import Language, Role, StatementKind
from portal.exceptions import PortalError
from portal.extensions import db
from portal.filetypes import ACCEPTED_DESCRIPTION
from portal.models import MeetingSession, utcnow
from portal.permissions import can_submit, role_required, submit_blockers
from portal.storage import get_store, megabytes
from portal.submit.forms import NO_PANEL, StatementForm

bp = Blueprint("submit", __name__)


@bp.route("/submit", methods=["GET", "POST"])
@role_required(Role.SUBMITTER)
def new() -> str | Response | tuple[str, int]:
    """The submission form."""
    if not can_submit(current_user):
        return render_template("submit/blocked.html", blockers=submit_blockers(current_user)), 403
    sessions = queries.open_sessions(utcnow())
    form = StatementForm(sessions=sessions)
    status = 200
    if form.is_submitted():
        status = 400
        if form.validate():
            upload = form.document.data
            try:
                statement = operations.submit_statement(
                    author=current_user,
                    title=form.title.data or "",
                    meeting_session=db.session.get(MeetingSession, form.session_id.data),
                    area_ids=list(form.area_ids.data or []),
                    kind=StatementKind(form.kind.data),
                    language=Language(form.language.data),
                    delivered_on=form.delivered_on.data,
                    panel_id=None if form.panel_id.data in (None, NO_PANEL) else form.panel_id.data,
                    stream=upload.stream,
                    filename=upload.filename or "",
                    store=get_store(),
                    max_bytes=current_app.config["PORTAL_MAX_UPLOAD_BYTES"],
                )
                db.session.commit()
            except PortalError as exc:
                db.session.rollback()
                field = getattr(form, exc.field, None) if exc.field else None
                if field is not None:
                    field.errors = [*field.errors, exc.message]
                else:
                    form.form_errors.append(exc.message)
            else:
                flash(
                    f"Thank you. “{statement.title}” was received as {statement.public_id} and awaits review "
                    "by the secretariat.",
                    "success",
                )
                return redirect(url_for("submit.mine"))
    return (
        render_template(
            "submit/new.html",
            form=form,
            accepted=ACCEPTED_DESCRIPTION,
            max_size=megabytes(current_app.config["PORTAL_MAX_UPLOAD_BYTES"]),
        ),
        status,
    )


@bp.get("/my/submissions")
@role_required(Role.SUBMITTER)
def mine() -> str:
    """The organisation's statements with their status."""
    statements = queries.organisation_statements(current_user.organisation_id)
    return render_template("submit/mine.html", statements=statements)
