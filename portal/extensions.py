"""Flask extensions, created unbound; `init_app` binds them to an app."""

from __future__ import annotations

import logging
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

log = logging.getLogger(__name__)
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


# --- read-only transactions end with COMMIT -----------------------------------------------
# psycopg forgets every statement it has prepared on the server whenever a transaction is
# rolled back (a rollback may have undone DDL), and a request's session ends with a
# rollback: so no statement was ever prepared, and PostgreSQL planned each of a search's
# statements afresh on every request (the load of the results alone took 1.1 ms to plan
# for 0.5 ms to run). A transaction that only read is ended with COMMIT instead, which
# changes nothing else; any other statement (a flush, a Core write, a savepoint) marks the
# transaction as writing, and it ends as before.
_WROTE = "portal_wrote"
_READS = ("select", "show")


@sa.event.listens_for(sa.Engine, "begin")
def _transaction_begins(connection: sa.Connection) -> None:
    connection.info[_WROTE] = False


@sa.event.listens_for(sa.Engine, "before_cursor_execute")
def _note_writes(connection: sa.Connection, cursor: Any, statement: str, *args: Any) -> None:
    if not statement.lstrip()[:6].lower().startswith(_READS):
        connection.info[_WROTE] = True


READ_ONLY_COMMIT = "portal_read_only_commit"  # in session.info while such a commit runs


def end_read_only_transaction(exception: BaseException | None = None) -> None:
    """Commit the session's transaction if it only read and nothing waits on its end (mail
    to send, files to keep or drop: anything in session.info), see above; leave any other
    to the rollback that ends the session. Runs before Flask-SQLAlchemy removes the session."""
    session = db.session()
    transaction = session.get_transaction()
    if exception is not None or transaction is None or not transaction.is_active:
        return  # none, or one a failed flush has ended: the rollback is due
    if session.info or session.new or session.dirty or session.deleted:
        return
    if session.connection().info.get(_WROTE, True) is not False:
        return
    # Nothing changed, so nothing is expired: objects read stay as they were read, as after
    # the rollback (a test or a command may look at them after the context ends).
    session.info[READ_ONLY_COMMIT], expire, session.expire_on_commit = True, session.expire_on_commit, False
    try:
        session.commit()
    except sa.exc.SQLAlchemyError:
        # A teardown that raises stops the ones after it, and the session would never be
        # removed: the rollback that ends the session deals with whatever went wrong.
        log.warning("Could not end a read-only transaction with COMMIT", exc_info=True)
    finally:
        session.info.pop(READ_ONLY_COMMIT, None)
        session.expire_on_commit = expire


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
    app.teardown_appcontext(end_read_only_transaction)  # runs before db's (teardowns run in reverse)
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
