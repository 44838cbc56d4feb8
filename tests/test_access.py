"""The access matrix: every endpoint, for each of five actors, on statements in each state.

Actors: anonymous, a submitter of another organisation (other_org), a submitter of the
statements' organisation (submitter), a moderator and an admin. States: every status, plus
a published statement with a correction awaiting review and a published statement still
under embargo. The expected outcome of every cell is written out in the tables below
rather than derived from portal.permissions or portal.workflow, so a change there cannot
silently change what the tests expect.

Speed: cells that must change nothing (every GET, and every POST the app has to refuse)
share one app and data set per backend, the `shared` fixture; before each test it checks,
in a fresh app context, that the data are still exactly as arranged and rebuilds them if
not, so a refused request that got through cannot leak into the next test. Where one
actor's many cells share a test (signed in once, one subtest per cell), every subtest
checks the data are untouched. Cells that are meant to change data (an accepted decision
or submission) use conftest's function-scoped `app`.
"""

from __future__ import annotations

import html
import io
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash

from portal import operations, workflow
from portal.enums import Language, MembershipStatus, StatementStatus
from portal.extensions import db
from portal.models import AuditEvent, Base, Statement, StatementVersion, User, utcnow
from portal.storage import get_store
from tests import factories, pgdb
from tests.conftest import BACKENDS, PG_URL, csrf_from, csrf_token, login, make_app, truncate

S = StatementStatus

ACTORS = ["anonymous", "other_org", "submitter", "moderator", "admin"]
SUBMITTERS = ["other_org", "submitter"]
MODERATORS = ["moderator", "admin"]
NON_MODERATORS = ["anonymous", "other_org", "submitter"]
# Mexico's statements, one per state. "correction": published, with a correction awaiting
# review; "embargoed": approved with a publication time in the future.
STATUSES = [
    "draft",
    "submitted",
    "changes_requested",
    "approved",
    "rejected",
    "withdrawn",
    "unpublished",
    "duplicate",
    "correction",
    "embargoed",
]
STATUS_OF = {**{s.value: s for s in S}, "correction": S.APPROVED, "embargoed": S.APPROVED}
ACTIONS = [
    "submit",
    "resubmit",
    "withdraw",
    "approve",
    "reject",
    "request_changes",
    "mark_duplicate",
    "unpublish",
    "republish",
    "approve_correction",
    "reject_correction",
]
SUBMITTER_ACTIONS = ["submit", "resubmit", "withdraw"]

# Who sees each statement's page and document. Only what is published (and past its embargo)
# is public; the rest exists only for its organisation and the secretariat, and is a 404
# (not a 403) for everyone else.
EVERYONE = frozenset(ACTORS)
ORGANISATION_AND_SECRETARIAT = frozenset({"submitter", "moderator", "admin"})
SEES = {
    "draft": ORGANISATION_AND_SECRETARIAT,
    "submitted": ORGANISATION_AND_SECRETARIAT,
    "changes_requested": ORGANISATION_AND_SECRETARIAT,
    "approved": EVERYONE,
    "rejected": ORGANISATION_AND_SECRETARIAT,
    "withdrawn": ORGANISATION_AND_SECRETARIAT,
    "unpublished": ORGANISATION_AND_SECRETARIAT,
    "duplicate": ORGANISATION_AND_SECRETARIAT,
    "correction": EVERYONE,
    "embargoed": ORGANISATION_AND_SECRETARIAT,
}
PUBLIC = [status for status in STATUSES if SEES[status] == EVERYONE]
# Who may download each file, by (state, version number): the public only files of the
# published version; the organisation and the secretariat every version's.
FILE_SEES = {
    **{(status, 1): SEES[status] for status in STATUSES},
    ("correction", 2): ORGANISATION_AND_SECRETARIAT,
}

# The decision forms on the review page, for a moderator or an admin, in each state.
REVIEW_FORMS = {
    "draft": [],
    "submitted": ["approve", "reject", "request_changes", "mark_duplicate"],
    "changes_requested": [],
    "approved": ["unpublish"],
    "rejected": [],
    "withdrawn": [],
    "unpublished": ["republish"],
    "duplicate": [],
    "correction": ["approve_correction", "reject_correction"],
    "embargoed": ["unpublish"],
}
# Where an accepted decision leaves the statement, and whether the public then sees it.
DECIDED = {
    ("submitted", "approve"): (S.APPROVED, True),
    ("submitted", "reject"): (S.REJECTED, False),
    ("submitted", "request_changes"): (S.CHANGES_REQUESTED, False),
    ("submitted", "mark_duplicate"): (S.DUPLICATE, False),
    ("approved", "unpublish"): (S.UNPUBLISHED, False),
    ("unpublished", "republish"): (S.APPROVED, True),
    ("correction", "approve_correction"): (S.APPROVED, True),
    ("correction", "reject_correction"): (S.APPROVED, True),
    ("embargoed", "unpublish"): (S.UNPUBLISHED, False),
}

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
# Accounts that name Mexico but may not (or no longer) act for it.
NOT_MEMBERS = {
    MembershipStatus.PENDING: "new@mexico.example",
    MembershipStatus.REJECTED: "turned-down@mexico.example",
    MembershipStatus.REMOVED: "left@mexico.example",
}

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
# check); one PBKDF2 round keeps the sign-ins of this file fast while they still go
# through the real form and the real check_password_hash.
FAST_PASSWORD_HASH = generate_password_hash(factories.PASSWORD, method="pbkdf2:sha256:1")


# --- arrange -------------------------------------------------------------------------------


@dataclass(frozen=True)
class File:
    id: int
    version: int  # the number of the version it belongs to
    data: bytes
    sha256: str


@dataclass(frozen=True)
class Item:
    """One arranged statement, as the tests need it outside an app context."""

    public_id: str
    title: str
    version: int  # the optimistic-lock counter the review page's forms carry
    data: bytes  # the original document of the newest version (what its organisation sees)
    public_data: bytes  # that of the published version (the first one, until a correction is approved)
    storage_key: str
    files: tuple[File, ...]


def make_item(status: str, people: dict[str, User], title: str, *, original: Statement | None = None) -> Statement:
    """A statement of Mexico's in `status`, through the real operations and workflow."""
    data = factories.pdf_bytes(title)
    submitter, moderator = people["submitter"], people["moderator"]
    if status == "correction":
        statement = factories.make_statement(submitter, title=title, status=S.APPROVED, data=data, moderator=moderator)
        operations.upload_version(
            statement,
            author=submitter,
            uploads=[operations.Upload(io.BytesIO(factories.pdf_bytes(f"{title}, corrected")), "fixed.pdf", Language.ENGLISH)],
            note="Corrected figures.",
            store=get_store(),
            max_bytes=10 * 1024 * 1024,
        )
    elif status == "embargoed":
        statement = factories.make_statement(submitter, title=title, data=data)
        workflow.apply(statement, "approve", actor=moderator, publish_at=utcnow() + timedelta(days=30))
    elif status == "duplicate":
        statement = factories.make_statement(submitter, title=title, data=data)
        workflow.apply(statement, "mark_duplicate", actor=moderator, duplicate_of=original)
    else:
        statement = factories.make_statement(
            submitter, title=title, status=S(status), data=data, moderator=moderator, reason=REASON
        )
    return statement


def _item(statement: Statement) -> Item:
    published = statement.published_version or statement.versions[0]
    return Item(
        public_id=statement.public_id,
        title=statement.title,
        version=statement.version,
        data=_bytes(statement.current_version.original.stored.storage_key),
        public_data=_bytes(published.original.stored.storage_key),
        storage_key=statement.document.storage_key,
        files=tuple(
            File(f.id, v.number, _bytes(f.stored.storage_key), f.stored.sha256)
            for v in statement.versions
            for f in v.files
        ),
    )


def _bytes(storage_key: str) -> bytes:
    with get_store().open(storage_key) as fh:
        return fh.read()


def arrange() -> dict[str, Item]:
    """The cast of make_people, accounts naming Mexico that are not its members, and one
    statement of Mexico's in each state, by state. Call inside an app context; commits."""
    people = factories.make_people()
    for membership, email in NOT_MEMBERS.items():
        people[email] = factories.make_user(email, org_code="MEX")
        people[email].membership = membership
    for user in people.values():
        user.password_hash = FAST_PASSWORD_HASH
    statements: dict[str, Statement] = {}
    for status in STATUSES:
        statements[status] = make_item(
            status, people, f"Mexico on detention ({status})", original=statements.get("approved")
        )
    db.session.commit()
    return {status: _item(s) for status, s in statements.items()}


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

    def ids(self) -> dict[str, str]:
        return {status: item.public_id for status, item in self.items.items()}


@contextmanager
def private_database(backend: str, tmp_path: Path) -> Iterator[str]:
    """A database of its own for the shared app: a SQLite file, or a PostgreSQL database
    created next to PORTAL_TEST_DATABASE_URL's (as conftest's pg_url does) and dropped after."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'access.db'}"
        return
    with pgdb.private_database(PG_URL, "portal_access") as url:
        yield url


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
        login(client, EMAILS.get(actor, actor))
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
                Statement.submitted_at,
                Statement.published_at,
                Statement.publish_at,
                Statement.corrected_at,
                Statement.duplicate_of_id,
                Statement.claimed_by_id,
                Statement.claimed_until,
                Statement.title,
                Statement.organisation_id,
            ).order_by(Statement.id)
        ).all()
        versions = db.session.execute(
            sa.select(
                StatementVersion.id,
                StatementVersion.statement_id,
                StatementVersion.number,
                StatementVersion.status,
                StatementVersion.submitted_at,
                StatementVersion.decided_at,
                StatementVersion.decided_by_id,
            ).order_by(StatementVersion.id)
        ).all()
        audit = db.session.execute(
            sa.select(AuditEvent.id, AuditEvent.action, AuditEvent.object_ref).order_by(AuditEvent.id)
        ).all()
        users = db.session.execute(
            sa.select(User.email, User.role, User.active, User.membership).order_by(User.id)
        ).all()
        return {
            "statements": [tuple(row) for row in statements],
            "versions": [tuple(row) for row in versions],
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
    """The 404 page the same client gets for a URL that cannot exist (see without_token)."""
    with client.get(url) as response:
        assert response.status_code == 404
        return without_token(response.get_data(as_text=True))


def without_token(page: str) -> str:
    """`page` without the value of its sign-out form's CSRF token, which carries the second it
    was made in: two 404 pages a second apart are otherwise the same."""
    return re.sub(r'(name="csrf_token" value=")[^"]+(")', r"\1…\2", page)


def flashes(page: str, category: str) -> list[str]:
    return [html.unescape(m) for m in re.findall(rf'<p class="flash flash-{category}" role="\w+">(.*?)</p>', page, re.S)]


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


def decision_data(token: str | None, action: str, version: int, *, duplicate_of: str = "") -> dict[str, str]:
    """The fields of the decision form for `action` (without a CSRF token if `token` is None):
    everything the move needs, so a refusal can only come from who asks or the state."""
    data = {f"{action}-version": str(version), f"{action}-note": "Off topic."}
    if token is not None:
        data[f"{action}-csrf_token"] = token
    if action == "mark_duplicate":
        data["mark_duplicate-duplicate_of"] = duplicate_of
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
    # Session 1: the published statement and the published one with a correction pending;
    # nothing else counts, not even an approved statement still under embargo.
    assert "<p>2 published statements</p>" in page
    assert "<p>0 published statements</p>" in page  # session 2


@pytest.mark.parametrize("actor", ACTORS)
def test_session_page_open_to_everyone_lists_only_published(shared, web, actor):
    items = shared.items
    sign_in(web, actor)

    response = web.get(SESSION_URL)

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for status in STATUSES:
        item = items[status]
        if status in PUBLIC:
            assert f'<a href="/statements/{item.public_id}">{item.title}</a>' in page
        else:
            assert item.title not in page
            assert item.public_id not in page


# --- statement page and downloads, by state and actor -----------------------------------------


@pytest.mark.parametrize("actor", ACTORS)
def test_statement_page_visible_only_to_allowed_actors(shared, web, subtests, actor):
    sign_in(web, actor)
    missing = not_found_body(web, f"/statements/{GUESSED_ID}")
    for status in STATUSES:
        item = shared.items[status]
        with subtests.test(status=status, actor=actor):
            response = web.get(f"/statements/{item.public_id}")

            page = response.get_data(as_text=True)
            if actor in SEES[status]:
                assert response.status_code == 200
                assert f"<h1>{item.title}</h1>" in page
                assert f'href="/statements/{item.public_id}/document"' in page
                assert (NOT_PUBLIC in page) is (status not in PUBLIC)
                if status == "rejected":
                    assert f"Reason given by the secretariat:</strong> {REASON}" in page
                elif status not in ("changes_requested", "unpublished"):  # those carry a message too
                    assert "Reason given by the secretariat" not in page
                # The files listed: the newest version's for the organisation and the
                # secretariat; for everyone else the published version's, never a correction's.
                if actor in ORGANISATION_AND_SECRETARIAT:
                    newest = max(f.version for f in item.files)
                    assert all(f.sha256 in page for f in item.files if f.version == newest)
                else:
                    assert {f.version for f in item.files if f.sha256 in page} == {1}
            else:
                assert response.status_code == 404
                assert NOT_FOUND in page
                assert item.title not in page
                assert item.public_id not in page
                # Indistinguishable from a statement that does not exist.
                assert without_token(page) == missing
            assert state(shared.app) == shared.pristine


@pytest.mark.parametrize("actor", ACTORS)
def test_download_visible_only_to_allowed_actors(shared, web, subtests, actor):
    sign_in(web, actor)
    missing = not_found_body(web, f"/statements/{GUESSED_ID}/document")
    for status in STATUSES:
        item = shared.items[status]
        with subtests.test(status=status, actor=actor):
            with web.get(f"/statements/{item.public_id}/document") as response:
                if actor in SEES[status]:
                    assert response.status_code == 200
                    # The organisation and the secretariat get the newest version; everyone
                    # else the published one (never a correction still under review).
                    expected = item.data if actor in ORGANISATION_AND_SECRETARIAT else item.public_data
                    assert response.data == expected
                    assert response.headers["Content-Type"] == "application/pdf"
                    assert response.headers["Content-Disposition"] == f"attachment; filename={item.public_id}.pdf"
                    assert response.headers["X-Content-Type-Options"] == "nosniff"
                    if status not in PUBLIC or expected != item.public_data:
                        # Not public: no shared cache may keep it.
                        assert "no-store" in response.headers["Cache-Control"], response.headers["Cache-Control"]
                else:
                    assert response.status_code == 404
                    assert "Content-Disposition" not in response.headers
                    assert item.data not in response.data
                    assert item.public_data not in response.data
                    page = response.get_data(as_text=True)
                    assert NOT_FOUND in page
                    assert without_token(page) == missing


@pytest.mark.parametrize("actor", ACTORS)
def test_file_download_visible_only_to_allowed_actors(shared, web, subtests, actor):
    """Each file of each version, by its own URL: the public only those of the published version."""
    sign_in(web, actor)
    for status in STATUSES:
        item = shared.items[status]
        for f in item.files:
            with subtests.test(status=status, version=f.version, actor=actor):
                with web.get(f"/statements/{item.public_id}/files/{f.id}") as response:
                    if actor in FILE_SEES[(status, f.version)]:
                        assert response.status_code == 200
                        assert response.data == f.data
                        assert response.headers["Content-Disposition"] == f"attachment; filename={item.public_id}.pdf"
                        assert response.headers["X-Content-Type-Options"] == "nosniff"
                    else:
                        assert response.status_code == 404
                        assert "Content-Disposition" not in response.headers
                        assert f.data not in response.data
                        assert NOT_FOUND in response.get_data(as_text=True)


@pytest.mark.parametrize("endpoint", ["page", "download"])
def test_unpublished_statement_visible_to_colleague_of_same_organisation(shared, web, subtests, endpoint):
    """The organisation sees its unpublished statements, not only their author."""
    login(web, EMAILS["colleague"])
    for status in STATUSES:
        item = shared.items[status]
        if status in PUBLIC:
            continue
        with subtests.test(status=status, endpoint=endpoint):
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


@pytest.mark.parametrize("membership", list(NOT_MEMBERS), ids=lambda m: m.value)
def test_unpublished_statement_hidden_from_account_not_approved_as_member(shared, web, subtests, membership):
    """Anyone can register naming Mexico: until a moderator or focal point approves them (or
    after they were rejected or removed) they are not Mexico, and its unpublished statements
    do not exist for them."""
    sign_in(web, NOT_MEMBERS[membership])
    missing_page = not_found_body(web, f"/statements/{GUESSED_ID}")
    mine = web.get("/my/submissions").get_data(as_text=True)
    for status in STATUSES:
        item = shared.items[status]
        with subtests.test(membership=membership.value, status=status):
            response = web.get(f"/statements/{item.public_id}")
            with web.get(f"/statements/{item.public_id}/document") as download:
                if status in PUBLIC:
                    assert response.status_code == 200
                    assert download.data == item.public_data
                else:
                    assert response.status_code == 404
                    assert without_token(response.get_data(as_text=True)) == missing_page
                    assert download.status_code == 404
                    assert item.data not in download.data
                    assert item.title not in mine
                    assert item.public_id not in mine


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
    # A file of one statement asked for under another (published) statement's reference.
    "file-of-other-statement": lambda items: (
        f"/statements/{items['approved'].public_id}/files/{items['submitted'].files[0].id}"
    ),
    "unknown-file": lambda items: f"/statements/{items['approved'].public_id}/files/999999",
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

# name -> (method, path); {<state>} stands for the public id of the statement in that state.
# The decision endpoints are in test_decision_by_non_moderator_refused_and_changes_nothing.
SIGNED_IN_PAGES = {
    "submit.new-GET": ("GET", "/submit"),
    "submit.new-POST": ("POST", "/submit"),
    "submit.mine": ("GET", "/my/submissions"),
    "moderate.queue": ("GET", "/moderation/"),
    **{f"moderate.review-{status}": ("GET", f"/moderation/{{{status}}}") for status in STATUSES},
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


@pytest.mark.parametrize("actor", SUBMITTERS)
def test_moderation_page_forbidden_for_submitter(shared, web, subtests, actor):
    sign_in(web, actor)
    for page in MODERATION_PAGES:
        _, path = page_path(page, shared.items)
        with subtests.test(actor=actor, page=page):
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


# actor -> (states listed, states not listed) on /my/submissions
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
        badge = STATUS_OF[status]
        assert f'<span class="badge badge-{badge.value}">{badge.label}</span>' in page
    for status in hidden:
        assert shared.items[status].title not in page
        assert shared.items[status].public_id not in page
    if not listed:
        assert "Your organisation has not submitted any statements yet." in page


# --- moderation pages --------------------------------------------------------------------------


@pytest.mark.parametrize("actor", MODERATORS)
def test_moderation_queue_open_to_moderator_lists_statements_awaiting_review(shared, web, actor):
    items = shared.items
    sign_in(web, actor)

    response = web.get("/moderation/")

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "<h1>Review queue</h1>" in page
    assert f'href="/moderation/{items["submitted"].public_id}"' in page
    assert items["submitted"].title in page
    # Nothing that awaits no decision of the secretariat (a pending correction, which does,
    # is left to the queue's own tests).
    for status in ("draft", "changes_requested", "approved", "rejected", "withdrawn", "unpublished", "duplicate", "embargoed"):
        assert items[status].public_id not in page
        assert items[status].title not in page


@pytest.mark.parametrize("actor", MODERATORS)
def test_review_page_open_to_moderator_in_every_state(shared, web, subtests, actor):
    sign_in(web, actor)
    for status in STATUSES:
        item = shared.items[status]
        with subtests.test(actor=actor, status=status):
            with shared.app.app_context():
                statement = db.session.scalar(sa.select(Statement).where(Statement.public_id == item.public_id))
                viewer = db.session.scalar(sa.select(User).where(User.email == EMAILS[actor]))
                allowed = workflow.allowed_actions(statement, viewer)
            assert allowed == REVIEW_FORMS[status]

            response = web.get(f"/moderation/{item.public_id}")

            assert response.status_code == 200
            page = response.get_data(as_text=True)
            assert f"<h1>{item.title}</h1>" in page
            badge = STATUS_OF[status]
            assert f'<span class="badge badge-{badge.value}">{badge.label}</span>' in page
            forms = re.findall(r'<form method="post" action="(/moderation/[^"]+)"', page)
            assert forms == [f"/moderation/{item.public_id}/{action}" for action in REVIEW_FORMS[status]]
            for action in REVIEW_FORMS[status]:
                assert f'name="{action}-csrf_token"' in page
                assert f'name="{action}-version" type="hidden" value="{item.version}"' in page
            assert state(shared.app) == shared.pristine


@pytest.mark.parametrize("actor", MODERATORS)
def test_review_page_unknown_id_not_found_for_moderator(shared, web, actor):
    sign_in(web, actor)

    response = web.get(f"/moderation/{GUESSED_ID}")

    assert response.status_code == 404
    assert NOT_FOUND in response.get_data(as_text=True)


# --- decisions ---------------------------------------------------------------------------------


@pytest.mark.parametrize("actor", NON_MODERATORS)
def test_decision_by_non_moderator_refused_and_changes_nothing(shared, web, subtests, actor):
    """Every action on every state: the role gate answers before anything else is looked at."""
    sign_in(web, actor)
    token = token_for(web, actor)
    for status in STATUSES:
        item = shared.items[status]
        for action in ACTIONS:
            with subtests.test(actor=actor, status=status, action=action):
                path = f"/moderation/{item.public_id}/{action}"

                response = web.post(path, data=decision_data(token, action, item.version, duplicate_of=GUESSED_ID))

                if actor == "anonymous":
                    assert response.status_code == 302
                    assert response.headers["Location"] == sign_in_location(path)
                else:
                    assert response.status_code == 403
                    assert FORBIDDEN in response.get_data(as_text=True)
                assert state(shared.app) == shared.pristine


@pytest.mark.parametrize("actor", MODERATORS)
def test_decision_by_moderator_applies_and_is_audited(app, client, subtests, actor):
    """Every decision the review page offers, each on a statement of its own."""
    with app.app_context():
        people = factories.make_people()
        for user in people.values():
            user.password_hash = FAST_PASSWORD_HASH
        original = factories.make_statement(people["submitter"], title="The original", status=S.APPROVED)
        cases = {
            (status, action): make_item(status, people, f"Mexico on {action} ({status})", original=original)
            for status, actions in REVIEW_FORMS.items()
            for action in actions
        }
        db.session.commit()
        assert set(cases) == set(DECIDED)
        arranged = {case: _item(s) for case, s in cases.items()}
        original_id = original.public_id
    sign_in(client, actor)
    anonymous = app.test_client()

    for (status, action), item in arranged.items():
        with subtests.test(actor=actor, status=status, action=action):
            review = client.get(f"/moderation/{item.public_id}").get_data(as_text=True)
            with app.app_context():
                last_event = db.session.scalar(sa.select(sa.func.max(AuditEvent.id)))

            response = client.post(
                f"/moderation/{item.public_id}/{action}",
                data=decision_data(csrf_from(review), action, item.version, duplicate_of=original_id),
            )

            assert response.status_code == 302
            assert response.headers["Location"] == "/moderation/"
            target, public = DECIDED[(status, action)]
            assert status_of(app, item.public_id) is target
            with app.app_context():
                new_events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.id > last_event)).all()
                assert [(e.action, e.object_ref, e.old_status, e.new_status, e.actor.email) for e in new_events] == [
                    (action, item.public_id, STATUS_OF[status].value, target.value, EMAILS[actor])
                ]
            # What the public sees now: published or not, and which version.
            assert anonymous.get(f"/statements/{item.public_id}").status_code == (200 if public else 404)
            with anonymous.get(f"/statements/{item.public_id}/document") as download:
                if not public:
                    assert download.status_code == 404
                elif action == "approve_correction":
                    assert download.data == item.data  # the correction is what is published now
                else:
                    assert download.data == item.public_data


@pytest.mark.parametrize("actor", MODERATORS)
def test_decision_not_open_in_state_refused_and_changes_nothing(shared, web, subtests, actor):
    """Every action the review page does not offer in a state, posted anyway (a stale page, a
    hand-made request): the review page again with the reason, and nothing changes."""
    sign_in(web, actor)
    token = token_for(web, actor)
    for status in STATUSES:
        item = shared.items[status]
        for action in ACTIONS:
            if action in REVIEW_FORMS[status]:
                continue
            with subtests.test(actor=actor, status=status, action=action):
                data = decision_data(token, action, item.version, duplicate_of=shared.items["approved"].public_id)

                response = web.post(f"/moderation/{item.public_id}/{action}", data=data)

                assert response.status_code == 302
                assert response.headers["Location"] == f"/moderation/{item.public_id}"
                page = web.get(response.headers["Location"]).get_data(as_text=True)
                errors = flashes(page, "error")
                assert len(errors) == 1
                label = workflow.TRANSITIONS[action].label.lower()
                if action in SUBMITTER_ACTIONS:  # the submitter's own moves: not the secretariat's
                    assert errors[0] == f"You are not allowed to {label} this statement."
                else:
                    assert errors[0].startswith(f"You cannot {label} this statement because it ")
                    assert errors[0].endswith(". Nothing was changed.")
                assert status_of(shared.app, item.public_id) is STATUS_OF[status]
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


@pytest.mark.parametrize("actor", MODERATORS)
def test_decision_on_unknown_statement_not_found(shared, web, subtests, actor):
    sign_in(web, actor)
    token = token_for(web, actor)
    for action in ACTIONS:
        with subtests.test(actor=actor, action=action):
            data = decision_data(token, action, 1, duplicate_of=shared.items["approved"].public_id)

            response = web.post(f"/moderation/{GUESSED_ID}/{action}", data=data)

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
    "request_changes-moderator": ("moderator", "/moderation/{submitted}/request_changes"),
    "mark_duplicate-admin": ("admin", "/moderation/{submitted}/mark_duplicate"),
    "unpublish-moderator": ("moderator", "/moderation/{approved}/unpublish"),
    "republish-admin": ("admin", "/moderation/{unpublished}/republish"),
    "approve_correction-moderator": ("moderator", "/moderation/{correction}/approve_correction"),
    "reject_correction-admin": ("admin", "/moderation/{correction}/reject_correction"),
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
    path = path.format(**shared.ids())
    sign_in(web, actor)
    if path == "/submit":
        data = submission(None, shared.app)
    elif path == "/sign-in":
        data = {"email": EMAILS["submitter"], "password": factories.PASSWORD}
    elif path == "/sign-out":
        data = {}
    else:
        target = next(status for status, item in shared.items.items() if item.public_id in path)
        data = decision_data(
            None, path.rsplit("/", 1)[1], shared.items[target].version, duplicate_of=shared.items["approved"].public_id
        )
    if token == "forged":
        data["csrf_token"] = FORGED_TOKEN
    last_login = last_login_of(shared.app, "submitter")

    response = web.post(path, data=data, content_type="multipart/form-data" if path == "/submit" else None)

    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert FORM_EXPIRED in page
    assert "Nothing was saved." in page
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
