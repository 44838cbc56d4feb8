"""Administration: who may open and post to each admin page, account changes, the lists and the audit log.

The access matrix covers every admin endpoint for anonymous visitors, a submitter, a
moderator and an administrator; its expected outcomes are written out below rather than
derived from the code. Account changes are driven directly and through the forms with
CSRF on; every assertion is on committed state, audit rows, page content or Location.
"""

from __future__ import annotations

import json
import re
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from portal import admin_accounts, organisations
from portal.enums import MembershipStatus, OrganisationStatus, Role
from portal.exceptions import PermissionDenied, ValidationError, WorkflowError
from portal.extensions import db
from portal.models import AuditEvent, Organisation, RecoveryCode, User, utcnow
from tests import factories
from tests.admin_helpers import (
    events,
    field_errors,
    flashes,
    form_actions,
    last_event_id,
    make_organisation,
    make_pending,
    make_people,
    org_by_name,
    signed_in,
    table_rows,
    user_by_email,
)
from tests.conftest import csrf_from, csrf_token, login

ACTORS = ["anonymous", "submitter", "moderator", "admin"]
EMAILS = {"submitter": "ana@mexico.example", "moderator": "mod@un.example", "admin": "admin@un.example"}
NOTE = "Left the delegation in March."


def _sign_in_url(path: str) -> str:
    return "/sign-in?next=" + quote(path, safe="")


@pytest.fixture
def people(app):
    with app.app_context():
        people = make_people()
        db.session.commit()
        return {key: user.id for key, user in people.items()}


# --- the access matrix ------------------------------------------------------------------------

# GET pages: who may open them, and the heading they then show.
PAGES = {
    "index": ("/admin/", {"admin"}, "<h1>Administration</h1>"),
    "users": ("/admin/users", {"admin"}, "<h1>Accounts</h1>"),
    "user": ("/admin/users/{user}", {"admin"}, "<h1>Target Person</h1>"),
    "organisations": ("/admin/organisations", {"moderator", "admin"}, "<h1>Organisations</h1>"),
    "pending": ("/admin/organisations?status=pending", {"moderator", "admin"}, "<h1>Organisations</h1>"),
    "organisation": ("/admin/organisations/{pending}", {"moderator", "admin"}, "<h1>Proposed Page NGO</h1>"),
    "audit": ("/admin/audit", {"admin"}, "<h1>Audit log</h1>"),
}

# POSTs: (path, form data, who may, the audit action, where an accepted post goes).
# "{id}" is the cell's own target object; each cell gets a fresh one.
POSTS: dict[str, tuple[str, dict[str, str], set[str], str, str]] = {
    "role": ("/admin/users/{id}/role", {"role-role": "moderator"}, {"admin"}, "user.role", "/admin/users/{id}"),
    "deactivate_user": ("/admin/users/{id}/deactivate", {"deactivate-note": NOTE}, {"admin"}, "user.deactivate", "/admin/users/{id}"),
    "reactivate_user": ("/admin/users/{id}/reactivate", {}, {"admin"}, "user.reactivate", "/admin/users/{id}"),
    "reset_2fa": ("/admin/users/{id}/reset-two-factor", {}, {"admin"}, "user.reset_2fa", "/admin/users/{id}"),
    "approve": ("/admin/organisations/{id}/approve", {}, {"moderator", "admin"}, "organisation.approve", "/admin/organisations/{id}"),
    "reject": ("/admin/organisations/{id}/reject", {"reject-reason": "Not an organisation."}, {"moderator", "admin"},
               "organisation.reject", "/admin/organisations/{id}"),
    "merge_pending": ("/admin/organisations/{id}/merge", {"merge-target_id": "{mexico}"}, {"moderator", "admin"},
                      "organisation.merge", "/admin/organisations/{mexico}"),
    "merge_approved": ("/admin/organisations/{id}/merge", {"merge-target_id": "{mexico}"}, {"admin"},
                       "organisation.merge", "/admin/organisations/{mexico}"),
    "rename": ("/admin/organisations/{id}/rename", {"rename-name": "Renamed {id}"}, {"admin"},
               "organisation.rename", "/admin/organisations/{id}"),
    "deactivate_org": ("/admin/organisations/{id}/deactivate", {}, {"admin"}, "organisation.deactivate", "/admin/organisations/{id}"),
    "reactivate_org": ("/admin/organisations/{id}/reactivate", {}, {"admin"}, "organisation.reactivate", "/admin/organisations/{id}"),
}
PREFIX = {"deactivate_user": "deactivate", "reactivate_user": "reactivate", "reset_2fa": "reset-2fa",
          "merge_pending": "merge", "merge_approved": "merge", "deactivate_org": "deactivate", "reactivate_org": "reactivate"}


def _arrange_target(endpoint: str, actor: str) -> Any:
    """A fresh object for one POST cell, in the state the action applies to."""
    tag = f"{endpoint} {actor}".replace("_", " ")
    if endpoint in ("role", "deactivate_user", "reactivate_user", "reset_2fa"):
        user = factories.make_user(f"{endpoint}.{actor}@target.example", org_code="MEX")
        if endpoint == "reactivate_user":
            user.active = False
        if endpoint == "reset_2fa":
            user.totp_secret, user.totp_enabled_at = factories.TOTP_SECRET, utcnow()
            db.session.add(RecoveryCode(user=user, code_hash="x"))
        return user
    if endpoint in ("approve", "reject", "merge_pending"):
        return make_pending(f"Proposed {tag}", proposer=f"{endpoint}.{actor}@proposer.example")[0]
    if endpoint == "reactivate_org":
        return make_organisation(f"Dormant {tag}", OrganisationStatus.INACTIVE)
    return make_organisation(f"Known {tag}")


def _accepted(endpoint: str, target_id: int, mexico_id: int) -> None:
    """The committed effect of an accepted POST cell."""
    if endpoint in ("role", "deactivate_user", "reactivate_user", "reset_2fa"):
        user = db.session.get(User, target_id)
        assert {
            "role": lambda: (user.role, user.organisation_id, user.membership) == (Role.MODERATOR, None, None),
            "deactivate_user": lambda: not user.active,
            "reactivate_user": lambda: user.active,
            "reset_2fa": lambda: (user.totp_secret, user.totp_enabled_at, user.recovery_codes) == (None, None, []),
        }[endpoint]()
        return
    organisation = db.session.get(Organisation, target_id)
    expected = {
        "approve": OrganisationStatus.APPROVED,
        "reject": OrganisationStatus.REJECTED,
        "merge_pending": OrganisationStatus.MERGED,
        "merge_approved": OrganisationStatus.MERGED,
        "rename": OrganisationStatus.APPROVED,
        "deactivate_org": OrganisationStatus.INACTIVE,
        "reactivate_org": OrganisationStatus.APPROVED,
    }[endpoint]
    assert organisation.status is expected
    if endpoint.startswith("merge"):
        assert organisation.merged_into_id == mexico_id
    if endpoint == "rename":
        assert organisation.name == f"Renamed {target_id}"
    if endpoint == "reject":
        assert organisation.status_note == "Not an organisation."


def test_access_matrix(app, people, subtests):
    with app.app_context():
        target_user = factories.make_user("target.person@mexico.example", name="Target Person")
        pending, _ = make_pending("Proposed Page NGO", proposer="page@ngo.example")
        targets = {(e, a): _arrange_target(e, a) for e in POSTS for a in ACTORS}
        db.session.commit()
        ids = {"user": target_user.id, "pending": pending.id, "mexico": factories.org("MEX").id}
        target_ids = {key: obj.id for key, obj in targets.items()}

    clients = {"anonymous": app.test_client()}
    clients.update({actor: signed_in(app, email) for actor, email in EMAILS.items()})
    tokens = {actor: csrf_token(client, "/sign-in" if actor == "anonymous" else "/") for actor, client in clients.items()}

    for name, (template, allowed, heading) in PAGES.items():
        path = template.format(**ids)
        for actor in ACTORS:
            with subtests.test(page=name, actor=actor):
                response = clients[actor].get(path)
                text = response.get_data(as_text=True)
                if actor in allowed:
                    assert response.status_code == 200
                    assert heading in text
                elif actor == "anonymous":
                    assert response.status_code == 302
                    assert response.headers["Location"] == _sign_in_url(path)
                else:
                    assert response.status_code == 403
                    assert "<h1>Not allowed</h1>" in text
                    assert heading not in text

    for endpoint, (template, data, allowed, action, goes_to) in POSTS.items():
        prefix = PREFIX.get(endpoint, endpoint)
        for actor in ACTORS:
            with subtests.test(post=endpoint, actor=actor):
                target_id = target_ids[(endpoint, actor)]
                path = template.format(id=target_id)
                form = {k: v.format(id=target_id, **ids) for k, v in data.items()}
                form[f"{prefix}-csrf_token"] = tokens[actor]
                with app.app_context():
                    before, after_id = table_rows(), last_event_id()
                response = clients[actor].post(path, data=form)
                if actor in allowed:
                    assert response.status_code == 302, response.get_data(as_text=True)
                    assert response.headers["Location"] == goes_to.format(id=target_id, **ids)
                    with app.app_context():
                        _accepted(endpoint, target_id, ids["mexico"])
                        mine = [e for e in events(after=after_id) if e.action == action]
                        assert [(e.object_id, e.actor_label) for e in mine] == [(target_id, EMAILS[actor])]
                    continue
                if actor == "anonymous":
                    assert response.status_code == 302
                    assert response.headers["Location"] == _sign_in_url(path)
                else:
                    assert response.status_code == 403
                    assert "<h1>Not allowed</h1>" in response.get_data(as_text=True)
                with app.app_context():
                    assert table_rows() == before


def test_post_without_csrf_token_is_refused_and_changes_nothing(app, people):
    admin = signed_in(app, "admin@un.example")
    with app.app_context():
        before, mexico_id = table_rows(), factories.org("MEX").id
    for path, data in {
        f"/admin/users/{people['submitter']}/deactivate": {},
        f"/admin/users/{people['submitter']}/role": {"role-role": "admin"},
        f"/admin/organisations/{mexico_id}/deactivate": {"deactivate-csrf_token": "forged"},
    }.items():
        response = admin.post(path, data=data)
        assert response.status_code == 400
        assert "<h1>Form expired</h1>" in response.get_data(as_text=True)
    with app.app_context():
        assert table_rows() == before


def test_navigation_links_by_role(app, people):
    expected = {
        "admin": ('<a href="/admin/">Administration</a>', True, False),
        "moderator": ('<a href="/admin/organisations?status=pending">Proposed organisations</a>', False, True),
        "submitter": (None, False, False),
    }
    for actor, (link, admin_link, pending_link) in expected.items():
        page = signed_in(app, EMAILS[actor]).get("/").get_data(as_text=True)
        if link:
            assert link in page
        assert ('href="/admin/"' in page) is admin_link
        assert ('href="/admin/organisations?status=pending"' in page) is pending_link


# --- change role ------------------------------------------------------------------------------


def _change_role(app, email, role, *, actor="admin@un.example", organisation=None):
    with app.app_context():
        event = admin_accounts.change_role(
            user_by_email(email), role, actor=user_by_email(actor),
            organisation=org_by_name(organisation) if organisation else None,
        )
        db.session.commit()
        return event.id


def test_change_role_clears_or_sets_the_organisation_and_audits_old_and_new(app, people):
    with app.app_context():
        ana = user_by_email("ana@mexico.example")
        ana.is_focal_point = True
        db.session.commit()

    event_id = _change_role(app, "ana@mexico.example", Role.MODERATOR)
    with app.app_context():
        ana = user_by_email("ana@mexico.example")
        assert (ana.role, ana.organisation_id, ana.membership, ana.is_focal_point) == (Role.MODERATOR, None, None, False)
        event = db.session.get(AuditEvent, event_id)
        assert (event.action, event.object_id, event.actor_label, event.old_status, event.new_status) == (
            "user.role", people["submitter"], "admin@un.example", "submitter", "moderator")
        assert event.data == {
            "role": {"old": "submitter", "new": "moderator"},
            "organisation": {"old": "Mexico", "new": None},
            "membership": {"old": "approved", "new": None},
            "is_focal_point": {"old": True, "new": False},
        }

    event_id = _change_role(app, "mod@un.example", Role.ADMIN)
    with app.app_context():
        assert db.session.get(AuditEvent, event_id).data == {"role": {"old": "moderator", "new": "admin"}}

    event_id = _change_role(app, "ana@mexico.example", Role.SUBMITTER, organisation="Switzerland")
    with app.app_context():
        ana = user_by_email("ana@mexico.example")
        assert (ana.role, ana.organisation.name, ana.membership) == (Role.SUBMITTER, "Switzerland", MembershipStatus.APPROVED)
        assert db.session.get(AuditEvent, event_id).data == {
            "role": {"old": "moderator", "new": "submitter"},
            "organisation": {"old": None, "new": "Switzerland"},
            "membership": {"old": None, "new": "approved"},
        }


def test_change_role_refusals_change_nothing(app, people, subtests):
    with app.app_context():
        make_pending("Proposed NGO")
        db.session.commit()
        before = table_rows()
    cases = [
        ("mod@un.example", Role.SUBMITTER, None, "admin@un.example", ValidationError,
         "Choose the organisation this person will submit for."),
        ("mod@un.example", Role.SUBMITTER, "Proposed NGO", "admin@un.example", ValidationError,
         "“Proposed NGO” is awaiting approval: choose an approved organisation."),
        ("mod@un.example", Role.MODERATOR, None, "admin@un.example", WorkflowError,
         "Mod is already a moderator. Nothing was changed."),
        ("admin@un.example", Role.MODERATOR, None, "admin@un.example", WorkflowError,
         "Admin is the last active administrator and cannot be demoted: make someone else an administrator first. "
         "Nothing was changed."),
        ("ana@mexico.example", Role.MODERATOR, None, "mod@un.example", PermissionDenied,
         "Only administrators manage accounts."),
    ]
    for email, role, organisation, actor, error, message in cases:
        with subtests.test(email=email, role=role.value, actor=actor):
            with app.app_context():
                with pytest.raises(error) as info:
                    admin_accounts.change_role(
                        user_by_email(email), role, actor=user_by_email(actor),
                        organisation=org_by_name(organisation) if organisation else None,
                    )
                assert info.value.message == message
                db.session.rollback()
                assert table_rows() == before


def test_there_is_always_an_active_administrator(app, people):
    with app.app_context():
        second = factories.make_user("second.admin@un.example", role=Role.ADMIN, org_code=None)
        second.active = False  # a deactivated administrator does not count
        db.session.commit()
    with app.app_context():
        admin = user_by_email("admin@un.example")
        with pytest.raises(WorkflowError, match="^Admin is the last active administrator and cannot be demoted"):
            admin_accounts.change_role(admin, Role.MODERATOR, actor=admin)
        with pytest.raises(WorkflowError, match="^You cannot deactivate your own account"):
            admin_accounts.deactivate_user(admin, actor=admin)
        db.session.rollback()

    with app.app_context():
        admin_accounts.reactivate_user(user_by_email("second.admin@un.example"), actor=user_by_email("admin@un.example"))
        db.session.commit()
    _change_role(app, "admin@un.example", Role.MODERATOR, actor="admin@un.example")  # another admin remains
    with app.app_context():
        second = user_by_email("second.admin@un.example")
        with pytest.raises(WorkflowError, match="last active administrator"):
            admin_accounts.change_role(second, Role.SUBMITTER, actor=second, organisation=factories.org("MEX"))
        db.session.rollback()
        assert db.session.scalars(sa.select(User.email).where(User.role == Role.ADMIN, User.active.is_(True))).all() == [
            "second.admin@un.example"
        ]


def test_web_change_role_and_error_on_the_form_keeps_the_choice(app, people):
    admin = signed_in(app, "admin@un.example")
    page = admin.get(f"/admin/users/{people['submitter']}").get_data(as_text=True)
    assert '<option selected value="submitter">Submitter</option>' in page
    response = admin.post(
        f"/admin/users/{people['submitter']}/role", data={"role-csrf_token": csrf_from(page), "role-role": "moderator"}
    )
    assert response.headers["Location"] == f"/admin/users/{people['submitter']}"
    page = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert flashes(page, "success") == ["Ana (ana@mexico.example) is now moderator."]
    assert '<option selected value="moderator">Moderator</option>' in page
    with app.app_context():
        ana = user_by_email("ana@mexico.example")
        assert (ana.role, ana.organisation_id) == (Role.MODERATOR, None)

    with app.app_context():
        before = table_rows()
    response = admin.post(
        f"/admin/users/{people['moderator']}/role",
        data={"role-csrf_token": csrf_from(page), "role-role": "submitter", "role-organisation_id": ""},
    )
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert field_errors(text, "role-organisation_id") == ["Choose the organisation this person will submit for."]
    assert '<option selected value="submitter">Submitter</option>' in text
    with app.app_context():
        assert table_rows() == before


def test_admin_who_demotes_themself_is_sent_away_from_the_admin_pages(app, people):
    with app.app_context():
        factories.make_user("second.admin@un.example", role=Role.ADMIN, org_code=None)
        db.session.commit()
    admin = signed_in(app, "admin@un.example")
    page = admin.get(f"/admin/users/{people['admin']}").get_data(as_text=True)
    response = admin.post(
        f"/admin/users/{people['admin']}/role", data={"role-csrf_token": csrf_from(page), "role-role": "moderator"}
    )
    assert response.headers["Location"] == "/"
    assert admin.get("/admin/").status_code == 403
    with app.app_context():
        assert user_by_email("admin@un.example").role is Role.MODERATOR


# --- deactivate, reactivate -------------------------------------------------------------------


def test_deactivation_ends_sessions_and_reactivation_lets_them_back(app, people):
    ana = signed_in(app, "ana@mexico.example")
    assert ana.get("/my/submissions").status_code == 200
    with app.app_context():
        token_before = user_by_email("ana@mexico.example").session_token
    admin = signed_in(app, "admin@un.example")
    page = admin.get(f"/admin/users/{people['submitter']}").get_data(as_text=True)
    assert f"/admin/users/{people['submitter']}/deactivate" in form_actions(page)
    response = admin.post(
        f"/admin/users/{people['submitter']}/deactivate",
        data={"deactivate-csrf_token": csrf_from(page), "deactivate-note": f" {NOTE} "},
    )
    assert response.headers["Location"] == f"/admin/users/{people['submitter']}"
    page = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert flashes(page, "success") == ["The account of Ana (ana@mexico.example) was deactivated and signed out everywhere."]
    assert form_actions(page)[1] == f"/admin/users/{people['submitter']}/reactivate"

    # Her open session is over, and she cannot sign in again.
    response = ana.get("/my/submissions")
    assert response.status_code == 302
    assert response.headers["Location"] == _sign_in_url("/my/submissions")
    anonymous = app.test_client()
    refused = anonymous.post(
        "/sign-in",
        data={"email": "ana@mexico.example", "password": factories.PASSWORD, "csrf_token": csrf_token(anonymous)},
    )
    assert refused.status_code == 400
    assert "The e-mail address or password is incorrect." in refused.get_data(as_text=True)
    with app.app_context():
        user = user_by_email("ana@mexico.example")
        assert not user.active
        assert user.session_token != token_before
        [event] = [e for e in events("users", user.id) if e.action == "user.deactivate"]
        assert (event.actor_label, event.note, event.data) == (
            "admin@un.example", NOTE, {"active": {"old": True, "new": False}})

    response = admin.post(
        f"/admin/users/{people['submitter']}/reactivate", data={"reactivate-csrf_token": csrf_from(page)}
    )
    assert response.headers["Location"] == f"/admin/users/{people['submitter']}"
    login(app.test_client(), "ana@mexico.example")
    with app.app_context():
        user = user_by_email("ana@mexico.example")
        assert user.active
        assert [(e.action, e.data) for e in events("users", user.id) if e.action.startswith("user.")][-2:] == [
            ("user.deactivate", {"active": {"old": True, "new": False}}),
            ("user.reactivate", {"active": {"old": False, "new": True}}),
        ]


def test_admin_cannot_deactivate_or_reset_their_own_account(app, people):
    with app.app_context():
        db.session.add(RecoveryCode(user_id=people["admin"], code_hash="x"))
        db.session.commit()
    admin = signed_in(app, "admin@un.example")
    page = admin.get(f"/admin/users/{people['admin']}").get_data(as_text=True)
    assert form_actions(page) == [f"/admin/users/{people['admin']}/role"]
    assert "You cannot deactivate your own account or reset your own two-factor authentication here" in page
    with app.app_context():
        before = table_rows()
    for path, prefix, message in [
        ("deactivate", "deactivate", "You cannot deactivate your own account: ask another administrator. Nothing was changed."),
        ("reset-two-factor", "reset-2fa",
         "You cannot reset your own two-factor authentication here: ask another administrator. Nothing was changed."),
    ]:
        response = admin.post(f"/admin/users/{people['admin']}/{path}", data={f"{prefix}-csrf_token": csrf_from(page)})
        assert response.status_code == 400
        assert flashes(response.get_data(as_text=True), "error") == [message]
    with app.app_context():
        assert table_rows() == before


# --- reset two-factor ---------------------------------------------------------------------------


def test_reset_two_factor_removes_secret_and_codes_and_ends_sessions(app, people):
    with app.app_context():
        moderator = db.session.get(User, people["moderator"])
        db.session.add_all([RecoveryCode(user=moderator, code_hash="hash-1"), RecoveryCode(user=moderator, code_hash="hash-2")])
        moderator.totp_last_counter = 12345
        db.session.commit()
    mod_client = signed_in(app, "mod@un.example")
    assert mod_client.get("/moderation/").status_code == 200
    with app.app_context():
        moderator = db.session.get(User, people["moderator"])
        enabled_at, token_before, after_id = moderator.totp_enabled_at, moderator.session_token, last_event_id()

    admin = signed_in(app, "admin@un.example")
    page = admin.get(f"/admin/users/{people['moderator']}").get_data(as_text=True)
    assert "On since" in page and "2 unused recovery codes" in page
    response = admin.post(
        f"/admin/users/{people['moderator']}/reset-two-factor", data={"reset-2fa-csrf_token": csrf_from(page)}
    )
    assert response.headers["Location"] == f"/admin/users/{people['moderator']}"
    page = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert flashes(page, "success") == [
        "The two-factor authentication of Mod (mod@un.example) was reset; they set up a new one at their next sign-in."
    ]
    assert f"/admin/users/{people['moderator']}/reset-two-factor" not in form_actions(page)

    response = mod_client.get("/moderation/")
    assert response.status_code == 302
    assert response.headers["Location"] == _sign_in_url("/moderation/")
    with app.app_context():
        moderator = db.session.get(User, people["moderator"])
        assert (moderator.totp_secret, moderator.totp_enabled_at, moderator.totp_last_counter) == (None, None, None)
        assert moderator.session_token != token_before
        assert db.session.scalars(sa.select(RecoveryCode).where(RecoveryCode.user_id == moderator.id)).all() == []
        [event] = events(after=after_id)
        assert (event.action, event.object_id, event.actor_label) == ("user.reset_2fa", moderator.id, "admin@un.example")
        assert event.data == {
            "two_factor_was_enabled": True,
            "two_factor_enabled_since": enabled_at.isoformat(),
            "recovery_codes_removed": 2,
        }
        row = json.dumps(db.session.execute(sa.select(AuditEvent.__table__).where(AuditEvent.id == event.id)).mappings().one(), default=str)
        assert factories.TOTP_SECRET not in row and "hash-1" not in row

    # Nothing left to reset: the form is gone, and a post anyway is refused with the reason.
    response = admin.post(
        f"/admin/users/{people['moderator']}/reset-two-factor", data={"reset-2fa-csrf_token": csrf_from(page)}
    )
    assert response.status_code == 400
    assert flashes(response.get_data(as_text=True), "error") == [
        "Mod has no two-factor authentication to reset. Nothing was changed."
    ]


# --- the accounts list ---------------------------------------------------------------------------


def _user_names(page: str) -> list[str]:
    return re.findall(r'<td><a href="/admin/users/\d+">([^<]+)</a></td>', page)


def test_users_list_filters_and_pagination(app, people, subtests):
    with app.app_context():
        factories.make_user("zoe@mexico.example", name="Zoe 100% Mexican")
        gone = factories.make_user("bob@switzerland.example", org_code="CHE", name="Bob")
        gone.active = False
        db.session.commit()
        mexico, switzerland = factories.org("MEX").id, factories.org("CHE").id
    admin = signed_in(app, "admin@un.example")
    page = admin.get("/admin/users").get_data(as_text=True)
    assert _user_names(page) == ["Admin", "Ana", "Bob", "Hans", "Luis"]
    assert "7 accounts, by name" in page
    assert "Page 1 of 2" in page
    assert _user_names(admin.get("/admin/users?page=2").get_data(as_text=True)) == ["Mod", "Zoe 100% Mexican"]
    queries = {
        "?role=moderator": ["Mod"],
        "?role=submitter&active=yes": ["Ana", "Hans", "Luis", "Zoe 100% Mexican"],
        "?active=no": ["Bob"],
        "?q=MEXICO": ["Ana", "Luis", "Zoe 100% Mexican"],
        "?q=100%25": ["Zoe 100% Mexican"],
        "?q=_": [],  # LIKE wildcards are literal
        f"?organisation={switzerland}": ["Bob", "Hans"],
        "?organisation=none": ["Admin", "Mod"],
        f"?organisation={mexico}&q=an": ["Ana", "Zoe 100% Mexican"],
    }
    for query, expected in queries.items():
        with subtests.test(query=query):
            response = admin.get(f"/admin/users{query}")
            assert response.status_code == 200
            assert _user_names(response.get_data(as_text=True)) == expected
    page = admin.get("/admin/users?role=submitter").get_data(as_text=True)
    assert "Page 1 of 2" not in page  # 5 submitters: one page
    assert '<option selected value="submitter">Submitter</option>' in page
    for query, field, message in [
        ("?role=king", "role", "Choose a role from the list."),
        ("?organisation=99999", "organisation", "Choose an organisation from the list."),
    ]:
        response = admin.get(f"/admin/users{query}")
        assert response.status_code == 400
        text = response.get_data(as_text=True)
        assert field_errors(text, field) == [message]
        assert _user_names(text) == []


# --- the audit log --------------------------------------------------------------------------------


def _audit_rows(page: str) -> list[tuple[str, str]]:
    """(actor, action) of each row shown, top to bottom."""
    return re.findall(r"<tr>\s*<td>[^<]*</td>\s*<td>([^<]*)</td>\s*<td>([^<]*)</td>", page)


def test_audit_log_newest_first_with_filters_and_pagination(app, people, subtests):
    with app.app_context():
        organisation, _ = make_pending("Proposed NGO", proposer="p@ngo.example")
        statement = factories.make_statement(db.session.get(User, people["submitter"]))
        db.session.commit()
        org_id, public_id = organisation.id, statement.public_id
    with app.test_request_context():
        admin_accounts.deactivate_user(user_by_email("luis@mexico.example"), actor=user_by_email("admin@un.example"), note=NOTE)
        admin_accounts.reactivate_user(user_by_email("luis@mexico.example"), actor=user_by_email("admin@un.example"))
        organisations.approve_organisation(org_by_name("Proposed NGO"), actor=user_by_email("mod@un.example"))
        db.session.commit()

    admin = signed_in(app, "admin@un.example")
    page = admin.get("/admin/audit").get_data(as_text=True)
    assert _audit_rows(page) == [
        ("mod@un.example", "organisation.approve"),
        ("mod@un.example", "membership.approve"),
        ("admin@un.example", "user.reactivate"),
        ("admin@un.example", "user.deactivate"),
        ("ana@mexico.example", "submit"),
    ]
    assert "5 entries, newest first" in page
    assert f'<a href="/admin/organisations/{org_id}">Proposed NGO</a>' in page
    assert f"“{NOTE}”" in page
    assert "<code class=\"data\">{&#34;members_approved&#34;: [&#34;p@ngo.example&#34;]}</code>" in page
    assert f'<option value="user.deactivate">user.deactivate</option>' in page  # actions offered are those recorded

    today = datetime.now(UTC).date()
    queries = {
        "?actor=MOD@UN": [("mod@un.example", "organisation.approve"), ("mod@un.example", "membership.approve")],
        "?object_type=organisations": [("mod@un.example", "organisation.approve")],
        f"?object={org_id}&object_type=organisations": [("mod@un.example", "organisation.approve")],
        f"?object={public_id}": [("ana@mexico.example", "submit")],
        "?object=luis@": [("admin@un.example", "user.reactivate"), ("admin@un.example", "user.deactivate")],
        "?action=user.deactivate": [("admin@un.example", "user.deactivate")],
        f"?since={today}&until={today}&action=submit": [("ana@mexico.example", "submit")],
        f"?since={today + timedelta(days=1)}": [],
        f"?until={today - timedelta(days=1)}": [],
    }
    for query, expected in queries.items():
        with subtests.test(query=query):
            response = admin.get(f"/admin/audit{query}")
            assert response.status_code == 200
            assert _audit_rows(response.get_data(as_text=True)) == expected

    # Pagination (5 a page) keeps the filters.
    page = admin.get("/admin/audit?object_type=users").get_data(as_text=True)
    # Sign-ins write no audit rows; the user rows: reactivate, deactivate, membership.approve.
    assert _audit_rows(page) == [
        ("mod@un.example", "membership.approve"),
        ("admin@un.example", "user.reactivate"),
        ("admin@un.example", "user.deactivate"),
    ]
    with app.app_context():
        for n in range(5):
            admin_accounts.deactivate_user(factories.make_user(f"extra{n}@mexico.example"), actor=user_by_email("admin@un.example"))
        db.session.commit()
    page = admin.get("/admin/audit?action=user.deactivate").get_data(as_text=True)
    assert "Page 1 of 2" in page
    assert '<a href="/admin/audit?page=2&amp;action=user.deactivate" rel="next">Next page</a>' in page
    assert _audit_rows(admin.get("/admin/audit?page=2&action=user.deactivate").get_data(as_text=True)) == [
        ("admin@un.example", "user.deactivate")
    ]

    for query, field, message in [
        (f"?since={today}&until={today - timedelta(days=1)}", "until", "The end date must not be before the start date."),
        ("?since=yesterday", "since", "Not a valid date value."),
        ("?action=user.delete", "action", "Choose an action from the list."),
    ]:
        response = admin.get(f"/admin/audit{query}")
        assert response.status_code == 400
        text = response.get_data(as_text=True)
        assert field_errors(text, field) == [message]
        assert _audit_rows(text) == []


# --- PostgreSQL: two administrators demoting each other at once -----------------------------------


@pytest.mark.postgres_only
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_two_admins_demoting_each_other_at_once_leave_one_admin(app, people):
    """The first demotion holds the administrators' rows; the second waits, counts again and is refused."""
    with app.app_context():
        factories.make_user("second.admin@un.example", role=Role.ADMIN, org_code=None)
        db.session.commit()
        engine = db.engine
    outcome: list[str] = []

    def second_demotes_first() -> None:
        with app.app_context():
            first, second = user_by_email("admin@un.example"), user_by_email("second.admin@un.example")
            try:
                admin_accounts.change_role(first, Role.MODERATOR, actor=second)
                db.session.commit()
                outcome.append("committed")
            except WorkflowError as exc:
                db.session.rollback()
                outcome.append(exc.message)

    with app.app_context():
        first = user_by_email("admin@un.example")
        admin_accounts.change_role(user_by_email("second.admin@un.example"), Role.MODERATOR, actor=first)  # rows locked
        thread = threading.Thread(target=second_demotes_first)
        thread.start()
        deadline, waiting = time.monotonic() + 10, 0
        while time.monotonic() < deadline and not outcome:
            with engine.connect() as probe:
                waiting = probe.scalar(sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND wait_event_type = 'Lock' AND query ILIKE '%FOR UPDATE%'"
                ))
            if waiting:
                break
            time.sleep(0.02)
        db.session.commit()
    thread.join(timeout=20)
    assert waiting == 1, "the second demotion should have waited for the first"
    assert outcome == [
        "Admin is the last active administrator and cannot be demoted: make someone else an administrator first. "
        "Nothing was changed."
    ]
    with app.app_context():
        assert db.session.scalars(sa.select(User.email).where(User.role == Role.ADMIN)).all() == ["admin@un.example"]
        assert [e.action for e in events("users") if e.action == "user.role"] == ["user.role"]
