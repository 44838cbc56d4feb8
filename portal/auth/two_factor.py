"""Two-factor authentication pages of one's account, and the rule that moderators have it.

Views on the `auth` blueprint (imported for its side effect by portal.auth.views):
set up with a QR code, turn on, regenerate recovery codes, turn off (submitters only).
"""

from __future__ import annotations

import segno
from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response

from portal import twofactor
from portal.auth.forms import DisableTwoFactorForm, EnableTwoFactorForm, RegenerateRecoveryCodesForm
from portal.auth.views import bp, home_for, two_factor_limit
from portal.exceptions import PortalError
from portal.extensions import db, limiter
from portal.forms import EmptyForm
from portal.models import utcnow

REQUIRED = (
    "Moderators and administrators must turn on two-factor authentication before they can continue. "
    "It takes a minute: you need an authenticator app on your phone."
)


@bp.before_app_request
def require_two_factor_for_moderators() -> Response | None:
    """Send a moderator or administrator without a second factor to set one up.

    Public pages, static files and this blueprint's own pages (sign-in, sign-out,
    two-factor set-up) stay open; every other request, GET or POST, is redirected
    before its view runs, so nothing is shown or changed.
    """
    endpoint = request.endpoint or ""
    if not endpoint or endpoint == "static" or endpoint.startswith(("public.", "auth.")):
        return None  # decided before loading the user, so static files cost no query
    if not current_user.is_authenticated or not current_user.is_moderator or current_user.has_two_factor:
        return None
    flash(REQUIRED, "error")
    return redirect(url_for("auth.two_factor"))


def _qr_code(uri: str) -> str:
    """The QR code of `uri` as an SVG data URI for an <img> (no inline script or style: CSP)."""
    return segno.make(uri, error="m").svg_data_uri(scale=5, dark="#000", light="#fff")


def _spaced(secret: str) -> str:
    """The key in groups of four, easier to type; authenticator apps ignore the spaces."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def _page(*, status: int = 200, **forms: FlaskForm) -> tuple[str, int]:
    user = current_user._get_current_object()
    secret = twofactor.pending_secret(user)
    context = {
        "setup_form": forms.get("setup_form") or EmptyForm(prefix="setup"),
        "enable_form": forms.get("enable_form") or EnableTwoFactorForm(prefix="enable", formdata=None),
        "regenerate_form": forms.get("regenerate_form") or RegenerateRecoveryCodesForm(prefix="regenerate", formdata=None),
        "disable_form": forms.get("disable_form") or DisableTwoFactorForm(prefix="disable", formdata=None),
        "secret": _spaced(secret) if secret else None,
        "qr_code": _qr_code(twofactor.provisioning_uri(user)) if secret else None,
        "codes_left": twofactor.recovery_codes_left(user) if user.has_two_factor else None,
    }
    return render_template("auth/two_factor.html", **context), status


def _codes_page(codes: list[str]) -> str:
    return render_template("auth/two_factor_codes.html", codes=codes, continue_url=home_for(current_user))


def _form_error(form: FlaskForm, exc: PortalError) -> None:
    field = getattr(form, exc.field, None) if exc.field else None
    if field is not None:
        field.errors.append(exc.message)
    else:
        flash(exc.message, "error")


@bp.get("/account/two-factor")
@login_required
def two_factor() -> tuple[str, int]:
    """Whether two-factor authentication is on; setting it up; managing it."""
    return _page()


@bp.post("/account/two-factor/setup")
@login_required
def two_factor_setup() -> Response | tuple[str, int]:
    """Create a new setup key (shown as a QR code) for the authenticator app."""
    form = EmptyForm(prefix="setup")
    if not form.validate_on_submit():
        return _page(status=400, setup_form=form)
    try:
        twofactor.begin_enrolment(current_user)
    except PortalError as exc:
        db.session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("auth.two_factor"))
    db.session.commit()
    return redirect(url_for("auth.two_factor"))


@bp.post("/account/two-factor/enable")
@login_required
@limiter.shared_limit(two_factor_limit, scope="two-factor", methods=["POST"])
def two_factor_enable() -> str | Response | tuple[str, int]:
    """Turn two-factor authentication on with a first code; show the recovery codes once."""
    form = EnableTwoFactorForm(prefix="enable")
    if not form.validate_on_submit():
        return _page(status=400, enable_form=form)
    try:
        codes = twofactor.confirm_enrolment(current_user, form.code.data, utcnow())
    except PortalError as exc:
        db.session.rollback()
        _form_error(form, exc)
        return _page(status=400, enable_form=form)
    db.session.commit()
    flash("Two-factor authentication is on. From now on you will be asked for a code when you sign in.", "success")
    # Rendered, not redirected: the codes must not wait in the session cookie for a next page.
    return _codes_page(codes)


@bp.post("/account/two-factor/recovery-codes")
@login_required
@limiter.shared_limit(two_factor_limit, scope="two-factor", methods=["POST"])
def two_factor_regenerate() -> str | tuple[str, int]:
    """Replace all recovery codes with new ones, after a current authentication code."""
    form = RegenerateRecoveryCodesForm(prefix="regenerate")
    if not form.validate_on_submit():
        return _page(status=400, regenerate_form=form)
    try:
        codes = twofactor.regenerate_recovery_codes(current_user, form.code.data, utcnow())
    except PortalError as exc:
        db.session.rollback()
        _form_error(form, exc)
        return _page(status=400, regenerate_form=form)
    db.session.commit()
    flash("New recovery codes were created. The old ones no longer work.", "success")
    return _codes_page(codes)


@bp.post("/account/two-factor/disable")
@login_required
@limiter.shared_limit(two_factor_limit, scope="two-factor", methods=["POST"])
def two_factor_disable() -> Response | tuple[str, int]:
    """Turn two-factor authentication off (submitters only), with password and a current code."""
    if current_user.is_moderator:
        abort(403)  # they must keep it; the operation refuses too
    form = DisableTwoFactorForm(prefix="disable")
    if not form.validate_on_submit():
        return _page(status=400, disable_form=form)
    try:
        twofactor.disable(current_user, password=form.password.data, code=form.code.data, now=utcnow())
    except PortalError as exc:
        db.session.rollback()
        _form_error(form, exc)
        return _page(status=400, disable_form=form)
    db.session.commit()
    flash("Two-factor authentication is off. You will sign in with your password only.", "success")
    return redirect(url_for("auth.two_factor"))
