"""Request-wide behaviour: the user loader, template helpers, security and cache headers."""

from __future__ import annotations

import secrets
from typing import Any

import sqlalchemy as sa
from flask import Flask, Response
from flask_login import current_user

from portal import enums
from portal.extensions import db, login_manager
from portal.models import User

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)


@login_manager.user_loader
def load_user(session_id: str) -> User | None:
    """The user of a session id "<id>:<session token>"; None once the token has changed."""
    user_id, _, token = session_id.partition(":")
    if not user_id.isdigit() or not token:
        return None
    user = db.session.scalar(sa.select(User).where(User.id == int(user_id), User.active.is_(True)))
    if user is None or not secrets.compare_digest(user.session_token, token):
        return None
    return user


MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)


def init_app(app: Flask) -> None:
    @app.context_processor
    def template_globals() -> dict[str, Any]:
        return {"enums": enums, "site_name": app.config["PORTAL_SITE_NAME"]}

    @app.template_filter("filesize")
    def filesize(n: int) -> str:
        for unit in ("bytes", "KB", "MB", "GB"):
            if n < 1024 or unit == "GB":
                return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
            n /= 1024  # type: ignore[assignment]
        return str(n)

    @app.template_filter("number")
    def format_number(n: int) -> str:
        """12,345: counts are read more easily with thousands separated."""
        return f"{n:,}"

    @app.template_filter("date")
    def format_date(value: Any) -> str:
        # The month from a table: strftime's %B took some 10 µs a date, 20 dates on a search page.
        return "" if value is None else f"{value.day} {MONTHS[value.month - 1]} {value.year}"

    @app.template_filter("datetime")
    def format_datetime(value: Any) -> str:
        return "" if value is None else f"{value.day} {value:%B %Y, %H:%M} UTC"

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        if current_user.is_authenticated:
            # Pages shown to a signed-in user must never sit in a shared cache.
            response.headers["Cache-Control"] = "private, no-store"
            response.vary.add("Cookie")
        return response
