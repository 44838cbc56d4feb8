"""Signing in and out."""

from __future__ import annotations

from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from werkzeug.security import check_password_hash
from werkzeug.wrappers import Response

from portal import accounts
from portal.auth.forms import LoginForm
from portal.extensions import db, limiter
from portal.forms import EmptyForm
from portal.models import User, normalise_email, utcnow
from portal.operations import hash_password
from portal.permissions import can_submit

bp = Blueprint("auth", __name__)

# Compared against when the address is unknown, so both cases take as long.
_DUMMY_HASH = hash_password("not-a-real-password-but-takes-as-long")


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
    return complete_sign_in(user, form.next.data)


@bp.post("/sign-out")
def logout() -> Response:
    """Sign out (a POST with a CSRF token, so no other site can sign you out)."""
    form = EmptyForm()
    if form.validate_on_submit() and current_user.is_authenticated:
        logout_user()
        flash("You are signed out.", "info")
    return redirect(url_for("public.index"))
