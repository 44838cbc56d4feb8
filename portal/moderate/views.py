"""Moderators: the review queue, the review page and decisions."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from sqlalchemy.orm import selectinload

from portal import accounts, audit, moderation, notifications, queries, workflow
from portal.account.forms import ReasonForm
from portal.account.views import MEMBER_ACTIONS, member_decision
from portal.auth.views import safe_next
from portal.enums import MODERATORS, MembershipStatus, Role
from portal.exceptions import ConflictError, PermissionDenied, PortalError, WorkflowError
from portal.forms import EmptyForm
from portal.extensions import db
from portal.filetypes import TEXT
from portal.moderate.forms import (
    BulkDecisionForm,
    DecisionForm,
    NotificationSettingsForm,
    QueueFilterForm,
    ReasonTemplateForm,
)
from portal.models import MeetingSession, Organisation, ReasonTemplate, Statement, User, utcnow
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


def _queue_page(bulk_form: BulkDecisionForm | None = None, status: int = 200) -> tuple[str, int]:
    sessions = list(
        db.session.scalars(
            sa.select(MeetingSession).options(selectinload(MeetingSession.areas)).order_by(MeetingSession.number)
        )
    )
    page_size = current_app.config["PORTAL_PAGE_SIZE"]
    form = QueueFilterForm(request.args, sessions=sessions, page_size=page_size)
    filters_ok = form.validate()
    filters = form.filters() if filters_ok else queries.QueueFilter()
    per_page = form.per_page.data if filters_ok and form.per_page.data else page_size
    page = _page_arg()
    items, total = queries.moderation_queue(page, per_page, filters)
    pages = max(1, -(-total // per_page))
    if bulk_form is None:
        bulk_form = BulkDecisionForm(formdata=None, templates=moderation.reason_templates("reject"))
    now = utcnow()
    return (
        render_template(
            "moderate/queue.html",
            form=form,
            filters_ok=filters_ok,
            filters=filters,
            query_args=form.query_args() if filters_ok else {},
            items=items,
            total=total,
            page=page,
            pages=pages,
            counts=queries.queue_counts(),
            oldest=queries.oldest_waiting(filters),
            age=notifications.format_age,
            now=now,
            duplicates=queries.duplicate_candidates([i.statement for i in items]),
            bulk_form=bulk_form,
            select_all=request.args.get("select") == "all",
            selected={reference for reference, _ in bulk_form.selected()},
            narrowed=filters_ok and any(k not in ("status", "per_page") for k in form.query_args()),
            status_labels=queries.QUEUE_STATUS_LABELS,
        ),
        status,
    )


@bp.get("/")
@role_required(*MODERATORS)
def queue() -> tuple[str, int]:
    """What waits for review (or any status asked for), filtered, oldest first."""
    return _queue_page()


@bp.post("/bulk")
@role_required(*MODERATORS)
def bulk() -> tuple[str, int]:
    """Approve or reject the ticked items with one reason; report each one.

    Each item is its own unit of work: locked, decided through workflow.apply with the
    version the moderator saw, its e-mails queued, then committed on its own (or rolled
    back alone), so one item changed or claimed meanwhile never holds back the others and
    no lock outlives its item.
    """
    form = BulkDecisionForm(templates=moderation.reason_templates("reject"))
    if not form.validate():
        return _queue_page(form, 400)
    action, note = form.action or "approve", form.note_text()
    done: list[tuple[str, str, str]] = []  # (reference, title, what was done)
    failed: list[tuple[str, str, str]] = []  # (reference, title, why not)
    for reference, version in form.selected():
        try:
            statement, move = moderation.decide_item(reference, version, action, actor=current_user, note=note)
            notifications.statement_decided(statement, move, note)
            outcome = (statement.public_id, statement.title, DONE[move])
            db.session.commit()
        except PortalError as exc:
            db.session.rollback()
            known = db.session.scalar(sa.select(Statement.title).where(Statement.public_id == reference))
            failed.append((reference, known or "", exc.message))
        else:
            done.append(outcome)
    verb = "approved" if action == "approve" else "rejected"
    if done:
        flash(f"{len(done)} statement{'s' if len(done) != 1 else ''} {verb}.", "success")
    if failed:
        flash(f"{len(failed)} statement{'s' if len(failed) != 1 else ''} not changed: see below.", "error")
    return (
        render_template(
            "moderate/bulk_result.html", action=action, verb=verb, note=note, done=done, failed=failed
        ),
        200,
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
    now = utcnow()
    return (
        render_template(
            "moderate/review.html",
            statement=statement,
            claim_active=statement.claimed_until is not None and statement.claimed_until > now,
            claimed_by_other=statement.is_claimed_by_other(current_user, now),
            waiting=moderation.is_waiting(statement),
            button_form=EmptyForm(),
            duplicates=queries.duplicate_candidates([statement]).get(statement.id, []),
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
        if action not in dict(others):  # decided or claimed meanwhile: nothing to correct on a form
            conflict = moderation.claim_conflict(statement, current_user) if transition.decision else None
            db.session.rollback()
            flash(conflict or f"This statement is already {statement.status.label.lower()}. Nothing was changed.", "error")
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
    note = form.note_text()
    try:
        conflict = moderation.claim_conflict(statement, current_user) if transition.decision else None
        if conflict:
            raise ConflictError(conflict)
        workflow.apply(
            statement,
            action,
            actor=current_user,
            note=note,
            expected_version=form.version.data,
            duplicate_of=duplicate_of,
            publish_at=publish_at,
        )
        if action in notifications.DECISION_ACTIONS:
            notifications.statement_decided(statement, action, note)
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


@bp.post("/<public_id>/claim")
@role_required(*MODERATORS)
def claim(public_id: str) -> Response:
    """Claim a statement for PORTAL_CLAIM_MINUTES, so other moderators leave it to you."""
    return _claim_or_release(public_id, moderation.claim, "You are reviewing this statement until {until:%H:%M} UTC.")


@bp.post("/<public_id>/release")
@role_required(*MODERATORS)
def release(public_id: str) -> Response:
    """Give up one's claim on a statement."""
    return _claim_or_release(public_id, moderation.release, "You released your claim: other moderators can decide it.")


def _claim_or_release(public_id: str, operation: Any, message: str) -> Response:
    form = EmptyForm()
    if not form.validate():
        abort(400)
    statement = _statement_or_404(public_id, for_update=True)
    try:
        until = operation(statement, actor=current_user)
    except PortalError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        db.session.commit()
        flash(message.format(until=until), "success")
    return redirect(url_for("moderate.review", public_id=public_id))


# --- saved reasons and settings ---------------------------------------------------------------


@bp.route("/reasons", methods=["GET", "POST"])
@role_required(*MODERATORS)
def reasons() -> Response | tuple[str, int]:
    """Saved reasons: list, add."""
    form = ReasonTemplateForm()
    status = 200
    if form.is_submitted():
        status = 400
        if form.validate():
            try:
                template = moderation.add_reason_template(
                    action=form.action.data, label=form.label.data, text=form.text.data, actor=current_user
                )
            except PortalError as exc:
                db.session.rollback()
                field = getattr(form, exc.field, None) if exc.field else None
                if field is not None:
                    field.errors = [*field.errors, exc.message]
                else:
                    form.form_errors.append(exc.message)
            else:
                db.session.commit()
                flash(f"Saved the reason “{template.label}”.", "success")
                return redirect(url_for("moderate.reasons"))
    return (
        render_template(
            "moderate/reasons.html",
            form=form,
            templates=moderation.reason_templates(),
            transitions=workflow.TRANSITIONS,
            button_form=EmptyForm(),
        ),
        status,
    )


@bp.post("/reasons/<int:template_id>/delete")
@role_required(*MODERATORS)
def delete_reason(template_id: int) -> Response:
    """Delete a saved reason."""
    if not EmptyForm().validate():
        abort(400)
    template = db.session.get(ReasonTemplate, template_id)
    if template is None:
        abort(404)
    label = template.label
    moderation.delete_reason_template(template, actor=current_user)
    db.session.commit()
    flash(f"Deleted the saved reason “{label}”.", "success")
    return redirect(url_for("moderate.reasons"))


@bp.route("/settings", methods=["GET", "POST"])
@role_required(*MODERATORS)
def settings() -> Response | tuple[str, int]:
    """A moderator's e-mail notifications: each new submission, a daily digest."""
    form = NotificationSettingsForm(
        formdata=None if request.method == "GET" else request.form,
        data={"notify_new_submissions": current_user.notify_new_submissions, "daily_digest": current_user.daily_digest},
    )
    if request.method == "POST":
        if not form.validate():
            return render_template("moderate/settings.html", form=form), 400
        moderation.set_notification_choices(
            current_user,
            new_submissions=bool(form.notify_new_submissions.data),
            daily_digest=bool(form.daily_digest.data),
            actor=current_user,
        )
        db.session.commit()
        flash("Your notification settings are saved.", "success")
        return redirect(url_for("moderate.settings"))
    return render_template("moderate/settings.html", form=form), 200


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
