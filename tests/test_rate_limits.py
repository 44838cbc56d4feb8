"""Abuse limits: sign-in, registration and reset answer 429 with a clear page."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from portal.extensions import db
from portal.models import User
from tests import factories
from tests.conftest import csrf_token


@pytest.fixture
def app_config():
    return {
        "PORTAL_SIGN_IN_LIMIT": "3 per minute",
        "PORTAL_REGISTER_LIMIT": "2 per hour",
        "PORTAL_RESET_LIMIT": "2 per hour",
    }


def _assert_limited(response):
    assert response.status_code == 429
    page = response.get_data(as_text=True)
    assert "Too many requests" in page
    assert "Please wait a moment before trying again." in page
    assert int(response.headers["Retry-After"]) > 0


def test_sign_in_rate_limited_per_address(app, client):
    with app.app_context():
        factories.make_user("ana@mexico.example")
        db.session.commit()
    token = csrf_token(client)
    for _ in range(3):
        response = client.post("/sign-in", data={"csrf_token": token, "email": "x@y.org", "password": "wrong"})
        assert response.status_code == 400
    _assert_limited(client.post("/sign-in", data={"csrf_token": token, "email": "ana@mexico.example", "password": factories.PASSWORD}))
    assert client.get("/sign-in").status_code == 200  # reading the form is not limited
    # Another address (a different client IP) is not affected.
    other = app.test_client()
    response = other.post(
        "/sign-in",
        data={"csrf_token": csrf_token(other), "email": "ana@mexico.example", "password": factories.PASSWORD},
        environ_base={"REMOTE_ADDR": "10.9.8.7"},
    )
    assert response.status_code == 302


def test_registration_rate_limited(app, client):
    token = csrf_token(client, "/register")
    for _ in range(2):
        assert client.post("/register", data={"csrf_token": token}).status_code == 400
    _assert_limited(client.post("/register", data={"csrf_token": token}))
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


def test_reset_request_rate_limited(app, client):
    token = csrf_token(client, "/reset-password")
    for _ in range(2):
        assert client.post("/reset-password", data={"csrf_token": token, "email": "a@b.org"}).status_code == 200
    _assert_limited(client.post("/reset-password", data={"csrf_token": token, "email": "a@b.org"}))


def _redis_available() -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not _redis_available(), reason="no Redis server on 127.0.0.1:6379")
def test_sign_in_limit_shared_between_workers_through_redis(backend, database_url, tmp_path):
    """Two app instances (as two gunicorn workers) count against one limit kept in Redis."""
    import uuid

    from tests.conftest import make_app

    # Limits are counted per client address: a random one keeps this run apart from any
    # other run against the same Redis server (no traffic goes to that address).
    address = "10.%d.%d.%d" % tuple(uuid.uuid4().bytes[:3])
    config = {"RATELIMIT_STORAGE_URI": "redis://127.0.0.1:6379/0", "PORTAL_SIGN_IN_LIMIT": "2 per minute"}
    worker_a = make_app(database_url, tmp_path / "a", **config)
    worker_b = make_app(database_url, tmp_path / "b", **config)
    with worker_a.app_context():
        db.create_all()
    client_a, client_b = worker_a.test_client(), worker_b.test_client()
    data = {"email": "x@y.org", "password": "wrong"}
    env = {"REMOTE_ADDR": address}

    def attempt(client):
        token = csrf_token(client)
        return client.post("/sign-in", data={**data, "csrf_token": token}, environ_base=env)

    try:
        assert attempt(client_a).status_code == 400
        assert attempt(client_b).status_code == 400
        _assert_limited(attempt(client_a))
        _assert_limited(attempt(client_b))
        # The counter lives in Redis, where every worker process sees it.
        import redis

        keys = redis.Redis(host="127.0.0.1", port=6379).keys(f"*{address}*")
        assert keys, "no rate-limit counter in Redis"
    finally:
        with worker_a.app_context():
            if backend == "postgresql":
                from tests.conftest import truncate

                truncate(db.engine)
            db.engine.dispose()
        with worker_b.app_context():
            db.engine.dispose()
