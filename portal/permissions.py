"""Who may see and do what: role gates for views, `can_*` predicates, `*_or_404` loaders.

Another organisation's unpublished statement is a 404, not a 403, so its existence
stays hidden.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import sqlalchemy as sa
from flask import abort
from flask_login import current_user

from portal.enums import MODERATORS, MembershipStatus, OrganisationStatus, Role, StatementStatus
from portal.extensions import db, login_manager
from portal.models import Statement, User

F = TypeVar("F", bound=Callable[..., Any])


def role_required(*roles: Role) -> Callable[[F], F]:
    """Gate a view: anonymous users are sent to sign in, other roles get 403."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            if current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator


def can_submit(user: User) -> bool:
    """Active, verified submitters whose membership and organisation are approved."""
    return user.is_active and user.role is Role.SUBMITTER and user.is_verified and user.is_approved_member


def submit_blockers(user: User) -> list[str]:
    """Why `user` cannot submit yet, in plain words (empty when they can)."""
    reasons = []
    if user.role is not Role.SUBMITTER:
        return ["Only submitters acting for an organisation submit statements."]
    if not user.is_verified:
        reasons.append("Your e-mail address is not verified yet: follow the link in the e-mail we sent you.")
    organisation = user.organisation
    if organisation is not None and organisation.status is not OrganisationStatus.APPROVED:
        reasons.append(
            f"Your organisation “{organisation.name}” is {organisation.status.label.lower()}: "
            "the secretariat checks every newly proposed organisation."
        )
    if user.membership is MembershipStatus.PENDING:
        reasons.append(
            f"Your membership of {organisation.name if organisation else 'your organisation'} awaits approval "
            "by the secretariat or by a focal point of your organisation."
        )
    elif user.membership in (MembershipStatus.REJECTED, MembershipStatus.REMOVED):
        note = f" Reason: {user.membership_note}" if user.membership_note else ""
        reasons.append(f"Your membership was {user.membership.value}.{note}")
    return reasons


def can_moderate(user: User) -> bool:
    return user.is_active and user.role in MODERATORS


def can_view_statement(user: User | None, statement: Statement) -> bool:
    """Published statements (past any embargo) are public; others only to their organisation and moderators."""
    if statement.is_public:
        return True
    if user is None or not user.is_authenticated:
        return False
    if can_moderate(user):
        return True
    return is_member_of_statement_organisation(user, statement)


def statement_for_user_or_404(public_id: str, user: User | None) -> Statement:
    """Load a statement by public id if `user` may see it, else abort with 404."""
    statement = db.session.scalar(sa.select(Statement).where(Statement.public_id == public_id))
    if statement is None or not can_view_statement(user, statement):
        abort(404)
    return statement


def own_statement_or_404(public_id: str, user: User, *, for_update: bool = False) -> Statement:
    """Load a statement of `user`'s organisation for a change by one of its members, else abort with 404.

    404, not 403, even for another organisation's published statement: these endpoints change
    things, and another organisation has nothing to change there. `for_update` locks the row
    (PostgreSQL) so a moderator's decision and the member's change happen one after the other.
    """
    query = sa.select(Statement).where(
        Statement.public_id == public_id,
        Statement.organisation_id == user.organisation_id,
    )
    if for_update:
        query = query.with_for_update()
    statement = db.session.scalar(query) if user.organisation_id is not None else None
    if statement is None or not is_member_of_statement_organisation(user, statement):
        abort(404)
    return statement


def is_member_of_statement_organisation(user: User | None, statement: Statement) -> bool:
    """An approved member of the statement's organisation: sees its unpublished statements, their
    newest versions and history. Naming the organisation at registration is not enough: pending,
    rejected and removed members are outsiders."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_active
        and user.organisation_id is not None
        and user.organisation_id == statement.organisation_id
        and user.is_approved_member
    )
