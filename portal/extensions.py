"""Flask extensions, created unbound; `init_app` binds them to an app."""

from __future__ import annotations

import functools
import logging
import sqlite3
import time
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
        if connection.get_execution_options().get(READS_ONLY):
            raise ReadOnlyRequestError(f"A request that only reads ran a statement that may write: {statement[:80]!r}")
        connection.info[_WROTE] = True


READ_ONLY_COMMIT = "portal_read_only_commit"  # in session.info while such a commit runs


# --- requests that only read run without a transaction block on PostgreSQL ------------------
# psycopg opens a transaction with a BEGIN of its own, one round trip before the first
# statement, and the request ends with a COMMIT, another: some 0.1 ms of CPU each in the
# worker and as much in the database, for a search page that runs five or six statements.
# A public page only reads, and under READ COMMITTED each statement sees what was committed
# when it started, in a transaction block or not: its statements run in autocommit instead.
READS_ONLY = "portal_reads_only"  # an execution option of the session's connection


class ReadOnlyRequestError(RuntimeError):
    """A statement that may write, in a request that declared it only reads (reads_only)."""


def reads_only() -> None:
    """Declare that the rest of this request only reads (a public page: a function of the
    committed data and its URL). On PostgreSQL the session's connection is then taken in
    autocommit, with no BEGIN or COMMIT, and any statement that may write raises
    ReadOnlyRequestError before it runs (nothing it would write is kept, as nothing could be
    rolled back). Does nothing on SQLite, or once the session's transaction has begun."""
    session = db.session()
    if session.get_transaction() is not None or session.get_bind().dialect.name != "postgresql":
        return
    session.connection(execution_options={"isolation_level": "AUTOCOMMIT", READS_ONLY: True})


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
    try:
        connection = session.connection()
        wrote, unblocked = connection.info.get(_WROTE, True), connection.get_execution_options().get(READS_ONLY)
    except sa.exc.SQLAlchemyError:
        return  # its connection was lost (and invalidated): the rollback is due
    if wrote is not False or unblocked:
        return  # wrote; or ran without a transaction block (reads_only): the driver's rollback sends nothing
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


# --- connections are checked before use when they have been idle -----------------------------
# pool_pre_ping pings every connection it hands out: a round trip per request. A connection
# that was in use moments ago is as good as a ping says; one idle for longer may have been
# closed by the server or a proxy (a restart, idle timeouts), and is pinged, and replaced if
# the ping fails. A connection lost while in steady use fails that one request, and
# SQLAlchemy then replaces every connection of the pool (its disconnect handling).
PING_AFTER_IDLE_SECONDS = 2.0
_IDLE_SINCE = "portal_idle_since"


def _checked_in(dbapi_connection: Any, connection_record: Any) -> None:
    connection_record.info[_IDLE_SINCE] = time.monotonic()


def _ping_if_idle(dialect: sa.Dialect, dbapi_connection: Any, connection_record: Any, connection_proxy: Any) -> None:
    idle_since = connection_record.info.get(_IDLE_SINCE)
    if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
        return  # just opened, or just used
    try:
        dialect.do_ping(dbapi_connection)
    except dialect.loaded_dbapi.Error as exc:
        raise sa.exc.DisconnectionError(f"The connection failed its ping after {time.monotonic() - idle_since:.0f} s idle") from exc


def _check_idle_connections(engine: sa.Engine) -> None:
    sa.event.listen(engine, "checkin", _checked_in)
    sa.event.listen(engine, "checkout", functools.partial(_ping_if_idle, engine.dialect))


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
    with app.app_context():
        for engine in db.engines.values():
            _check_idle_connections(engine)
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
