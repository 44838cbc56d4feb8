"""Drafts, versions and corrections from the submitter's side, and what the public sees of them.

Through the test client with CSRF on: the organisation's members act from the statement's
page (POST /my/statements/<id>/<action>, /versions, /files); the tests assert the committed
rows, the audit trail, the pages and the downloaded bytes, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from portal import workflow
from portal.enums import FileRole, Language, StatementStatus, VersionStatus
from portal.extensions import db
from portal.models import AuditEvent, Statement, StatementVersion, User, utcnow
from tests import factories
from tests.conftest import csrf_from, csrf_token, login

S = StatementStatus
V = VersionStatus
SUBMITTER = "ana@mexico.example"
COLLEAGUE = "luis@mexico.example"
OTHER_ORG = "hans@switzerland.example"
MODERATOR = "mod@un.example"
TITLE = "Statement of Mexico on human rights in migration management"
REQUEST = "Please attach the annex on consular protection mentioned in paragraph 4."
WHAT_CHANGED = "Corrected the figures in paragraph 3."
CORRECTION_REJECTED = "The corrected figures do not match the statement as delivered."
FIRST = factories.pdf_bytes("Statement of Mexico, as delivered")
SECOND = factories.pdf_bytes("Statement of Mexico, corrected figures")
NOT_PUBLIC = "This statement is not public."


# --- helpers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Arranged:
    statement_id: int
    public_id: str


def arrange(app: Flask, status: S = S.SUBMITTED, data: bytes = FIRST) -> Arranged:
    """The cast of tests/factories.make_people and one statement of Mexico in `status`."""
    with app.app_context():
        people = factories.make_people()
        statement = factories.make_statement(
            people["submitter"], title=TITLE, status=status, data=data, moderator=people["moderator"], reason=REQUEST
        )
        db.session.commit()
        return Arranged(statement.id, statement.public_id)


def signed_in(app: Flask, email: str) -> FlaskClient:
    client = app.test_client()
    login(client, email)
    return client


def page_of(client: FlaskClient, public_id: str) -> str:
    response = client.get(f"/statements/{public_id}")
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def buttons(html: str, public_id: str) -> list[str]:
    """The workflow actions the page offers as POST buttons, in page order."""
    return re.findall(rf'action="/my/statements/{re.escape(public_id)}/(submit|resubmit|withdraw)"', html)


def version_on(html: str) -> int:
    match = re.search(r'name="version" value="(\d+)"', html) or re.search(
        r'name="(?:correction|addition)-version" type="hidden" value="(\d+)"', html
    )
    assert match, "no version counter on the page"
    return int(match.group(1))


def act(client: FlaskClient, public_id: str, action: str, *, version: int | None = None) -> Any:
    """Press an action button as a browser would: token and version counter from the page."""
    html = page_of(client, public_id)
    data = {"csrf_token": csrf_from(html), "version": str(version if version is not None else version_on(html))}
    return client.post(f"/my/statements/{public_id}/{action}", data=data)


def upload(
    client: FlaskClient,
    public_id: str,
    content: bytes,
    *,
    filename: str = "corrected.pdf",
    language: str = "en",
    note: str = "",
    keep: bool = True,
    version: int | None = None,
) -> Any:
    """The "Upload a corrected version" form."""
    html = page_of(client, public_id)
    data: dict[str, Any] = {
        "correction-csrf_token": csrf_from(html),
        "correction-version": str(version if version is not None else version_on(html)),
        "correction-document": (io.BytesIO(content), filename),
        "correction-language": language,
        "correction-note": note,
    }
    if keep:
        data["correction-keep_other_files"] = "y"
    return client.post(f"/my/statements/{public_id}/versions", data=data, content_type="multipart/form-data")


def add_file(client: FlaskClient, public_id: str, content: bytes, *, filename: str, language: str, role: str) -> Any:
    """The "Add a translation or annex" form."""
    html = page_of(client, public_id)
    data = {
        "addition-csrf_token": csrf_from(html),
        "addition-version": str(version_on(html)),
        "addition-document": (io.BytesIO(content), filename),
        "addition-language": language,
        "addition-role": role,
    }
    return client.post(f"/my/statements/{public_id}/files", data=data, content_type="multipart/form-data")


def statement_of(app: Flask, statement_id: int) -> dict[str, Any]:
    """The committed state, read in a fresh app context."""
    with app.app_context():
        statement = db.session.get(Statement, statement_id)
        return {
            "status": statement.status,
            "version": statement.version,
            "corrected_at": statement.corrected_at,
            "published_at": statement.published_at,
            "versions": [
                (
                    v.number,
                    v.status,
                    v.note,
                    [(f.role, f.language, f.stored.sha256, f.position) for f in v.files],
                )
                for v in statement.versions
            ],
        }


def audit_rows(app: Flask, statement_id: int) -> list[tuple[Any, ...]]:
    with app.app_context():
        events = db.session.scalars(
            sa.select(AuditEvent)
            .where(AuditEvent.object_type == "statements", AuditEvent.object_id == statement_id)
            .order_by(AuditEvent.id)
        )
        return [(e.action, e.old_status, e.new_status, e.actor_label, e.note, e.data.get("version")) for e in events]


def file_ids(app: Flask, statement_id: int, number: int) -> dict[FileRole, int]:
    with app.app_context():
        version = db.session.scalar(
            sa.select(StatementVersion).where(StatementVersion.statement_id == statement_id, StatementVersion.number == number)
        )
        return {f.role: f.id for f in version.files}


def decide(app: Flask, statement_id: int, action: str, note: str = "") -> None:
    """A moderator's decision, committed (the moderation pages are tested elsewhere)."""
    with app.app_context():
        moderator = db.session.scalar(sa.select(User).where(User.email == MODERATOR))
        workflow.apply(db.session.get(Statement, statement_id), action, actor=moderator, note=note)
        db.session.commit()


def sha(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def flashes(html: str) -> list[str]:
    return [re.sub(r"\s+", " ", m).strip() for m in re.findall(r'<p class="flash [^"]+"[^>]*>(.*?)</p>', html, re.S)]


# --- drafts and the buttons -------------------------------------------------------------------------


def test_draft_saved_from_the_form_then_submitted_from_its_page(app, client):
    with app.app_context():
        factories.make_people()
        area_d = factories.area(1, "d").id
        session_id = factories.session_by_number(1).id
        db.session.commit()
    login(client, SUBMITTER)
    token = csrf_token(client, "/submit")

    response = client.post(
        "/submit",
        data={
            "csrf_token": token,
            "title": TITLE,
            "session_id": str(session_id),
            "area_ids": [str(area_d)],
            "kind": "written",
            "language": "es",
            "document": (io.BytesIO(FIRST), "borrador.pdf"),
            "save_draft": "Save as draft",
        },
        content_type="multipart/form-data",
    )

    with app.app_context():
        statement = db.session.scalars(sa.select(Statement)).one()
        statement_id, public_id = statement.id, statement.public_id
    assert response.status_code == 302
    assert response.headers["Location"] == f"/statements/{public_id}"
    state = statement_of(app, statement_id)
    assert state["status"] is S.DRAFT
    assert state["versions"] == [(1, V.DRAFT, "", [(FileRole.ORIGINAL, Language.SPANISH, sha(FIRST), 0)])]
    assert [row[:3] for row in audit_rows(app, statement_id)] == [("create_draft", None, "draft")]
    html = page_of(client, public_id)
    assert "was saved as a draft" in " ".join(flashes(html))
    assert buttons(html, public_id) == ["submit"]
    assert "This draft has not been sent to the secretariat." in html
    assert app.test_client().get(f"/statements/{public_id}").status_code == 404

    response = act(client, public_id, "submit")

    assert response.status_code == 302
    assert response.headers["Location"] == f"/statements/{public_id}"
    state = statement_of(app, statement_id)
    assert state["status"] is S.SUBMITTED
    assert state["versions"][0][:2] == (1, V.SUBMITTED)
    assert audit_rows(app, statement_id) == [
        ("create_draft", None, "draft", SUBMITTER, "", None),
        ("submit", "draft", "submitted", SUBMITTER, "", 1),
    ]
    html = page_of(client, public_id)
    assert "was submitted for review by the secretariat" in " ".join(flashes(html))
    assert buttons(html, public_id) == ["withdraw"]
    assert app.test_client().get(f"/statements/{public_id}").status_code == 404  # still not public


@pytest.mark.parametrize("status", list(S))
def test_buttons_are_exactly_the_allowed_moves(app, status):
    item = arrange(app, status)
    member = signed_in(app, COLLEAGUE)

    html = page_of(member, item.public_id)

    with app.app_context():
        statement = db.session.get(Statement, item.statement_id)
        colleague = db.session.scalar(sa.select(User).where(User.email == COLLEAGUE))
        allowed = workflow.allowed_actions(statement, colleague)
    assert buttons(html, item.public_id) == allowed
    expected = {S.DRAFT: ["submit"], S.SUBMITTED: ["withdraw"], S.CHANGES_REQUESTED: ["resubmit", "withdraw"]}
    assert allowed == expected.get(status, [])
    if status is S.CHANGES_REQUESTED:
        assert f"<strong>Changes requested by the secretariat:</strong> {REQUEST}" in html
    uploads_open = status in (S.DRAFT, S.SUBMITTED, S.CHANGES_REQUESTED, S.APPROVED)
    assert ("Upload the new version" in html) is uploads_open
    assert ("Add a translation or annex" in html) is uploads_open


def test_withdraw_before_a_decision(app):
    item = arrange(app, S.SUBMITTED)
    member = signed_in(app, SUBMITTER)
    before = statement_of(app, item.statement_id)

    response = act(member, item.public_id, "withdraw")

    assert response.headers["Location"] == f"/statements/{item.public_id}"
    after = statement_of(app, item.statement_id)
    assert after["status"] is S.WITHDRAWN
    assert after["version"] > before["version"]
    assert after["versions"] == before["versions"]  # the documents stay as they were
    assert audit_rows(app, item.statement_id)[-1] == ("withdraw", "submitted", "withdrawn", SUBMITTER, "", 1)
    html = page_of(member, item.public_id)
    assert "was withdrawn" in " ".join(flashes(html))
    assert buttons(html, item.public_id) == []
    assert "This statement was withdrawn before the secretariat decided on it." in html
    assert "Upload the new version" not in html


def test_stale_button_is_refused_with_a_message(app):
    item = arrange(app, S.SUBMITTED)
    member = signed_in(app, SUBMITTER)
    seen = version_on(page_of(member, item.public_id))
    decide(app, item.statement_id, "request_changes", REQUEST)  # meanwhile
    before = statement_of(app, item.statement_id)
    events = audit_rows(app, item.statement_id)

    response = act(member, item.public_id, "withdraw", version=seen)

    assert response.headers["Location"] == f"/statements/{item.public_id}"
    assert statement_of(app, item.statement_id) == before
    assert audit_rows(app, item.statement_id) == events
    html = page_of(member, item.public_id)
    assert "This statement changed after you opened it (it is now changes requested)." in " ".join(flashes(html))


def test_move_not_allowed_in_the_state_is_refused(app):
    item = arrange(app, S.APPROVED)
    member = signed_in(app, SUBMITTER)
    before = statement_of(app, item.statement_id)
    events = audit_rows(app, item.statement_id)

    response = act(member, item.public_id, "withdraw")

    assert response.headers["Location"] == f"/statements/{item.public_id}"
    assert statement_of(app, item.statement_id) == before
    assert audit_rows(app, item.statement_id) == events
    assert "You cannot withdraw this statement because it is published." in " ".join(
        flashes(page_of(member, item.public_id))
    )


def test_action_without_csrf_token_is_refused(app):
    item = arrange(app, S.SUBMITTED)
    member = signed_in(app, SUBMITTER)
    before = statement_of(app, item.statement_id)

    response = member.post(f"/my/statements/{item.public_id}/withdraw", data={"version": str(before["version"])})

    assert response.status_code == 400
    assert "Form expired" in response.get_data(as_text=True)
    assert statement_of(app, item.statement_id) == before


# --- new versions before publication ------------------------------------------------------------------


def test_upload_while_pending_replaces_the_version_and_stays_in_the_queue(app):
    item = arrange(app, S.SUBMITTED)
    member = signed_in(app, COLLEAGUE)
    before = statement_of(app, item.statement_id)

    response = upload(member, item.public_id, SECOND, note=WHAT_CHANGED, language="es")

    assert response.status_code == 302
    assert response.headers["Location"] == f"/statements/{item.public_id}"
    after = statement_of(app, item.statement_id)
    assert after["status"] is S.SUBMITTED
    assert after["version"] > before["version"]  # an open review form goes stale
    assert after["versions"] == [
        (1, V.SUPERSEDED, "", [(FileRole.ORIGINAL, Language.ENGLISH, sha(FIRST), 0)]),
        (2, V.SUBMITTED, WHAT_CHANGED, [(FileRole.ORIGINAL, Language.SPANISH, sha(SECOND), 0)]),
    ]
    assert audit_rows(app, item.statement_id)[-1] == (
        "version.replace", "submitted", "submitted", COLLEAGUE, WHAT_CHANGED, 2
    )
    with app.app_context():
        queued = db.session.scalars(sa.select(Statement.id).where(Statement.status == S.SUBMITTED)).all()
        assert queued == [item.statement_id]
    html = page_of(member, item.public_id)
    assert "replaces the version awaiting review" in " ".join(flashes(html))
    assert "Version 2, awaiting review: not public." in html
    with member.get(f"/statements/{item.public_id}/document") as download:
        assert download.data == SECOND


def test_upload_with_stale_version_is_refused(app):
    item = arrange(app, S.SUBMITTED)
    member = signed_in(app, SUBMITTER)
    seen = version_on(page_of(member, item.public_id))
    decide(app, item.statement_id, "approve")  # meanwhile
    before = statement_of(app, item.statement_id)

    response = upload(member, item.public_id, SECOND, version=seen)

    assert response.headers["Location"] == f"/statements/{item.public_id}"
    assert statement_of(app, item.statement_id) == before  # not turned into a correction behind their back
    assert "Nothing was uploaded" in " ".join(flashes(page_of(member, item.public_id)))


def test_bad_file_is_refused_on_the_form(app):
    item = arrange(app, S.SUBMITTED)
    member = signed_in(app, SUBMITTER)
    before = statement_of(app, item.statement_id)
    events = audit_rows(app, item.statement_id)

    response = upload(member, item.public_id, factories.exe_bytes(), filename="corrected.pdf", note=WHAT_CHANGED)

    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "The new version was not uploaded" in html
    assert "whatever its name says" in html
    assert WHAT_CHANGED in html  # the note is kept
    assert statement_of(app, item.statement_id) == before
    assert audit_rows(app, item.statement_id) == events


def test_changes_requested_then_new_version_then_resubmit(app):
    item = arrange(app, S.CHANGES_REQUESTED)
    member = signed_in(app, SUBMITTER)
    html = page_of(member, item.public_id)
    assert f"<strong>Changes requested by the secretariat:</strong> {REQUEST}" in html

    upload(member, item.public_id, SECOND, note=WHAT_CHANGED)

    state = statement_of(app, item.statement_id)
    assert state["status"] is S.CHANGES_REQUESTED  # waits for "resubmit"
    assert [(n, s) for n, s, _, _ in state["versions"]] == [(1, V.SUPERSEDED), (2, V.DRAFT)]
    assert audit_rows(app, item.statement_id)[-1][:3] == ("version.upload", "changes_requested", "changes_requested")
    html = page_of(member, item.public_id)
    assert buttons(html, item.public_id) == ["resubmit", "withdraw"]

    act(member, item.public_id, "resubmit")

    state = statement_of(app, item.statement_id)
    assert state["status"] is S.SUBMITTED
    assert [(n, s) for n, s, _, _ in state["versions"]] == [(1, V.SUPERSEDED), (2, V.SUBMITTED)]
    assert [row[0] for row in audit_rows(app, item.statement_id)] == [
        "submit", "request_changes", "version.upload", "resubmit"
    ]
    assert audit_rows(app, item.statement_id)[-1] == ("resubmit", "changes_requested", "submitted", SUBMITTER, "", 2)


def test_add_translation_and_annex_keep_the_other_files(app):
    item = arrange(app, S.SUBMITTED)
    member = signed_in(app, SUBMITTER)
    french = factories.docx_bytes("Déclaration du Mexique")
    french_again = factories.docx_bytes("Déclaration du Mexique, révisée")
    annex = b"Annex: consular protection of migrants.\n"

    add_file(member, item.public_id, french, filename="fr.docx", language="fr", role="translation")
    add_file(member, item.public_id, annex, filename="annex.txt", language="en", role="annex")
    response = add_file(member, item.public_id, french_again, filename="fr2.docx", language="fr", role="translation")

    assert response.headers["Location"] == f"/statements/{item.public_id}"
    state = statement_of(app, item.statement_id)
    assert state["status"] is S.SUBMITTED
    original = (FileRole.ORIGINAL, Language.ENGLISH, sha(FIRST), 0)
    assert [v[3] for v in state["versions"]] == [
        [original],
        [original, (FileRole.TRANSLATION, Language.FRENCH, sha(french), 1)],
        [original, (FileRole.TRANSLATION, Language.FRENCH, sha(french), 1), (FileRole.ANNEX, Language.ENGLISH, sha(annex), 2)],
        # A new French translation replaces the earlier one; the annex stays.
        [original, (FileRole.TRANSLATION, Language.FRENCH, sha(french_again), 1), (FileRole.ANNEX, Language.ENGLISH, sha(annex), 2)],
    ]
    assert [v[1] for v in state["versions"]] == [V.SUPERSEDED, V.SUPERSEDED, V.SUPERSEDED, V.SUBMITTED]
    assert [row[0] for row in audit_rows(app, item.statement_id)] == ["submit"] + ["version.replace"] * 3
    html = page_of(member, item.public_id)
    assert "Download the document" in html
    assert "Download the translation (French)" in html
    assert "Download the annex (English)" in html

    # A corrected original without keeping the others drops them.
    upload(member, item.public_id, SECOND, keep=False)
    assert statement_of(app, item.statement_id)["versions"][-1][3] == [(FileRole.ORIGINAL, Language.ENGLISH, sha(SECOND), 0)]


# --- corrections after publication ---------------------------------------------------------------------


def test_correction_goes_to_review_while_the_published_version_stays_public(app):
    item = arrange(app, S.APPROVED)
    member = signed_in(app, SUBMITTER)
    public = app.test_client()
    published_at = statement_of(app, item.statement_id)["published_at"]

    response = upload(member, item.public_id, SECOND, note=WHAT_CHANGED)

    assert response.headers["Location"] == f"/statements/{item.public_id}"
    state = statement_of(app, item.statement_id)
    assert state["status"] is S.APPROVED
    assert state["corrected_at"] is None
    assert [(n, s) for n, s, _, _ in state["versions"]] == [(1, V.APPROVED), (2, V.SUBMITTED)]
    assert audit_rows(app, item.statement_id)[-1] == (
        "submit_correction", "approved", "approved", SUBMITTER, WHAT_CHANGED, 2
    )
    html = page_of(member, item.public_id)
    assert "awaits review by the secretariat" in " ".join(flashes(html))
    assert "A correction (version 2) awaits review by the secretariat." in html
    assert "Upload the new version" not in html  # one correction at a time
    first_ids, second_ids = file_ids(app, item.statement_id, 1), file_ids(app, item.statement_id, 2)
    # The public still has version 1, byte for byte; version 2 does not exist for it.
    page = page_of(public, item.public_id)
    assert sha(FIRST) in page and sha(SECOND) not in page
    assert "Corrected on" not in page
    with public.get(f"/statements/{item.public_id}/document") as download:
        assert download.data == FIRST
    with public.get(f"/statements/{item.public_id}/files/{second_ids[FileRole.ORIGINAL]}") as hidden:
        assert hidden.status_code == 404
        assert SECOND not in hidden.data
    with member.get(f"/statements/{item.public_id}/files/{second_ids[FileRole.ORIGINAL]}") as own:
        assert own.data == SECOND

    decide(app, item.statement_id, "approve_correction")

    state = statement_of(app, item.statement_id)
    assert state["status"] is S.APPROVED
    assert state["corrected_at"] is not None
    assert state["published_at"] == published_at
    assert [(n, s) for n, s, _, _ in state["versions"]] == [(1, V.APPROVED), (2, V.APPROVED)]
    page = page_of(public, item.public_id)
    corrected = state["corrected_at"]
    assert f'<p class="corrected-note">Corrected on {corrected.day} {corrected:%B %Y}</p>' in page
    history = page[page.index("Publication history") :]
    assert history.index("Version 2 (current)") < history.index(sha(SECOND)) < history.index("Version 1") < history.index(sha(FIRST))
    with public.get(f"/statements/{item.public_id}/document") as download:
        assert download.data == SECOND
    with public.get(f"/statements/{item.public_id}/files/{first_ids[FileRole.ORIGINAL]}") as earlier:
        assert earlier.status_code == 200
        assert earlier.data == FIRST
        assert hashlib.sha256(earlier.data).hexdigest() == sha(FIRST)
    # The submitter's note and the internal history stay internal.
    assert WHAT_CHANGED not in page
    assert 'id="history-heading"' not in page


def test_rejected_correction_leaves_the_published_version(app):
    item = arrange(app, S.APPROVED)
    member = signed_in(app, SUBMITTER)
    public = app.test_client()
    upload(member, item.public_id, SECOND, note=WHAT_CHANGED)
    second_ids = file_ids(app, item.statement_id, 2)

    decide(app, item.statement_id, "reject_correction", CORRECTION_REJECTED)

    state = statement_of(app, item.statement_id)
    assert state["status"] is S.APPROVED
    assert state["corrected_at"] is None
    assert [(n, s) for n, s, _, _ in state["versions"]] == [(1, V.APPROVED), (2, V.REJECTED)]
    page = page_of(public, item.public_id)
    assert "Corrected on" not in page
    assert sha(SECOND) not in page
    assert CORRECTION_REJECTED not in page
    with public.get(f"/statements/{item.public_id}/document") as download:
        assert download.data == FIRST
    assert public.get(f"/statements/{item.public_id}/files/{second_ids[FileRole.ORIGINAL]}").status_code == 404
    # The organisation sees the published text as the document, the reason in its history,
    # and may send another correction.
    html = page_of(member, item.public_id)
    document = html[html.index('id="document-heading"') : html.index("Your organisation's options")]
    assert sha(FIRST) in document and sha(SECOND) not in document
    assert CORRECTION_REJECTED in html
    assert "Correction rejected" in html
    assert "Upload the new version" in html
    with member.get(f"/statements/{item.public_id}/document") as download:
        assert download.data == FIRST

    upload(member, item.public_id, factories.pdf_bytes("third try"))
    assert [(n, s) for n, s, _, _ in statement_of(app, item.statement_id)["versions"]] == [
        (1, V.APPROVED), (2, V.REJECTED), (3, V.SUBMITTED)
    ]


# --- history ------------------------------------------------------------------------------------------------


def test_timeline_for_the_organisation_and_moderators_only(app):
    item = arrange(app, S.CHANGES_REQUESTED)
    member = signed_in(app, SUBMITTER)
    upload(member, item.public_id, SECOND, note=WHAT_CHANGED)
    act(member, item.public_id, "resubmit")
    decide(app, item.statement_id, "approve")

    for email in (SUBMITTER, COLLEAGUE):
        html = page_of(signed_in(app, email), item.public_id)
        history = html[html.index('id="history-heading"') :]
        for text in ("Submitted for review", "Changes requested", REQUEST, "New version uploaded", WHAT_CHANGED,
                     "Resubmitted for review", "Approved and published", "the secretariat", "version 2"):
            assert text in history, (email, text)
        assert MODERATOR not in history  # moderators' addresses stay with the secretariat
    moderator = signed_in(app, MODERATOR)
    review = moderator.get(f"/moderation/{item.public_id}").get_data(as_text=True)
    history = review[review.index('id="history-heading"') :]
    assert REQUEST in history and WHAT_CHANGED in history and MODERATOR in history
    assert "Resubmitted for review" in history
    assert REQUEST in page_of(moderator, item.public_id)

    for viewer in (app.test_client(), signed_in(app, OTHER_ORG)):
        page = page_of(viewer, item.public_id)
        assert 'id="history-heading"' not in page
        assert "Publication history" in page
        for internal in (REQUEST, WHAT_CHANGED, "Changes requested", "Resubmitted"):
            assert internal not in page


# --- who may ---------------------------------------------------------------------------------------------------

ROUTES = ["submit", "resubmit", "withdraw", "versions", "files"]


def _post(client: FlaskClient, public_id: str, route: str, token: str, version: int) -> Any:
    if route == "versions":
        data = {"correction-csrf_token": token, "correction-version": str(version), "correction-language": "en",
                "correction-document": (io.BytesIO(SECOND), "x.pdf")}
    elif route == "files":
        data = {"addition-csrf_token": token, "addition-version": str(version), "addition-language": "fr",
                "addition-role": "translation", "addition-document": (io.BytesIO(SECOND), "x.pdf")}
    else:
        data = {"csrf_token": token, "version": str(version)}
    return client.post(f"/my/statements/{public_id}/{route}", data=data, content_type="multipart/form-data")


@pytest.mark.parametrize("status", [S.DRAFT, S.CHANGES_REQUESTED, S.APPROVED])
def test_other_organisation_gets_404_on_every_route(app, status):
    item = arrange(app, status)
    before = statement_of(app, item.statement_id)
    events = audit_rows(app, item.statement_id)
    other = signed_in(app, OTHER_ORG)
    token = csrf_token(other, "/my/submissions")

    responses = {route: _post(other, item.public_id, route, token, before["version"]) for route in ROUTES}

    assert {route: r.status_code for route, r in responses.items()} == dict.fromkeys(ROUTES, 404)
    assert all("Page not found" in r.get_data(as_text=True) for r in responses.values())
    assert statement_of(app, item.statement_id) == before
    assert audit_rows(app, item.statement_id) == events


@pytest.mark.parametrize("who", ["anonymous", "moderator"])
def test_non_submitters_cannot_use_the_routes(app, who):
    item = arrange(app, S.SUBMITTED)
    before = statement_of(app, item.statement_id)
    client = app.test_client() if who == "anonymous" else signed_in(app, MODERATOR)
    token = csrf_token(client, "/sign-in" if who == "anonymous" else "/moderation/")

    responses = [_post(client, item.public_id, route, token, before["version"]) for route in ROUTES]

    if who == "anonymous":
        assert [r.status_code for r in responses] == [302] * len(ROUTES)
        assert all(r.headers["Location"].startswith("/sign-in") for r in responses)
    else:
        assert [r.status_code for r in responses] == [403] * len(ROUTES)
    assert statement_of(app, item.statement_id) == before


def test_unknown_action_is_not_found(app):
    item = arrange(app, S.SUBMITTED)
    member = signed_in(app, SUBMITTER)
    before = statement_of(app, item.statement_id)
    token = csrf_token(member, f"/statements/{item.public_id}")

    responses = [
        member.post(f"/my/statements/{item.public_id}/{action}", data={"csrf_token": token, "version": before["version"]})
        for action in ("approve", "delete", "unpublish")
    ]

    assert [r.status_code for r in responses] == [404, 404, 404]
    assert statement_of(app, item.statement_id) == before


def test_embargoed_statement_is_not_public_and_history_waits(app):
    """An approved statement under embargo is invisible publicly; its files too."""
    with app.app_context():
        people = factories.make_people()
        statement = factories.make_statement(people["submitter"], title=TITLE, data=FIRST)
        workflow.apply(statement, "approve", actor=people["moderator"], publish_at=utcnow() + timedelta(days=2))
        db.session.commit()
        public_id, file_id = statement.public_id, statement.versions[0].files[0].id
    public = app.test_client()

    assert public.get(f"/statements/{public_id}").status_code == 404
    assert public.get(f"/statements/{public_id}/files/{file_id}").status_code == 404
    html = page_of(signed_in(app, SUBMITTER), public_id)
    assert NOT_PUBLIC in html
    assert "it becomes public on" in html


def test_draft_cannot_be_submitted_after_the_session_closes(app):
    from datetime import timedelta

    from portal import workflow
    from portal.enums import StatementStatus
    from portal.exceptions import WorkflowError
    from portal.models import utcnow

    with app.app_context():
        author = factories.make_user("drafter@mexico.example")
        statement = factories.make_statement(author, status=StatementStatus.DRAFT)
        statement.meeting_session.submissions_close_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
        with pytest.raises(WorkflowError, match="no longer accepts submissions"):
            workflow.apply(statement, "submit", actor=author)
        db.session.rollback()
        assert db.session.get(type(statement), statement.id).status is StatementStatus.DRAFT
