"""The moderation state machine: the only writer of Statement.status.

TRANSITIONS is the single table of allowed moves; it also drives the buttons
shown (`allowed_actions`) and the tests. Takes the actor as an argument; never
imports flask.request, flask_login or a blueprint. Flushes; never commits.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm.exc import StaleDataError

from portal import audit
from portal.enums import MODERATORS, Role, StatementStatus
from portal.exceptions import ConflictError, PermissionDenied, WorkflowError
from portal.extensions import db
from portal.models import AuditEvent, Statement, User, utcnow

S = StatementStatus


@dataclass(frozen=True)
class Transition:
    source: frozenset[StatementStatus]
    target: StatementStatus
    roles: frozenset[Role]
    label: str
    note_required: bool = False
    note_label: str = "Note"


TRANSITIONS: dict[str, Transition] = {
    "approve": Transition(frozenset({S.SUBMITTED}), S.APPROVED, MODERATORS, "Approve"),
    "reject": Transition(
        frozenset({S.SUBMITTED}), S.REJECTED, MODERATORS, "Reject", note_required=True, note_label="Reason"
    ),
}

MAX_NOTE_LENGTH = 5000


def allowed_actions(statement: Statement, actor: User) -> list[str]:
    """The actions `actor` may take on `statement` now, in table order."""
    return [
        name
        for name, t in TRANSITIONS.items()
        if statement.status in t.source and actor.is_active and actor.role in t.roles
    ]


def apply(
    statement: Statement,
    action: str,
    *,
    actor: User,
    note: str = "",
    expected_version: int | None = None,
) -> AuditEvent:
    """Move `statement` along `action` and audit it.

    Side effects: sets status, decided_at/by, decision_note, and published_at on
    approval; bumps the version; writes one audit row. Flushes; never commits.
    Raises WorkflowError for a move the table does not allow from the current state,
    PermissionDenied for a role the move is not open to, ConflictError when the
    statement changed since the actor saw it (`expected_version`) or concurrently.
    """
    transition = TRANSITIONS.get(action)
    if transition is None:
        raise WorkflowError(f"Unknown action {action!r}.")
    if not actor.is_active or actor.role not in transition.roles:
        raise PermissionDenied(f"You are not allowed to {action} statements.")
    if expected_version is not None and expected_version != statement.version:
        raise ConflictError(
            "This statement changed after you opened it "
            f"(it is now {statement.status.label.lower()}). Nothing was changed; please review it again."
        )
    if statement.status not in transition.source:
        raise WorkflowError(
            f"This statement cannot be {transition.target.value} because it is already "
            f"{statement.status.label.lower()}. Nothing was changed."
        )
    note = (note or "").strip()
    if transition.note_required and not note:
        raise WorkflowError(f"{transition.note_label} is required to {action} a statement.", field="note")
    if len(note) > MAX_NOTE_LENGTH:
        raise WorkflowError(f"{transition.note_label} must be at most {MAX_NOTE_LENGTH} characters.", field="note")

    previous = statement.status
    now = utcnow()
    statement.status = transition.target
    statement.decided_at = now
    statement.decided_by = actor
    statement.decision_note = note or None
    if transition.target is S.APPROVED:
        statement.published_at = now
    try:
        db.session.flush()
    except StaleDataError:
        raise ConflictError(
            "Another moderator decided this statement at the same moment. Nothing was changed; "
            "please review it again."
        ) from None
    return audit.record(statement, actor=actor, action=action, old=previous.value, new=statement.status.value, note=note)
