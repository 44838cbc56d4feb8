"""The access matrix: every endpoint, for each of five actors, on statements in each status.

Actors: anonymous, a submitter of another organisation (other_org), a submitter of the
statements' organisation (submitter), a moderator and an admin. The expected outcome of
every cell is written out in the tables below rather than derived from the permission code,
so a change to portal.permissions cannot silently change what the tests expect.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from portal.enums import StatementStatus
from portal.extensions import db
from portal.models import AuditEvent, Statement, User
from portal.storage import get_store
from tests import factories
from tests.conftest import csrf_from, csrf_token, login, logout

S = StatementStatus

ACTORS = ["anonymous", "other_org", "submitter", "moderator", "admin"]
SIGNED_IN = ["other_org", "submitter", "moderator", "admin"]
SUBMITTERS = ["other_org", "submitter"]
MODERATORS = ["moderator", "admin"]
NON_MODERATORS = ["anonymous", "other_org", "submitter"]
STATUSES = ["submitted", "approved", "rejected"]
ACTIONS = ["approve", "reject"]

EMAILS = {
    "other_org": "hans@switzerland.example",
    "submitter": "ana@mexico.example",
    "colleague": "luis@mexico.example",
    "moderator": "mod@un.example",
    "admin": "admin@un.example",
}
HOME = {
    "other_org": "/my/submissions",
    "submitter": "/my/submissions",
    "moderator": "/moderation/",
    "admin": "/moderation/",
}
ORGANISATION = {"other_org": "Switzerland", "submitter": "Mexico"}

SESSION_URL = "/sessions/human-rights-all-migrants"
# Well formed (see portal.models.statements.new_public_id) but never issued: Z never
# appears in a random id often enough for "ST-ZZZZ-ZZZZ" to come up (1 in 32**8).
GUESSED_ID = "ST-ZZZZ-ZZZZ"
REASON = "Not a statement to this session."

NOT_FOUND = "Page not found"
FORBIDDEN = "Not allowed"
FORM_EXPIRED = "Form expired"
NOT_PUBLIC = "This statement is not public."


# --- arrange -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One arranged statement, as the tests need it outside an app context."""

    public_id: str
    title: str
    data: bytes
    version: int
    storage_key: str


@pytest.fixture
def items(app: Flask) -> dict[str, Item]:
    """The cast of make_people, and one statement of Mexico's in each status, by status value."""
    with app.app_context():
        people = factories.make_people()
        statements = {}
        for status in STATUSES:
            title = f"Mexico on detention ({status})"
            data = factories.pdf_bytes(title)
            statements[status] = (
                factories.make_statement(
                    people["submitter"], title=title, status=S(status), data=data, moderator=people["moderator"], reason=REASON
                ),
                data,
            )
        db.session.commit()
        return {
            status: Item(s.public_id, s.title, data, s.version, s.document.storage_key)
            for status, (s, data) in statements.items()
        }


def sign_in(client: FlaskClient, actor: str) -> None:
    """Sign `actor` in (anonymous: do nothing), leaving no "Signed in as" message pending."""
    if actor != "anonymous":
        login(client, EMAILS[actor])
        with client.session_transaction() as session:
            session.pop("_flashes", None)


def token_for(client: FlaskClient, actor: str) -> str:
    """A valid CSRF token for the client's session (anonymous pages carry it on the sign-in form)."""
    return csrf_token(client, "/sign-in" if actor == "anonymous" else "/")


def sign_in_location(path: str) -> str:
    return "/sign-in?next=" + quote(path, safe="")


def state(app: Flask) -> dict[str, object]:
    """Everything a refused request must leave untouched, read in a fresh app context."""
    with app.app_context():
        statements = db.session.execute(
            sa.select(
                Statement.public_id,
                Statement.status,
                Statement.version,
                Statement.decided_by_id,
                Statement.decided_at,
                Statement.decision_note,
                Statement.published_at,
            ).order_by(Statement.id)
        ).all()
        audit = db.session.execute(sa.select(AuditEvent.id, AuditEvent.action).order_by(AuditEvent.id)).all()
        logins = db.session.execute(sa.select(User.email, User.last_login_at).order_by(User.id)).all()
        return {
            "statements": [tuple(row) for row in statements],
            "audit": [tuple(row) for row in audit],
            "logins": [tuple(row) for row in logins],
            "files": sorted(get_store().keys()),
        }


def status_of(app: Flask, public_id: str) -> StatementStatus:
    with app.app_context():
        return db.session.scalar(sa.select(Statement.status).where(Statement.public_id == public_id))


def audit_rows(app: Flask) -> list[tuple]:
    with app.app_context():
        return [
            tuple(row)
            for row in db.session.execute(
                sa.select(
                    AuditEvent.action, AuditEvent.object_ref, AuditEvent.old_status, AuditEvent.new_status, AuditEvent.actor_id
                ).order_by(AuditEvent.id)
            )
        ]


def user_id(app: Flask, actor: str) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(User.id).where(User.email == EMAILS[actor]))


def not_found_body(client: FlaskClient, url: str) -> str:
    """The 404 page the same client gets for a URL that cannot exist."""
    with client.get(url) as response:
        assert response.status_code == 404
        return response.get_data(as_text=True)


# --- public pages: index and session -------------------------------------------------------


@pytest.mark.parametrize("actor", ACTORS)
def test_index_open_to_everyone_counts_only_published(app, client, items, actor):
    sign_in(client, actor)

    response = client.get("/")

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Session 1: Human rights of all migrants" in page
    assert "Session 2: Drivers of migration" in page
    assert "1 published statement<" in page  # session 1: only the approved statement counts
    assert "0 published statements" in page  # session 2


@pytest.mark.parametrize("actor", ACTORS)
def test_session_page_open_to_everyone_lists_only_published(app, client, items, actor):
    sign_in(client, actor)

    response = client.get(SESSION_URL)

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert f'<a href="/statements/{items["approved"].public_id}">{items["approved"].title}</a>' in page
    for status in ("submitted", "rejected"):
        assert items[status].title not in page
        assert items[status].public_id not in page


@pytest.mark.parametrize("actor", ["anonymous", "submitter", "moderator"])
def test_session_page_unknown_slug_not_found(app, client, items, actor):
    sign_in(client, actor)

    response = client.get("/sessions/no-such-session")

    assert response.status_code == 404
    assert NOT_FOUND in response.get_data(as_text=True)


# --- statement page and download, by actor and status ----------------------------------------

# (status, actor, visible): published statements are public; unpublished ones only for
# their organisation and the secretariat, and a 404 (not a 403) for everyone else.
VISIBILITY = [
    ("approved", "anonymous", True),
    ("approved", "other_org", True),
    ("approved", "submitter", True),
    ("approved", "moderator", True),
    ("approved", "admin", True),
    ("submitted", "anonymous", False),
    ("submitted", "other_org", False),
    ("submitted", "submitter", True),
    ("submitted", "moderator", True),
    ("submitted", "admin", True),
    ("rejected", "anonymous", False),
    ("rejected", "other_org", False),
    ("rejected", "submitter", True),
    ("rejected", "moderator", True),
    ("rejected", "admin", True),
]
VISIBILITY_IDS = [f"{status}-{actor}-{'visible' if visible else 'hidden'}" for status, actor, visible in VISIBILITY]


@pytest.mark.parametrize(("status", "actor", "visible"), VISIBILITY, ids=VISIBILITY_IDS)
def test_statement_page_visible_only_to_allowed_actors(app, client, items, status, actor, visible):
    item = items[status]
    sign_in(client, actor)

    response = client.get(f"/statements/{item.public_id}")

    page = response.get_data(as_text=True)
    if visible:
        assert response.status_code == 200
        assert f"<h1>{item.title}</h1>" in page
        assert f'href="/statements/{item.public_id}/document"' in page
        assert (NOT_PUBLIC in page) is (status != "approved")
        assert (f"Reason given by the secretariat:</strong> {REASON}" in page) is (status == "rejected")
    else:
        assert response.status_code == 404
        assert NOT_FOUND in page
        assert item.title not in page
        assert item.public_id not in page
        # Indistinguishable from a statement that does not exist.
        assert page == not_found_body(client, f"/statements/{GUESSED_ID}")


@pytest.mark.parametrize(("status", "actor", "visible"), VISIBILITY, ids=VISIBILITY_IDS)
def test_download_visible_only_to_allowed_actors(app, client, items, status, actor, visible):
    item = items[status]
    sign_in(client, actor)

    with client.get(f"/statements/{item.public_id}/document") as response:
        if visible:
            assert response.status_code == 200
            assert response.data == item.data
            assert response.headers["Content-Type"] == "application/pdf"
            assert response.headers["Content-Disposition"] == f"attachment; filename={item.public_id}.pdf"
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            if status != "approved":
                assert "no-store" in response.headers["Cache-Control"]
        else:
            assert response.status_code == 404
            assert "Content-Disposition" not in response.headers
            assert item.data not in response.data
            page = response.get_data(as_text=True)
            assert NOT_FOUND in page
            assert page == not_found_body(client, f"/statements/{GUESSED_ID}/document")


@pytest.mark.parametrize("status", ["submitted", "rejected"])
def test_unpublished_statement_visible_to_colleague_of_same_organisation(app, client, items, status):
    """The organisation, not only the author, sees its unpublished statements."""
    item = items[status]
    login(client, EMAILS["colleague"])

    page = client.get(f"/statements/{item.public_id}")
    with client.get(f"/statements/{item.public_id}/document") as download:
        assert download.status_code == 200
        assert download.data == item.data
        assert download.headers["Content-Disposition"] == f"attachment; filename={item.public_id}.pdf"
        assert download.headers["X-Content-Type-Options"] == "nosniff"
        assert "no-store" in download.headers["Cache-Control"]

    assert page.status_code == 200
    assert f"<h1>{item.title}</h1>" in page.get_data(as_text=True)
    assert NOT_PUBLIC in page.get_data(as_text=True)


# URLs someone might guess: ids never issued, and the stored file's key in places files are not served from.
GUESSES = {
    "statement-page": lambda items: f"/statements/{GUESSED_ID}",
    "download": lambda items: f"/statements/{GUESSED_ID}/document",
    "download-lowercase-id": lambda items: f"/statements/{items['approved'].public_id.lower()}/document",
    "download-with-extension": lambda items: f"/statements/{items['submitted'].public_id}/document.pdf",
    "storage-key-under-static": lambda items: f"/static/{items['submitted'].storage_key}",
    "storage-path-under-static": lambda items: (
        f"/static/{items['submitted'].storage_key[:2]}/{items['submitted'].storage_key[2:4]}/{items['submitted'].storage_key}"
    ),
    "storage-key-under-files": lambda items: f"/files/{items['submitted'].storage_key}",
    "storage-key-as-public-id": lambda items: f"/statements/{items['submitted'].storage_key}/document",
}


@pytest.mark.parametrize("guess", list(GUESSES))
@pytest.mark.parametrize("actor", ACTORS)
def test_guessed_statement_or_file_url_not_found(app, client, items, actor, guess):
    url = GUESSES[guess](items)
    sign_in(client, actor)

    with client.get(url) as response:
        assert response.status_code == 404, url
        assert "Content-Disposition" not in response.headers
        assert items["submitted"].data not in response.data
        assert NOT_FOUND in response.get_data(as_text=True)


# --- signed-in-only pages ----------------------------------------------------------------------

# name -> (method, path); {submitted}, {approved}, {rejected} are filled with the public ids.
SIGNED_IN_PAGES = {
    "submit.new-GET": ("GET", "/submit"),
    "submit.new-POST": ("POST", "/submit"),
    "submit.mine": ("GET", "/my/submissions"),
    "moderate.queue": ("GET", "/moderation/"),
    "moderate.review-submitted": ("GET", "/moderation/{submitted}"),
    "moderate.review-approved": ("GET", "/moderation/{approved}"),
    "moderate.review-rejected": ("GET", "/moderation/{rejected}"),
    "moderate.review-unknown-id": ("GET", f"/moderation/{GUESSED_ID}"),
}


def page_path(name: str, items: dict[str, Item]) -> tuple[str, str]:
    method, path = SIGNED_IN_PAGES[name]
    return method, path.format(**{status: item.public_id for status, item in items.items()})


@pytest.mark.parametrize("page", list(SIGNED_IN_PAGES))
def test_signed_in_page_redirects_anonymous_to_sign_in(app, client, items, page):
    method, path = page_path(page, items)
    before = state(app)

    if method == "POST":
        response = client.post(path, data={"csrf_token": csrf_token(client, "/sign-in"), "title": "Sneaky"})
    else:
        response = client.get(path)

    assert response.status_code == 302
    assert response.headers["Location"] == sign_in_location(path)
    sign_in_page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "Please sign in to continue." in sign_in_page
    assert f'name="next" type="hidden" value="{path}"' in sign_in_page
    assert state(app) == before


@pytest.mark.parametrize("page", [name for name in SIGNED_IN_PAGES if name.startswith("moderate.")])
@pytest.mark.parametrize("actor", SUBMITTERS)
def test_moderation_page_forbidden_for_submitter(app, client, items, actor, page):
    _, path = page_path(page, items)
    sign_in(client, actor)

    response = client.get(path)

    assert response.status_code == 403
    body = response.get_data(as_text=True)
    assert FORBIDDEN in body
    for item in items.values():
        assert item.title not in body


@pytest.mark.parametrize("page", [name for name in SIGNED_IN_PAGES if name.startswith("submit.")])
@pytest.mark.parametrize("actor", MODERATORS)
def test_submit_page_forbidden_for_moderator(app, client, items, actor, page):
    method, path = page_path(page, items)
    sign_in(client, actor)
    before = state(app)

    if method == "POST":
        with app.app_context():
            session_id, area_id = factories.session_by_number(1).id, factories.area(1, "d").id
        response = client.post(path, data=submission(token_for(client, actor), session_id, area_id), content_type="multipart/form-data")
    else:
        response = client.get(path)

    assert response.status_code == 403
    assert FORBIDDEN in response.get_data(as_text=True)
    assert state(app) == before


def submission(token: str, session_id: int, area_id: int, title: str = "Statement on return and readmission") -> dict:
    return {
        "csrf_token": token,
        "title": title,
        "session_id": str(session_id),
        "area_ids": [str(area_id)],
        "kind": "delivered",
        "language": "en",
        "delivered_on": "2017-05-08",
        "document": (io.BytesIO(factories.pdf_bytes(title)), "statement.pdf"),
    }


@pytest.mark.parametrize("actor", SUBMITTERS)
def test_submit_form_open_to_submitter(app, client, items, actor):
    sign_in(client, actor)

    response = client.get("/submit")

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert f"On behalf of <strong>{ORGANISATION[actor]}</strong>" in page
    assert 'action="/submit" enctype="multipart/form-data"' in page


@pytest.mark.parametrize("actor", SUBMITTERS)
def test_submit_post_by_submitter_files_statement_for_own_organisation(app, client, items, actor):
    with app.app_context():
        session_id, area_id = factories.session_by_number(1).id, factories.area(1, "d").id
    sign_in(client, actor)

    response = client.post(
        "/submit",
        data=submission(csrf_token(client, "/submit"), session_id, area_id, title=f"Statement of {actor}"),
        content_type="multipart/form-data",
    )

    assert response.status_code == 302
    assert response.headers["Location"] == "/my/submissions"
    with app.app_context():
        statement = db.session.scalar(sa.select(Statement).where(Statement.title == f"Statement of {actor}"))
        assert statement.status is S.SUBMITTED
        assert statement.organisation.name == ORGANISATION[actor]
        assert statement.submitted_by.email == EMAILS[actor]


# actor -> (titles listed, titles not listed) on /my/submissions
MY_SUBMISSIONS = {
    "submitter": (STATUSES, []),
    "other_org": ([], STATUSES),
}


@pytest.mark.parametrize("actor", SUBMITTERS)
def test_my_submissions_lists_only_own_organisation(app, client, items, actor):
    listed, hidden = MY_SUBMISSIONS[actor]
    sign_in(client, actor)

    response = client.get("/my/submissions")

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert f"<h1>Submissions of {ORGANISATION[actor]}</h1>" in page
    for status in listed:
        assert f'<a href="/statements/{items[status].public_id}">{items[status].public_id}</a>' in page
        assert items[status].title in page
        assert f'<span class="badge badge-{status}">{S(status).label}</span>' in page
    for status in hidden:
        assert items[status].title not in page
        assert items[status].public_id not in page
    if not listed:
        assert "Your organisation has not submitted any statements yet." in page


# --- moderation pages --------------------------------------------------------------------------


@pytest.mark.parametrize("actor", MODERATORS)
def test_moderation_queue_open_to_moderator_lists_only_submitted(app, client, items, actor):
    sign_in(client, actor)

    response = client.get("/moderation/")

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<h1>Review queue</h1>" in page
    assert f'href="/moderation/{items["submitted"].public_id}"' in page
    assert items["submitted"].title in page
    for status in ("approved", "rejected"):
        assert items[status].public_id not in page


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("actor", MODERATORS)
def test_review_page_open_to_moderator_in_every_status(app, client, items, actor, status):
    item = items[status]
    sign_in(client, actor)

    response = client.get(f"/moderation/{item.public_id}")

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert f"<h1>{item.title}</h1>" in page
    assert f'<span class="badge badge-{status}">{S(status).label}</span>' in page
    decision_forms = re.findall(r'action="(/moderation/[^"]+)"', page)
    if status == "submitted":
        assert decision_forms == [f"/moderation/{item.public_id}/approve", f"/moderation/{item.public_id}/reject"]
        assert 'name="approve-csrf_token"' in page
        assert f'name="approve-version" type="hidden" value="{item.version}"' in page
        assert 'name="reject-note"' in page
    else:
        assert decision_forms == []
        assert f"This statement has been decided: {S(status).label.lower()}" in page


@pytest.mark.parametrize("actor", MODERATORS)
def test_review_page_unknown_id_not_found_for_moderator(app, client, items, actor):
    sign_in(client, actor)

    response = client.get(f"/moderation/{GUESSED_ID}")

    assert response.status_code == 404
    assert NOT_FOUND in response.get_data(as_text=True)


# --- decisions ---------------------------------------------------------------------------------


def decision_data(token: str, action: str, version: int) -> dict[str, str]:
    data = {f"{action}-csrf_token": token, f"{action}-version": str(version)}
    if action == "reject":
        data["reject-note"] = "Off topic."
    return data


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("actor", NON_MODERATORS)
def test_decision_by_non_moderator_refused_and_changes_nothing(app, client, items, actor, action, status):
    item = items[status]
    sign_in(client, actor)
    token = token_for(client, actor)
    before = state(app)
    path = f"/moderation/{item.public_id}/{action}"

    response = client.post(path, data=decision_data(token, action, item.version))

    if actor == "anonymous":
        assert response.status_code == 302
        assert response.headers["Location"] == sign_in_location(path)
    else:
        assert response.status_code == 403
        assert FORBIDDEN in response.get_data(as_text=True)
    assert status_of(app, item.public_id) is S(status)
    assert state(app) == before


# action -> (status after, audit action)
DECISIONS = {"approve": S.APPROVED, "reject": S.REJECTED}


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("actor", MODERATORS)
def test_decision_by_moderator_applies_and_is_audited(app, client, items, actor, action):
    item = items["submitted"]
    sign_in(client, actor)
    review = client.get(f"/moderation/{item.public_id}").get_data(as_text=True)
    before = audit_rows(app)

    response = client.post(f"/moderation/{item.public_id}/{action}", data=decision_data(csrf_from(review), action, item.version))

    assert response.status_code == 302
    assert response.headers["Location"] == "/moderation/"
    assert status_of(app, item.public_id) is DECISIONS[action]
    assert audit_rows(app) == [
        *before,
        (action, item.public_id, "submitted", DECISIONS[action].value, user_id(app, actor)),
    ]
    # The outcome is visible where the rules say: published means public.
    logout(client)
    assert client.get(f"/statements/{item.public_id}").status_code == (200 if action == "approve" else 404)


@pytest.mark.parametrize("status", ["approved", "rejected"])
@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("actor", MODERATORS)
def test_decision_on_decided_statement_refused_and_changes_nothing(app, client, items, actor, action, status):
    item = items[status]
    sign_in(client, actor)
    token = token_for(client, actor)
    before = state(app)

    response = client.post(f"/moderation/{item.public_id}/{action}", data=decision_data(token, action, item.version))

    assert response.status_code == 302
    assert response.headers["Location"] == f"/moderation/{item.public_id}"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"because it is already {S(status).label.lower()}. Nothing was changed." in page
    assert status_of(app, item.public_id) is S(status)
    assert state(app) == before


# actor -> (status code, location) for POST /moderation/<id>/frobnicate: the role gate comes first.
UNKNOWN_ACTION = {
    "anonymous": (302, "sign-in"),
    "other_org": (403, None),
    "submitter": (403, None),
    "moderator": (404, None),
    "admin": (404, None),
}


@pytest.mark.parametrize("actor", ACTORS)
def test_unknown_decision_action_refused_and_changes_nothing(app, client, items, actor):
    item = items["submitted"]
    sign_in(client, actor)
    token = token_for(client, actor)
    before = state(app)
    path = f"/moderation/{item.public_id}/frobnicate"

    response = client.post(path, data={"frobnicate-csrf_token": token, "csrf_token": token, "frobnicate-version": str(item.version)})

    code, _ = UNKNOWN_ACTION[actor]
    assert response.status_code == code
    body = response.get_data(as_text=True)
    if code == 302:
        assert response.headers["Location"] == sign_in_location(path)
    elif code == 403:
        assert FORBIDDEN in body
    else:
        assert NOT_FOUND in body
    assert status_of(app, item.public_id) is S.SUBMITTED
    assert state(app) == before


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("actor", MODERATORS)
def test_decision_on_unknown_statement_not_found(app, client, items, actor, action):
    sign_in(client, actor)
    token = token_for(client, actor)
    before = state(app)

    response = client.post(f"/moderation/{GUESSED_ID}/{action}", data=decision_data(token, action, 1))

    assert response.status_code == 404
    assert NOT_FOUND in response.get_data(as_text=True)
    assert state(app) == before


# --- CSRF --------------------------------------------------------------------------------------

# name -> (actor, path): every POST endpoint, posted by someone who could otherwise use it.
POSTS = {
    "sign-in": ("anonymous", "/sign-in"),
    "sign-out-submitter": ("submitter", "/sign-out"),
    "sign-out-moderator": ("moderator", "/sign-out"),
    "submit": ("submitter", "/submit"),
    "approve-moderator": ("moderator", "/moderation/{submitted}/approve"),
    "reject-moderator": ("moderator", "/moderation/{submitted}/reject"),
    "approve-admin": ("admin", "/moderation/{submitted}/approve"),
    "reject-admin": ("admin", "/moderation/{submitted}/reject"),
}
FORGED_TOKEN = "IjBhMWIyYzNkNGU1ZjZhN2I4YzlkMGUxZjJhM2I0YzVkNmU3ZjhhOWIi.ZmFrZQ.c2lnbmF0dXJlLW5vdC1tYWRlLWJ5LXRoZS1hcHA"


@pytest.mark.parametrize("token", ["missing", "forged"])
@pytest.mark.parametrize("post", list(POSTS))
def test_post_without_valid_csrf_token_rejected_and_changes_nothing(app, client, items, post, token):
    actor, path = POSTS[post]
    path = path.format(submitted=items["submitted"].public_id)
    sign_in(client, actor)
    if path == "/submit":
        with app.app_context():
            data = submission("", factories.session_by_number(1).id, factories.area(1, "d").id)
        data.pop("csrf_token")
    elif path == "/sign-in":
        data = {"email": EMAILS["submitter"], "password": factories.PASSWORD}
    elif path == "/sign-out":
        data = {}
    else:
        action = path.rsplit("/", 1)[1]
        data = decision_data("", action, items["submitted"].version)
        data.pop(f"{action}-csrf_token")
    if token == "forged":
        data["csrf_token"] = FORGED_TOKEN
    before = state(app)

    response = client.post(path, data=data, content_type="multipart/form-data" if path == "/submit" else None)

    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert FORM_EXPIRED in page
    assert "Nothing was saved." in page
    assert status_of(app, items["submitted"].public_id) is S.SUBMITTED
    assert state(app) == before
    # Signing in or out did not happen either.
    after = client.get("/my/submissions")
    if actor == "anonymous":
        assert after.status_code == 302
        assert after.headers["Location"] == sign_in_location("/my/submissions")
    else:
        assert after.status_code == (200 if actor in SUBMITTERS else 403)


# --- sign in and out ---------------------------------------------------------------------------


@pytest.mark.parametrize("actor", ACTORS)
def test_sign_in_page_form_for_anonymous_redirect_home_when_signed_in(app, client, items, actor):
    sign_in(client, actor)

    response = client.get("/sign-in")

    if actor == "anonymous":
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        assert "<h1>Sign in</h1>" in page
        assert csrf_from(page)
        assert 'name="password"' in page
    else:
        assert response.status_code == 302
        assert response.headers["Location"] == HOME[actor]


@pytest.mark.parametrize("actor", ACTORS)
def test_sign_out_ends_session_and_redirects_to_index(app, client, items, actor):
    sign_in(client, actor)
    token = token_for(client, actor)

    response = client.post("/sign-out", data={"csrf_token": token})

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    index = client.get("/").get_data(as_text=True)
    assert '<a href="/sign-in">Sign in</a>' in index
    assert 'action="/sign-out"' not in index
    assert ("You are signed out." in index) is (actor != "anonymous")
    after = client.get("/my/submissions")
    assert after.status_code == 302
    assert after.headers["Location"] == sign_in_location("/my/submissions")
