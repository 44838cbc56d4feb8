"""Second factors: authenticator-app codes (TOTP) and one-time recovery codes.

Owns User.totp_* and RecoveryCode rows. A secret waits in `users.totp_secret` with
`totp_enabled_at` NULL until the user proves their app works (`confirm_enrolment`).
Takes the user explicitly; never reads flask.request or flask_login. Audits with
secrets left out; flushes, never commits.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime

import pyotp
import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm.attributes import set_committed_value
from werkzeug.security import check_password_hash

from portal import audit
from portal.exceptions import PermissionDenied, ValidationError, WorkflowError
from portal.extensions import db
from portal.models import RecoveryCode, User

RECOVERY_CODE_COUNT = 10
# 32 symbols without 0/O and 1/I, so a code read aloud or from paper is not misread:
# 12 symbols carry 60 random bits.
RECOVERY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
RECOVERY_GROUPS, RECOVERY_GROUP_LENGTH = 3, 4

WRONG_CODE = "The authentication code is incorrect. Enter the 6-digit code your authenticator app shows now."
USED_CODE = "That code has already been used. Wait for your authenticator app to show a new code, then enter it."
WRONG_RECOVERY_CODE = "That recovery code is incorrect or has already been used."


# --- enrolment ------------------------------------------------------------------------------


def begin_enrolment(user: User) -> str:
    """Give `user` a new secret, pending until confirmed with a code from their app; return it.

    Replaces any earlier pending secret. Flushes; never commits. Raises WorkflowError
    when two-factor authentication is already on (turn it off first).
    """
    if user.has_two_factor:
        raise WorkflowError("Two-factor authentication is already on for your account.")
    user.totp_secret = pyotp.random_base32()
    user.totp_last_counter = None
    db.session.flush()
    return user.totp_secret


def pending_secret(user: User) -> str | None:
    """The secret waiting for confirmation, if enrolment has begun and not finished."""
    return user.totp_secret if not user.has_two_factor else None


def provisioning_uri(user: User) -> str:
    """The otpauth:// URI an authenticator app reads from the QR code."""
    if user.totp_secret is None:
        raise WorkflowError("Set up two-factor authentication first.")
    issuer = current_app.config["PORTAL_SITE_NAME"]
    return pyotp.TOTP(user.totp_secret).provisioning_uri(name=user.email, issuer_name=issuer)


def confirm_enrolment(user: User, code: str, now: datetime) -> list[str]:
    """Turn two-factor authentication on once `code` proves the app holds the pending secret.

    Returns the new recovery codes in plain text: the only time they exist outside the
    user's hands (only their hashes are stored). The confirming code cannot be used again.
    Flushes; never commits. Raises WorkflowError (no pending secret; already on) or
    ValidationError (wrong or used code; field "code").
    """
    if user.has_two_factor:
        raise WorkflowError("Two-factor authentication is already on for your account.")
    if user.totp_secret is None:
        raise WorkflowError("Set up two-factor authentication first: your setup key has not been created.")
    _accept_code(user, code, now)
    user.totp_enabled_at = now
    codes = _replace_recovery_codes(user, now)
    audit.record(user, actor=user, action="user.2fa_enable", data={"recovery_codes_issued": len(codes)})
    return codes


# --- codes ------------------------------------------------------------------------------------


def verify_code(user: User, code: str, now: datetime) -> None:
    """Accept an authentication code of `user`'s app, once: its time step is then spent.

    A code is accepted within PORTAL_TOTP_VALID_WINDOW steps of `now`, and only if its
    step is later than the last one accepted, so a code seen over someone's shoulder or
    replayed from a log is refused. Flushes; never commits. Raises ValidationError
    (field "code") or WorkflowError (two-factor authentication is off).
    """
    if not user.has_two_factor:
        raise WorkflowError("Two-factor authentication is not on for this account.")
    _accept_code(user, code, now)


def use_recovery_code(user: User, code: str, now: datetime) -> None:
    """Spend one of `user`'s recovery codes in place of an authentication code.

    Case, spaces and hyphens do not matter. Audited, with the number left. Flushes;
    never commits. Raises ValidationError (unknown or used code; field "code").
    """
    if not user.has_two_factor:
        raise WorkflowError("Two-factor authentication is not on for this account.")
    digest = _digest(normalise_recovery_code(code))
    unused = db.session.scalars(
        sa.select(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    ).all()
    match = next((row for row in unused if hmac.compare_digest(row.code_hash, digest)), None)
    if match is None:
        raise ValidationError(WRONG_RECOVERY_CODE, field="code")
    # Conditional, so two requests racing with the same code cannot both succeed.
    spent = db.session.execute(
        sa.update(RecoveryCode)
        .where(RecoveryCode.id == match.id, RecoveryCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:
        raise ValidationError(WRONG_RECOVERY_CODE, field="code")
    set_committed_value(match, "used_at", now)
    audit.record(user, actor=user, action="user.2fa_recovery_used", data={"recovery_codes_left": len(unused) - 1})


def regenerate_recovery_codes(user: User, code: str, now: datetime) -> list[str]:
    """Replace all of `user`'s recovery codes, used or not, after a current authentication code.

    Returns the new codes in plain text, once. Flushes; never commits. Raises
    ValidationError (field "code") or WorkflowError (two-factor authentication is off).
    """
    verify_code(user, code, now)
    codes = _replace_recovery_codes(user, now)
    audit.record(user, actor=user, action="user.2fa_recovery_regenerate", data={"recovery_codes_issued": len(codes)})
    return codes


def disable(user: User, *, password: str, code: str, now: datetime) -> None:
    """Turn two-factor authentication off: secret, last step and recovery codes are removed.

    Only submitters may; moderators and administrators must keep it. Needs the password
    and a current authentication code. Flushes; never commits. Raises PermissionDenied
    (moderators, administrators), WorkflowError (already off) or ValidationError
    (field "password" or "code").
    """
    if user.is_moderator:
        raise PermissionDenied("Moderators and administrators must keep two-factor authentication on.")
    if not user.has_two_factor:
        raise WorkflowError("Two-factor authentication is already off for your account.")
    if not check_password_hash(user.password_hash, password):
        raise ValidationError("The password is incorrect.", field="password")
    verify_code(user, code, now)
    enabled_at = user.totp_enabled_at
    user.recovery_codes = []
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_counter = None
    db.session.flush()
    audit.record(
        user,
        actor=user,
        action="user.2fa_disable",
        data={"two_factor_enabled_since": enabled_at.isoformat() if enabled_at else None},
    )


def recovery_codes_left(user: User) -> int:
    """How many of `user`'s recovery codes are still unused."""
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    ) or 0


def normalise_recovery_code(code: str) -> str:
    """A recovery code as stored: upper case, without spaces or hyphens."""
    return "".join(ch for ch in code.upper() if ch.isalnum())


# --- helpers ----------------------------------------------------------------------------------


def _accept_code(user: User, code: str, now: datetime) -> None:
    """Check `code` against user.totp_secret and spend its time step. Raises ValidationError."""
    assert user.totp_secret is not None
    code = "".join(code.split())
    totp = pyotp.TOTP(user.totp_secret)
    window = current_app.config["PORTAL_TOTP_VALID_WINDOW"]
    if not code.isdigit() or not totp.verify(code, for_time=now, valid_window=window):
        raise ValidationError(WRONG_CODE, field="code")
    counter = _fresh_step(totp, code, totp.timecode(now), window, user.totp_last_counter)
    if counter is None:
        raise ValidationError(USED_CODE, field="code")
    # Conditional on the stored step, so two requests racing with one code cannot both pass:
    # on PostgreSQL the second waits for the first's row lock, then finds the step spent.
    stored = db.session.execute(
        sa.update(User)
        .where(
            User.id == user.id,
            sa.or_(User.totp_last_counter.is_(None), User.totp_last_counter < counter),
        )
        .values(totp_last_counter=counter)
        .execution_options(synchronize_session=False)
    )
    if stored.rowcount != 1:
        raise ValidationError(USED_CODE, field="code")
    set_committed_value(user, "totp_last_counter", counter)


def _fresh_step(totp: pyotp.TOTP, code: str, current: int, window: int, last: int | None) -> int | None:
    """The latest time step within the window, after `last`, whose code is `code`.

    The latest, so that if two steps happen to share a code, neither can be replayed.
    """
    lowest = current - window if last is None else max(current - window, last + 1)
    for counter in range(current + window, lowest - 1, -1):
        if hmac.compare_digest(totp.generate_otp(counter), code):
            return counter
    return None


def _new_recovery_code() -> str:
    groups = (
        "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_GROUP_LENGTH))
        for _ in range(RECOVERY_GROUPS)
    )
    return "-".join(groups)


def _digest(normalised: str) -> str:
    # SHA-256, not a slow password hash: the codes are random (60 bits), not chosen by
    # people, and whoever can read this table can read totp_secret beside it anyway.
    return "sha256$" + hashlib.sha256(normalised.encode()).hexdigest()


def _replace_recovery_codes(user: User, now: datetime) -> list[str]:
    codes: list[str] = []
    while len(codes) < RECOVERY_CODE_COUNT:
        code = _new_recovery_code()
        if code not in codes:
            codes.append(code)
    # The old codes are orphans of the relationship and are deleted at the flush.
    user.recovery_codes = [RecoveryCode(code_hash=_digest(normalise_recovery_code(c)), created_at=now) for c in codes]
    db.session.flush()
    return codes
