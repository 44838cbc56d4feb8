"""Organisation lifecycle: approve, reject or merge a proposed organisation; rename, deactivate, reactivate.

Owns every change of Organisation.status and name after creation. Each operation takes
its actor, checks role and state (`allowed_actions` says what is open to whom), changes,
audits and flushes; e-mail to the members is queued and leaves only after the caller
commits. Never commits; never reads flask.request or flask_login.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import url_for

from portal import audit, mail
from portal.enums import MODERATORS, MembershipStatus, OrganisationStatus, Role
from portal.exceptions import PermissionDenied, ValidationError, WorkflowError
from portal.extensions import db
from portal.models import (
    AuditEvent,
    Invitation,
    Organisation,
    Statement,
    User,
    statement_cosignatories,
    statement_on_behalf_of,
)
from portal.permissions import can_submit

O = OrganisationStatus
ADMINS = frozenset({Role.ADMIN})

MAX_NAME_LENGTH = 200  # Organisation.name is String(200)
# The joint-statement links to organisations, by the name the audit rows give them.
STATEMENT_LINKS = {"cosignatory": statement_cosignatories, "on_behalf_of": statement_on_behalf_of}
MAX_REASON_LENGTH = 5000


@dataclass(frozen=True)
class Action:
    """One thing that can be done to an organisation: from which states, by whom."""

    label: str  # the button
    source: frozenset[OrganisationStatus]
    roles: frozenset[Role]  # the roles that may ever do it (a view answers 403 to the others)
    past: str  # for messages: "“X” was approved."


# Order is the order of the forms on the organisation page.
ACTIONS: dict[str, Action] = {
    "approve": Action("Approve organisation", frozenset({O.PENDING}), MODERATORS, "approved"),
    "reject": Action("Reject organisation", frozenset({O.PENDING}), MODERATORS, "rejected"),
    # Moderators merge proposed organisations into known ones; merging two approved
    # organisations (duplicates in the reference data) is an administrator's call.
    "merge": Action("Merge organisation", frozenset({O.PENDING, O.APPROVED}), MODERATORS, "merged"),
    "rename": Action(
        "Rename organisation", frozenset({O.PENDING, O.APPROVED, O.INACTIVE, O.REJECTED}), ADMINS, "renamed"
    ),
    "deactivate": Action("Deactivate organisation", frozenset({O.APPROVED}), ADMINS, "deactivated"),
    "reactivate": Action("Reactivate organisation", frozenset({O.INACTIVE}), ADMINS, "reactivated"),
}


def may(actor: User, action: str, organisation: Organisation) -> bool:
    """Whether `actor`'s role allows `action` on `organisation`, whatever its state."""
    if not actor.is_active or actor.role not in ACTIONS[action].roles:
        return False
    if action == "merge" and organisation.status is O.APPROVED:
        return actor.role is Role.ADMIN
    return True


def allowed_actions(organisation: Organisation, actor: User) -> list[str]:
    """The actions `actor` may take on `organisation` now, in page order."""
    return [
        name
        for name, action in ACTIONS.items()
        if organisation.status in action.source and may(actor, name, organisation)
    ]


def merge_targets(organisation: Organisation) -> sa.Select[tuple[Organisation]]:
    """The organisations `organisation` may be merged into: approved ones other than itself, by name."""
    return (
        sa.select(Organisation)
        .where(Organisation.status == O.APPROVED, Organisation.id != organisation.id)
        .order_by(Organisation.name)
    )


# --- operations ------------------------------------------------------------------------------


def approve_organisation(organisation: Organisation, *, actor: User) -> AuditEvent:
    """Approve a proposed organisation, and the pending memberships of the people who proposed it.

    The moderator who approves a proposed organisation vouches for the people who registered
    with it, so their pending memberships are approved too (each audited as "membership.approve");
    they are e-mailed once the caller commits. Flushes; never commits. Raises PermissionDenied
    or WorkflowError (not pending).
    """
    _check(organisation, "approve", actor)
    previous = organisation.status
    organisation.status = O.APPROVED
    approved = _set_memberships(
        organisation,
        MembershipStatus.PENDING,
        MembershipStatus.APPROVED,
        actor=actor,
        action="membership.approve",
        because="organisation.approve",
    )
    event = audit.record(
        organisation,
        actor=actor,
        action="organisation.approve",
        old=previous.value,
        new=O.APPROVED.value,
        data={"members_approved": [u.email for u in approved]},
    )
    for user in approved:
        if user.active:
            _notify(user, "organisation_approved", organisation=organisation)
    return event


def reject_organisation(organisation: Organisation, *, actor: User, reason: str) -> AuditEvent:
    """Reject a proposed organisation with a reason its proposers are told.

    Keeps the reason in `status_note`; the pending memberships of its members are rejected
    with the same reason (each audited as "membership.reject"), and they are e-mailed once the
    caller commits. Flushes; never commits. Raises PermissionDenied, WorkflowError (not
    pending) or ValidationError (no reason, or too long; field "reason").
    """
    _check(organisation, "reject", actor)
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError(
            "A reason is required to reject an organisation; the person who proposed it will read it.", field="reason"
        )
    if len(reason) > MAX_REASON_LENGTH:
        raise ValidationError(f"The reason must be at most {MAX_REASON_LENGTH} characters.", field="reason")
    previous = organisation.status
    organisation.status = O.REJECTED
    organisation.status_note = reason
    rejected = _set_memberships(
        organisation,
        MembershipStatus.PENDING,
        MembershipStatus.REJECTED,
        actor=actor,
        action="membership.reject",
        because="organisation.reject",
        note=reason,
    )
    event = audit.record(
        organisation,
        actor=actor,
        action="organisation.reject",
        old=previous.value,
        new=O.REJECTED.value,
        note=reason,
        data={"members_rejected": [u.email for u in rejected]},
    )
    for user in rejected:
        if user.active:
            _notify(user, "organisation_rejected", organisation=organisation, reason=reason)
    return event


def rename_organisation(organisation: Organisation, *, actor: User, name: str) -> AuditEvent:
    """Rename an organisation. The new name must be unique, whatever its case.

    Flushes; never commits. Raises PermissionDenied, WorkflowError (a merged organisation)
    or ValidationError (field "name").
    """
    _check(organisation, "rename", actor)
    name = " ".join((name or "").split())
    if not name:
        raise ValidationError("Enter the new name of the organisation.", field="name")
    if len(name) > MAX_NAME_LENGTH:
        raise ValidationError(f"The name must be at most {MAX_NAME_LENGTH} characters.", field="name")
    if name == organisation.name:
        raise ValidationError(f"The organisation is already called “{name}”.", field="name")
    clash = db.session.scalar(
        sa.select(Organisation).where(sa.func.lower(Organisation.name) == name.lower(), Organisation.id != organisation.id)
    )
    if clash is not None:
        raise ValidationError(
            f"Another organisation is already called “{clash.name}” ({clash.status.label.lower()}). "
            "If they are the same organisation, merge them instead.",
            field="name",
        )
    previous = organisation.name
    organisation.name = name
    db.session.flush()
    return audit.record(organisation, actor=actor, action="organisation.rename", data={"name": {"old": previous, "new": name}})


def merge_organisation(source: Organisation, target: Organisation | None, *, actor: User) -> AuditEvent:
    """Merge `source` (proposed, or an approved duplicate) into the approved organisation `target`.

    Moves the source's members, statements, joint-statement links (co-signatory, on
    behalf of) and invitations to the target, points organisations merged earlier into
    the source at the target, and marks the source merged. Members keep their membership
    status: a pending proposer still needs to be accepted by the target's focal point or
    the secretariat. Audits the merge on both organisations and on each member and
    statement it touches; e-mails the members once the caller commits. Flushes; never commits. Raises PermissionDenied, WorkflowError (the
    source cannot be merged) or ValidationError (field "target_id": not an approved
    organisation, or the source itself).
    """
    _check(source, "merge", actor)
    if target is None or target.id == source.id:
        raise ValidationError("Choose another organisation to merge this one into.", field="target_id")
    if target.status is not O.APPROVED:
        raise ValidationError(
            f"“{target.name}” is {target.status.label.lower()}: an organisation can only be merged into an approved one.",
            field="target_id",
        )
    previous = source.status
    members = list(db.session.scalars(sa.select(User).where(User.organisation_id == source.id).order_by(User.id)))
    statements = list(
        db.session.scalars(sa.select(Statement).where(Statement.organisation_id == source.id).order_by(Statement.id))
    )
    invitations = list(db.session.scalars(sa.select(Invitation).where(Invitation.organisation_id == source.id)))
    earlier = list(db.session.scalars(sa.select(Organisation).where(Organisation.merged_into_id == source.id)))

    for user in members:
        user.organisation = target
    for statement in statements:
        statement.organisation = target
    for invitation in invitations:
        invitation.organisation = target
    for organisation in earlier:
        organisation.merged_into = target
    source.status = O.MERGED
    source.merged_into = target
    db.session.flush()
    links = _move_statement_links(source, target)

    change = {"old": source.name, "new": target.name}
    for user in members:
        audit.record(user, actor=actor, action="user.organisation", data={"organisation": change, "merge": source.id})
    changed: dict[int, dict[str, object]] = {s.id: {"organisation": change} for s in statements}
    for kind, statement_ids in links.items():
        for statement_id in statement_ids:
            changed.setdefault(statement_id, {})[kind] = change
    linked = {s.id: s for s in db.session.scalars(sa.select(Statement).where(Statement.id.in_(list(changed))))}
    for statement_id in sorted(changed):
        statement = linked[statement_id]
        db.session.expire(statement, ["cosignatories", "on_behalf_of"])  # changed below the ORM
        audit.record(statement, actor=actor, action="statement.organisation", data={**changed[statement_id], "merge": source.id})
    data = {
        "source": {"id": source.id, "name": source.name},
        "target": {"id": target.id, "name": target.name},
        "members": [u.email for u in members],
        "statements": [s.public_id for s in statements],
        "links": {kind: [linked[i].public_id for i in ids] for kind, ids in links.items()},
        "invitations": len(invitations),
        "repointed": [o.id for o in earlier],
    }
    audit.record(target, actor=actor, action="organisation.absorb", data=data)
    event = audit.record(source, actor=actor, action="organisation.merge", old=previous.value, new=O.MERGED.value, data=data)
    for user in members:
        if user.active:
            _notify(
                user,
                "organisation_merged",
                organisation=source,
                target=target,
                membership_pending=user.membership is MembershipStatus.PENDING,
            )
    return event


def deactivate_organisation(organisation: Organisation, *, actor: User, note: str = "") -> AuditEvent:
    """Deactivate an approved organisation: its members can no longer submit; its published statements stay.

    Flushes; never commits. Raises PermissionDenied or WorkflowError (not approved).
    """
    return _switch(organisation, "deactivate", O.INACTIVE, actor=actor, note=note)


def reactivate_organisation(organisation: Organisation, *, actor: User, note: str = "") -> AuditEvent:
    """Approve a deactivated organisation again. Flushes; never commits. Raises PermissionDenied or WorkflowError."""
    return _switch(organisation, "reactivate", O.APPROVED, actor=actor, note=note)


# --- helpers --------------------------------------------------------------------------------


def _check(organisation: Organisation, action: str, actor: User) -> None:
    spec = ACTIONS[action]
    if not may(actor, action, organisation):
        if action == "merge" and actor.role in spec.roles and actor.is_active:
            raise PermissionDenied("Only an administrator may merge an approved organisation into another.")
        raise PermissionDenied(f"You are not allowed to {action} organisations.")
    if organisation.status not in spec.source:
        raise WorkflowError(
            f"“{organisation.name}” cannot be {spec.past} because it is {organisation.status.label.lower()}. "
            "Nothing was changed."
        )


def _switch(organisation: Organisation, action: str, target: OrganisationStatus, *, actor: User, note: str) -> AuditEvent:
    _check(organisation, action, actor)
    note = (note or "").strip()
    if len(note) > MAX_REASON_LENGTH:
        raise ValidationError(f"The note must be at most {MAX_REASON_LENGTH} characters.", field="note")
    previous = organisation.status
    organisation.status = target
    db.session.flush()
    return audit.record(organisation, actor=actor, action=f"organisation.{action}", old=previous.value, new=target.value, note=note)


def _move_statement_links(source: Organisation, target: Organisation) -> dict[str, list[int]]:
    """Point the source's co-signatory and on-behalf-of links at the target; return the statement ids, by link.

    A statement linked to both keeps one link to the target.
    """
    moved = {}
    for kind, table in STATEMENT_LINKS.items():
        statement_ids = list(
            db.session.scalars(
                sa.select(table.c.statement_id).where(table.c.organisation_id == source.id).order_by(table.c.statement_id)
            )
        )
        if statement_ids:
            db.session.execute(
                sa.delete(table).where(
                    table.c.organisation_id == source.id,
                    table.c.statement_id.in_(
                        sa.select(table.c.statement_id).where(table.c.organisation_id == target.id).scalar_subquery()
                    ),
                )
            )
            db.session.execute(sa.update(table).where(table.c.organisation_id == source.id).values(organisation_id=target.id))
        moved[kind] = statement_ids
    return moved


def _set_memberships(
    organisation: Organisation,
    old: MembershipStatus,
    new: MembershipStatus,
    *,
    actor: User,
    action: str,
    because: str,
    note: str = "",
) -> list[User]:
    """Move the members of `organisation` whose membership is `old` to `new`, each audited; return them.

    The audit rows use portal.accounts' membership actions, so a person's history reads the
    same whichever way their membership was decided.
    """
    users = db.session.scalars(
        sa.select(User).where(User.organisation_id == organisation.id, User.membership == old).order_by(User.id)
    ).all()
    changed = []
    for user in users:
        user.membership = new
        user.membership_note = note
        db.session.flush()
        audit.record(
            user,
            actor=actor,
            action=action,
            old=old.value,
            new=new.value,
            note=note,
            data={"organisation": organisation.name, "because": because},
        )
        changed.append(user)
    return changed


def _notify(user: User, template: str, **context: object) -> None:
    """Queue an e-mail to `user` in their language; it leaves only if the transaction commits."""
    message = mail.render(
        template,
        to=user.email,
        lang=user.locale.value,
        user=user,
        can_submit_now=can_submit(user),
        sign_in_url=url_for("auth.login", _external=True),
        submit_url=url_for("submit.new", _external=True),
        account_url=url_for("account.status", _external=True),
        **context,
    )
    mail.queue(message)
