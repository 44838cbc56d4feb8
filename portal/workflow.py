"""The statement lifecycle: the only writer of Statement.status and of version statuses.

TRANSITIONS is the single table of allowed moves; it also drives the buttons shown
(`allowed_actions`) and the tests. Takes the actor as an argument; never imports
flask.request, flask_login or a blueprint. Flushes; never commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm.exc import StaleDataError

from portal import audit, notifications, search
from portal.enums import MODERATORS, Role, StatementStatus, VersionStatus
from portal.exceptions import ConflictError, PermissionDenied, WorkflowError
from portal.extensions import db
from portal.models import AuditEvent, Statement, User, utcnow

S = StatementStatus
V = VersionStatus
SUBMITTERS = frozenset({Role.SUBMITTER})


@dataclass(frozen=True)
class Transition:
    source: frozenset[StatementStatus]
    target: StatementStatus
    roles: frozenset[Role]
    label: str
    note_required: bool = False
    note_label: str = "Note"
    # Moves on a published statement's pending correction (the statement stays published).
    correction: bool = False
    # The moderator moves are refused while another moderator holds a claim.
    decision: bool = False


TRANSITIONS: dict[str, Transition] = {
    "submit": Transition(frozenset({S.DRAFT}), S.SUBMITTED, SUBMITTERS, "Submit for review"),
    "resubmit": Transition(frozenset({S.CHANGES_REQUESTED}), S.SUBMITTED, SUBMITTERS, "Resubmit for review"),
    "withdraw": Transition(frozenset({S.SUBMITTED, S.CHANGES_REQUESTED}), S.WITHDRAWN, SUBMITTERS, "Withdraw"),
    "approve": Transition(frozenset({S.SUBMITTED}), S.APPROVED, MODERATORS, "Approve", decision=True),
    "reject": Transition(
        frozenset({S.SUBMITTED}), S.REJECTED, MODERATORS, "Reject", note_required=True, note_label="Reason", decision=True
    ),
    "request_changes": Transition(
        frozenset({S.SUBMITTED}),
        S.CHANGES_REQUESTED,
        MODERATORS,
        "Request changes",
        note_required=True,
        note_label="Message to the submitter",
        decision=True,
    ),
    "mark_duplicate": Transition(frozenset({S.SUBMITTED}), S.DUPLICATE, MODERATORS, "Mark as duplicate", decision=True),
    "unpublish": Transition(
        frozenset({S.APPROVED}), S.UNPUBLISHED, MODERATORS, "Unpublish", note_required=True, note_label="Reason", decision=True
    ),
    "republish": Transition(frozenset({S.UNPUBLISHED}), S.APPROVED, MODERATORS, "Republish", decision=True),
    "approve_correction": Transition(
        frozenset({S.APPROVED}), S.APPROVED, MODERATORS, "Approve the correction", correction=True, decision=True
    ),
    "reject_correction": Transition(
        frozenset({S.APPROVED}),
        S.APPROVED,
        MODERATORS,
        "Reject the correction",
        note_required=True,
        note_label="Reason",
        correction=True,
        decision=True,
    ),
}

MAX_NOTE_LENGTH = 5000
# What each move does to the version under review.
_VERSION_TARGET = {
    "submit": V.SUBMITTED,
    "resubmit": V.SUBMITTED,
    "withdraw": None,
    "approve": V.APPROVED,
    "reject": V.REJECTED,
    "request_changes": None,
    "mark_duplicate": V.REJECTED,
    "approve_correction": V.APPROVED,
    "reject_correction": V.REJECTED,
}


def _may(actor: User, statement: Statement, transition: Transition) -> bool:
    if not actor.is_active or actor.role not in transition.roles:
        return False
    if transition.roles == SUBMITTERS:
        from portal.permissions import can_submit

        return actor.organisation_id == statement.organisation_id and can_submit(actor)
    return True


def _applicable(statement: Statement, transition: Transition) -> bool:
    if statement.status not in transition.source:
        return False
    if transition.correction:
        return statement.pending_correction is not None
    if statement.status is S.APPROVED and transition.target is S.UNPUBLISHED:
        return statement.pending_correction is None  # decide the correction first
    return True


def allowed_actions(statement: Statement, actor: User, now: datetime | None = None) -> list[str]:
    """The actions `actor` may take on `statement` now, in table order."""
    now = now or utcnow()
    return [
        name
        for name, t in TRANSITIONS.items()
        if _applicable(statement, t)
        and _may(actor, statement, t)
        and not (t.decision and statement.is_claimed_by_other(actor, now))
    ]


def apply(
    statement: Statement,
    action: str,
    *,
    actor: User,
    note: str = "",
    expected_version: int | None = None,
    duplicate_of: Statement | None = None,
    publish_at: datetime | None = None,
) -> AuditEvent:
    """Move `statement` along `action` and audit it.

    Side effects: sets status; the version under review moves too (approved, rejected,
    submitted); decisions record decided_at/by and the note; approval sets published_at
    the first time and an optional embargo (`publish_at`); an approved correction sets
    corrected_at; a claim ends with the decision; the search index follows what is
    public. Bumps the version counter and writes one audit row. Flushes; never commits.
    Raises WorkflowError for a move the table does not allow from the current state or
    without its note, PermissionDenied for an actor the move is not open to,
    ConflictError when the statement changed since the actor saw it or concurrently,
    or while another moderator holds a claim on it.
    """
    transition = TRANSITIONS.get(action)
    if transition is None:
        raise WorkflowError(f"Unknown action {action!r}.")
    if not _may(actor, statement, transition):
        raise PermissionDenied(f"You are not allowed to {transition.label.lower()} this statement.")
    if expected_version is not None and expected_version != statement.version:
        raise ConflictError(
            "This statement changed after you opened it "
            f"(it is now {statement.status.label.lower()}). Nothing was changed; please review it again."
        )
    if not _applicable(statement, transition):
        if transition.correction:
            what = "has no correction awaiting review"
        elif statement.status in transition.source:
            what = "has a correction awaiting review; decide the correction first"
        else:
            what = f"is {statement.status.label.lower()}"
        raise WorkflowError(f"You cannot {transition.label.lower()} this statement because it {what}. Nothing was changed.")
    now = utcnow()
    if transition.decision and statement.is_claimed_by_other(actor, now):
        holder = statement.claimed_by.name if statement.claimed_by else "another moderator"
        raise ConflictError(
            f"{holder} is reviewing this statement (claimed until {statement.claimed_until:%H:%M} UTC). Nothing was changed."
        )
    note = (note or "").strip()
    if transition.note_required and not note:
        raise WorkflowError(f"{transition.note_label} is required to {transition.label.lower()}.", field="note")
    if len(note) > MAX_NOTE_LENGTH:
        raise WorkflowError(f"{transition.note_label} must be at most {MAX_NOTE_LENGTH} characters.", field="note")
    if action == "submit" and not statement.meeting_session.is_open(now):
        raise WorkflowError(
            f"{statement.meeting_session.label} no longer accepts submissions, so this draft cannot be submitted."
        )
    if action == "mark_duplicate":
        if duplicate_of is None:
            raise WorkflowError("Choose the statement this one duplicates.", field="duplicate_of")
        if duplicate_of.id == statement.id:
            raise WorkflowError("A statement cannot duplicate itself.", field="duplicate_of")
    if publish_at is not None and action not in ("approve", "republish"):
        raise WorkflowError("A publication time can only be set when publishing.", field="publish_at")

    version = statement.current_version
    previous = statement.status
    statement.status = transition.target
    if version is not None and _VERSION_TARGET.get(action) is not None:
        version.status = _VERSION_TARGET[action]
        if version.status is V.SUBMITTED:
            version.submitted_at = now
        else:
            version.decided_at, version.decided_by = now, actor
    if action in ("submit", "resubmit"):
        statement.submitted_at = now
    if transition.roles != SUBMITTERS:
        statement.decided_at = now
        statement.decided_by = actor
        statement.claimed_by, statement.claimed_until = None, None
        if not transition.correction:
            statement.decision_note = note or None
    if action in ("approve", "republish"):
        statement.published_at = statement.published_at or now
        statement.publish_at = publish_at
    if action == "approve_correction":
        statement.corrected_at = now
    if action == "mark_duplicate":
        statement.duplicate_of = duplicate_of
    try:
        db.session.flush()
    except StaleDataError:
        raise ConflictError(
            "Someone else changed this statement at the same moment. Nothing was changed; please review it again."
        ) from None
    if S.APPROVED in (previous, statement.status):  # what is public may have changed: keep the index in step
        search.index_statement(statement)
    if action in ("submit", "resubmit"):  # the moderators who asked hear that something waits
        notifications.statement_submitted(statement)
    data: dict[str, object] = {}
    if version is not None:
        data["version"] = version.number
    if duplicate_of is not None:
        data["duplicate_of"] = duplicate_of.public_id
    if publish_at is not None:
        data["publish_at"] = publish_at.isoformat()
    return audit.record(
        statement, actor=actor, action=action, old=previous.value, new=statement.status.value, note=note, data=data
    )
