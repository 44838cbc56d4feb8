"""Two-factor authentication: enrolment with a QR code, signing in with a code or a recovery
code, no replay, expiry, lockout and rate limit of the code step, the rule that moderators
and administrators have it, and turning it off.

Through the test client with CSRF on; state is read back in a fresh app context. Codes are
computed with pyotp from the secret in the database, as the user's phone would.
"""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime
from urllib.parse import unquote

import pyotp
import pytest
import segno
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from portal import twofactor
from portal.enums import StatementStatus
from portal.exceptions import PermissionDenied, ValidationError
from portal.extensions import db
from portal.models import AuditEvent, RecoveryCode, Statement, User, utcnow
from tests import factories
from tests.conftest import csrf_from, csrf_token, login, logout, totp_code_for

SUBMITTER = "ana@mexico.example"
MODERATOR = "mod@un.example"
ADMIN = "admin@un.example"
SITE = "Stakeholder Inputs Portal"
PENDING_KEY = "two_factor_pending"
EXPIRED = "This sign-in has expired"
REQUIRED = "Moderators and administrators must turn on two-factor authentication before they can continue."
CODE_SHAPE = re.compile(r"^[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}-[A-HJ-NP-Z2-9]{4}$")


@pytest.fixture
def people(app: Flask) -> None:
    with app.app_context():
        factories.make_people()
        db.session.commit()


# --- helpers -----------------------------------------------------------------------------------


def password_step(client: FlaskClient, email: str, password: str = factories.PASSWORD, next_url: str = ""):
    data = {"email": email, "password": password, "next": next_url, "csrf_token": csrf_token(client)}
    return client.post("/sign-in", data=data)


def post_code(client: FlaskClient, code: str, url: str = "/sign-in/code"):
    return client.post(url, data={"code": code, "csrf_token": csrf_token(client, "/sign-in")})


def state(app: Flask, email: str) -> dict:
    """The second-factor columns of `email`'s account and its recovery codes, committed."""
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == email))
        codes = db.session.execute(
            sa.select(RecoveryCode.code_hash, RecoveryCode.used_at).where(RecoveryCode.user_id == user.id).order_by(RecoveryCode.id)
        ).all()
        return {
            "secret": user.totp_secret,
            "enabled": user.totp_enabled_at is not None,
            "last_counter": user.totp_last_counter,
            "failed_logins": user.failed_logins,
            "locked": user.locked_until is not None,
            "last_login": user.last_login_at,
            "hashes": [row.code_hash for row in codes],
            "used": [row.used_at is not None for row in codes],
        }


def events(app: Flask, email: str, prefix: str = "user.") -> list[tuple[str, str, dict]]:
    """(action, actor, data) of the audit rows about `email`'s account."""
    with app.app_context():
        rows = db.session.scalars(
            sa.select(AuditEvent)
            .where(AuditEvent.object_type == "users", AuditEvent.object_ref == email, AuditEvent.action.startswith(prefix))
            .order_by(AuditEvent.id)
        ).all()
        return [(e.action, e.actor_label, e.data) for e in rows]


def step_now(secret: str) -> int:
    return pyotp.TOTP(secret).timecode(datetime.now(UTC))


def code_at(secret: str, step: int) -> str:
    return pyotp.TOTP(secret).generate_otp(step)


def not_a_code(secret: str, window: int = 1000) -> str:
    """Six digits that are no code of `secret` anywhere near now (with the tests' wide window, a
    random guess would be right once in 500)."""
    now = step_now(secret)
    taken = {code_at(secret, step) for step in range(now - window - 2, now + window + 3)}
    return next(f"{n:06d}" for n in range(10**6) if f"{n:06d}" not in taken)


def enrol(app: Flask, email: str) -> list[str]:
    """Arrange: turn two-factor authentication on through the operations; the recovery codes."""
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == email))
        secret = twofactor.begin_enrolment(user)
        codes = twofactor.confirm_enrolment(user, code_at(secret, step_now(secret)), utcnow())
        db.session.commit()
        return codes


def recovery_codes_in(page: str) -> list[str]:
    return re.findall(r"<li><code>([A-Z0-9-]+)</code></li>", page)


def signed_in(client: FlaskClient) -> bool:
    return 'action="/sign-out"' in client.get("/").get_data(as_text=True)


# --- enrolment ---------------------------------------------------------------------------------


def test_enrolment_shows_qr_code_and_key_then_turns_on_with_a_right_code(app, client, people):
    login(client, SUBMITTER)  # no second factor yet: signed in by the password
    page = client.get("/account/two-factor").get_data(as_text=True)
    assert '<a href="/account/two-factor">Two-factor authentication</a>' in page  # in the nav
    assert "Two-factor authentication is <strong>off</strong>." in page
    assert "Set up two-factor authentication</button>" in page

    response = client.post("/account/two-factor/setup", data={"setup-csrf_token": csrf_from(page)})

    assert response.headers["Location"] == "/account/two-factor"
    pending = state(app, SUBMITTER)
    secret = pending["secret"]
    assert len(secret) == 32 and not pending["enabled"] and pending["hashes"] == []
    page = client.get("/account/two-factor").get_data(as_text=True)
    # The QR code is an <img> with an SVG data URI (the CSP allows data: images, no inline style or script).
    src = html.unescape(re.search(r'<img class="qr-code" src="([^"]+)"', page).group(1))
    assert src.startswith("data:image/svg+xml")
    svg = unquote(src)
    assert "<svg" in svg and "<path" in svg
    assert "<script" not in svg and "style" not in svg
    uri = pyotp.TOTP(secret).provisioning_uri(name=SUBMITTER, issuer_name=SITE)
    assert "issuer=Stakeholder%20Inputs%20Portal" in uri
    assert src == segno.make(uri, error="m").svg_data_uri(scale=5, dark="#000", light="#fff")
    assert " ".join(secret[i : i + 4] for i in range(0, 32, 4)) in page  # for typing by hand
    assert '<label for="enable-code">Authentication code</label>' in page
    assert 'value="Turn on two-factor authentication"' in page
    token = csrf_from(page)

    wrong = client.post("/account/two-factor/enable", data={"enable-code": not_a_code(secret), "enable-csrf_token": token})

    assert wrong.status_code == 400
    assert twofactor.WRONG_CODE in wrong.get_data(as_text=True)
    assert state(app, SUBMITTER) == pending
    assert events(app, SUBMITTER, "user.2fa") == []

    step = step_now(secret)
    right = client.post("/account/two-factor/enable", data={"enable-code": code_at(secret, step), "enable-csrf_token": token})

    assert right.status_code == 200
    page = right.get_data(as_text=True)
    assert "<h1>Your recovery codes</h1>" in page
    assert "They are shown only this once." in page
    codes = recovery_codes_in(page)
    assert len(codes) == len(set(codes)) == 10
    assert all(CODE_SHAPE.match(code) for code in codes)
    after = state(app, SUBMITTER)
    assert after["secret"] == secret and after["enabled"]
    assert after["last_counter"] >= step
    assert after["used"] == [False] * 10
    assert all(h.startswith("sha256$") and code not in h for h in after["hashes"] for code in codes)
    [(action, actor, data)] = events(app, SUBMITTER, "user.2fa")
    assert (action, actor, data) == ("user.2fa_enable", SUBMITTER, {"recovery_codes_issued": 10})
    assert secret not in json.dumps(data)
    # Shown once: the account page no longer has them, nor the key.
    page = client.get("/account/two-factor").get_data(as_text=True)
    assert "Two-factor authentication is <strong>on</strong>" in page
    assert "You have 10 unused recovery codes." in page
    assert not any(code in page for code in codes) and secret[:8] not in page.replace(" ", "")
    # The code that turned it on cannot sign in as well.
    logout(client)
    assert password_step(client, SUBMITTER).headers["Location"] == "/sign-in/code"
    replay = post_code(client, code_at(secret, after["last_counter"]))
    assert replay.status_code == 400
    assert twofactor.USED_CODE in replay.get_data(as_text=True)
    assert not signed_in(client)


# --- signing in --------------------------------------------------------------------------------


def test_sign_in_with_code_after_password(app, client, people):
    response = password_step(client, MODERATOR, next_url="/moderation/?page=1")

    assert response.headers["Location"] == "/sign-in/code"
    page = client.get("/sign-in/code").get_data(as_text=True)
    assert '<label for="code">Authentication code</label>' in page
    assert 'value="Verify"' in page
    assert '<a href="/sign-in/recovery-code">Use a recovery code</a>' in page
    assert state(app, MODERATOR)["last_login"] is None
    step = step_now(factories.TOTP_SECRET)

    response = post_code(client, code_at(factories.TOTP_SECRET, step))

    assert response.headers["Location"] == "/moderation/?page=1"
    after = state(app, MODERATOR)
    assert after["last_counter"] == step
    assert after["last_login"] is not None and after["failed_logins"] == 0
    assert "Signed in as" in client.get("/moderation/").get_data(as_text=True)
    with client.session_transaction() as session:
        assert PENDING_KEY not in session


def test_code_is_accepted_only_once(app, client, people):
    step = step_now(factories.TOTP_SECRET)
    code = code_at(factories.TOTP_SECRET, step)
    password_step(client, MODERATOR)
    assert post_code(client, code).headers["Location"] == "/moderation/"
    logout(client)
    password_step(client, MODERATOR)

    replay = post_code(client, code)

    assert replay.status_code == 400
    assert twofactor.USED_CODE in replay.get_data(as_text=True)
    assert not signed_in(client)
    after = state(app, MODERATOR)
    assert (after["last_counter"], after["failed_logins"]) == (step, 1)
    # The next step's code is fine.
    assert post_code(client, code_at(factories.TOTP_SECRET, step + 1)).headers["Location"] == "/moderation/"
    assert state(app, MODERATOR)["last_counter"] == step + 1


def test_spent_step_refused_even_to_a_stale_reader(app, people):
    """Two sign-ins racing with one code: the second's in-memory user has not seen the first's step."""
    step = step_now(factories.TOTP_SECRET)
    code = code_at(factories.TOTP_SECRET, step)
    with app.app_context():
        stale = db.session.scalar(sa.select(User).where(User.email == MODERATOR))
        assert stale.totp_last_counter is None
        with app.app_context():  # a second session, like a second request
            first = db.session.scalar(sa.select(User).where(User.email == MODERATOR))
            twofactor.verify_code(first, code, utcnow())
            db.session.commit()
        with pytest.raises(ValidationError, match="already been used"):
            twofactor.verify_code(stale, code, utcnow())
        db.session.rollback()
    assert state(app, MODERATOR)["last_counter"] == step


@pytest.mark.parametrize("app_config", [{"PORTAL_TOTP_VALID_WINDOW": 1}])
def test_codes_outside_the_valid_window_refused(app, client, people):
    secret, now = factories.TOTP_SECRET, step_now(factories.TOTP_SECRET)
    password_step(client, MODERATOR)

    for step in (now + 5, now - 5):
        response = post_code(client, code_at(secret, step))
        assert response.status_code == 400
        assert twofactor.WRONG_CODE in response.get_data(as_text=True)

    assert post_code(client, code_at(secret, now)).headers["Location"] == "/moderation/"
    assert state(app, MODERATOR)["failed_logins"] == 0  # reset by the successful sign-in


def test_sign_in_with_recovery_code_once(app, client, people):
    codes = enrol(app, SUBMITTER)
    assert password_step(client, SUBMITTER).headers["Location"] == "/sign-in/code"
    page = client.get("/sign-in/recovery-code").get_data(as_text=True)
    assert '<label for="code">Recovery code</label>' in page
    assert 'value="Verify"' in page

    # Case and separators do not matter.
    response = post_code(client, codes[3].lower().replace("-", " "), url="/sign-in/recovery-code")

    assert response.headers["Location"] == "/my/submissions"
    assert signed_in(client)
    after = state(app, SUBMITTER)
    assert after["used"] == [False, False, False, True] + [False] * 6
    [(action, actor, data)] = events(app, SUBMITTER, "user.2fa_recovery")
    assert (action, actor, data) == ("user.2fa_recovery_used", SUBMITTER, {"recovery_codes_left": 9})
    logout(client)
    password_step(client, SUBMITTER)

    again = post_code(client, codes[3], url="/sign-in/recovery-code")

    assert again.status_code == 400
    assert twofactor.WRONG_RECOVERY_CODE in again.get_data(as_text=True)
    assert not signed_in(client)
    assert state(app, SUBMITTER)["failed_logins"] == 1
    assert post_code(client, codes[4], url="/sign-in/recovery-code").headers["Location"] == "/my/submissions"
    assert state(app, SUBMITTER)["used"].count(True) == 2
    assert "You have 8 unused recovery codes." in client.get("/account/two-factor").get_data(as_text=True)


def test_pending_step_expires_after_five_minutes(app, client, people):
    password_step(client, MODERATOR)
    with client.session_transaction() as session:
        pending = session[PENDING_KEY]
        pending["at"] -= 5 * 60 + 1
        session[PENDING_KEY] = pending

    response = post_code(client, totp_code_for(app, MODERATOR))

    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert EXPIRED in page
    assert '<a href="/sign-in">Back to signing in</a>' in page
    assert not signed_in(client)
    after = state(app, MODERATOR)
    assert (after["last_counter"], after["failed_logins"], after["last_login"]) == (None, 0, None)
    gone = client.get("/sign-in/code")
    assert gone.headers["Location"] == "/sign-in"


def test_pending_step_is_not_a_signed_in_session(app, client, people):
    password_step(client, MODERATOR)

    for path in ("/moderation/", "/account/two-factor", "/my/submissions"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/sign-in?next=")
    assert not signed_in(client)
    # The code step is a form like the others: without its CSRF token nothing happens.
    forged = client.post("/sign-in/code", data={"code": totp_code_for(app, MODERATOR)})
    assert forged.status_code == 400
    assert "Form expired" in forged.get_data(as_text=True)
    assert not signed_in(client)
    assert state(app, MODERATOR)["last_counter"] is None


def test_sign_out_everywhere_cancels_pending_step(app, client, people):
    password_step(client, MODERATOR)
    with app.app_context():
        db.session.scalar(sa.select(User).where(User.email == MODERATOR)).session_token = "0" * 32
        db.session.commit()

    response = post_code(client, totp_code_for(app, MODERATOR))

    assert response.status_code == 400
    assert EXPIRED in response.get_data(as_text=True)
    assert not signed_in(client)


def test_wrong_codes_count_into_the_password_lockout(app, client, people):
    wrong = not_a_code(factories.TOTP_SECRET)
    assert password_step(client, MODERATOR, password="not the password").status_code == 400
    assert password_step(client, MODERATOR).headers["Location"] == "/sign-in/code"
    assert state(app, MODERATOR)["failed_logins"] == 1  # a right password alone does not reset it

    for attempt in range(2, 5):
        response = post_code(client, wrong)
        assert response.status_code == 400
        assert twofactor.WRONG_CODE in response.get_data(as_text=True)
        assert state(app, MODERATOR)["failed_logins"] == attempt

    locked = post_code(client, wrong)

    assert locked.status_code == 429
    assert "Too many failed sign-in attempts" in locked.get_data(as_text=True)
    after = state(app, MODERATOR)
    assert after["locked"] and after["last_counter"] is None
    assert [action for action, _, _ in events(app, MODERATOR)] == ["user.lock"]
    # The step is over, and the right password is refused while the lock lasts.
    assert post_code(client, totp_code_for(app, MODERATOR)).status_code == 400
    again = password_step(client, MODERATOR)
    assert again.status_code == 429
    assert not signed_in(client)


@pytest.mark.parametrize("app_config", [{"PORTAL_TWO_FACTOR_LIMIT": "3 per minute"}])
def test_code_step_rate_limited(app, client, people):
    wrong = not_a_code(factories.TOTP_SECRET)
    password_step(client, MODERATOR)
    for _ in range(3):
        assert post_code(client, wrong).status_code == 400

    limited = post_code(client, totp_code_for(app, MODERATOR))

    assert limited.status_code == 429
    assert "Too many requests" in limited.get_data(as_text=True)
    assert int(limited.headers["Retry-After"]) > 0
    # The recovery-code form shares the limit; reading the forms is not limited.
    assert post_code(client, "AAAA-BBBB-CCCC", url="/sign-in/recovery-code").status_code == 429
    assert client.get("/sign-in/code").status_code == 200
    after = state(app, MODERATOR)
    assert (after["failed_logins"], after["last_counter"], after["last_login"]) == (3, None, None)
    assert not signed_in(client)


# --- the rule for moderators and administrators ---------------------------------------------------


@pytest.mark.parametrize("email", [MODERATOR, ADMIN])
def test_moderator_without_two_factor_cannot_act_until_enrolled(app, client, people, email):
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == email))
        user.totp_secret = user.totp_enabled_at = None
        ana = db.session.scalar(sa.select(User).where(User.email == SUBMITTER))
        statement = factories.make_statement(ana)
        db.session.commit()
        public_id, version = statement.public_id, statement.version
    login(client, email)  # no code step: nothing to ask for yet

    queue = client.get("/moderation/")
    review = client.get(f"/moderation/{public_id}")
    token = csrf_token(client, "/")
    decision = client.post(
        f"/moderation/{public_id}/approve", data={"approve-csrf_token": token, "approve-version": str(version)}
    )

    for response in (queue, review, decision):
        assert response.status_code == 302
        assert response.headers["Location"] == "/account/two-factor"
    page = client.get("/account/two-factor").get_data(as_text=True)
    assert REQUIRED in page
    assert "Set up two-factor authentication</button>" in page
    with app.app_context():
        assert db.session.scalar(sa.select(Statement.status).where(Statement.public_id == public_id)) is StatementStatus.SUBMITTED
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(AuditEvent.action == "approve")) == 0
    assert client.get("/").status_code == 200  # public pages stay open

    # Enrol through the pages; then the queue and the decision work.
    client.post("/account/two-factor/setup", data={"setup-csrf_token": csrf_from(page)})
    response = client.post(
        "/account/two-factor/enable",
        data={"enable-code": totp_code_for(app, email), "enable-csrf_token": csrf_token(client, "/account/two-factor")},
    )
    assert len(recovery_codes_in(response.get_data(as_text=True))) == 10
    assert client.get("/moderation/").status_code == 200
    review = client.get(f"/moderation/{public_id}").get_data(as_text=True)
    decided = client.post(
        f"/moderation/{public_id}/approve", data={"approve-csrf_token": csrf_from(review), "approve-version": str(version)}
    )
    assert decided.headers["Location"] == "/moderation/"
    with app.app_context():
        assert db.session.scalar(sa.select(Statement.status).where(Statement.public_id == public_id)) is StatementStatus.APPROVED
    assert [action for action, _, _ in events(app, email)] == ["user.2fa_enable"]


# --- recovery codes and turning off ---------------------------------------------------------------


def test_regenerate_recovery_codes_needs_a_code_and_replaces_all(app, client, people):
    old = enrol(app, SUBMITTER)
    login(client, SUBMITTER)
    before = state(app, SUBMITTER)
    token = csrf_token(client, "/account/two-factor")

    wrong = client.post(
        "/account/two-factor/recovery-codes",
        data={"regenerate-code": not_a_code(before["secret"]), "regenerate-csrf_token": token},
    )

    assert wrong.status_code == 400
    assert twofactor.WRONG_CODE in wrong.get_data(as_text=True)
    assert state(app, SUBMITTER)["hashes"] == before["hashes"]

    right = client.post(
        "/account/two-factor/recovery-codes",
        data={"regenerate-code": totp_code_for(app, SUBMITTER), "regenerate-csrf_token": token},
    )

    new = recovery_codes_in(right.get_data(as_text=True))
    assert len(new) == 10 and not set(new) & set(old)
    after = state(app, SUBMITTER)
    assert len(after["hashes"]) == 10 and not set(after["hashes"]) & set(before["hashes"])
    assert [a for a, _, _ in events(app, SUBMITTER, "user.2fa")] == ["user.2fa_enable", "user.2fa_recovery_regenerate"]
    logout(client)
    password_step(client, SUBMITTER)
    assert post_code(client, old[0], url="/sign-in/recovery-code").status_code == 400
    assert post_code(client, new[0], url="/sign-in/recovery-code").headers["Location"] == "/my/submissions"


def test_submitter_turns_two_factor_off_with_password_and_code(app, client, people):
    enrol(app, SUBMITTER)
    login(client, SUBMITTER)
    page = client.get("/account/two-factor").get_data(as_text=True)
    assert '<label for="disable-password">Password</label>' in page
    assert 'value="Turn off two-factor authentication"' in page
    token = csrf_from(page)

    wrong = client.post(
        "/account/two-factor/disable",
        data={"disable-password": "not my password", "disable-code": totp_code_for(app, SUBMITTER), "disable-csrf_token": token},
    )

    assert wrong.status_code == 400
    assert "The password is incorrect." in wrong.get_data(as_text=True)
    assert state(app, SUBMITTER)["enabled"]

    response = client.post(
        "/account/two-factor/disable",
        data={"disable-password": factories.PASSWORD, "disable-code": totp_code_for(app, SUBMITTER), "disable-csrf_token": token},
    )

    assert response.headers["Location"] == "/account/two-factor"
    after = state(app, SUBMITTER)
    assert (after["secret"], after["enabled"], after["last_counter"], after["hashes"]) == (None, False, None, [])
    assert [a for a, _, _ in events(app, SUBMITTER, "user.2fa")] == ["user.2fa_enable", "user.2fa_disable"]
    logout(client)
    assert password_step(client, SUBMITTER).headers["Location"] == "/my/submissions"  # no code step any more


@pytest.mark.parametrize("email", [MODERATOR, ADMIN])
def test_moderator_cannot_turn_two_factor_off(app, client, people, email):
    login(client, email)
    page = client.get("/account/two-factor").get_data(as_text=True)
    assert "Turn off two-factor authentication" not in page
    assert "Moderators and administrators must keep two-factor authentication on." in page

    response = client.post(
        "/account/two-factor/disable",
        data={"disable-password": factories.PASSWORD, "disable-code": totp_code_for(app, email), "disable-csrf_token": csrf_from(page)},
    )

    assert response.status_code == 403
    after = state(app, email)
    assert after["secret"] == factories.TOTP_SECRET and after["enabled"]
    assert events(app, email, "user.2fa") == []
    with app.app_context():  # the operation refuses too, whoever calls it
        user = db.session.scalar(sa.select(User).where(User.email == email))
        with pytest.raises(PermissionDenied):
            twofactor.disable(user, password=factories.PASSWORD, code=totp_code_for(app, email), now=utcnow())
