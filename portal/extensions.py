"""Flask extensions, created unbound; `init_app` binds them to an app."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from flask import Flask, request
from flask.sessions import SecureCookieSessionInterface
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from flask_wtf.csrf import CSRFProtect

from portal.models.base import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
# No default limits: the abuse-prone endpoints declare theirs (see portal/auth/views.py).
limiter = Limiter(key_func=get_remote_address, default_limits=[])


@sa.event.listens_for(sa.Engine, "connect")
def _sqlite_enforces_foreign_keys(dbapi_connection: Any, connection_record: Any) -> None:
    """SQLite ignores foreign keys unless told otherwise, per connection."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


class SessionInterface(SecureCookieSessionInterface):
    """Marks the session cookie Secure whenever the request came over HTTPS.

    A Secure cookie set over plain HTTP would never come back, so outside HTTPS
    (a loopback test server) it is left off unless SESSION_COOKIE_SECURE forces it.
    Behind a TLS-terminating proxy, set PORTAL_TRUSTED_PROXIES so HTTPS is seen.
    """

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or (
            app.config["PORTAL_ENV"] != "development" and request.is_secure
        )


def init_app(app: Flask) -> None:
    db.init_app(app)
    migrations = Path(app.root_path).parent / "migrations"
    migrate.init_app(app, db, directory=str(migrations), render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"
    limiter.init_app(app)
    app.session_interface = SessionInterface()
