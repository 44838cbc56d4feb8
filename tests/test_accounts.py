"""Registration, verification, membership, invitations and passwords, with e-mail through a real SMTP server."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa
from werkzeug.security import check_password_hash

from portal.enums import MembershipStatus, OrganisationStatus, Role
from portal.extensions import db
from portal.models import AuditEvent, Invitation, Organisation, Statement, User, utcnow
from tests import factories
from tests.conftest import csrf_from, csrf_token, login, logout
from tests.mailserver import html_of, link_in, smtp_server, text_of  # noqa: F401 - fixture

NEW_PASSWORD = "granite velvet harbour lamp"


@pytest.fixture
def app_config(smtp_server):
    _, port = smtp_server
    return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port, "MAIL_FROM": "Portal <portal@un.example>"}


@pytest.fixture
def inbox(smtp_server):
    return smtp_server[0]


@pytest.fixture
def people(app):
    with app.app_context():
        people = factories.make_people()
        db.session.commit()
        return {k: v.id for k, v in people.items()}


def _register(client, **overrides):
    with client.application.app_context():
        mexico_id = factories.org("MEX").id
    data = {
        "name": "Ana García",
        "email": "ana.garcia@sre.example",
        "password": NEW_PASSWORD,
        "confirm": NEW_PASSWORD,
        "locale": "es",
        "organisation_id": str(mexico_id),
        "csrf_token": csrf_token(client, "/register"),
    }
    data.update(overrides)
    return client.post("/register", data=data)


def _user(email):
    return db.session.scalar(sa.select(User).where(User.email == email))


def _actions(obj_type=None):
    query = sa.select(AuditEvent.action).order_by(AuditEvent.id)
    if obj_type:
        query = query.where(AuditEvent.object_type == obj_type)
    return db.session.scalars(query).all()


def test_registration_to_first_submission_through_email(app, client, inbox, people):
    # 1. Register.
    response = _register(client)
    assert response.status_code == 200
    assert "Check your e-mail" in response.get_data(as_text=True)
    with app.app_context():
        user = _user("ana.garcia@sre.example")
        assert user.membership is MembershipStatus.PENDING
        assert user.email_verified_at is None
        assert check_password_hash(user.password_hash, NEW_PASSWORD)
        assert _actions("users")[-1] == "user.register"

    # 2. The verification e-mail, in Spanish, plain text plus HTML.
    [message] = inbox.wait_for(1)
    assert message["To"] == "ana.garcia@sre.example"
    assert message["Subject"] == "Confirme su dirección de correo electrónico"
    assert "Estimado/a Ana García" in text_of(message)
    assert "<a href=" in html_of(message)

    # 3. Signed in but unverified: cannot submit, and is told why.
    login(client, "ana.garcia@sre.example", NEW_PASSWORD)
    page = client.get("/account").get_data(as_text=True)
    assert "Your e-mail address is not verified yet" in page
    assert "Your membership of Mexico awaits approval" in page
    blocked = client.get("/submit")
    assert blocked.status_code == 403
    assert "not verified yet" in blocked.get_data(as_text=True)

    # 4. Follow the link.
    verified = client.get(link_in(message, "/verify/"))
    assert verified.status_code == 200
    assert "Your e-mail address is confirmed" in verified.get_data(as_text=True)
    page = client.get("/account").get_data(as_text=True)
    assert "not verified yet" not in page
    assert "awaits approval" in page
    logout(client)

    # 5. A moderator approves the membership.
    login(client, "mod@un.example")
    queue = client.get("/moderation/members").get_data(as_text=True)
    assert "Ana García" in queue
    with app.app_context():
        ana_id = _user("ana.garcia@sre.example").id
    response = client.post(f"/moderation/members/{ana_id}/approve", data={"csrf_token": csrf_from(queue)})
    assert response.headers["Location"] == "/moderation/members"
    [_, approved] = inbox.wait_for(2)
    assert approved["To"] == "ana.garcia@sre.example"
    assert approved["Subject"] == "Su pertenencia a Mexico ha sido aprobada"
    assert "/submit" in text_of(approved)
    logout(client)

    # 6. The first submission.
    login(client, "ana.garcia@sre.example", NEW_PASSWORD)
    with app.app_context():
        session_id = factories.session_by_number(1).id
        area_id = factories.area(1, "d").id
    response = client.post(
        "/submit",
        data={
            "csrf_token": csrf_token(client, "/submit"),
            "title": "Declaración de México",
            "session_id": str(session_id),
            "area_ids": [str(area_id)],
            "kind": "written",
            "language": "es",
            "document": (io.BytesIO(factories.pdf_bytes()), "mexico.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert response.headers["Location"] == "/my/submissions"
    with app.app_context():
        statement = db.session.scalar(sa.select(Statement))
        assert statement.submitted_by.email == "ana.garcia@sre.example"
        assert statement.organisation.name == "Mexico"
        assert _actions("users")[-3:] == ["user.register", "user.verify_email", "membership.approve"]


def test_registration_with_proposed_organisation_stays_pending(app, client, inbox, people):
    response = _register(
        client,
        organisation_id="new",
        new_organisation_name="Migrants Rights Network",
        new_organisation_kind="ngo",
        new_organisation_website="mrn.example.org",
        new_organisation_country="United Kingdom",
        locale="en",
    )
    assert response.status_code == 200
    with app.app_context():
        organisation = db.session.scalar(sa.select(Organisation).where(Organisation.name == "Migrants Rights Network"))
        assert organisation.status is OrganisationStatus.PENDING
        assert organisation.website == "https://mrn.example.org"
        assert _user("ana.garcia@sre.example").organisation_id == organisation.id
        assert "organisation.propose" in _actions("organisations")
    inbox.wait_for(1)
    login(client, "ana.garcia@sre.example", NEW_PASSWORD)
    page = client.get("/account").get_data(as_text=True)
    assert "Your organisation “Migrants Rights Network” is awaiting approval" in page


@pytest.mark.parametrize(
    ("overrides", "field_message"),
    [
        ({"name": "  "}, "Your name is required."),
        ({"email": "not-an-address"}, "is not a valid e-mail address"),
        ({"password": "short", "confirm": "short"}, "at least 12 characters"),
        ({"password": "password1234", "confirm": "password1234"}, "too easy to guess"),
        ({"confirm": "something else entirely"}, "The two passwords are not the same."),
        ({"organisation_id": ""}, "Choose your organisation."),
        ({"organisation_id": "99999"}, "Choose your organisation from the list."),
        ({"organisation_id": "new"}, "Give the name of your organisation."),
        ({"organisation_id": "new", "new_organisation_name": "mexico", "new_organisation_kind": "ngo"}, "is already in the list"),
        ({"locale": "xx"}, "Choose one of the six official languages."),
    ],
)
def test_registration_bad_input_refused_and_kept(app, client, inbox, people, overrides, field_message):
    response = _register(client, **overrides)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert field_message in page
    if "name" not in overrides:
        assert 'value="Ana García"' in page
    with app.app_context():
        assert _user("ana.garcia@sre.example") is None
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Organisation)) == 3
    assert inbox.messages == []


def test_registration_existing_email_reveals_nothing_and_tells_owner(app, client, inbox, people):
    response = _register(client, email="ANA@mexico.example")
    assert response.status_code == 200
    assert "Check your e-mail" in response.get_data(as_text=True)
    [message] = inbox.wait_for(1)
    assert message["To"] == "ana@mexico.example"
    assert message["Subject"].startswith("You already have an account")
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 5


def test_verification_link_tampered_or_expired_refused(app, client, inbox, people):
    _register(client)
    [message] = inbox.wait_for(1)
    link = link_in(message, "/verify/")
    tampered = client.get(link[:-3] + "abc")
    assert tampered.status_code == 400
    assert "not valid" in tampered.get_data(as_text=True)
    app.config["PORTAL_VERIFY_MAX_AGE"] = -1
    expired = client.get(link)
    assert expired.status_code == 400
    assert "This link has expired" in expired.get_data(as_text=True)
    with app.app_context():
        assert _user("ana.garcia@sre.example").email_verified_at is None


def test_verification_email_can_be_sent_again(app, client, inbox, people):
    _register(client)
    inbox.wait_for(1)
    login(client, "ana.garcia@sre.example", NEW_PASSWORD)
    page = client.get("/account").get_data(as_text=True)
    response = client.post("/account/verify/resend", data={"csrf_token": csrf_from(page)})
    assert response.headers["Location"] == "/account"
    second = inbox.wait_for(2)[1]
    assert client.get(link_in(second, "/verify/")).status_code == 200


def test_membership_rejection_notifies_with_reason(app, client, inbox, people):
    _register(client, locale="fr")
    inbox.wait_for(1)
    login(client, "mod@un.example")
    page = client.get("/moderation/members").get_data(as_text=True)
    with app.app_context():
        ana_id = _user("ana.garcia@sre.example").id
    empty = client.post(f"/moderation/members/{ana_id}/reject", data={"csrf_token": csrf_from(page), "reason": " "})
    assert empty.headers["Location"] == "/moderation/members"
    assert "A reason is required" in client.get("/moderation/members").get_data(as_text=True)
    client.post(
        f"/moderation/members/{ana_id}/reject",
        data={"csrf_token": csrf_from(page), "reason": "Not a member of the delegation."},
    )
    [_, rejected] = inbox.wait_for(2)
    assert rejected["Subject"] == "Votre demande d'adhésion à Mexico n'a pas été approuvée"
    assert "Motif : Not a member of the delegation." in text_of(rejected)
    with app.app_context():
        user = _user("ana.garcia@sre.example")
        assert user.membership is MembershipStatus.REJECTED
        assert user.membership_note == "Not a member of the delegation."
        event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "membership.reject"))
        assert (event.old_status, event.new_status, event.actor_label) == ("pending", "rejected", "mod@un.example")


def _make_focal_point(app, people):
    with app.app_context():
        focal = db.session.get(User, people["submitter"])
        focal.is_focal_point = True
        db.session.commit()


def test_focal_point_approves_own_organisation_only(app, client, inbox, people):
    _register(client)
    inbox.wait_for(1)
    _make_focal_point(app, people)
    # The focal point was told of the request? Only focal points at registration time are; register another.
    login(client, "ana@mexico.example")
    page = client.get("/organisation").get_data(as_text=True)
    assert "Ana García" in page
    with app.app_context():
        ana_id = _user("ana.garcia@sre.example").id
        swiss = factories.make_user("pending@swiss.example", org_code="CHE")
        swiss.membership = MembershipStatus.PENDING
        db.session.commit()
        swiss_id = swiss.id
    response = client.post(f"/organisation/members/{swiss_id}/approve", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 404
    response = client.post(f"/organisation/members/{ana_id}/approve", data={"csrf_token": csrf_from(page)})
    assert response.headers["Location"] == "/organisation"
    with app.app_context():
        assert _user("ana.garcia@sre.example").membership is MembershipStatus.APPROVED
        assert _user("pending@swiss.example").membership is MembershipStatus.PENDING
        event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "membership.approve"))
        assert event.actor_label == "ana@mexico.example"


def test_focal_point_is_told_of_new_requests(app, client, inbox, people):
    _make_focal_point(app, people)
    _register(client)
    messages = inbox.wait_for(2)
    to_focal = [m for m in messages if m["To"] == "ana@mexico.example"]
    assert to_focal and to_focal[0]["Subject"] == "Ana García asks to join Mexico"


def test_focal_point_removes_member_who_then_cannot_submit(app, client, inbox, people):
    _make_focal_point(app, people)
    login(client, "ana@mexico.example")
    page = client.get("/organisation").get_data(as_text=True)
    response = client.post(
        f"/organisation/members/{people['colleague']}/remove",
        data={"csrf_token": csrf_from(page), "reason": "Left the mission."},
    )
    assert response.headers["Location"] == "/organisation"
    [removed] = inbox.wait_for(1)
    assert removed["To"] == "luis@mexico.example"
    assert "Left the mission." in text_of(removed)
    logout(client)
    login(client, "luis@mexico.example")
    assert client.get("/submit").status_code == 403


def test_pages_of_focal_point_forbidden_to_others(app, client, people):
    login(client, "luis@mexico.example")  # member, not focal point
    assert client.get("/organisation").status_code == 403
    page = client.get("/account").get_data(as_text=True)
    response = client.post(f"/organisation/members/{people['submitter']}/remove", data={"csrf_token": csrf_from(page), "reason": "x"})
    assert response.status_code == 403
    with app.app_context():
        assert db.session.get(User, people["submitter"]).membership is MembershipStatus.APPROVED


def test_invitation_creates_approved_verified_member(app, client, inbox, people):
    _make_focal_point(app, people)
    login(client, "ana@mexico.example")
    page = client.get("/organisation").get_data(as_text=True)
    response = client.post("/organisation/invite", data={"csrf_token": csrf_from(page), "email": "Carla@SRE.example"})
    assert response.headers["Location"] == "/organisation"
    [invitation] = inbox.wait_for(1)
    assert invitation["To"] == "carla@sre.example"
    assert invitation["Subject"] == "Ana invites you to submit statements for Mexico"
    logout(client)
    link = link_in(invitation, "/invitations/")
    form = client.get(link).get_data(as_text=True)
    assert "carla@sre.example" in form
    response = client.post(
        link,
        data={"csrf_token": csrf_from(form), "name": "Carla Ruiz", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD, "locale": "es"},
    )
    assert response.headers["Location"] == "/my/submissions"
    assert client.get("/submit").status_code == 200
    with app.app_context():
        carla = _user("carla@sre.example")
        assert carla.membership is MembershipStatus.APPROVED and carla.is_verified
        assert carla.organisation.name == "Mexico"
        assert db.session.scalar(sa.select(Invitation.accepted_at)) is not None
    logout(client)
    again = client.get(link)
    assert again.status_code == 400
    assert "already been accepted" in again.get_data(as_text=True)


def test_invitation_expired_or_revoked_refused(app, client, inbox, people):
    _make_focal_point(app, people)
    login(client, "ana@mexico.example")
    page = client.get("/organisation").get_data(as_text=True)
    client.post("/organisation/invite", data={"csrf_token": csrf_from(page), "email": "carla@sre.example"})
    link = link_in(inbox.wait_for(1)[0], "/invitations/")
    with app.app_context():
        invitation = db.session.scalar(sa.select(Invitation))
        invitation.expires_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
        invitation_id = invitation.id
    logout(client)
    expired = client.get(link)
    assert expired.status_code == 400
    assert "This invitation has expired" in expired.get_data(as_text=True)
    with app.app_context():
        db.session.get(Invitation, invitation_id).expires_at = utcnow() + timedelta(days=1)
        db.session.commit()
    login(client, "ana@mexico.example")
    page = client.get("/organisation").get_data(as_text=True)
    client.post(f"/organisation/invitations/{invitation_id}/revoke", data={"csrf_token": csrf_from(page)})
    logout(client)
    revoked = client.get(link)
    assert revoked.status_code == 400
    assert "withdrawn" in revoked.get_data(as_text=True)
    with app.app_context():
        assert _user("carla@sre.example") is None
        assert _actions("invitations") == ["invitation.create", "invitation.revoke"]


def test_invitation_of_existing_member_refused(app, client, inbox, people):
    _make_focal_point(app, people)
    login(client, "ana@mexico.example")
    page = client.get("/organisation").get_data(as_text=True)
    client.post("/organisation/invite", data={"csrf_token": csrf_from(page), "email": "luis@mexico.example"})
    assert "luis@mexico.example is already a member of Mexico." in client.get("/organisation").get_data(as_text=True)
    assert inbox.messages == []


@pytest.mark.parametrize("email", ["ana@mexico.example", "nobody@nowhere.example"])
def test_reset_request_same_response_whether_or_not_account_exists(app, client, inbox, people, email):
    response = client.post("/reset-password", data={"csrf_token": csrf_token(client, "/reset-password"), "email": email})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert f"If <strong>{email}</strong> belongs to an account" in page
    if email == "nobody@nowhere.example":
        assert inbox.messages == []
    else:
        assert inbox.wait_for(1)[0]["To"] == email


def test_reset_password_ends_every_session_and_is_single_use(app, client, inbox, people):
    other_browser = app.test_client()
    login(other_browser, "ana@mexico.example")
    assert other_browser.get("/my/submissions").status_code == 200

    client.post("/reset-password", data={"csrf_token": csrf_token(client, "/reset-password"), "email": "ana@mexico.example"})
    [message] = inbox.wait_for(1)
    assert message["Subject"] == "Reset your password for the Stakeholder Inputs Portal"
    link = link_in(message, "/reset-password/")
    form = client.get(link).get_data(as_text=True)
    weak = client.post(link, data={"csrf_token": csrf_from(form), "password": "password1234", "confirm": "password1234"})
    assert weak.status_code == 400
    assert "too easy to guess" in weak.get_data(as_text=True)
    response = client.post(link, data={"csrf_token": csrf_from(form), "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.headers["Location"] == "/sign-in"

    assert other_browser.get("/my/submissions").status_code == 302  # signed out there too
    login(client, "ana@mexico.example", NEW_PASSWORD)
    reused = app.test_client().get(link)
    assert reused.status_code == 400
    assert "already been used" in reused.get_data(as_text=True)
    changed = inbox.wait_for(2)[1]
    assert changed["Subject"] == "Your password was changed"
    with app.app_context():
        assert "user.password_reset" in _actions("users")


def test_reset_link_expires(app, client, inbox, people):
    client.post("/reset-password", data={"csrf_token": csrf_token(client, "/reset-password"), "email": "ana@mexico.example"})
    link = link_in(inbox.wait_for(1)[0], "/reset-password/")
    app.config["PORTAL_RESET_MAX_AGE"] = -1
    response = client.get(link)
    assert response.status_code == 400
    assert "This link has expired" in response.get_data(as_text=True)


def test_change_password_keeps_this_session_ends_others(app, client, inbox, people):
    other_browser = app.test_client()
    login(other_browser, "ana@mexico.example")
    login(client, "ana@mexico.example")
    page = client.get("/account/password").get_data(as_text=True)
    wrong = client.post(
        "/account/password",
        data={"csrf_token": csrf_from(page), "current_password": "wrong", "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
    )
    assert wrong.status_code == 400
    assert "The current password is not correct." in wrong.get_data(as_text=True)
    response = client.post(
        "/account/password",
        data={
            "csrf_token": csrf_from(page),
            "current_password": factories.PASSWORD,
            "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD,
        },
    )
    assert response.headers["Location"] == "/account"
    assert client.get("/my/submissions").status_code == 200
    assert other_browser.get("/my/submissions").status_code == 302
    with app.app_context():
        assert check_password_hash(_user("ana@mexico.example").password_hash, NEW_PASSWORD)


def test_lockout_after_repeated_failures_then_reset_unlocks(app, client, inbox, people):
    for _ in range(4):
        response = client.post(
            "/sign-in", data={"csrf_token": csrf_token(client), "email": "ana@mexico.example", "password": "wrong guess"}
        )
        assert response.status_code == 400
    fifth = client.post("/sign-in", data={"csrf_token": csrf_token(client), "email": "ana@mexico.example", "password": "wrong guess"})
    assert fifth.status_code == 429
    assert "this account is locked until" in fifth.get_data(as_text=True)
    right = client.post(
        "/sign-in", data={"csrf_token": csrf_token(client), "email": "ana@mexico.example", "password": factories.PASSWORD}
    )
    assert right.status_code == 429  # even the right password waits for the lock to pass
    with app.app_context():
        assert _user("ana@mexico.example").locked_until is not None
        assert "user.lock" in _actions("users")
    client.post("/reset-password", data={"csrf_token": csrf_token(client, "/reset-password"), "email": "ana@mexico.example"})
    link = link_in(inbox.wait_for(1)[0], "/reset-password/")
    form = client.get(link).get_data(as_text=True)
    client.post(link, data={"csrf_token": csrf_from(form), "password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    login(client, "ana@mexico.example", NEW_PASSWORD)


def test_mail_not_sent_when_transaction_rolls_back(app, inbox, people):
    from portal import mail

    with app.app_context(), app.test_request_context():
        mail.queue(mail.render("password_changed", to="x@example.org", user=db.session.get(User, people["submitter"]), reset_url="http://x"))
        db.session.rollback()
        db.session.commit()
    with app.app_context(), app.test_request_context():
        mail.queue(mail.render("password_changed", to="y@example.org", user=db.session.get(User, people["submitter"]), reset_url="http://x"))
        db.session.commit()
    [message] = inbox.wait_for(1)
    assert message["To"] == "y@example.org"


def test_moderator_designates_focal_point(app, client, people):
    login(client, "mod@un.example")
    with app.app_context():
        mexico_id = factories.org("MEX").id
    page = client.get(f"/moderation/members?organisation={mexico_id}").get_data(as_text=True)
    assert "Make focal point" in page
    response = client.post(
        f"/moderation/members/{people['submitter']}/focal-point", data={"csrf_token": csrf_from(page), "value": "1"}
    )
    assert response.headers["Location"] == f"/moderation/members?organisation={mexico_id}"
    with app.app_context():
        assert db.session.get(User, people["submitter"]).is_focal_point is True
        assert "membership.focal_point" in _actions("users")
