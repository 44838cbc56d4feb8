"""Signing in and out."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from portal.enums import Role
from portal.extensions import db
from portal.models import User
from tests import factories
from tests.conftest import csrf_token, login, submit_totp_code


@pytest.fixture
def people(app):
    with app.app_context():
        factories.make_people()
        db.session.commit()


def _sign_in(client, email, password=factories.PASSWORD, next_url=None):
    """The password step, then the code step where two-factor authentication is on; the last response."""
    data = {"email": email, "password": password, "csrf_token": csrf_token(client)}
    if next_url is not None:
        data["next"] = next_url
    response = client.post("/sign-in", data=data)
    if response.status_code == 302 and response.headers["Location"] == "/sign-in/code":
        response = submit_totp_code(client, email)
    return response


@pytest.mark.parametrize(
    ("email", "home", "second_step"),
    [
        ("ana@mexico.example", "/my/submissions", False),
        ("mod@un.example", "/moderation/", True),
        ("admin@un.example", "/moderation/", True),
    ],
)
def test_sign_in_redirects_to_role_home(client, people, email, home, second_step):
    password_step = client.post(
        "/sign-in", data={"email": email, "password": factories.PASSWORD, "csrf_token": csrf_token(client)}
    )
    assert password_step.status_code == 302
    assert password_step.headers["Location"] == ("/sign-in/code" if second_step else home)
    response = submit_totp_code(client, email) if second_step else password_step
    assert response.status_code == 302
    assert response.headers["Location"] == home
    assert "Signed in as" in client.get(home).get_data(as_text=True)


def test_sign_in_email_is_case_insensitive(client, people):
    response = _sign_in(client, "  ANA@Mexico.Example ")
    assert response.headers["Location"] == "/my/submissions"


@pytest.mark.parametrize("email", ["ana@mexico.example", "nobody@nowhere.example"])
def test_sign_in_wrong_credentials_same_message(client, people, email):
    response = _sign_in(client, email, password="wrong password!")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "The e-mail address or password is incorrect." in page
    assert f'value="{email}"' in page  # the address is kept
    assert client.get("/my/submissions").status_code == 302  # still signed out


def test_sign_in_inactive_account_refused(app, client, people):
    with app.app_context():
        db.session.scalar(sa.select(User).where(User.email == "ana@mexico.example")).active = False
        db.session.commit()
    response = _sign_in(client, "ana@mexico.example")
    assert response.status_code == 400
    assert "The e-mail address or password is incorrect." in response.get_data(as_text=True)


def test_sign_in_records_last_login(app, client, people):
    _sign_in(client, "ana@mexico.example")
    with app.app_context():
        assert db.session.scalar(sa.select(User.last_login_at).where(User.email == "ana@mexico.example")) is not None


@pytest.mark.parametrize(
    ("next_url", "expected"),
    [
        ("/submit", "/submit"),
        ("/statements/ST-AAAA-BBBB?x=1", "/statements/ST-AAAA-BBBB?x=1"),
        ("//evil.example/", "/my/submissions"),
        ("https://evil.example/", "/my/submissions"),
        ("/\\evil.example", "/my/submissions"),
        ("javascript:alert(1)", "/my/submissions"),
        ("", "/my/submissions"),
    ],
)
def test_sign_in_next_only_follows_local_paths(client, people, next_url, expected):
    response = _sign_in(client, "ana@mexico.example", next_url=next_url)
    assert response.headers["Location"] == expected


def test_sign_in_page_carries_safe_next_from_query(client, people):
    page = client.get("/sign-in?next=/submit").get_data(as_text=True)
    assert 'name="next" type="hidden" value="/submit"' in page
    page = client.get("/sign-in?next=https://evil.example/").get_data(as_text=True)
    assert "evil.example" not in page


def test_protected_page_sends_anonymous_to_sign_in_and_back(client, people):
    response = client.get("/submit")
    assert response.status_code == 302
    assert response.headers["Location"] == "/sign-in?next=%2Fsubmit"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert 'value="/submit"' in page
    assert _sign_in(client, "ana@mexico.example", next_url="/submit").headers["Location"] == "/submit"


def test_sign_in_without_csrf_token_refused(client, people):
    response = client.post("/sign-in", data={"email": "ana@mexico.example", "password": factories.PASSWORD})
    assert response.status_code == 400
    assert "security token was missing or had expired" in response.get_data(as_text=True)
    assert client.get("/my/submissions").status_code == 302


def test_sign_in_empty_fields_explained(client, people):
    response = client.post("/sign-in", data={"csrf_token": csrf_token(client)})
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Enter your e-mail address." in page
    assert "Enter your password." in page


def test_sign_out_is_a_post_with_csrf(client, people):
    login(client, "ana@mexico.example")
    assert client.get("/sign-out").status_code == 405
    assert client.post("/sign-out").status_code == 400  # no CSRF token: still signed in
    assert client.get("/my/submissions").status_code == 200
    response = client.post("/sign-out", data={"csrf_token": csrf_token(client, "/my/submissions")})
    assert response.headers["Location"] == "/"
    assert client.get("/my/submissions").status_code == 302


def test_session_cookie_is_httponly_and_samesite_lax(client, people):
    response = _sign_in(client, "ana@mexico.example")
    cookie = next(v for k, v in response.headers.items() if k == "Set-Cookie" and v.startswith("session="))
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie


def test_signed_in_pages_are_never_cached(client, people):
    login(client, "ana@mexico.example")
    response = client.get("/")
    assert response.headers["Cache-Control"] == "private, no-store"


def test_user_email_unique_regardless_of_case(app):
    with app.app_context():
        factories.make_user("Ann@x.org")
        db.session.commit()
        db.session.add(User(email="ann@x.org", name="Ann", password_hash="x", role=Role.MODERATOR))
        with pytest.raises(sa.exc.IntegrityError):
            db.session.commit()
        db.session.rollback()
        # The database refuses an address that was not normalised.
        db.session.add(User(email="Bob@x.org", name="Bob", password_hash="x", role=Role.MODERATOR))
        with pytest.raises(sa.exc.IntegrityError):
            db.session.commit()


def test_password_is_stored_hashed(app):
    with app.app_context():
        user = factories.make_user("ann@x.org")
        assert factories.PASSWORD not in user.password_hash
        assert user.password_hash.startswith(("scrypt:", "pbkdf2:"))


def test_session_cookie_secure_over_https(client, people):
    token = csrf_token(client)
    response = client.post(
        "/sign-in",
        data={"email": "ana@mexico.example", "password": factories.PASSWORD, "csrf_token": token},
        base_url="https://localhost",
        headers={"Referer": "https://localhost/sign-in"},
    )
    cookie = next(v for k, v in response.headers.items() if k == "Set-Cookie" and v.startswith("session="))
    assert "Secure" in cookie
    assert "HttpOnly" in cookie


def test_session_cookie_not_secure_over_plain_http_loopback(client, people):
    response = _sign_in(client, "ana@mexico.example")
    cookie = next(v for k, v in response.headers.items() if k == "Set-Cookie" and v.startswith("session="))
    assert "Secure" not in cookie
