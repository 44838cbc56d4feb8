"""Moderators: the review queue, the review page and decisions."""

from __future__ import annotations

from datetime import UTC

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from sqlalchemy.orm import selectinload

from portal import accounts, audit, queries, workflow
from portal.account.forms import ReasonForm
from portal.account.views import MEMBER_ACTIONS, member_decision
from portal.auth.views import safe_next
from portal.enums import MODERATORS, MembershipStatus, Role, StatementStatus
from portal.exceptions import ConflictError, PermissionDenied, PortalError, WorkflowError
from portal.forms import EmptyForm
from portal.extensions import db
from portal.filetypes import TEXT
from portal.moderate.forms import DecisionForm
from portal.models import Organisation, ReasonTemplate, Statement, User
from portal.permissions import role_required
from portal.storage import get_store

bp = Blueprint("moderate", __name__, url_prefix="/moderation")

PREVIEW_BYTES = 200_000
DONE = {
    "approve": "approved and published",
    "reject": "rejected",
    "request_changes": "changes requested from the submitter",
    "mark_duplicate": "marked as a duplicate",
    "unpublish": "unpublished",
    "republish": "published again",
    "approve_correction": "correction approved and published",
    "reject_correction": "correction rejected",
}


def _statement_or_404(public_id: str, *, for_update: bool = False) -> Statement:
    query = sa.select(Statement).where(Statement.public_id == public_id)
    if for_update:
        # A second moderator deciding the same item waits here until the first commits,
        # then sees the new status (PostgreSQL); the version counter covers SQLite.
        query = query.with_for_update()
    statement = db.session.scalar(query)
    if statement is None:
        abort(404)
    return statement


def _page_arg() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < int(raw) < 100_000 else 1


@bp.get("/")
@role_required(*MODERATORS)
def queue() -> str:
    """Statements awaiting review, oldest first."""
    per_page = current_app.config["PORTAL_PAGE_SIZE"]
    page = _page_arg()
    items, total = queries.moderation_queue(page, per_page)
    pages = max(1, -(-total // per_page))
    return render_template(
        "moderate/queue.html",
        items=items,
        total=total,
        page=page,
        pages=pages,
        counts=queries.status_counts(),
    )


def _decision_forms(statement: Statement) -> list[tuple[str, DecisionForm]]:
    templates = list(db.session.scalars(sa.select(ReasonTemplate).order_by(ReasonTemplate.label)))
    return [
        (action, DecisionForm(action, version=statement.version, templates=templates))
        for action in workflow.allowed_actions(statement, current_user)
    ]


def _render_review(statement: Statement, forms: list[tuple[str, DecisionForm]] | None = None, status: int = 200) -> tuple[str, int]:
    preview = None
    document = statement.document
    if document is not None and document.content_type == TEXT:
        with get_store().open(document.storage_key) as fh:
            preview = fh.read(PREVIEW_BYTES).decode("utf-8", errors="replace")
    history = db.session.scalars(audit.events_for(statement)).all()
    return (
        render_template(
            "moderate/review.html",
            statement=statement,
            forms=forms if forms is not None else _decision_forms(statement),
            preview=preview,
            preview_truncated=preview is not None and document is not None and document.size > PREVIEW_BYTES,
            version=statement.current_version,
            history=history,
        ),
        status,
    )


@bp.get("/<public_id>")
@role_required(*MODERATORS)
def review(public_id: str) -> tuple[str, int]:
    """Metadata, document and the decisions open to the moderator."""
    return _render_review(_statement_or_404(public_id))


@bp.post("/<public_id>/<action>")
@role_required(*MODERATORS)
def decide(public_id: str, action: str) -> Response | tuple[str, int]:
    """Apply one workflow action (approve, reject) to a statement."""
    transition = workflow.TRANSITIONS.get(action)
    if transition is None:
        abort(404)
    statement = _statement_or_404(public_id, for_update=True)
    templates = list(db.session.scalars(sa.select(ReasonTemplate).order_by(ReasonTemplate.label)))
    form = DecisionForm(action, version=statement.version, templates=templates)
    if not form.validate():
        others = _decision_forms(statement)
        if action not in dict(others):  # decided meanwhile: nothing to correct on a form
            db.session.rollback()
            flash(f"This statement is already {statement.status.label.lower()}. Nothing was changed.", "error")
            return redirect(url_for("moderate.review", public_id=public_id))
        forms = [(a, form if a == action else f) for a, f in others]
        return _render_review(statement, forms, 400)
    duplicate_of = None
    if action == "mark_duplicate" and form.duplicate_of.data:
        duplicate_of = db.session.scalar(
            sa.select(Statement).where(Statement.public_id == form.duplicate_of.data.strip().upper())
        )
        if duplicate_of is None:
            form.duplicate_of.errors = [f"There is no statement {form.duplicate_of.data.strip()!r}."]
            forms = [(a, form if a == action else f) for a, f in _decision_forms(statement)]
            return _render_review(statement, forms, 400)
    publish_at = form.publish_at.data.replace(tzinfo=UTC) if form.publish_at.data else None
    try:
        workflow.apply(
            statement,
            action,
            actor=current_user,
            note=form.note_text(),
            expected_version=form.version.data,
            duplicate_of=duplicate_of,
            publish_at=publish_at,
        )
    except (WorkflowError, ConflictError, PermissionDenied) as exc:
        db.session.rollback()
        if exc.field in ("note", "duplicate_of", "publish_at"):
            getattr(form, exc.field).errors = [exc.message]
            statement = _statement_or_404(public_id)
            forms = [(a, form if a == action else f) for a, f in _decision_forms(statement)]
            return _render_review(statement, forms, 400)
        flash(exc.message, "error")
        return redirect(url_for("moderate.review", public_id=public_id))
    db.session.commit()
    flash(f"“{statement.title}” ({statement.public_id}): {DONE.get(action, action)}.", "success")
    return redirect(url_for("moderate.queue"))


# --- memberships -------------------------------------------------------------------------


@bp.get("/members")
@role_required(*MODERATORS)
def members() -> str:
    """Membership requests awaiting approval, and focal points by organisation."""
    pending = list(db.session.scalars(accounts.pending_memberships().options(selectinload(User.organisation))))
    organisation = None
    approved: list[User] = []
    raw = request.args.get("organisation", "")
    if raw.isdigit():
        organisation = db.session.get(Organisation, int(raw))
        if organisation is None:
            abort(404)
        approved = list(
            db.session.scalars(
                sa.select(User)
                .where(User.organisation_id == organisation.id, User.membership == MembershipStatus.APPROVED)
                .order_by(User.name)
            )
        )
    return render_template(
        "moderate/members.html",
        pending=pending,
        organisation=organisation,
        approved=approved,
        reason_form=ReasonForm(formdata=None),
        button_form=EmptyForm(),
    )


@bp.post("/members/<int:user_id>/<action>")
@role_required(*MODERATORS)
def decide_member(user_id: int, action: str) -> Response:
    """Approve or reject a membership request, or remove a member."""
    member = db.session.get(User, user_id)
    if action not in MEMBER_ACTIONS or member is None or member.role is not Role.SUBMITTER:
        abort(404)
    back = request.form.get("back", "")
    return member_decision(member, action, back=safe_next(back) or url_for("moderate.members"))


@bp.post("/members/<int:user_id>/focal-point")
@role_required(*MODERATORS)
def focal_point(user_id: int) -> Response:
    """Make an approved member a focal point of their organisation, or stop."""
    member = db.session.get(User, user_id)
    if member is None or member.role is not Role.SUBMITTER:
        abort(404)
    form = EmptyForm()
    value = request.form.get("value") == "1"
    if form.validate_on_submit():
        try:
            accounts.set_focal_point(member, value, actor=current_user)
            db.session.commit()
        except PortalError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            flash(f"{member.name} is {'now' if value else 'no longer'} a focal point of {member.organisation.name}.", "success")
    return redirect(url_for("moderate.members", organisation=member.organisation_id))
