"""Moderators' own working state: claims on queue items, saved reasons, notification choices,
and one item of a bulk decision.

Claims are not status changes, so they do not go through workflow.apply; deciding does.
Takes the actor explicitly; audits and flushes; never commits.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app

from portal import audit, workflow
from portal.enums import StatementStatus
from portal.exceptions import ConflictError, PermissionDenied, ValidationError, WorkflowError
from portal.extensions import db
from portal.models import ReasonTemplate, Statement, User, utcnow

MAX_LABEL_LENGTH = 120
# The moves whose reason or message a saved reason can fill in.
REASON_ACTIONS = tuple(name for name, t in workflow.TRANSITIONS.items() if t.note_required and t.roles != workflow.SUBMITTERS)
# "Approve selected" and "Reject selected": the move for a new submission, and for a correction.
BULK_ACTIONS = {"approve": ("approve", "approve_correction"), "reject": ("reject", "reject_correction")}
BULK_MAX_ITEMS = 500


def _require_moderator(actor: User) -> None:
    if not actor.is_active or not actor.is_moderator:
        raise PermissionDenied("Only the secretariat's moderators can do this.")


def is_waiting(statement: Statement) -> bool:
    """Awaiting review, or published with a correction awaiting review."""
    return statement.status is StatementStatus.SUBMITTED or statement.pending_correction is not None


def load_for_update(public_id: str) -> Statement | None:
    """The statement, row-locked until the transaction ends (PostgreSQL; SQLite has the version
    counter), with its attributes read afresh rather than from the identity map."""
    return db.session.scalar(
        sa.select(Statement)
        .where(Statement.public_id == public_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


# --- claims ------------------------------------------------------------------------------------


def claim_conflict(statement: Statement, actor: User, now: datetime | None = None) -> str | None:
    """Why `actor` may not decide `statement` because another moderator holds it, or None.

    The same refusal as workflow.apply's, checked first so that a moderator whose page went
    stale because of the claim is told who holds it, not only that something changed.
    """
    now = now or utcnow()
    if not statement.is_claimed_by_other(actor, now):
        return None
    holder = statement.claimed_by.name if statement.claimed_by else "another moderator"
    return f"{holder} is reviewing this statement (claimed until {statement.claimed_until:%H:%M} UTC). Nothing was changed."


def claim(statement: Statement, *, actor: User, now: datetime | None = None) -> datetime:
    """Claim `statement` for `actor` for PORTAL_CLAIM_MINUTES (again: extends it); returns the expiry.

    An expired claim of another moderator is taken over. Audited as "claim". Flushes.
    Raises PermissionDenied for a non-moderator, WorkflowError for an item that waits for
    nobody, ConflictError while another moderator's claim runs.
    """
    _require_moderator(actor)
    now = now or utcnow()
    if not is_waiting(statement):
        raise WorkflowError(
            f"Only statements awaiting review can be claimed; this one is {statement.status.label.lower()}."
        )
    conflict = claim_conflict(statement, actor, now)
    if conflict:
        raise ConflictError(conflict.replace(" Nothing was changed.", " You cannot claim it until then."))
    previous = statement.claimed_by if statement.claimed_by_id not in (None, actor.id) else None
    until = now + timedelta(minutes=current_app.config["PORTAL_CLAIM_MINUTES"])
    statement.claimed_by, statement.claimed_until = actor, until
    db.session.flush()
    data: dict[str, object] = {"until": until.isoformat()}
    if previous is not None:
        data["expired_claim_of"] = previous.email
    audit.record(statement, actor=actor, action="claim", data=data)
    return until


def release(statement: Statement, *, actor: User, now: datetime | None = None) -> None:
    """End `actor`'s claim on `statement`. Audited as "release". Flushes.

    Raises WorkflowError when `actor` holds no running claim on it.
    """
    _require_moderator(actor)
    now = now or utcnow()
    if statement.claimed_by_id != actor.id or statement.claimed_until is None or statement.claimed_until <= now:
        raise WorkflowError("You hold no claim on this statement. Nothing was changed.")
    statement.claimed_by, statement.claimed_until = None, None
    db.session.flush()
    audit.record(statement, actor=actor, action="release")


# --- bulk decisions ---------------------------------------------------------------------------


def decide_item(
    public_id: str, expected_version: int | None, bulk_action: str, *, actor: User, note: str
) -> tuple[Statement, str]:
    """Decide one selected item of a bulk approval or rejection through workflow.apply; returns
    the statement and the move made ("approve_correction" for a correction...). Flushes.

    The row is locked first, so a concurrent decision on it waits, then is refused.
    Raises WorkflowError, PermissionDenied or ConflictError (changed since `expected_version`,
    or claimed by another moderator), with a message for the moderator.
    """
    statement = load_for_update(public_id)
    if statement is None:
        raise WorkflowError("There is no such statement.")
    conflict = claim_conflict(statement, actor)
    if conflict:
        raise ConflictError(conflict)
    new, correction = BULK_ACTIONS[bulk_action]
    action = correction if statement.pending_correction is not None else new
    workflow.apply(statement, action, actor=actor, note=note, expected_version=expected_version)
    return statement, action


# --- saved reasons -----------------------------------------------------------------------------


def reason_templates(action: str | None = None) -> list[ReasonTemplate]:
    """Saved reasons, for one move or all, by move then label."""
    query = sa.select(ReasonTemplate).order_by(ReasonTemplate.action, ReasonTemplate.label)
    if action is not None:
        query = query.where(ReasonTemplate.action == action)
    return list(db.session.scalars(query))


def add_reason_template(*, action: str, label: str, text: str, actor: User) -> ReasonTemplate:
    """Save a reason moderators can reuse for `action`. Audited. Flushes.

    Raises ValidationError naming the field (unknown move, empty or duplicate label, empty or long text).
    """
    _require_moderator(actor)
    if action not in REASON_ACTIONS:
        raise ValidationError("Choose the decision this reason is for from the list.", field="action")
    label = " ".join((label or "").split())
    text = (text or "").strip()
    if not label:
        raise ValidationError("Give the reason a short label.", field="label")
    if len(label) > MAX_LABEL_LENGTH:
        raise ValidationError(f"The label must be at most {MAX_LABEL_LENGTH} characters.", field="label")
    if not text:
        raise ValidationError("Write the text of the reason.", field="text")
    if len(text) > workflow.MAX_NOTE_LENGTH:
        raise ValidationError(f"The text must be at most {workflow.MAX_NOTE_LENGTH} characters.", field="text")
    clash = db.session.scalar(
        sa.select(ReasonTemplate.id).where(ReasonTemplate.action == action, sa.func.lower(ReasonTemplate.label) == label.lower())
    )
    if clash is not None:
        raise ValidationError(
            f"There is already a saved reason “{label}” for “{workflow.TRANSITIONS[action].label}”.", field="label"
        )
    template = ReasonTemplate(action=action, label=label, text=text, created_by_id=actor.id)
    db.session.add(template)
    db.session.flush()
    audit.record(template, actor=actor, action="reason_template.create", data={"action": action, "label": label})
    return template


def delete_reason_template(template: ReasonTemplate, *, actor: User) -> None:
    """Delete a saved reason (decisions that used it keep their text). Audited. Flushes."""
    _require_moderator(actor)
    audit.record(
        template,
        actor=actor,
        action="reason_template.delete",
        note=template.text,
        data={"action": template.action, "label": template.label},
    )
    db.session.delete(template)
    db.session.flush()


# --- notification choices ---------------------------------------------------------------------


def set_notification_choices(user: User, *, new_submissions: bool, daily_digest: bool, actor: User) -> bool:
    """Record a moderator's e-mail choices; returns whether anything changed. Audited when it did. Flushes."""
    _require_moderator(user)
    if actor.id != user.id:
        raise PermissionDenied("Moderators choose their own notifications.")
    before = {"new_submissions": user.notify_new_submissions, "daily_digest": user.daily_digest}
    after = {"new_submissions": new_submissions, "daily_digest": daily_digest}
    if before == after:
        return False
    user.notify_new_submissions, user.daily_digest = new_submissions, daily_digest
    db.session.flush()
    audit.record(user, actor=actor, action="user.notifications", data={"before": before, "after": after})
    return True
