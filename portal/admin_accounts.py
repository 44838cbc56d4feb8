"""What administrators do to other people's accounts: change role, deactivate, reactivate, reset 2FA.

Every change is audited with its old and new values. There is always at least one
active administrator: the last one can neither be demoted nor deactivated. Takes the
actor explicitly; never reads flask.request or flask_login. Flushes; never commits.
"""

from __future__ import annotations

import sqlalchemy as sa

from portal import audit
from portal.enums import MembershipStatus, OrganisationStatus, Role
from portal.exceptions import PermissionDenied, ValidationError, WorkflowError
from portal.extensions import db
from portal.models import AuditEvent, Organisation, RecoveryCode, User
from portal.models.users import new_session_token

MAX_NOTE_LENGTH = 5000


def change_role(user: User, role: Role, *, actor: User, organisation: Organisation | None = None) -> AuditEvent:
    """Give `user` another role.

    A submitter acts for an approved organisation: `organisation`, or the one they still
    have; the administrator vouches for the membership, so it is approved. Moderators and
    administrators act for the secretariat, not for an organisation: their organisation,
    membership and focal point flag are cleared (the old values are in the audit row).
    Flushes; never commits. Raises PermissionDenied (actor not an administrator),
    WorkflowError (same role; the last active administrator) or ValidationError (no
    approved organisation for a submitter; field "organisation_id").
    """
    _require_admin(actor)
    if role is user.role:
        raise WorkflowError(f"{user.name} is already {_article(role)} {role.label.lower()}. Nothing was changed.")
    if user.role is Role.ADMIN and user.active:
        _keep_one_admin(user, "demoted")
    before = _snapshot(user)
    if role is Role.SUBMITTER:
        target = organisation or user.organisation
        if target is None:
            raise ValidationError("Choose the organisation this person will submit for.", field="organisation_id")
        if target.status is not OrganisationStatus.APPROVED:
            raise ValidationError(
                f"“{target.name}” is {target.status.label.lower()}: choose an approved organisation.",
                field="organisation_id",
            )
        user.organisation = target
        user.membership = MembershipStatus.APPROVED
        user.membership_note = ""
    else:
        user.organisation = None
        user.membership = None
        user.membership_note = ""
        user.is_focal_point = False
    user.role = role
    db.session.flush()
    after = _snapshot(user)
    return audit.record(
        user,
        actor=actor,
        action="user.role",
        old=before["role"],
        new=after["role"],
        data={key: {"old": before[key], "new": after[key]} for key in before if before[key] != after[key]},
    )


def deactivate_user(user: User, *, actor: User, note: str = "") -> AuditEvent:
    """Deactivate an account and end all its sessions.

    Administrators cannot deactivate their own account (another administrator must), so
    the last active administrator always stays. Flushes; never commits. Raises
    PermissionDenied or WorkflowError (already inactive; one's own account).
    """
    _require_admin(actor)
    note = _note(note)
    if not user.active:
        raise WorkflowError(f"The account of {user.name} is already deactivated. Nothing was changed.")
    if user.id == actor.id:
        raise WorkflowError("You cannot deactivate your own account: ask another administrator. Nothing was changed.")
    if user.role is Role.ADMIN:
        _keep_one_admin(user, "deactivated")
    user.active = False
    user.session_token = new_session_token()  # signs them out everywhere, at their next request
    db.session.flush()
    return audit.record(
        user, actor=actor, action="user.deactivate", note=note, data={"active": {"old": True, "new": False}}
    )


def reactivate_user(user: User, *, actor: User, note: str = "") -> AuditEvent:
    """Let a deactivated account sign in again. Flushes; never commits. Raises PermissionDenied or WorkflowError."""
    _require_admin(actor)
    note = _note(note)
    if user.active:
        raise WorkflowError(f"The account of {user.name} is already active. Nothing was changed.")
    user.active = True
    db.session.flush()
    return audit.record(
        user, actor=actor, action="user.reactivate", note=note, data={"active": {"old": False, "new": True}}
    )


def reset_two_factor(user: User, *, actor: User) -> AuditEvent:
    """Remove the second factor of someone who lost it: secret, last code used, recovery codes.

    They sign in with their password next time and set up a new authenticator; their
    sessions end. An administrator cannot reset their own (that would let a stolen session
    remove the factor): another administrator must. Flushes; never commits. Raises
    PermissionDenied or WorkflowError (nothing to reset; one's own account).
    """
    _require_admin(actor)
    if user.id == actor.id:
        raise WorkflowError(
            "You cannot reset your own two-factor authentication here: ask another administrator. Nothing was changed."
        )
    codes = list(db.session.scalars(sa.select(RecoveryCode).where(RecoveryCode.user_id == user.id)))
    if user.totp_secret is None and user.totp_enabled_at is None and not codes:
        raise WorkflowError(f"{user.name} has no two-factor authentication to reset. Nothing was changed.")
    enabled_at = user.totp_enabled_at
    for code in codes:
        db.session.delete(code)
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_counter = None
    user.session_token = new_session_token()
    db.session.flush()
    # No secret, code or hash goes into the audit row: only what was there.
    return audit.record(
        user,
        actor=actor,
        action="user.reset_2fa",
        data={
            "two_factor_was_enabled": enabled_at is not None,
            "two_factor_enabled_since": enabled_at.isoformat() if enabled_at else None,
            "recovery_codes_removed": len(codes),
        },
    )


# --- helpers --------------------------------------------------------------------------------


def _require_admin(actor: User) -> None:
    if not actor.is_active or actor.role is not Role.ADMIN:
        raise PermissionDenied("Only administrators manage accounts.")


def _keep_one_admin(user: User, verb: str) -> None:
    """Refuse when `user` is the only active administrator.

    The active administrators' rows are locked (PostgreSQL), so two administrators
    demoting each other at the same moment cannot both succeed: the second waits for the
    first to commit, then counts again.
    """
    admins = db.session.scalars(
        sa.select(User.id).where(User.role == Role.ADMIN, User.active.is_(True)).order_by(User.id).with_for_update()
    ).all()
    if set(admins) <= {user.id}:
        raise WorkflowError(
            f"{user.name} is the last active administrator and cannot be {verb}: "
            "make someone else an administrator first. Nothing was changed."
        )


def _snapshot(user: User) -> dict[str, object]:
    return {
        "role": user.role.value,
        "organisation": user.organisation.name if user.organisation else None,
        "membership": user.membership.value if user.membership else None,
        "is_focal_point": user.is_focal_point,
    }


def _note(note: str) -> str:
    note = (note or "").strip()
    if len(note) > MAX_NOTE_LENGTH:
        raise ValidationError(f"The note must be at most {MAX_NOTE_LENGTH} characters.", field="note")
    return note


def _article(role: Role) -> str:
    return "an" if role.value[0] in "aeiou" else "a"
