"""Submitters: submit a statement (or save a draft), list their organisation's submissions,
and act on their organisation's statements (submit, resubmit, withdraw, new versions)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from portal import operations, queries, workflow
from portal.enums import FileRole, Language, Role, StatementKind, StatementStatus
from portal.exceptions import ConflictError, PortalError
from portal.extensions import db
from portal.filetypes import ACCEPTED_DESCRIPTION
from portal.models import MeetingSession, Organisation, Statement, utcnow
from portal.permissions import can_submit, own_statement_or_404, role_required, submit_blockers
from portal.public.views import SUBMITTER_ACTIONS, render_statement
from portal.storage import get_store, megabytes
from portal.submit.forms import NO_PANEL, AdditionForm, CorrectionForm, StatementActionForm, StatementForm

bp = Blueprint("submit", __name__)

DONE = {
    "submit": "submitted for review by the secretariat",
    "resubmit": "resubmitted for review by the secretariat",
    "withdraw": "withdrawn; it will not be reviewed",
}


def _partners() -> list[Organisation]:
    """Organisations a statement can be delivered on behalf of or co-signed by: approved ones, not the author's."""
    return [o for o in queries.approved_organisations() if o.id != current_user.organisation_id]


@bp.route("/submit", methods=["GET", "POST"])
@role_required(Role.SUBMITTER)
def new() -> str | Response | tuple[str, int]:
    """The submission form: submit for review, or save as a draft."""
    if not can_submit(current_user):
        return render_template("submit/blocked.html", blockers=submit_blockers(current_user)), 403
    sessions = queries.open_sessions(utcnow())
    form = StatementForm(sessions=sessions, organisations=_partners())
    status = 200
    if form.is_submitted():
        status = 400
        if form.validate():
            upload = form.document.data
            extra_files = [
                operations.Upload(f.stream, f.filename or "", language, role, field=f"extra{n}_document")
                for n, f, language, role in form.extra_files()
            ]
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
                    draft=form.is_draft,
                    extra_files=extra_files,
                    on_behalf_of_ids=list(form.on_behalf_of_ids.data or []),
                    cosignatory_ids=list(form.cosignatory_ids.data or []),
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
                if statement.status is StatementStatus.DRAFT:
                    flash(
                        f"“{statement.title}” was saved as a draft ({statement.public_id}). It is not sent to the "
                        "secretariat until you submit it for review, below.",
                        "success",
                    )
                    return redirect(url_for("public.statement", public_id=statement.public_id))
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
    """The organisation's statements with their status (for its approved members only)."""
    if not current_user.is_approved_member:
        # Naming an organisation at registration does not show its unpublished work.
        return render_template("submit/mine.html", statements=[], blockers=submit_blockers(current_user))
    statements = queries.organisation_statements(current_user.organisation_id)
    return render_template("submit/mine.html", statements=statements, blockers=[])


def _back(public_id: str) -> Response:
    return redirect(url_for("public.statement", public_id=public_id))


@bp.post("/my/statements/<public_id>/versions")
@role_required(Role.SUBMITTER)
def upload_correction(public_id: str) -> Response | tuple[str, int]:
    """A new version of the document: replaces a draft or a pending version, answers a change
    request, or corrects a published statement (the correction goes to review)."""
    statement = own_statement_or_404(public_id, current_user, for_update=True)
    form = CorrectionForm(prefix="correction")
    if form.validate():
        upload = form.document.data
        uploads = [operations.Upload(upload.stream, upload.filename or "", Language(form.language.data), FileRole.ORIGINAL)]
        response = _upload(statement, form, uploads, note=form.note.data or "", keep=bool(form.keep_other_files.data))
        if response is not None:
            return response
    return render_statement(statement, correction_form=form, status=400)


@bp.post("/my/statements/<public_id>/files")
@role_required(Role.SUBMITTER)
def add_file(public_id: str) -> Response | tuple[str, int]:
    """A translation or an annex, as a new version that keeps the other files."""
    statement = own_statement_or_404(public_id, current_user, for_update=True)
    form = AdditionForm(prefix="addition")
    if form.validate():
        upload = form.document.data
        uploads = [
            operations.Upload(upload.stream, upload.filename or "", Language(form.language.data), FileRole(form.role.data))
        ]
        response = _upload(statement, form, uploads, note="", keep=True)
        if response is not None:
            return response
    return render_statement(statement, addition_form=form, status=400)


def _upload(
    statement: Statement, form: CorrectionForm | AdditionForm, uploads: list[operations.Upload], *, note: str, keep: bool
) -> Response | None:
    """Run upload_version and commit; a redirect when done or stale, None (errors on `form`) otherwise."""
    public_id = statement.public_id
    try:
        version = operations.upload_version(
            statement,
            author=current_user,
            uploads=uploads,
            note=note,
            store=get_store(),
            max_bytes=current_app.config["PORTAL_MAX_UPLOAD_BYTES"],
            keep_other_files=keep,
            expected_version=form.version.data,
        )
        db.session.commit()
    except ConflictError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return _back(public_id)
    except PortalError as exc:
        db.session.rollback()
        field = getattr(form, exc.field, None) if exc.field else None
        if field is not None:
            field.errors = [*field.errors, exc.message]
        else:
            form.form_errors.append(exc.message)
        return None
    flash(_uploaded_message(statement, version.number), "success")
    return _back(public_id)


def _uploaded_message(statement: Statement, number: int) -> str:
    if statement.status is StatementStatus.APPROVED:
        return (
            f"Your correction (version {number}) awaits review by the secretariat. "
            "The published version stays public until the correction is approved."
        )
    if statement.status is StatementStatus.SUBMITTED:
        return f"Version {number} replaces the version awaiting review; the statement keeps its place in the queue."
    if statement.status is StatementStatus.CHANGES_REQUESTED:
        return f"Version {number} was saved. Resubmit the statement for review when it is ready."
    return f"Version {number} was saved. Submit the draft for review when it is ready."


@bp.post("/my/statements/<public_id>/<action>")
@role_required(Role.SUBMITTER)
def act(public_id: str, action: str) -> Response:
    """Submit a draft, resubmit after changes were requested, or withdraw before a decision."""
    if action not in SUBMITTER_ACTIONS:
        abort(404)
    statement = own_statement_or_404(public_id, current_user, for_update=True)
    form = StatementActionForm()
    if not form.validate():
        flash("The form was incomplete. Nothing was changed; please try again.", "error")
        return _back(public_id)
    try:
        workflow.apply(statement, action, actor=current_user, expected_version=form.version.data)
    except PortalError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return _back(public_id)
    db.session.commit()
    flash(f"“{statement.title}” ({statement.public_id}) was {DONE[action]}.", "success")
    return _back(public_id)
