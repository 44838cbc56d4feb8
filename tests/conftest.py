"""Fixtures: every database test runs on SQLite and, when PORTAL_TEST_DATABASE_URL is set, on PostgreSQL.

SQLite gets a fresh file per test. PostgreSQL gets its schema once per run and
is truncated after each test. CSRF protection stays on: form tests fetch a token
from the page, as a browser would.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pyotp
import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from portal import create_app
from portal.extensions import db
from portal.models import Base, User, normalise_email
from tests import factories, pgdb

PG_URL = os.environ.get("PORTAL_TEST_DATABASE_URL", "").strip()
BACKENDS = ["sqlite", "postgresql"] if PG_URL else ["sqlite"]

TEST_CONFIG = {
    "PORTAL_ENV": "testing",
    "TESTING": True,
    "SECRET_KEY": "test-secret-key",
    "WTF_CSRF_ENABLED": True,
    "PORTAL_MAX_UPLOAD_BYTES": 64 * 1024,
    "MAX_CONTENT_LENGTH": 2 * 64 * 1024 + 64 * 1024,
    "PORTAL_PAGE_SIZE": 5,
    "PORTAL_SEARCH_PAGE_SIZE": 5,
    # Generous limits for the suite; the rate-limit tests set their own.
    "PORTAL_SIGN_IN_LIMIT": "10000 per minute",
    "PORTAL_REGISTER_LIMIT": "10000 per minute",
    "PORTAL_RESET_LIMIT": "10000 per minute",
    "PORTAL_TWO_FACTOR_LIMIT": "10000 per minute",
    # Codes up to 1000 steps ahead are accepted, so `login` can sign one moderator in many
    # times within 30 seconds with ever later, never replayed, codes (see totp_code_for).
    "PORTAL_TOTP_VALID_WINDOW": 1000,
    # Every request asks the database for the public revision (tests/test_http_cache.py tests the memo).
    "PORTAL_REVISION_TTL": 0,
    # Mail goes nowhere unless a test starts an SMTP server (tests/mailserver.py).
    "MAIL_SERVER": "",
}

_pg_schema_ready = False


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A private database for this test run, created next to PORTAL_TEST_DATABASE_URL's and dropped after.

    Several runs (developers, CI) can then share one server without truncating each other's data.
    """
    if not PG_URL:
        pytest.skip("PORTAL_TEST_DATABASE_URL is not set")
    with pgdb.private_database(PG_URL, "portal_test") as url:
        yield url


def _reset_postgres(app: Flask) -> None:
    global _pg_schema_ready
    with app.app_context():
        if not _pg_schema_ready:
            Base.metadata.create_all(db.engine)
            _pg_schema_ready = True
        else:
            truncate(db.engine)


def truncate(engine: sa.Engine) -> None:
    tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


def make_app(database_url: str, tmp_path: Path, **overrides: object) -> Flask:
    return create_app(
        {
            **TEST_CONFIG,
            "SQLALCHEMY_DATABASE_URI": database_url,
            "PORTAL_STORAGE_DIR": str(tmp_path / "files"),
            "MAIL_FOLDER": str(tmp_path / "mail"),
            **overrides,
        }
    )


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    if request.param == "postgresql" and not PG_URL:
        pytest.skip("PORTAL_TEST_DATABASE_URL is not set")
    return request.param


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """The URL of the database the test runs on (a private PostgreSQL database, or a fresh SQLite file)."""
    if backend == "postgresql":
        return request.getfixturevalue("pg_url")
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
def app_config() -> dict[str, object]:
    """Settings on top of TEST_CONFIG; a test module overrides this fixture to change them."""
    return {}


@pytest.fixture
def app(backend: str, database_url: str, tmp_path: Path, app_config: dict[str, object]) -> Iterator[Flask]:
    app = make_app(database_url, tmp_path, **app_config)
    if backend == "postgresql":
        _reset_postgres(app)
    else:
        with app.app_context():
            Base.metadata.create_all(db.engine)
    with app.app_context():
        factories.seed_catalogue()
        db.session.commit()
    yield app  # no app context is held while the test runs
    with app.app_context():
        db.session.remove()
        if backend == "postgresql":
            truncate(db.engine)
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask):
    return app.test_cli_runner()


_CSRF = re.compile(r'name="(?:[\w-]+-)?csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1) or match.group(2)


def csrf_token(client: FlaskClient, url: str = "/sign-in") -> str:
    """A CSRF token from the page at `url`, as a browser would have it."""
    response = client.get(url)
    return csrf_from(response.get_data(as_text=True))


def totp_code_for(app: Flask, email: str) -> str:
    """A code the app will accept from `email`'s authenticator now: that of the current time
    step, or of the step after the last one used if that is later (a code is never accepted
    twice). Reads the secret and last step in a fresh app context, as the server would."""
    with app.app_context():
        secret, last = db.session.execute(
            sa.select(User.totp_secret, User.totp_last_counter).where(User.email == normalise_email(email))
        ).one()
    assert secret is not None, f"{email} has no authenticator secret"
    totp = pyotp.TOTP(secret)
    current = totp.timecode(datetime.now(UTC))
    return totp.generate_otp(current if last is None else max(current, last + 1))


def submit_totp_code(client: FlaskClient, email: str) -> TestResponse:
    """The second step of signing in, with a good code from `email`'s authenticator."""
    token = csrf_token(client, "/sign-in/code")
    return client.post("/sign-in/code", data={"code": totp_code_for(client.application, email), "csrf_token": token})


def login(client: FlaskClient, email: str, password: str = factories.PASSWORD) -> None:
    """Sign in through the real forms: password, then an authentication code where 2FA is on."""
    token = csrf_token(client, "/sign-in")
    response = client.post("/sign-in", data={"email": email, "password": password, "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)
    if response.headers["Location"] == "/sign-in/code":
        response = submit_totp_code(client, email)
        assert response.status_code == 302, response.get_data(as_text=True)


def logout(client: FlaskClient) -> None:
    token = csrf_token(client, "/")
    client.post("/sign-out", data={"csrf_token": token})
