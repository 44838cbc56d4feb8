"""People's own accounts: registration, verification, password reset and change, the
status page, and the focal point's organisation page."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user
from werkzeug.wrappers import Response

from portal import accounts, queries
from portal.account.forms import (
    NOT_LISTED,
    ChangePasswordForm,
    InvitationAcceptForm,
    InviteForm,
    ReasonForm,
    RegistrationForm,
    ResetPasswordForm,
    ResetRequestForm,
)
from portal.enums import Language, OrganisationKind, Role
from portal.exceptions import PortalError
from portal.extensions import db, limiter
from portal.forms import EmptyForm
from portal.models import Invitation, Organisation, User, utcnow
from portal.passwords import RULES as PASSWORD_RULES
from portal.permissions import submit_blockers
from portal.tokens import TokenError

bp = Blueprint("account", __name__)


def _limit(name: str):  # noqa: ANN202 - a callable Flask-Limiter reads per request
    return lambda: current_app.config[name]


def _form_error(form: object, exc: PortalError) -> None:
    field = getattr(form, exc.field, None) if exc.field else None
    if field is not None and hasattr(field, "errors"):
        field.errors = [*field.errors, exc.message]
    else:
        form.form_errors.append(exc.message)  # type: ignore[attr-defined]



@bp.route("/register", methods=["GET", "POST"])
@limiter.limit(_limit("PORTAL_REGISTER_LIMIT"), methods=["POST"])
def register() -> str | Response | tuple[str, int]:
    """Self-registration for people acting for an organisation."""
    if current_user.is_authenticated:
        return redirect(url_for("account.status"))
    form = RegistrationForm(organisations=queries.approved_organisations())
    if not form.validate_on_submit():
        status = 400 if form.is_submitted() else 200
        return render_template("account/register.html", form=form, rules=PASSWORD_RULES), status
    organisation = None
    proposal = None
    if form.organisation_id.data == NOT_LISTED:
        proposal = accounts.OrganisationProposal(
            name=form.new_organisation_name.data or "",
            kind=OrganisationKind(form.new_organisation_kind.data),
            website=form.new_organisation_website.data or "",
            country=form.new_organisation_country.data or "",
        )
    else:
        organisation = db.session.get(Organisation, int(form.organisation_id.data))
    try:
        accounts.register(
            name=form.name.data or "",
            email=form.email.data or "",
            password=form.password.data or "",
            locale=Language(form.locale.data),
            organisation=organisation,
            proposal=proposal,
        )
        db.session.commit()
    except PortalError as exc:
        db.session.rollback()
        _form_error(form, exc)
        return render_template("account/register.html", form=form, rules=PASSWORD_RULES), 400
    # The same page whether or not the address already had an account (no enumeration).
    return render_template("account/registered.html", email=form.email.data.strip())


@bp.get("/verify/<token>")
def verify(token: str) -> str | tuple[str, int]:
    """Follow the link from the verification e-mail.

    A GET that writes, deliberately: the link is followed from a mail client, and
    marking an address verified is idempotent.
    """
    try:
        user = accounts.verify_email(token)
        db.session.commit()
    except TokenError as exc:
        db.session.rollback()
        return render_template("account/link_problem.html", message=exc.message, expired=exc.expired, resend=True), 400
    return render_template("account/verified.html", user=user)


@bp.post("/account/verify/resend")
@login_required
@limiter.limit(_limit("PORTAL_RESET_LIMIT"))
def resend_verification() -> Response:
    """Send the verification e-mail again."""
    if not current_user.is_verified:
        accounts.send_verification(current_user)
        db.session.commit()
        flash(f"We sent a new verification link to {current_user.email}.", "success")
    return redirect(url_for("account.status"))


@bp.get("/account")
@login_required
def status() -> str:
    """Where the signed-in person stands, and why they cannot submit yet."""
    return render_template(
        "account/status.html",
        blockers=submit_blockers(current_user) if current_user.role is Role.SUBMITTER else [],
        resend_form=EmptyForm(),
    )


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password() -> str | Response | tuple[str, int]:
    """Change one's password; other sessions end."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            accounts.change_password(current_user, current=form.current_password.data, new=form.password.data)
            db.session.commit()
        except PortalError as exc:
            db.session.rollback()
            _form_error(form, exc)
        else:
            login_user(current_user._get_current_object())  # this session goes on under the new token
            flash("Your password was changed. You were signed out everywhere else.", "success")
            return redirect(url_for("account.status"))
    return render_template("account/password.html", form=form, rules=PASSWORD_RULES), 400 if form.is_submitted() else 200


@bp.route("/reset-password", methods=["GET", "POST"])
@limiter.limit(_limit("PORTAL_RESET_LIMIT"), methods=["POST"])
def reset_request() -> str | tuple[str, int]:
    """Ask for a password reset link."""
    form = ResetRequestForm()
    if form.validate_on_submit():
        accounts.request_password_reset(form.email.data or "")
        db.session.commit()
        # The same answer whether or not the address has an account.
        return render_template("account/reset_sent.html", email=form.email.data.strip())
    return render_template("account/reset_request.html", form=form), 400 if form.is_submitted() else 200


@bp.route("/reset-password/<token>", methods=["GET", "POST"])
def reset_password(token: str) -> str | Response | tuple[str, int]:
    """Choose a new password from the e-mailed link."""
    try:
        user = accounts.user_from_reset_token(token)
    except TokenError as exc:
        return render_template("account/link_problem.html", message=exc.message, expired=exc.expired, reset=True), 400
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            accounts.reset_password(user, form.password.data)
            db.session.commit()
        except PortalError as exc:
            db.session.rollback()
            _form_error(form, exc)
        else:
            flash("Your password was changed and every session was signed out. Sign in with the new password.", "success")
            return redirect(url_for("auth.login"))
    return render_template("account/reset_password.html", form=form, rules=PASSWORD_RULES), 400 if form.is_submitted() else 200


@bp.route("/invitations/<token>", methods=["GET", "POST"])
def accept_invitation(token: str) -> str | Response | tuple[str, int]:
    """Create an account from a focal point's invitation."""
    try:
        invitation = accounts.invitation_from_token(token)
    except TokenError as exc:
        return render_template("account/link_problem.html", message=exc.message, expired=exc.expired), 400
    if current_user.is_authenticated:
        flash("Sign out first to accept an invitation for another address.", "info")
        return redirect(url_for("account.status"))
    form = InvitationAcceptForm()
    if form.validate_on_submit():
        try:
            user = accounts.accept_invitation(
                invitation, name=form.name.data, password=form.password.data, locale=Language(form.locale.data)
            )
            db.session.commit()
        except PortalError as exc:
            db.session.rollback()
            _form_error(form, exc)
        else:
            login_user(user)
            flash(f"Welcome, {user.name}. You can now submit statements for {invitation.organisation.name}.", "success")
            return redirect(url_for("submit.mine"))
    return (
        render_template("account/invitation.html", form=form, invitation=invitation, rules=PASSWORD_RULES),
        400 if form.is_submitted() else 200,
    )


# --- the focal point's organisation page ------------------------------------------------------


def _organisation_for_manager() -> Organisation:
    organisation = current_user.organisation
    if not accounts.can_manage_members(current_user, organisation):
        abort(403)
    return organisation


@bp.get("/organisation")
@login_required
def organisation() -> str:
    """Members, requests and invitations of the focal point's organisation."""
    org = _organisation_for_manager()
    members = list(
        db.session.scalars(sa.select(User).where(User.organisation_id == org.id).order_by(User.membership, User.name))
    )
    invitations = list(
        db.session.scalars(
            sa.select(Invitation)
            .where(Invitation.organisation_id == org.id, Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None))
            .order_by(Invitation.created_at.desc())
        )
    )
    return render_template(
        "account/organisation.html",
        organisation=org,
        members=members,
        invitations=invitations,
        now=utcnow(),
        invite_form=InviteForm(formdata=None),
        button_form=EmptyForm(),
        reason_form=ReasonForm(formdata=None),
        statements=queries.organisation_statements(org.id)[:10],
    )


@bp.post("/organisation/invite")
@login_required
def invite() -> Response | tuple[str, int]:
    """Invite a colleague by e-mail."""
    _organisation_for_manager()
    form = InviteForm()
    if form.validate_on_submit():
        try:
            invitation = accounts.invite(email=form.email.data, actor=current_user)
            db.session.commit()
        except PortalError as exc:
            db.session.rollback()
            flash(exc.message, "error")
        else:
            flash(f"Invitation sent to {invitation.email}.", "success")
    else:
        for errors in form.errors.values():
            for error in errors:
                flash(error, "error")
    return redirect(url_for("account.organisation"))


@bp.post("/organisation/invitations/<int:invitation_id>/revoke")
@login_required
def revoke_invitation(invitation_id: int) -> Response:
    """Withdraw an invitation not yet accepted."""
    org = _organisation_for_manager()
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None or invitation.organisation_id != org.id:
        abort(404)
    try:
        accounts.revoke_invitation(invitation, actor=current_user)
        db.session.commit()
    except PortalError as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        flash(f"The invitation to {invitation.email} was withdrawn.", "success")
    return redirect(url_for("account.organisation"))


MEMBER_ACTIONS = {"approve", "reject", "remove"}


def member_decision(member: User, action: str, *, back: str) -> Response:
    """Apply approve/reject/remove to `member` for the current user; shared with moderators."""
    form = ReasonForm()
    if not form.validate_on_submit():
        flash("The form was not valid; please try again.", "error")
        return redirect(back)
    try:
        if action == "approve":
            accounts.approve_membership(member, actor=current_user)
        elif action == "reject":
            accounts.reject_membership(member, actor=current_user, reason=form.reason.data or "")
        else:
            accounts.remove_member(member, actor=current_user, reason=form.reason.data or "")
        db.session.commit()
    except PortalError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(back)
    verb = {"approve": "approved", "reject": "rejected", "remove": "removed"}[action]
    flash(f"{member.name} ({member.email}) was {verb}; they have been told by e-mail.", "success")
    return redirect(back)


@bp.post("/organisation/members/<int:user_id>/<action>")
@login_required
def decide_member(user_id: int, action: str) -> Response:
    """A focal point approves, rejects or removes a member of their organisation."""
    org = _organisation_for_manager()
    member = db.session.get(User, user_id)
    if action not in MEMBER_ACTIONS or member is None or member.organisation_id != org.id:
        abort(404)
    return member_decision(member, action, back=url_for("account.organisation"))
