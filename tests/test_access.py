"""The access matrix: every endpoint, for each of five actors, on statements in each status.

Actors: anonymous, a submitter of another organisation (other_org), a submitter of the
statements' organisation (submitter), a moderator and an admin. The expected outcome of
every cell is written out in the tables below rather than derived from portal.permissions,
so a change there cannot silently change what the tests expect.

Speed: the matrix has some 190 cells per backend. Cells that must change nothing (every
GET, and every POST the app has to refuse) share one app and data set per backend, the
`shared` fixture; before each cell it checks, in a fresh app context, that the data are still
exactly as arranged and rebuilds them if not, so a refused request that got through cannot
leak into the next cell. Cells that are meant to change data (an accepted decision or
submission) use conftest's function-scoped `app`.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash

from portal.enums import StatementStatus
from portal.extensions import db
from portal.models import AuditEvent, Base, Statement, User
from tests import factories
from tests.conftest import BACKENDS, PG_URL, csrf_from, csrf_token, login, logout, make_app, truncate

S = StatementStatus

ACTORS = ["anonymous", "other_org", "submitter", "moderator", "admin"]
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
# Well formed (see portal.models.statements.new_public_id) but never issued in these tests:
# a random id is "ST-ZZZZ-ZZZZ" once in 32**8.
GUESSED_ID = "ST-ZZZZ-ZZZZ"
REASON = "Not a statement to this session."

NOT_FOUND = "Page not found"
FORBIDDEN = "Not allowed"
FORM_EXPIRED = "Form expired"
NOT_PUBLIC = "This statement is not public."

# Signing in checks the password every time. factories' cached hash is scrypt (about 70 ms a
# check); one PBKDF2 round keeps the ~200 sign-ins of this file fast while they still go
# through the real form and the real check_password_hash.
FAST_PASSWORD_HASH = generate_password_hash(factories.PASSWORD, method="pbkdf2:sha256:1")


# --- arrange -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Item:
    """One arranged statement, as the tests need it outside an app context."""

    public_id: str
    title: str
    data: bytes
    version: int
    storage_key: str


def arrange() -> dict[str, Item]:
    """The cast of make_people and one statement of Mexico's in each status, by status value.

    Call inside an app context; commits.
    """
    people = factories.make_people()
    for user in people.values():
        user.password_hash = FAST_PASSWORD_HASH
    statements = {}
    for status in STATUSES:
        title = f"Mexico on detention ({status})"
        data = factories.pdf_bytes(title)
        statement = factories.make_statement(
            people["submitter"], title=title, status=S(status), data=data, moderator=people["moderator"], reason=REASON
        )
        statements[status] = (statement, data)
    db.session.commit()
    return {
        status: Item(s.public_id, s.title, data, s.version, s.document.storage_key)
        for status, (s, data) in statements.items()
    }


@pytest.fixture
def items(app: Flask) -> dict[str, Item]:
    """arrange() on conftest's function-scoped app, for cells that change data."""
    with app.app_context():
        return arrange()


@dataclass
class Shared:
    backend: str
    app: Flask
    items: dict[str, Item] = field(default_factory=dict)
    pristine: dict[str, list] = field(default_factory=dict)

    def build(self) -> None:
        """(Re)create the schema content, the file store and the arranged data."""
        shutil.rmtree(self.app.config["PORTAL_STORAGE_DIR"], ignore_errors=True)
        with self.app.app_context():
            if self.backend == "postgresql" and self.pristine:
                truncate(db.engine)
            else:
                Base.metadata.drop_all(db.engine)
                Base.metadata.create_all(db.engine)
            factories.seed_catalogue()
            db.session.commit()
            self.items = arrange()
        self.pristine = state(self.app)


@contextmanager
def private_database(backend: str, tmp_path: Path) -> Iterator[str]:
    """A database of its own for the shared app: a SQLite file, or a PostgreSQL database
    created next to PORTAL_TEST_DATABASE_URL's (as conftest's pg_url does) and dropped after."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'access.db'}"
        return
    server = sa.make_url(PG_URL)
    name = f"portal_access_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module", params=BACKENDS)
def _shared_app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shared]:
    tmp_path = tmp_path_factory.mktemp("access")
    with private_database(request.param, tmp_path) as url:
        shared = Shared(request.param, make_app(url, tmp_path))
        shared.build()
        try:
            yield shared
        finally:
            with shared.app.app_context():
                db.session.remove()
                db.engine.dispose()


@pytest.fixture
def shared(_shared_app: Shared) -> Shared:
    """The shared app and data, verified untouched (rebuilt if an earlier cell changed them)."""
    if state(_shared_app.app) != _shared_app.pristine:
        _shared_app.build()
    return _shared_app


@pytest.fixture
def web(shared: Shared) -> FlaskClient:
    """A fresh browser (no cookies) on the shared app."""
    return shared.app.test_client()


def sign_in(client: FlaskClient, actor: str) -> None:
    """Sign `actor` in (anonymous: do nothing), leaving no "Signed in as" message pending."""
    if actor != "anonymous":
        login(client, EMAILS[actor])
        with client.session_transaction() as session:
            session.pop("_flashes", None)


def token_for(client: FlaskClient, actor: str) -> str:
    """A valid CSRF token for the client's session (for anonymous, from the sign-in form)."""
    return csrf_token(client, "/sign-in" if actor == "anonymous" else "/")


def sign_in_location(path: str) -> str:
    return "/sign-in?next=" + quote(path, safe="")


def state(app: Flask) -> dict[str, list]:
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
                Statement.title,
                Statement.organisation_id,
            ).order_by(Statement.id)
        ).all()
        audit = db.session.execute(
            sa.select(AuditEvent.id, AuditEvent.action, AuditEvent.object_ref).order_by(AuditEvent.id)
        ).all()
        users = db.session.execute(sa.select(User.email, User.role, User.active).order_by(User.id)).all()
        return {
            "statements": [tuple(row) for row in statements],
            "audit": [tuple(row) for row in audit],
            "users": [tuple(row) for row in users],
            "files": stored_files(app),
        }


def stored_files(app: Flask) -> list[str]:
    """Every file under the store, finished or not (call inside an app context)."""
    root = Path(app.config["PORTAL_STORAGE_DIR"])
    return sorted(str(path.relative_to(root)) for path in root.rglob("*") if path.is_file())


def status_of(app: Flask, public_id: str) -> StatementStatus:
    with app.app_context():
        return db.session.scalar(sa.select(Statement.status).where(Statement.public_id == public_id))


def last_login_of(app: Flask, actor: str) -> datetime | None:
    with app.app_context():
        return db.session.scalar(sa.select(User.last_login_at).where(User.email == EMAILS[actor]))


def not_found_body(client: FlaskClient, url: str) -> str:
    """The 404 page the same client gets for a URL that cannot exist."""
    with client.get(url) as response:
        assert response.status_code == 404
        return response.get_data(as_text=True)


def submission(token: str | None, app: Flask, title: str = "Statement on return and readmission") -> dict:
    """A complete, valid submission form (without a CSRF token if `token` is None)."""
    with app.app_context():
        session_id, area_id = factories.session_by_number(1).id, factories.area(1, "d").id
    data = {
        "title": title,
        "session_id": str(session_id),
        "area_ids": [str(area_id)],
        "kind": "delivered",
        "language": "en",
        "delivered_on": "2017-05-08",
        "document": (io.BytesIO(factories.pdf_bytes(title)), "statement.pdf"),
    }
    if token is not None:
        data["csrf_token"] = token
    return data


def decision_data(token: str | None, action: str, version: int) -> dict[str, str]:
    """The fields of the decision form for `action` (without a CSRF token if `token` is None)."""
    data = {f"{action}-version": str(version)}
    if token is not None:
        data[f"{action}-csrf_token"] = token
    if action == "reject":
        data["reject-note"] = "Off topic."
    return data


# --- public pages: index and session -------------------------------------------------------


@pytest.mark.parametrize("actor", ACTORS)
def test_index_open_to_everyone_counts_only_published(shared, web, actor):
    sign_in(web, actor)

    response = web.get("/")

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Session 1: Human rights of all migrants" in page
    assert "Session 2: Drivers of migration" in page
    assert "<p>1 published statement</p>" in page  # session 1: only the approved statement counts
    assert "<p>0 published statements</p>" in page  # session 2


@pytest.mark.parametrize("actor", ACTORS)
def test_session_page_open_to_everyone_lists_only_published(shared, web, actor):
    items = shared.items
    sign_in(web, actor)

    response = web.get(SESSION_URL)

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert f'<a href="/statements/{items["approved"].public_id}">{items["approved"].title}</a>' in page
    for status in ("submitted", "rejected"):
        assert items[status].title not in page
        assert items[status].public_id not in page


# --- statement page and download, by status and actor ----------------------------------------

# (status, actor, visible): published statements are public; unpublished ones exist only for
# their organisation and the secretariat, and are a 404 (not a 403) for everyone else.
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
def test_statement_page_visible_only_to_allowed_actors(shared, web, status, actor, visible):
    item = shared.items[status]
    sign_in(web, actor)

    response = web.get(f"/statements/{item.public_id}")

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
        assert page == not_found_body(web, f"/statements/{GUESSED_ID}")


@pytest.mark.parametrize(("status", "actor", "visible"), VISIBILITY, ids=VISIBILITY_IDS)
def test_download_visible_only_to_allowed_actors(shared, web, status, actor, visible):
    item = shared.items[status]
    sign_in(web, actor)

    with web.get(f"/statements/{item.public_id}/document") as response:
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
            assert page == not_found_body(web, f"/statements/{GUESSED_ID}/document")


@pytest.mark.parametrize("endpoint", ["page", "download"])
@pytest.mark.parametrize("status", ["submitted", "rejected"])
def test_unpublished_statement_visible_to_colleague_of_same_organisation(shared, web, status, endpoint):
    """The organisation sees its unpublished statements, not only their author."""
    item = shared.items[status]
    login(web, EMAILS["colleague"])

    if endpoint == "page":
        response = web.get(f"/statements/{item.public_id}")
        assert response.status_code == 200
        assert f"<h1>{item.title}</h1>" in response.get_data(as_text=True)
        assert NOT_PUBLIC in response.get_data(as_text=True)
    else:
        with web.get(f"/statements/{item.public_id}/document") as response:
            assert response.status_code == 200
            assert response.data == item.data
            assert response.headers["Content-Disposition"] == f"attachment; filename={item.public_id}.pdf"
            assert response.headers["X-Content-Type-Options"] == "nosniff"
            assert "no-store" in response.headers["Cache-Control"]


# URLs someone might guess: ids never issued, and stored files' keys where files are not served.
GUESSES = {
    "statement-page": lambda items: f"/statements/{GUESSED_ID}",
    "download": lambda items: f"/statements/{GUESSED_ID}/document",
    "download-lowercase-id": lambda items: f"/statements/{items['approved'].public_id.lower()}/document",
    "download-with-extension": lambda items: f"/statements/{items['submitted'].public_id}/document.pdf",
    "storage-key-under-static": lambda items: f"/static/{items['submitted'].storage_key}",
    "storage-path-under-static": lambda items: "/static/{0[0]}{0[1]}/{0[2]}{0[3]}/{0}".format(
        items["submitted"].storage_key
    ),
    "storage-key-under-files": lambda items: f"/files/{items['submitted'].storage_key}",
    "storage-key-as-public-id": lambda items: f"/statements/{items['submitted'].storage_key}/document",
    "session-slug": lambda items: "/sessions/no-such-session",
}


@pytest.mark.parametrize("guess", list(GUESSES))
@pytest.mark.parametrize("actor", ACTORS)
def test_guessed_statement_or_file_url_not_found(shared, web, actor, guess):
    url = GUESSES[guess](shared.items)
    sign_in(web, actor)

    with web.get(url) as response:
        assert response.status_code == 404, url
        assert "Content-Disposition" not in response.headers
        assert shared.items["submitted"].data not in response.data
        assert NOT_FOUND in response.get_data(as_text=True)


# --- signed-in-only pages ----------------------------------------------------------------------

# name -> (method, path); {submitted}, {approved}, {rejected} stand for the public ids.
# The decision endpoints are in test_decision_by_non_moderator_refused_and_changes_nothing.
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
MODERATION_PAGES = [name for name in SIGNED_IN_PAGES if name.startswith("moderate.")]
SUBMIT_PAGES = [name for name in SIGNED_IN_PAGES if name.startswith("submit.")]


def page_path(name: str, items: dict[str, Item]) -> tuple[str, str]:
    method, path = SIGNED_IN_PAGES[name]
    return method, path.format(**{status: item.public_id for status, item in items.items()})


@pytest.mark.parametrize("page", list(SIGNED_IN_PAGES))
def test_signed_in_page_redirects_anonymous_to_sign_in(shared, web, page):
    method, path = page_path(page, shared.items)

    if method == "POST":
        response = web.post(path, data=submission(token_for(web, "anonymous"), shared.app), content_type="multipart/form-data")
    else:
        response = web.get(path)

    assert response.status_code == 302
    assert response.headers["Location"] == sign_in_location(path)
    sign_in_page = web.get(response.headers["Location"]).get_data(as_text=True)
    assert "Please sign in to continue." in sign_in_page
    assert f'name="next" type="hidden" value="{path}"' in sign_in_page
    assert state(shared.app) == shared.pristine


@pytest.mark.parametrize("page", MODERATION_PAGES)
@pytest.mark.parametrize("actor", SUBMITTERS)
def test_moderation_page_forbidden_for_submitter(shared, web, actor, page):
    _, path = page_path(page, shared.items)
    sign_in(web, actor)

    response = web.get(path)

    assert response.status_code == 403
    body = response.get_data(as_text=True)
    assert FORBIDDEN in body
    for item in shared.items.values():
        assert item.title not in body


@pytest.mark.parametrize("page", SUBMIT_PAGES)
@pytest.mark.parametrize("actor", MODERATORS)
def test_submit_page_forbidden_for_moderator(shared, web, actor, page):
    method, path = page_path(page, shared.items)
    sign_in(web, actor)

    if method == "POST":
        response = web.post(path, data=submission(token_for(web, actor), shared.app), content_type="multipart/form-data")
    else:
        response = web.get(path)

    assert response.status_code == 403
    assert FORBIDDEN in response.get_data(as_text=True)
    assert state(shared.app) == shared.pristine


@pytest.mark.parametrize("actor", SUBMITTERS)
def test_submit_form_open_to_submitter(shared, web, actor):
    sign_in(web, actor)

    response = web.get("/submit")

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert f"On behalf of <strong>{ORGANISATION[actor]}</strong>" in page
    assert 'action="/submit" enctype="multipart/form-data"' in page
    assert csrf_from(page)


@pytest.mark.parametrize("actor", SUBMITTERS)
def test_submit_post_by_submitter_files_statement_for_own_organisation(app, client, items, actor):
    title = f"Statement filed by {actor}"
    sign_in(client, actor)

    response = client.post(
        "/submit", data=submission(csrf_token(client, "/submit"), app, title=title), content_type="multipart/form-data"
    )

    assert response.status_code == 302
    assert response.headers["Location"] == "/my/submissions"
    with app.app_context():
        statement = db.session.scalar(sa.select(Statement).where(Statement.title == title))
        assert statement.status is S.SUBMITTED
        assert statement.organisation.name == ORGANISATION[actor]
        assert statement.submitted_by.email == EMAILS[actor]


# actor -> (statuses listed, statuses not listed) on /my/submissions
MY_SUBMISSIONS = {
    "submitter": (STATUSES, []),
    "other_org": ([], STATUSES),
}


@pytest.mark.parametrize("actor", SUBMITTERS)
def test_my_submissions_lists_only_own_organisation(shared, web, actor):
    listed, hidden = MY_SUBMISSIONS[actor]
    sign_in(web, actor)

    response = web.get("/my/submissions")

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert f"<h1>Submissions of {ORGANISATION[actor]}</h1>" in page
    for status in listed:
        item = shared.items[status]
        assert f'<a href="/statements/{item.public_id}">{item.public_id}</a>' in page
        assert item.title in page
        assert f'<span class="badge badge-{status}">{S(status).label}</span>' in page
    for status in hidden:
        assert shared.items[status].title not in page
        assert shared.items[status].public_id not in page
    if not listed:
        assert "Your organisation has not submitted any statements yet." in page


# --- moderation pages --------------------------------------------------------------------------


@pytest.mark.parametrize("actor", MODERATORS)
def test_moderation_queue_open_to_moderator_lists_only_submitted(shared, web, actor):
    items = shared.items
    sign_in(web, actor)

    response = web.get("/moderation/")

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<h1>Review queue</h1>" in page
    assert f'href="/moderation/{items["submitted"].public_id}"' in page
    assert items["submitted"].title in page
    for status in ("approved", "rejected"):
        assert items[status].public_id not in page
        assert items[status].title not in page


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("actor", MODERATORS)
def test_review_page_open_to_moderator_in_every_status(shared, web, actor, status):
    item = shared.items[status]
    sign_in(web, actor)

    response = web.get(f"/moderation/{item.public_id}")

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
def test_review_page_unknown_id_not_found_for_moderator(shared, web, actor):
    sign_in(web, actor)

    response = web.get(f"/moderation/{GUESSED_ID}")

    assert response.status_code == 404
    assert NOT_FOUND in response.get_data(as_text=True)


# --- decisions ---------------------------------------------------------------------------------


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("actor", NON_MODERATORS)
def test_decision_by_non_moderator_refused_and_changes_nothing(shared, web, actor, action, status):
    item = shared.items[status]
    sign_in(web, actor)
    path = f"/moderation/{item.public_id}/{action}"

    response = web.post(path, data=decision_data(token_for(web, actor), action, item.version))

    if actor == "anonymous":
        assert response.status_code == 302
        assert response.headers["Location"] == sign_in_location(path)
    else:
        assert response.status_code == 403
        assert FORBIDDEN in response.get_data(as_text=True)
    assert status_of(shared.app, item.public_id) is S(status)
    assert state(shared.app) == shared.pristine


DECIDED = {"approve": S.APPROVED, "reject": S.REJECTED}


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("actor", MODERATORS)
def test_decision_by_moderator_applies_and_is_audited(app, client, items, actor, action):
    item = items["submitted"]
    sign_in(client, actor)
    review = client.get(f"/moderation/{item.public_id}").get_data(as_text=True)
    before = state(app)

    response = client.post(f"/moderation/{item.public_id}/{action}", data=decision_data(csrf_from(review), action, item.version))

    assert response.status_code == 302
    assert response.headers["Location"] == "/moderation/"
    assert status_of(app, item.public_id) is DECIDED[action]
    with app.app_context():
        new_events = db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.id > max(row[0] for row in before["audit"]))
        ).all()
        assert [(e.action, e.object_ref, e.old_status, e.new_status, e.actor.email) for e in new_events] == [
            (action, item.public_id, "submitted", DECIDED[action].value, EMAILS[actor])
        ]
    # Published means public; a rejection stays hidden.
    logout(client)
    assert client.get(f"/statements/{item.public_id}").status_code == (200 if action == "approve" else 404)


@pytest.mark.parametrize("status", ["approved", "rejected"])
@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("actor", MODERATORS)
def test_decision_on_decided_statement_refused_and_changes_nothing(shared, web, actor, action, status):
    item = shared.items[status]
    sign_in(web, actor)

    response = web.post(f"/moderation/{item.public_id}/{action}", data=decision_data(token_for(web, actor), action, item.version))

    assert response.status_code == 302
    assert response.headers["Location"] == f"/moderation/{item.public_id}"
    page = web.get(response.headers["Location"]).get_data(as_text=True)
    assert f"because it is already {S(status).label.lower()}. Nothing was changed." in page
    assert status_of(shared.app, item.public_id) is S(status)
    assert state(shared.app) == shared.pristine


# actor -> status code of POST /moderation/<id>/frobnicate: the role gate comes before the action.
UNKNOWN_ACTION = {
    "anonymous": 302,
    "other_org": 403,
    "submitter": 403,
    "moderator": 404,
    "admin": 404,
}


@pytest.mark.parametrize("actor", ACTORS)
def test_unknown_decision_action_refused_and_changes_nothing(shared, web, actor):
    item = shared.items["submitted"]
    sign_in(web, actor)
    token = token_for(web, actor)
    path = f"/moderation/{item.public_id}/frobnicate"

    response = web.post(path, data={"frobnicate-csrf_token": token, "frobnicate-version": str(item.version)})

    assert response.status_code == UNKNOWN_ACTION[actor]
    body = response.get_data(as_text=True)
    if response.status_code == 302:
        assert response.headers["Location"] == sign_in_location(path)
    elif response.status_code == 403:
        assert FORBIDDEN in body
    else:
        assert NOT_FOUND in body
    assert status_of(shared.app, item.public_id) is S.SUBMITTED
    assert state(shared.app) == shared.pristine


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("actor", MODERATORS)
def test_decision_on_unknown_statement_not_found(shared, web, actor, action):
    sign_in(web, actor)

    response = web.post(f"/moderation/{GUESSED_ID}/{action}", data=decision_data(token_for(web, actor), action, 1))

    assert response.status_code == 404
    assert NOT_FOUND in response.get_data(as_text=True)
    assert state(shared.app) == shared.pristine


# --- CSRF --------------------------------------------------------------------------------------

# name -> (actor, path): every POST endpoint, posted by someone the view would otherwise serve.
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
# Shaped like a Flask-WTF token, but not signed with the app's key.
FORGED_TOKEN = "IjBhMWIyYzNkNGU1ZjZhN2I4YzlkMGUxZjJhM2I0YzVkNmU3ZjhhOWIi.ZmFrZQ.c2lnbmF0dXJlLW5vdC1tYWRlLWJ5LXRoZS1hcHA"
# What /my/submissions answers afterwards, showing whether the session changed: the
# anonymous sign-in did not happen, the sign-outs did not happen.
AFTER_CSRF_FAILURE = {"anonymous": 302, "submitter": 200, "moderator": 403, "admin": 403}


@pytest.mark.parametrize("token", ["missing", "forged"])
@pytest.mark.parametrize("post", list(POSTS))
def test_post_without_valid_csrf_token_rejected_and_changes_nothing(shared, web, post, token):
    actor, path = POSTS[post]
    submitted = shared.items["submitted"]
    path = path.format(submitted=submitted.public_id)
    sign_in(web, actor)
    if path == "/submit":
        data = submission(None, shared.app)
    elif path == "/sign-in":
        data = {"email": EMAILS["submitter"], "password": factories.PASSWORD}
    elif path == "/sign-out":
        data = {}
    else:
        data = decision_data(None, path.rsplit("/", 1)[1], submitted.version)
    if token == "forged":
        data["csrf_token"] = FORGED_TOKEN
    last_login = last_login_of(shared.app, "submitter")

    response = web.post(path, data=data, content_type="multipart/form-data" if path == "/submit" else None)

    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert FORM_EXPIRED in page
    assert "Nothing was saved." in page
    assert status_of(shared.app, submitted.public_id) is S.SUBMITTED
    assert state(shared.app) == shared.pristine
    assert last_login_of(shared.app, "submitter") == last_login
    after = web.get("/my/submissions")
    assert after.status_code == AFTER_CSRF_FAILURE[actor]
    if actor == "anonymous":
        assert after.headers["Location"] == sign_in_location("/my/submissions")


# --- sign in and out ---------------------------------------------------------------------------


@pytest.mark.parametrize("actor", ACTORS)
def test_sign_in_page_shows_form_to_anonymous_and_sends_others_home(shared, web, actor):
    sign_in(web, actor)

    response = web.get("/sign-in")

    if actor == "anonymous":
        assert response.status_code == 200
        page = response.get_data(as_text=True)
        assert "<h1>Sign in</h1>" in page
        assert 'name="password"' in page
        assert csrf_from(page)
    else:
        assert response.status_code == 302
        assert response.headers["Location"] == HOME[actor]


@pytest.mark.parametrize("actor", ACTORS)
def test_sign_out_ends_session_and_redirects_to_index(shared, web, actor):
    sign_in(web, actor)

    response = web.post("/sign-out", data={"csrf_token": token_for(web, actor)})

    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    index = web.get("/").get_data(as_text=True)
    assert '<a href="/sign-in">Sign in</a>' in index
    assert 'action="/sign-out"' not in index
    assert ("You are signed out." in index) is (actor != "anonymous")
    after = web.get("/my/submissions")
    assert after.status_code == 302
    assert after.headers["Location"] == sign_in_location("/my/submissions")
