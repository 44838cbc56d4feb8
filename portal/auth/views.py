"""Signing in and out."""

from __future__ import annotations

from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_user, logout_user
from werkzeug.security import check_password_hash
from werkzeug.wrappers import Response

from portal.auth.forms import LoginForm
from portal.extensions import db
from portal.forms import EmptyForm
from portal.models import User, normalise_email, utcnow
from portal.operations import hash_password

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
    return url_for("submit.mine")


@bp.route("/sign-in", methods=["GET", "POST"])
def login() -> str | Response | tuple[str, int]:
    """Sign in with e-mail address and password."""
    form = LoginForm()
    if request.method == "GET":
        form.next.data = safe_next(request.args.get("next")) or ""
        if current_user.is_authenticated:
            return redirect(safe_next(form.next.data) or home_for(current_user))
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form), 400 if request.method == "POST" else 200
    user = db.session.scalar(sa.select(User).where(User.email == normalise_email(form.email.data)))
    password_ok = check_password_hash(user.password_hash if user else _DUMMY_HASH, form.password.data)
    if user is None or not password_ok or not user.active:
        form.password.errors.append("The e-mail address or password is incorrect.")
        return render_template("auth/login.html", form=form), 400
    user.last_login_at = utcnow()
    db.session.commit()
    login_user(user)
    flash(f"Signed in as {user.name}.", "success")
    return redirect(safe_next(form.next.data) or home_for(user))


@bp.post("/sign-out")
def logout() -> Response:
    """Sign out (a POST with a CSRF token, so no other site can sign you out)."""
    form = EmptyForm()
    if form.validate_on_submit() and current_user.is_authenticated:
        logout_user()
        flash("You are signed out.", "info")
    return redirect(url_for("public.index"))
