"""Accounts and trust: registration, e-mail verification, membership, invitations,
password reset and change, failed sign-ins.

Operations take their actor explicitly, audit, and flush; the edge commits. E-mails
are queued with portal.mail (notify, queue) and leave only after the commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app, url_for
from werkzeug.security import check_password_hash

from portal import audit, mail, tokens
from portal.enums import Language, MembershipStatus, OrganisationKind, OrganisationStatus, Role
from portal.exceptions import PermissionDenied, ValidationError, WorkflowError
from portal.extensions import db
from portal.models import Invitation, Organisation, User, normalise_email, utcnow
from portal.models.users import new_session_token
from portal.operations import check_email, hash_password
from portal.passwords import check_password_strength

# --- signing in -------------------------------------------------------------------------


def record_failed_sign_in(user: User, now: datetime) -> None:
    """Count a failed attempt; lock the account for a while after too many. Flushes."""
    user.failed_logins += 1
    threshold = current_app.config["PORTAL_LOCKOUT_THRESHOLD"]
    if user.failed_logins >= threshold:
        user.locked_until = now + timedelta(minutes=current_app.config["PORTAL_LOCKOUT_MINUTES"])
        user.failed_logins = 0
        audit.record(
            user, actor=None, action="user.lock", data={"until": user.locked_until.isoformat(), "after": threshold}
        )
    db.session.flush()


def record_sign_in(user: User, now: datetime) -> None:
    """A successful sign-in: reset the failure count. Flushes."""
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    db.session.flush()


def lock_message(user: User) -> str:
    until = user.locked_until
    assert until is not None
    return (
        "Too many failed sign-in attempts: for your security this account is locked until "
        f"{until:%H:%M} UTC. You can reset your password by e-mail to regain access sooner."
    )


# --- registration and verification ----------------------------------------------------------


@dataclass(frozen=True)
class OrganisationProposal:
    name: str
    kind: OrganisationKind
    website: str = ""
    country: str = ""


def register(
    *,
    name: str,
    email: str,
    password: str,
    locale: Language,
    organisation: Organisation | None,
    proposal: OrganisationProposal | None,
) -> User | None:
    """Register a submitter: unverified, membership pending. Does not commit.

    Either an approved `organisation` or a `proposal` for a new one (created pending).
    Sends the verification e-mail. If the address already has an account, creates
    nothing and e-mails its owner instead, returning None: the page says the same in
    both cases, so registration does not reveal who has an account.
    Raises ValidationError naming the field for bad input.
    """
    address = check_email(email)
    name = " ".join(name.split())
    if not name:
        raise ValidationError("Your name is required.", field="name")
    if len(name) > 200:
        raise ValidationError("The name must be at most 200 characters.", field="name")
    check_password_strength(password, user_inputs=(address, name))
    if (organisation is None) == (proposal is None):
        raise ValidationError(
            "Choose your organisation from the list, or choose “My organisation is not listed” and describe it.",
            field="organisation_id",
        )
    if organisation is not None and not organisation.is_approved:
        raise ValidationError("Choose an organisation from the list.", field="organisation_id")

    existing = db.session.scalar(sa.select(User).where(User.email == address))
    if existing is not None:
        mail.notify(
            existing,
            "account_exists",
            sign_in_url=url_for("auth.login", _external=True),
            reset_url=url_for("account.reset_request", _external=True),
        )
        return None

    if proposal is not None:
        organisation = propose_organisation(proposal)
    assert organisation is not None
    now = utcnow()
    user = User(
        email=address,
        name=name,
        password_hash=hash_password(password),
        role=Role.SUBMITTER,
        organisation=organisation,
        membership=MembershipStatus.PENDING,
        locale=locale,
        password_changed_at=now,
    )
    db.session.add(user)
    db.session.flush()
    audit.record(
        user,
        actor=user,
        action="user.register",
        new=MembershipStatus.PENDING.value,
        data={"organisation": organisation.name, "proposed_organisation": proposal is not None},
    )
    send_verification(user)
    _notify_focal_points_of_request(user)
    return user


def propose_organisation(proposal: OrganisationProposal) -> Organisation:
    """A new organisation, pending until a moderator decides. Flushes."""
    name = " ".join(proposal.name.split())
    if not name:
        raise ValidationError("Give the name of your organisation.", field="new_organisation_name")
    if len(name) > 200:
        raise ValidationError("The organisation name must be at most 200 characters.", field="new_organisation_name")
    clash = db.session.scalar(sa.select(Organisation).where(sa.func.lower(Organisation.name) == name.lower()))
    if clash is not None:
        if clash.is_approved:
            raise ValidationError(
                f"“{clash.name}” is already in the list: choose it there instead.", field="new_organisation_name"
            )
        raise ValidationError(
            f"“{clash.name}” has already been proposed and awaits the secretariat. Choose another name, or "
            "register once it has been approved.",
            field="new_organisation_name",
        )
    website = proposal.website.strip()
    if website and not website.startswith(("http://", "https://")):
        website = "https://" + website
    organisation = Organisation(
        name=name,
        kind=proposal.kind,
        status=OrganisationStatus.PENDING,
        website=website[:300],
        country=proposal.country.strip()[:100],
    )
    db.session.add(organisation)
    db.session.flush()
    audit.record(
        organisation,
        actor=None,
        action="organisation.propose",
        new=OrganisationStatus.PENDING.value,
        data={"kind": proposal.kind.value, "website": organisation.website, "country": organisation.country},
    )
    return organisation


def send_verification(user: User) -> None:
    """Queue the e-mail with the verification link (sent after commit)."""
    token = tokens.make(tokens.VERIFY_EMAIL, {"u": user.id, "e": user.email})
    mail.notify(
        user,
        "verify_email",
        url=url_for("account.verify", token=token, _external=True),
        hours=current_app.config["PORTAL_VERIFY_MAX_AGE"] // 3600,
    )


def verify_email(token: str) -> User:
    """Mark the address in a verification token as verified (idempotent). Does not commit.

    Raises TokenError when the link is expired or invalid, or the account changed address.
    """
    payload = tokens.load(tokens.VERIFY_EMAIL, token, max_age=current_app.config["PORTAL_VERIFY_MAX_AGE"])
    user = db.session.get(User, payload.get("u")) if isinstance(payload.get("u"), int) else None
    if user is None or user.email != payload.get("e") or not user.active:
        raise tokens.TokenError("This link is not valid for any account.")
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()
        db.session.flush()
        audit.record(user, actor=user, action="user.verify_email", data={"email": user.email})
    return user


# --- membership --------------------------------------------------------------------------------


def can_manage_members(actor: User, organisation: Organisation | None) -> bool:
    """Moderators, and approved focal points of `organisation`."""
    if not actor.is_active or organisation is None:
        return False
    if actor.is_moderator:
        return True
    return (
        actor.is_focal_point
        and actor.organisation_id == organisation.id
        and actor.is_approved_member
        and actor.is_verified
    )


def approve_membership(member: User, *, actor: User) -> None:
    """Pending (or rejected) → approved; e-mails the member. Does not commit."""
    _require_manager(actor, member)
    if member.membership is MembershipStatus.APPROVED:
        raise WorkflowError(f"{member.name} is already an approved member. Nothing was changed.")
    if member.membership is MembershipStatus.REMOVED and not actor.is_moderator:
        raise PermissionDenied("Only the secretariat can readmit a removed member.")
    _set_membership(member, MembershipStatus.APPROVED, actor=actor, action="membership.approve", note="")
    mail.notify(
        member,
        "membership_approved",
        organisation=member.organisation,
        can_submit_now=member.organisation is not None and member.organisation.is_approved and member.is_verified,
        submit_url=url_for("submit.new", _external=True),
        account_url=url_for("account.status", _external=True),
    )


def reject_membership(member: User, *, actor: User, reason: str) -> None:
    """Pending → rejected, with a reason the person is told. Does not commit."""
    _require_manager(actor, member)
    if member.membership is not MembershipStatus.PENDING:
        raise WorkflowError(f"Only pending requests can be rejected; {member.name} is {member.membership.label.lower()}.")
    _decide_with_reason(member, MembershipStatus.REJECTED, actor=actor, action="membership.reject", reason=reason)


def remove_member(member: User, *, actor: User, reason: str) -> None:
    """Approved → removed: the person can no longer submit for the organisation. Does not commit."""
    _require_manager(actor, member)
    if member.membership is not MembershipStatus.APPROVED:
        raise WorkflowError(f"Only approved members can be removed; {member.name} is {member.membership.label.lower()}.")
    if member.id == actor.id:
        raise WorkflowError("You cannot remove yourself; ask the secretariat or another focal point.")
    member.is_focal_point = False
    _decide_with_reason(member, MembershipStatus.REMOVED, actor=actor, action="membership.remove", reason=reason)


def set_focal_point(member: User, value: bool, *, actor: User) -> None:
    """Make an approved member a focal point of their organisation, or stop. Moderators only. Does not commit."""
    if not actor.is_moderator:
        raise PermissionDenied("Only the secretariat designates focal points.")
    if value and member.membership is not MembershipStatus.APPROVED:
        raise WorkflowError("Only approved members can be focal points.")
    if member.is_focal_point == value:
        return
    member.is_focal_point = value
    db.session.flush()
    audit.record(member, actor=actor, action="membership.focal_point", data={"focal_point": value})


def _require_manager(actor: User, member: User) -> None:
    if member.role is not Role.SUBMITTER or not can_manage_members(actor, member.organisation):
        raise PermissionDenied("You cannot manage the members of this organisation.")


def _decide_with_reason(member: User, status: MembershipStatus, *, actor: User, action: str, reason: str) -> None:
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError("A reason is required; the person will be told.", field="reason")
    if len(reason) > 2000:
        raise ValidationError("The reason must be at most 2000 characters.", field="reason")
    _set_membership(member, status, actor=actor, action=action, note=reason)
    mail.notify(member, f"membership_{status.value}", organisation=member.organisation, reason=reason)


def _set_membership(member: User, status: MembershipStatus, *, actor: User, action: str, note: str) -> None:
    previous = member.membership
    member.membership = status
    member.membership_note = note
    db.session.flush()
    audit.record(
        member,
        actor=actor,
        action=action,
        old=previous.value if previous else None,
        new=status.value,
        note=note,
        data={"organisation": member.organisation.name if member.organisation else None},
    )


def _notify_focal_points_of_request(member: User) -> None:
    if member.organisation is None:
        return
    focal_points = db.session.scalars(
        sa.select(User).where(
            User.organisation_id == member.organisation_id,
            User.is_focal_point.is_(True),
            User.active.is_(True),
            User.membership == MembershipStatus.APPROVED,
        )
    )
    for focal_point in focal_points:
        mail.notify(
            focal_point,
            "membership_request",
            member=member,
            organisation=member.organisation,
            url=url_for("account.organisation", _external=True),
        )


def pending_memberships() -> sa.Select[tuple[User]]:
    """Submitters waiting for approval, oldest first."""
    return (
        sa.select(User)
        .where(User.role == Role.SUBMITTER, User.membership == MembershipStatus.PENDING, User.active.is_(True))
        .order_by(User.created_at, User.id)
    )


# --- invitations ----------------------------------------------------------------------------


def invite(*, email: str, actor: User) -> Invitation:
    """A focal point (or moderator) invites a colleague to their organisation. Does not commit."""
    organisation = actor.organisation
    if organisation is None or not can_manage_members(actor, organisation) or not organisation.is_approved:
        raise PermissionDenied("Only focal points of an approved organisation can invite colleagues.")
    address = check_email(email)
    existing = db.session.scalar(sa.select(User).where(User.email == address))
    if existing is not None:
        if existing.organisation_id == organisation.id:
            raise ValidationError(f"{address} is already a member of {organisation.name}.", field="email")
        raise ValidationError(
            f"{address} already has an account with another organisation; ask the secretariat to move it.",
            field="email",
        )
    now = utcnow()
    for old in db.session.scalars(
        sa.select(Invitation).where(
            Invitation.email == address,
            Invitation.organisation_id == organisation.id,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
        )
    ):
        old.revoked_at = now  # a new invitation replaces an older one
    invitation = Invitation(
        organisation=organisation,
        email=address,
        invited_by=actor,
        expires_at=now + timedelta(days=current_app.config["PORTAL_INVITATION_DAYS"]),
    )
    db.session.add(invitation)
    db.session.flush()
    audit.record(invitation, actor=actor, action="invitation.create", data={"email": address, "organisation": organisation.name})
    token = tokens.make(tokens.INVITATION, {"i": invitation.id, "e": address})
    mail.queue(
        mail.render(
            "invitation",
            to=address,
            lang=actor.locale.value,
            inviter=actor,
            organisation=organisation,
            url=url_for("account.accept_invitation", token=token, _external=True),
            days=current_app.config["PORTAL_INVITATION_DAYS"],
            expires_at=invitation.expires_at,
        )
    )
    return invitation


def revoke_invitation(invitation: Invitation, *, actor: User) -> None:
    if not can_manage_members(actor, invitation.organisation):
        raise PermissionDenied("You cannot manage the invitations of this organisation.")
    if invitation.accepted_at is not None or invitation.revoked_at is not None:
        raise WorkflowError("This invitation was already used or withdrawn.")
    invitation.revoked_at = utcnow()
    db.session.flush()
    audit.record(invitation, actor=actor, action="invitation.revoke", data={"email": invitation.email})


def invitation_from_token(token: str) -> Invitation:
    """The usable invitation a link points to. Raises TokenError otherwise."""
    max_age = current_app.config["PORTAL_INVITATION_DAYS"] * 24 * 3600
    payload = tokens.load(tokens.INVITATION, token, max_age=max_age)
    invitation = db.session.get(Invitation, payload.get("i")) if isinstance(payload.get("i"), int) else None
    if invitation is None or invitation.email != payload.get("e"):
        raise tokens.TokenError("This invitation link is not valid.")
    now = utcnow()
    if invitation.accepted_at is not None:
        raise tokens.TokenError("This invitation has already been accepted. Sign in with your account.")
    if invitation.revoked_at is not None:
        raise tokens.TokenError("This invitation was withdrawn. Ask your focal point for a new one.")
    if now >= invitation.expires_at:
        raise tokens.TokenError("This invitation has expired. Ask your focal point for a new one.", expired=True)
    if not invitation.organisation.is_approved:
        raise tokens.TokenError("The organisation of this invitation is not active any more.")
    return invitation


def accept_invitation(invitation: Invitation, *, name: str, password: str, locale: Language) -> User:
    """Create the invited colleague's account: verified (they followed the e-mailed link) and
    approved (a focal point vouched for them). Does not commit."""
    now = utcnow()
    if not invitation.is_usable(now):
        raise WorkflowError("This invitation can no longer be used.")
    name = " ".join(name.split())
    if not name:
        raise ValidationError("Your name is required.", field="name")
    if db.session.scalar(sa.select(User.id).where(User.email == invitation.email)) is not None:
        raise ValidationError("An account with this address already exists. Sign in instead.", field="name")
    check_password_strength(password, user_inputs=(invitation.email, name))
    user = User(
        email=invitation.email,
        name=name[:200],
        password_hash=hash_password(password),
        role=Role.SUBMITTER,
        organisation=invitation.organisation,
        membership=MembershipStatus.APPROVED,
        locale=locale,
        email_verified_at=now,
        password_changed_at=now,
    )
    db.session.add(user)
    invitation.accepted_at = now
    db.session.flush()
    audit.record(
        user,
        actor=user,
        action="user.register",
        new=MembershipStatus.APPROVED.value,
        data={"organisation": invitation.organisation.name, "invitation": invitation.id, "invited_by": invitation.invited_by.email},
    )
    return user


# --- passwords ---------------------------------------------------------------------------------


def request_password_reset(email: str) -> None:
    """E-mail a reset link if an active account has this address; otherwise do nothing.

    The caller shows the same page either way (no user enumeration). Does not commit.
    """
    address = normalise_email(email)
    user = db.session.scalar(sa.select(User).where(User.email == address, User.active.is_(True)))
    if user is None:
        return
    token = tokens.make(tokens.RESET_PASSWORD, {"u": user.id, "p": tokens.fingerprint(user.password_hash)})
    mail.notify(
        user,
        "reset_password",
        url=url_for("account.reset_password", token=token, _external=True),
        minutes=current_app.config["PORTAL_RESET_MAX_AGE"] // 60,
    )
    audit.record(user, actor=None, action="user.reset_request")


def user_from_reset_token(token: str) -> User:
    """The account a reset link is for. Raises TokenError if expired, invalid or already used."""
    payload = tokens.load(tokens.RESET_PASSWORD, token, max_age=current_app.config["PORTAL_RESET_MAX_AGE"])
    user = db.session.get(User, payload.get("u")) if isinstance(payload.get("u"), int) else None
    if user is None or not user.active:
        raise tokens.TokenError("This link is not valid for any account.")
    if tokens.fingerprint(user.password_hash) != payload.get("p"):
        raise tokens.TokenError("This link has already been used. Request a new one if you need to.")
    return user


def reset_password(user: User, new_password: str) -> None:
    """Set a new password from a reset link: ends every session, lifts a lock. Does not commit."""
    _set_password(user, new_password, action="user.password_reset")
    user.failed_logins = 0
    user.locked_until = None
    if user.email_verified_at is None:
        user.email_verified_at = utcnow()  # they read a link sent to the address
    db.session.flush()


def change_password(user: User, *, current: str, new: str) -> None:
    """Change a password knowing the current one: ends every other session. Does not commit."""
    if not check_password_hash(user.password_hash, current):
        raise ValidationError("The current password is not correct.", field="current_password")
    if check_password_hash(user.password_hash, new):
        raise ValidationError("The new password must differ from the current one.", field="password")
    _set_password(user, new, action="user.password_change")


def _set_password(user: User, password: str, *, action: str) -> None:
    check_password_strength(password, user_inputs=(user.email, user.name))
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    user.session_token = new_session_token()  # signs out every existing session
    db.session.flush()
    audit.record(user, actor=user, action=action, data={"password": "changed"})
    mail.notify(
        user,
        "password_changed",
        reset_url=url_for("account.reset_request", _external=True),
    )
