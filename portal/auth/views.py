"""Signing in (password, then the second factor where one is on) and out."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user
from werkzeug.security import check_password_hash
from werkzeug.wrappers import Response

from portal import accounts, twofactor
from portal.auth.forms import LoginForm, RecoveryCodeForm, TwoFactorCodeForm
from portal.exceptions import ValidationError
from portal.extensions import db, limiter
from portal.forms import EmptyForm
from portal.models import User, normalise_email, utcnow
from portal.operations import hash_password
from portal.permissions import can_submit

bp = Blueprint("auth", __name__)

# Compared against when the address is unknown, so both cases take as long.
_DUMMY_HASH = hash_password("not-a-real-password-but-takes-as-long")

# Between the password and the second factor, the Flask session (signed, so not forgeable)
# remembers whose password was right, and when; it is not a signed-in session.
PENDING_KEY = "two_factor_pending"
PENDING_SECONDS = 5 * 60
EXPIRED = (
    "This sign-in has expired: the code has to be entered within 5 minutes of the password. "
    "Nothing was changed. Please sign in again."
)


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path on this site, else None (no open redirects)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


def home_for(user: User) -> str:
    if user.is_moderator:
        return url_for("moderate.queue")
    if not can_submit(user):
        return url_for("account.status")  # says what is still missing
    return url_for("submit.mine")


def sign_in_limit() -> str:
    return current_app.config["PORTAL_SIGN_IN_LIMIT"]


def complete_sign_in(user: User, next_url: str | None) -> Response:
    """Start the user's session (password, and second factor where enrolled, are checked)."""
    accounts.record_sign_in(user, utcnow())
    db.session.commit()
    login_user(user)
    flash(f"Signed in as {user.name}.", "success")
    return redirect(safe_next(next_url) or home_for(user))


@bp.route("/sign-in", methods=["GET", "POST"])
@limiter.limit(sign_in_limit, methods=["POST"])
def login() -> str | Response | tuple[str, int]:
    """Sign in with e-mail address and password."""
    form = LoginForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next")) or ""
        if current_user.is_authenticated:
            return redirect(safe_next(form.next.data) or home_for(current_user))
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form), 400 if request.method == "POST" else 200
    now = utcnow()
    user = db.session.scalar(sa.select(User).where(User.email == normalise_email(form.email.data)))
    if user is not None and user.is_locked(now):
        form.password.errors.append(accounts.lock_message(user))
        return render_template("auth/login.html", form=form), 429
    password_ok = check_password_hash(user.password_hash if user else _DUMMY_HASH, form.password.data)
    if user is None or not password_ok or not user.active:
        if user is not None and user.active:
            accounts.record_failed_sign_in(user, now)
            db.session.commit()
            if user.is_locked(now):
                form.password.errors.append(accounts.lock_message(user))
                return render_template("auth/login.html", form=form), 429
        form.password.errors.append("The e-mail address or password is incorrect.")
        return render_template("auth/login.html", form=form), 400
    if user.has_two_factor:
        # Not signed in yet: the failure count is reset only once the second factor is right too.
        session[PENDING_KEY] = {
            "user_id": user.id,
            "token": user.session_token,
            "next": safe_next(form.next.data) or "",
            "at": now.timestamp(),
        }
        return redirect(url_for("auth.two_factor_code"))
    return complete_sign_in(user, form.next.data)


# --- the second step: an authentication code or a recovery code ----------------------------


def two_factor_limit() -> str:
    return current_app.config["PORTAL_TWO_FACTOR_LIMIT"]


def _pending_user(now: datetime) -> User | None:
    """The user whose password was right in this browser in the last 5 minutes, if still valid.

    None once the marker is stale, or the account was deactivated, signed out everywhere
    (new session token) or lost its second factor in the meantime.
    """
    pending = session.get(PENDING_KEY)
    try:
        user_id, token, started = int(pending["user_id"]), str(pending["token"]), float(pending["at"])
    except (TypeError, KeyError, ValueError):
        return None
    if not 0 <= now.timestamp() - started <= PENDING_SECONDS:
        return None
    user = db.session.get(User, user_id)
    if user is None or not user.active or not user.has_two_factor:
        return None
    if not secrets.compare_digest(user.session_token, token):
        return None
    return user


def _second_step(
    form: TwoFactorCodeForm | RecoveryCodeForm, template: str, check: Callable[[User, str, datetime], None]
) -> str | Response | tuple[str, int]:
    """Finish signing in with the code `check` accepts; wrong codes count towards the lockout."""
    if current_user.is_authenticated:
        return redirect(home_for(current_user))
    now = utcnow()
    user = _pending_user(now)
    if user is None:
        had_pending = session.pop(PENDING_KEY, None) is not None
        if request.method == "GET":
            flash(EXPIRED if had_pending else "Sign in with your e-mail address and password first.", "info")
            return redirect(url_for("auth.login"))
        return render_template(template, form=form, ended=EXPIRED), 400
    if user.is_locked(now):
        session.pop(PENDING_KEY, None)
        return render_template(template, form=form, ended=accounts.lock_message(user)), 429
    if not form.validate_on_submit():
        return render_template(template, form=form), 400 if request.method == "POST" else 200
    try:
        check(user, form.code.data, now)
    except ValidationError as exc:
        db.session.rollback()
        accounts.record_failed_sign_in(user, now)
        db.session.commit()
        if user.is_locked(now):
            session.pop(PENDING_KEY, None)
            return render_template(template, form=form, ended=accounts.lock_message(user)), 429
        form.code.errors.append(exc.message)
        return render_template(template, form=form), 400
    next_url = session.pop(PENDING_KEY).get("next")
    return complete_sign_in(user, next_url)  # commits the spent code with the sign-in


@bp.route("/sign-in/code", methods=["GET", "POST"])
@limiter.shared_limit(two_factor_limit, scope="two-factor", methods=["POST"])
def two_factor_code() -> str | Response | tuple[str, int]:
    """Second step of signing in: the code from the authenticator app."""
    return _second_step(TwoFactorCodeForm(), "auth/two_factor_code.html", twofactor.verify_code)


@bp.route("/sign-in/recovery-code", methods=["GET", "POST"])
@limiter.shared_limit(two_factor_limit, scope="two-factor", methods=["POST"])
def two_factor_recovery() -> str | Response | tuple[str, int]:
    """Second step of signing in with a one-time recovery code instead of the app."""
    return _second_step(RecoveryCodeForm(), "auth/two_factor_recovery.html", twofactor.use_recovery_code)


@bp.post("/sign-out")
def logout() -> Response:
    """Sign out (a POST with a CSRF token, so no other site can sign you out)."""
    form = EmptyForm()
    if form.validate_on_submit() and current_user.is_authenticated:
        logout_user()
        flash("You are signed out.", "info")
    return redirect(url_for("public.index"))


# The two-factor pages of one's account and the moderators' rule live beside, on this blueprint.
from portal.auth import two_factor  # noqa: E402,F401
