"""Access matrix for the account, organisation and membership endpoints, including pending users and focal points."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from portal.enums import MembershipStatus
from portal.extensions import db
from portal.models import AuditEvent, Invitation, User
from tests import factories
from tests.conftest import csrf_token, login

ACTORS = ["anonymous", "pending", "member", "focal", "other_focal", "moderator", "admin"]
EMAILS = {
    "pending": "new@mexico.example",
    "member": "luis@mexico.example",
    "focal": "ana@mexico.example",
    "other_focal": "hans@switzerland.example",
    "moderator": "mod@un.example",
    "admin": "admin@un.example",
}


@pytest.fixture
def cast(app):
    with app.app_context():
        people = factories.make_people()
        people["submitter"].is_focal_point = True
        people["other_org"].is_focal_point = True
        pending = factories.make_user("new@mexico.example", org_code="MEX")
        pending.membership = MembershipStatus.PENDING
        pending.email_verified_at = None
        requester = factories.make_user("asks@mexico.example", org_code="MEX")
        requester.membership = MembershipStatus.PENDING
        db.session.commit()
        return {"requester": requester.id}


def _client_as(app, actor):
    client = app.test_client()
    if actor != "anonymous":
        login(client, EMAILS[actor])
    return client


def _audit_count():
    return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))


GET_EXPECTATIONS = {
    # path: {actor: status}; a 302 for anonymous goes to the sign-in page
    "/account": {"anonymous": 302, **{a: 200 for a in ACTORS[1:]}},
    "/account/password": {"anonymous": 302, **{a: 200 for a in ACTORS[1:]}},
    "/reset-password": {a: 200 for a in ACTORS},
    "/organisation": {"anonymous": 302, "pending": 403, "member": 403, "focal": 200, "other_focal": 200, "moderator": 403, "admin": 403},
    "/moderation/members": {"anonymous": 302, "pending": 403, "member": 403, "focal": 403, "other_focal": 403, "moderator": 200, "admin": 200},
    "/submit": {"anonymous": 302, "pending": 403, "member": 200, "focal": 200, "other_focal": 200, "moderator": 403, "admin": 403},
}


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("path", list(GET_EXPECTATIONS))
def test_get_account_pages_by_actor(app, cast, actor, path):
    client = _client_as(app, actor)
    response = client.get(path)
    expected = GET_EXPECTATIONS[path][actor]
    assert response.status_code == expected, response.get_data(as_text=True)[:500]
    if expected == 302:
        assert response.headers["Location"].startswith("/sign-in?next=")


def test_pending_user_told_why_on_submit_page(app, cast):
    page = _client_as(app, "pending").get("/submit").get_data(as_text=True)
    assert "not verified yet" in page
    assert "awaits approval" in page


@pytest.mark.parametrize("actor", ["anonymous", "pending", "member", "focal", "other_focal", "moderator", "admin"])
def test_register_page_only_for_anonymous(app, cast, actor):
    response = _client_as(app, actor).get("/register")
    if actor == "anonymous":
        assert response.status_code == 200
        assert "Register to submit statements" in response.get_data(as_text=True)
    else:
        assert response.headers["Location"] == "/account"


@pytest.mark.parametrize(
    ("actor", "path_kind", "expected", "approved"),
    [
        ("anonymous", "focal", 302, False),
        ("pending", "focal", 403, False),
        ("member", "focal", 403, False),
        ("focal", "focal", 302, True),
        ("other_focal", "focal", 404, False),  # someone else's organisation: not found
        ("moderator", "focal", 403, False),  # moderators use the moderation page
        ("anonymous", "moderation", 302, False),
        ("member", "moderation", 403, False),
        ("focal", "moderation", 403, False),
        ("moderator", "moderation", 302, True),
        ("admin", "moderation", 302, True),
    ],
)
def test_membership_approval_by_actor(app, cast, actor, path_kind, expected, approved):
    client = _client_as(app, actor)
    token = csrf_token(client, "/reset-password")
    prefix = "/organisation/members" if path_kind == "focal" else "/moderation/members"
    with app.app_context():
        before = _audit_count()
    response = client.post(f"{prefix}/{cast['requester']}/approve", data={"csrf_token": token})
    assert response.status_code == expected
    with app.app_context():
        status = db.session.get(User, cast["requester"]).membership
        assert status is (MembershipStatus.APPROVED if approved else MembershipStatus.PENDING)
        assert _audit_count() == before + (1 if approved else 0)


@pytest.mark.parametrize(
    ("actor", "expected", "created"),
    [("anonymous", 302, False), ("pending", 403, False), ("member", 403, False), ("focal", 302, True), ("moderator", 403, False)],
)
def test_invite_by_actor(app, cast, actor, expected, created):
    client = _client_as(app, actor)
    token = csrf_token(client, "/reset-password")
    response = client.post("/organisation/invite", data={"csrf_token": token, "email": "carla@sre.example"})
    assert response.status_code == expected
    with app.app_context():
        count = db.session.scalar(sa.select(sa.func.count()).select_from(Invitation))
        assert count == (1 if created else 0)


@pytest.mark.parametrize(
    ("actor", "expected", "changed"),
    [("anonymous", 302, False), ("focal", 403, False), ("admin", 302, True), ("moderator", 302, True)],
)
def test_focal_point_designation_by_actor(app, cast, actor, expected, changed):
    client = _client_as(app, actor)
    token = csrf_token(client, "/reset-password")
    with app.app_context():
        member_id = db.session.scalar(sa.select(User.id).where(User.email == "luis@mexico.example"))
    response = client.post(f"/moderation/members/{member_id}/focal-point", data={"csrf_token": token, "value": "1"})
    assert response.status_code == expected
    with app.app_context():
        assert db.session.get(User, member_id).is_focal_point is changed


def test_unknown_member_and_action_not_found(app, cast):
    client = _client_as(app, "moderator")
    token = csrf_token(client, "/reset-password")
    assert client.post("/moderation/members/99999/approve", data={"csrf_token": token}).status_code == 404
    assert client.post(f"/moderation/members/{cast['requester']}/promote", data={"csrf_token": token}).status_code == 404
    focal = _client_as(app, "focal")
    token = csrf_token(focal, "/reset-password")
    assert focal.post("/organisation/invitations/99999/revoke", data={"csrf_token": token}).status_code == 404
