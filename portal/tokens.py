"""Signed, expiring tokens for links sent by e-mail (verification, password reset, invitation).

Single use comes from what the token is bound to: a reset token carries a fingerprint
of the current password hash, so it stops working once the password changes; a
verification token is spent once the address is verified; an invitation once accepted.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from portal.exceptions import PortalError

VERIFY_EMAIL = "verify-email"
RESET_PASSWORD = "reset-password"
INVITATION = "invitation"


class TokenError(PortalError):
    """A link that is malformed, tampered with or expired."""

    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt=f"portal.{purpose}")


def make(purpose: str, payload: dict[str, Any]) -> str:
    return _serializer(purpose).dumps(payload)


def load(purpose: str, token: str, *, max_age: int) -> dict[str, Any]:
    """The payload of a valid token. Raises TokenError when expired or invalid."""
    try:
        payload = _serializer(purpose).loads(token, max_age=max_age)
    except SignatureExpired:
        raise TokenError("This link has expired.", expired=True) from None
    except BadSignature:
        raise TokenError("This link is not valid: it may have been copied incompletely.") from None
    if not isinstance(payload, dict):
        raise TokenError("This link is not valid.")
    return payload


def fingerprint(value: str) -> str:
    """A short digest of a secret, to bind a token to its current value without revealing it."""
    return hashlib.sha256(value.encode()).hexdigest()[:16]
