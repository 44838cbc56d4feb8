"""The submission form, through the test client with CSRF on.

A valid statement is stored with the type found in its content; any bad input is
answered on the form (400, a clear message, the other entries kept) and leaves no
trace: no rows, no audit event, no file in the store.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from flask_wtf.csrf import generate_csrf
from sqlalchemy import orm
from werkzeug.security import generate_password_hash

from portal import audit
from portal.enums import FileRole, Language, StatementKind, StatementStatus, VersionStatus
from portal.extensions import db
from portal.filetypes import DOCX, ODT, PDF, TEXT
from portal.models import Area, AuditEvent, MeetingSession, Panel, Statement, StoredFile, utcnow
from portal.models.statements import statement_areas
from portal.storage import FileStore
from tests import factories
from tests.conftest import csrf_from, csrf_token, login, make_app

SUBMITTER = "ana@mexico.example"
TITLE = "Statement of Mexico on human rights in migration management"
DELIVERED_ON = "2017-05-08"
OMIT = object()  # a form field left out of the request
DEFAULT = object()  # the valid value

FILE_TYPE_MESSAGE = (
    "This file is not a PDF, Word (DOCX), OpenDocument text (ODT) or plain text document, whatever its name says. "
    "Please upload the statement in one of those formats."
)
FORM_EXPIRED = "Form expired"
NO_OPEN_SESSION = "No session is open for submissions at the moment."


# --- helpers ----------------------------------------------------------------------------


class FormState(HTMLParser):
    """What a browser would show in the re-rendered form: input values, options, field errors and hints."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.inputs: dict[str, str] = {}
        self.options: dict[str, list[str]] = defaultdict(list)
        self.selected: dict[str, list[str]] = defaultdict(list)
        self.errors: dict[str, list[str]] = defaultdict(list)
        self.hints: dict[str, str] = {}
        self._select: str | None = None
        self._errors_of: str | None = None
        self._capture: tuple[str, str] | None = None  # ("error" or "hint", field id) while reading its text
        self._text: list[str] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        if tag == "input" and a.get("name"):
            self.inputs[a["name"]] = a.get("value") or ""
        elif tag == "select":
            self._select = a.get("name")
        elif tag == "option" and self._select is not None:
            self.options[self._select].append(a.get("value") or "")
            if "selected" in a:
                self.selected[self._select].append(a.get("value") or "")
        elif tag == "ul" and "errors" in classes:
            self._errors_of = (a.get("id") or "").removesuffix("-error")
        elif tag == "li" and self._errors_of is not None:
            self._capture, self._text = ("error", self._errors_of), []
        elif tag == "p" and "hint" in classes:
            self._capture, self._text = ("hint", (a.get("id") or "").removesuffix("-hint")), []

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "ul":
            self._errors_of = None
        elif tag in ("li", "p") and self._capture is not None:
            what, field = self._capture
            text = " ".join("".join(self._text).split())
            if what == "error":
                self.errors[field].append(text)
            else:
                self.hints[field] = text
            self._capture = None

    def handle_data(self, data: str) -> None:
        if self._capture is not None:
            self._text.append(data)


def store_root(app: Flask) -> Path:
    return Path(app.config["PORTAL_STORAGE_DIR"])


def all_files(root: Path) -> list[Path]:
    """Every file under the store, 'incoming' included."""
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def placed_files(root: Path) -> list[Path]:
    """Files in the store proper; 'incoming' must then be empty."""
    files = all_files(root)
    incoming = root / "incoming"
    assert [p for p in files if incoming in p.parents] == [], "a temporary upload was left in 'incoming'"
    return files


def row_counts(app: Flask) -> dict[str, int]:
    with app.app_context():
        return {
            name: db.session.scalar(sa.select(sa.func.count()).select_from(table))
            for name, table in [
                ("statements", Statement.__table__),
                ("stored_files", StoredFile.__table__),
                ("statement_areas", statement_areas),
                ("audit_events", AuditEvent.__table__),
            ]
        }


NOTHING = {"statements": 0, "stored_files": 0, "statement_areas": 0, "audit_events": 0}


def assert_nothing_written(app: Flask) -> None:
    assert row_counts(app) == NOTHING
    assert all_files(store_root(app)) == []


def form_data(ids: SimpleNamespace, document: Any = DEFAULT, **overrides: Any) -> dict[str, Any]:
    """A valid submission; `overrides` replace fields (OMIT leaves one out)."""
    data: dict[str, Any] = {
        "title": TITLE,
        "session_id": str(ids.session1),
        "area_ids": [str(ids.area_d), str(ids.area_e)],
        "panel_id": "0",
        "kind": "delivered",
        "language": "es",
        "delivered_on": DELIVERED_ON,
        "document": (io.BytesIO(factories.pdf_bytes(TITLE)), "statement.pdf") if document is DEFAULT else document,
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not OMIT}


def post_form(client: FlaskClient, data: dict[str, Any], *, token: str | None | object = DEFAULT):
    """POST /submit as a browser would: with the token of the form page just fetched."""
    data = dict(data)
    if token is DEFAULT:
        data["csrf_token"] = csrf_token(client, "/submit")
    elif token is not None:
        data["csrf_token"] = token
    return client.post("/submit", data=data, content_type="multipart/form-data")


def doc(content: bytes, filename: str = "statement.pdf", content_type: str | None = None) -> tuple:
    if content_type is None:
        return (io.BytesIO(content), filename)
    return (io.BytesIO(content), filename, content_type)


# --- fixtures --------------------------------------------------------------------------------


@pytest.fixture
def ids(app: Flask) -> SimpleNamespace:
    with app.app_context():
        user = factories.make_user(SUBMITTER, org_code="MEX")
        # A cheap hash of the same password: signing in stays real but does not cost a scrypt per test.
        user.password_hash = generate_password_hash(factories.PASSWORD, method="pbkdf2:sha256:1")
        session1 = factories.session_by_number(1)
        result = SimpleNamespace(
            user_id=user.id,
            session1=session1.id,
            session1_label=session1.label,
            session2=factories.session_by_number(2).id,
            area_a=factories.area(1, "a").id,
            area_d=factories.area(1, "d").id,
            area_e=factories.area(1, "e").id,
            closed_area=factories.area(2, "a").id,
            panel1=session1.panels[0].id,
        )
        db.session.commit()
    return result


@pytest.fixture
def submitter(client: FlaskClient, ids: SimpleNamespace) -> FlaskClient:
    login(client, SUBMITTER)
    return client


# --- valid submissions -------------------------------------------------------------------------

LATIN_1_TEXT = (
    "Déclaration de la délégation française sur les droits de l'homme des migrants. "
    "L'intégration et la cohésion sociale sont préférées à l'exclusion.\n"
)

VALID = [
    pytest.param(factories.pdf_bytes(TITLE), "statement.pdf", None, PDF, {}, id="pdf"),
    pytest.param(factories.docx_bytes(TITLE), "statement.docx", None, DOCX, {}, id="docx"),
    pytest.param(
        factories.odt_bytes(TITLE), "statement.odt", None, ODT,
        {"kind": "written", "delivered_on": ""}, id="odt_written_without_date",
    ),
    pytest.param(
        "Declaración de México — derechos humanos de «todos» los migrantes.\n".encode(), "statement.txt", None, TEXT,
        {}, id="utf8_text",
    ),
    pytest.param(LATIN_1_TEXT.encode("latin-1"), "declaration.txt", None, TEXT, {"language": "fr"}, id="latin1_text"),
    pytest.param(
        "Заявление делегации о правах человека всех мигрантов.\n".encode("utf-16"), "statement.txt", None, TEXT,
        {"language": "ru"}, id="utf16_text",
    ),
    pytest.param(b"x" * (64 * 1024), "statement.txt", None, TEXT, {}, id="text_exactly_at_the_limit"),
    pytest.param(factories.pdf_bytes(TITLE), "x.txt", "text/plain", PDF, {}, id="pdf_named_and_claimed_as_text"),
    pytest.param(factories.docx_bytes(TITLE), "statement.pdf", "application/pdf", DOCX, {}, id="docx_named_pdf"),
    pytest.param(factories.pdf_bytes(TITLE), "statement", "application/octet-stream", PDF, {}, id="pdf_without_extension"),
]


@pytest.mark.parametrize(("content", "filename", "claimed_type", "expected_type", "overrides"), VALID)
def test_submit_valid_document_is_stored_with_detected_type(
    app, submitter, ids, content, filename, claimed_type, expected_type, overrides
):
    response = post_form(submitter, form_data(ids, document=doc(content, filename, claimed_type), **overrides))

    assert response.status_code == 302, response.get_data(as_text=True)
    assert response.headers["Location"] == "/my/submissions"
    mine = submitter.get("/my/submissions").get_data(as_text=True)
    assert TITLE in mine
    assert "Awaiting review" in mine

    files = placed_files(store_root(app))
    assert len(files) == 1
    assert files[0].read_bytes() == content
    sha256 = hashlib.sha256(content).hexdigest()
    with app.app_context():
        statement = db.session.scalars(sa.select(Statement)).one()
        document = db.session.scalars(sa.select(StoredFile)).one()
        assert statement.document is document
        assert statement.status is StatementStatus.SUBMITTED
        assert statement.title == TITLE
        assert statement.submitted_by_id == ids.user_id
        assert statement.organisation.code == "MEX"
        assert statement.session_id == ids.session1
        assert [a.code for a in statement.areas] == ["d", "e"]
        assert statement.panel is None
        assert statement.kind is StatementKind(overrides.get("kind", "delivered"))
        assert statement.language is Language(overrides.get("language", "es"))
        expected_date = overrides.get("delivered_on", DELIVERED_ON)
        assert statement.delivered_on == (date.fromisoformat(expected_date) if expected_date else None)
        assert document.content_type == expected_type
        assert document.size == len(content)
        assert document.sha256 == sha256
        assert document.original_name == filename
        assert FileStore(store_root(app)).path(document.storage_key) == files[0]

        events = db.session.scalars(sa.select(AuditEvent)).all()
        assert len(events) == 1
        event = events[0]
        assert (event.action, event.object_type, event.object_id) == ("submit", "statements", statement.id)
        assert event.actor_id == ids.user_id
        assert event.actor_label == SUBMITTER
        assert event.object_ref == statement.public_id
        assert event.new_status == "submitted"
        language = overrides.get("language", "es")
        assert event.data == {
            "title": TITLE,
            "session": 1,
            "areas": ["d", "e"],
            "files": [
                {
                    "name": filename,
                    "type": expected_type,
                    "size": len(content),
                    "sha256": sha256,
                    "language": language,
                    "role": "original",
                }
            ],
            "on_behalf_of": [],
            "cosignatories": [],
        }
        # One version, awaiting review, holding the one file as the original in the statement's language.
        [version] = statement.versions
        assert (version.number, version.status) == (1, VersionStatus.SUBMITTED)
        assert [(f.stored_file_id, f.language, f.role, f.position) for f in version.files] == [
            (document.id, Language(language), FileRole.ORIGINAL, 0)
        ]
        assert statement.on_behalf_of == [] and statement.cosignatories == []


def test_submit_with_panel_and_untidy_title_is_stored_normalised(app, submitter, ids):
    response = post_form(submitter, form_data(ids, title="  Statement \t of   Mexico  ", panel_id=str(ids.panel1)))

    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        statement = db.session.scalars(sa.select(Statement)).one()
        assert statement.title == "Statement of Mexico"
        assert statement.panel_id == ids.panel1


def test_submit_success_flashes_the_reference(app, submitter, ids):
    response = post_form(submitter, form_data(ids))

    assert response.status_code == 302
    with app.app_context():
        public_id = db.session.scalar(sa.select(Statement.public_id))
    page = submitter.get("/my/submissions").get_data(as_text=True)
    assert public_id in page
    assert "awaits review" in page


# --- drafts, extra files, labels ------------------------------------------------------------------

# The labels an external checker finds fields by. Browsers' test tools match a label by a
# case-insensitive part of its text, so no other label may contain one of these.
CHECKED_LABELS = ["Title", "Session", "Area", "Kind", "Language", "Date delivered", "File"]


def label_texts(html: str) -> list[str]:
    import re

    return [" ".join(re.sub(r"<[^>]+>", "", t).split()) for t in re.findall(r"<label[^>]*>(.*?)</label>", html, re.S)]


def test_submit_form_labels_are_unique_even_as_parts(submitter):
    html = submitter.get("/submit").get_data(as_text=True)
    labels = label_texts(html)

    assert len(labels) == len(set(labels)), labels
    for name in CHECKED_LABELS:
        assert [label for label in labels if name.lower() in label.lower()] == [name], name
    assert 'type="submit" value="Submit statement"' in html
    assert 'type="submit" value="Save as draft"' in html


def test_submit_with_translation_and_annex(app, submitter, ids):
    french = factories.docx_bytes("Déclaration du Mexique")
    annex = b"Annex: figures on detention.\n"
    data = form_data(
        ids,
        extra1_document=doc(french, "declaration-fr.docx"),
        extra1_language="fr",
        extra1_role="translation",
        extra2_document=doc(annex, "annex.txt"),
        extra2_language="en",
        extra2_role="annex",
    )

    response = post_form(submitter, data)

    assert response.status_code == 302, response.get_data(as_text=True)
    assert len(placed_files(store_root(app))) == 3
    with app.app_context():
        statement = db.session.scalars(sa.select(Statement)).one()
        public_id = statement.public_id
        [version] = statement.versions
        assert [(f.role, f.language, f.stored.sha256, f.stored.content_type, f.position) for f in version.files] == [
            (FileRole.ORIGINAL, Language.SPANISH, hashlib.sha256(factories.pdf_bytes(TITLE)).hexdigest(), PDF, 0),
            (FileRole.TRANSLATION, Language.FRENCH, hashlib.sha256(french).hexdigest(), DOCX, 1),
            (FileRole.ANNEX, Language.ENGLISH, hashlib.sha256(annex).hexdigest(), TEXT, 2),
        ]
        file_ids = {f.role: f.id for f in version.files}
        event = db.session.scalars(sa.select(AuditEvent)).one()
        assert [(f["name"], f["language"], f["role"]) for f in event.data["files"]] == [
            ("statement.pdf", "es", "original"),
            ("declaration-fr.docx", "fr", "translation"),
            ("annex.txt", "en", "annex"),
        ]

    page = submitter.get(f"/statements/{public_id}").get_data(as_text=True)
    assert "Download the translation (French)" in page
    assert "Download the annex (English)" in page
    with submitter.get(f"/statements/{public_id}/files/{file_ids[FileRole.TRANSLATION]}") as download:
        assert download.status_code == 200
        assert download.data == french
        assert download.headers["Content-Disposition"] == f"attachment; filename={public_id}-translation-fr.docx"
    with submitter.get(f"/statements/{public_id}/files/{file_ids[FileRole.ANNEX]}") as download:
        assert download.data == annex
        assert download.headers["Content-Disposition"] == f"attachment; filename={public_id}-annex-en.txt"
    # Not public yet: the public gets nothing of it.
    public = submitter.application.test_client()
    assert public.get(f"/statements/{public_id}/files/{file_ids[FileRole.TRANSLATION]}").status_code == 404


@pytest.mark.parametrize(
    ("extra", "field", "message"),
    [
        pytest.param(
            lambda: {"extra1_document": doc(factories.exe_bytes(), "annex.pdf"), "extra1_language": "en"},
            "extra1_document", FILE_TYPE_MESSAGE, id="executable_extra",
        ),
        pytest.param(
            lambda: {"extra2_document": doc(b"", "annex.txt"), "extra2_language": "en"},
            "extra2_document", "The file is empty. Please choose the document to upload.", id="empty_extra",
        ),
        pytest.param(
            lambda: {"extra2_document": doc(b"a" * (100 * 1024), "annex.txt"), "extra2_language": "en"},
            "extra2_document", "The file is larger than the 0.0625 MB limit. Please upload a smaller file.",
            id="extra_over_the_limit",
        ),
        pytest.param(
            lambda: {"extra1_document": doc(factories.docx_bytes(), "fr.docx")},
            "extra1_language", "Choose the language of extra document 1.", id="extra_without_language",
        ),
        pytest.param(
            lambda: {"extra1_document": doc(factories.docx_bytes(), "fr.docx"), "extra1_language": "fr", "extra1_role": "original"},
            "extra1_role", "Choose translation or annex.", id="extra_as_second_original",
        ),
    ],
)
def test_submit_bad_extra_file_is_refused_on_its_field(
    app, submitter, ids, extra: Callable[[], dict[str, Any]], field: str, message: str
):
    response = post_form(submitter, form_data(ids, **extra()))

    html = response.get_data(as_text=True)
    assert response.status_code == 400, html
    form = FormState(html)
    assert form.errors[field] == [message]
    assert [f for f, errors in form.errors.items() if errors] == [field]
    assert form.inputs["title"] == TITLE
    assert_nothing_written(app)


def test_submit_extra_file_inputs_left_empty_add_nothing(app, submitter, ids):
    """As a browser sends them: file parts without a name or content, a language chosen by mistake."""
    response = post_form(
        submitter, form_data(ids, extra1_document=doc(b"", ""), extra1_language="fr", extra2_document=doc(b"", ""))
    )

    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        [version] = db.session.scalars(sa.select(Statement)).one().versions
        assert [f.role for f in version.files] == [FileRole.ORIGINAL]
    assert len(placed_files(store_root(app))) == 1


def test_save_as_draft_with_bad_input_says_the_draft_was_not_saved(app, submitter, ids):
    response = post_form(submitter, form_data(ids, title="", save_draft="Save as draft"))

    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "The draft was not saved" in html
    assert FormState(html).errors["title"] == ["A title is required."]
    assert_nothing_written(app)


# --- bad inputs ---------------------------------------------------------------------------------


def corrupt_odt() -> bytes:
    """An ODT-shaped ZIP whose deflated `mimetype` member holds a corrupt deflate stream."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mimetype", ODT * 4)
        archive.writestr("content.xml", "<office:document-content/>")
    data = bytearray(buffer.getvalue())
    start = 30 + len("mimetype")  # after the first local file header
    data[start : start + 10] = b"\xff" * 10
    return bytes(data)


def plain_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("statement.txt", "Statement by the delegation")
        archive.writestr("notes.xml", "<notes/>")
    return buffer.getvalue()


FUTURE = (date.today() + timedelta(days=30)).isoformat()

# (overrides as a function of ids, the field the message is shown on, the exact message)
BAD_INPUTS: list[Any] = [
    pytest.param(
        lambda ids: {"document": doc(b"a" * (100 * 1024), "statement.txt")},
        "document", "The file is larger than the 0.0625 MB limit. Please upload a smaller file.",
        id="file_over_the_limit",
    ),
    pytest.param(
        lambda ids: {"document": doc(factories.exe_bytes(), "statement.pdf", "application/pdf")},
        "document", FILE_TYPE_MESSAGE, id="executable_named_pdf",
    ),
    pytest.param(lambda ids: {"document": doc(plain_zip(), "statement.docx")}, "document", FILE_TYPE_MESSAGE, id="zip_not_docx_or_odt"),
    pytest.param(
        lambda ids: {"document": doc(factories.docx_bytes()[:300], "statement.docx")},
        "document", FILE_TYPE_MESSAGE, id="truncated_docx",
    ),
    pytest.param(lambda ids: {"document": doc(corrupt_odt(), "statement.odt")}, "document", FILE_TYPE_MESSAGE, id="corrupt_odt"),
    pytest.param(
        lambda ids: {"document": doc(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 64, "statement.pdf")},
        "document", FILE_TYPE_MESSAGE, id="png_named_pdf",
    ),
    pytest.param(
        lambda ids: {"document": doc(b"", "statement.pdf")},
        "document", "The file is empty. Please choose the document to upload.", id="empty_file",
    ),
    pytest.param(lambda ids: {"document": OMIT}, "document", "Choose the document to upload.", id="no_file"),
    pytest.param(
        lambda ids: {"document": doc(b"", "")}, "document", "Choose the document to upload.", id="no_file_chosen_in_browser"
    ),
    pytest.param(lambda ids: {"title": OMIT}, "title", "A title is required.", id="missing_title"),
    pytest.param(lambda ids: {"title": ""}, "title", "A title is required.", id="empty_title"),
    pytest.param(lambda ids: {"title": "  \t  "}, "title", "A title is required.", id="whitespace_title"),
    pytest.param(
        lambda ids: {"title": "x" * 301}, "title", "Field cannot be longer than 300 characters.", id="title_over_300"
    ),
    pytest.param(
        lambda ids: {"area_ids": [str(ids.area_d), str(ids.closed_area)]},
        "area_ids", "Choose areas of discussion of a session open for submissions, from the list.",
        id="area_of_closed_session",
    ),
    pytest.param(
        lambda ids: {"area_ids": ["99999"]},
        "area_ids", "Choose areas of discussion of a session open for submissions, from the list.", id="unknown_area",
    ),
    pytest.param(
        lambda ids: {"area_ids": [str(ids.area_d), "abc"]}, "area_ids", "Choose areas of discussion from the list.",
        id="non_integer_area",
    ),
    pytest.param(lambda ids: {"area_ids": OMIT}, "area_ids", "Choose at least one area of discussion.", id="no_area"),
    pytest.param(
        lambda ids: {"session_id": "99999"},
        "session_id", "That session does not exist or is not open for submissions. Choose one from the list.",
        id="unknown_session",
    ),
    pytest.param(
        lambda ids: {"session_id": str(ids.session2)},
        "session_id", "That session does not exist or is not open for submissions. Choose one from the list.",
        id="closed_session",
    ),
    pytest.param(lambda ids: {"session_id": "abc"}, "session_id", "Choose a session from the list.", id="non_integer_session"),
    pytest.param(
        lambda ids: {"session_id": ""}, "session_id", "Choose the session this statement belongs to.", id="no_session"
    ),
    pytest.param(
        lambda ids: {"panel_id": "abc"}, "panel_id", "Choose a panel from the list.", id="non_integer_panel"
    ),
    pytest.param(
        lambda ids: {"panel_id": "99999"},
        "panel_id", "That panel does not exist. Choose one from the list, or no particular panel.", id="unknown_panel",
    ),
    pytest.param(lambda ids: {"kind": "speech"}, "kind", "Choose a kind of statement from the list.", id="unknown_kind"),
    pytest.param(lambda ids: {"kind": ""}, "kind", "Choose the kind of statement.", id="empty_kind"),
    pytest.param(
        lambda ids: {"language": "de"}, "language", "Choose one of the six official languages from the list.",
        id="unknown_language",
    ),
    pytest.param(lambda ids: {"delivered_on": "08/05/2017"}, "delivered_on", "Not a valid date value.", id="malformed_date"),
    pytest.param(lambda ids: {"delivered_on": "2017-02-30"}, "delivered_on", "Not a valid date value.", id="impossible_date"),
    pytest.param(
        lambda ids: {"delivered_on": ""},
        "delivered_on", "Give the date a delivered statement was delivered.", id="delivered_without_date",
    ),
    pytest.param(
        lambda ids: {"delivered_on": OMIT},
        "delivered_on", "Give the date a delivered statement was delivered.", id="delivered_date_left_out",
    ),
    pytest.param(
        lambda ids: {"delivered_on": FUTURE}, "delivered_on", "The date delivered cannot be in the future.", id="future_date"
    ),
    pytest.param(
        lambda ids: {"delivered_on": "1900-01-01"},
        "delivered_on", "The date delivered is not a plausible date.", id="implausible_old_date",
    ),
]


@pytest.mark.parametrize(("overrides", "field", "message"), BAD_INPUTS)
def test_submit_bad_input_is_refused_on_the_form(
    app, submitter, ids, overrides: Callable[[SimpleNamespace], dict[str, Any]], field: str, message: str
):
    changed = overrides(ids)
    data = form_data(ids, **changed)

    response = post_form(submitter, data)

    html = response.get_data(as_text=True)
    assert response.status_code == 400, html
    assert "The statement was not submitted" in html
    form = FormState(html)
    assert message in form.errors[field], dict(form.errors)
    assert [f for f, errors in form.errors.items() if errors] == [field]
    assert_entries_kept(form, data, bad=field)
    assert_nothing_written(app)


def assert_entries_kept(form: FormState, sent: dict[str, Any], *, bad: str) -> None:
    """The form shows again what was sent: every entry, and the choices that were valid ones."""
    assert form.inputs["title"] == sent.get("title", "")
    assert form.inputs["delivered_on"] == sent.get("delivered_on", "")
    for name in ("session_id", "kind", "language", "panel_id"):
        if name != bad and name in sent:
            assert form.selected[name] == [sent[name]], name
    if bad != "area_ids":
        assert sorted(form.selected["area_ids"]) == sorted(sent.get("area_ids", []))
    else:
        valid = [a for a in sent.get("area_ids", []) if a.isdigit()]
        assert set(form.selected["area_ids"]) <= set(valid)


@pytest.fixture
def second_open_session(app: Flask) -> SimpleNamespace:
    """Another session open for submissions, with one area and one panel."""
    with app.app_context():
        session = MeetingSession(
            number=3,
            slug="international-cooperation",
            title="International cooperation and governance of migration",
            short_title="International cooperation",
            start_date=date(2017, 6, 19),
            end_date=date(2017, 6, 20),
            submissions_open_at=utcnow() - timedelta(days=5),
        )
        session.areas = [Area(code="b", title="Governance of migration", position=1)]
        session.panels = [Panel(number=1, title="Cooperation", held_on=date(2017, 6, 19))]
        db.session.add(session)
        db.session.commit()
        return SimpleNamespace(id=session.id, area=session.areas[0].id, panel=session.panels[0].id)


def test_submit_form_offers_areas_of_every_open_session(submitter, ids, second_open_session):
    html = submitter.get("/submit").get_data(as_text=True)
    form = FormState(html)
    assert "Session 3: International cooperation" in html
    assert form.options["session_id"] == ["", str(ids.session1), str(second_open_session.id)]
    assert form.options["area_ids"] == [str(a) for a in (ids.area_a, ids.area_d, ids.area_e, second_open_session.area)]
    assert form.options["panel_id"][-1] == str(second_open_session.panel)


@pytest.mark.parametrize(
    ("field", "overrides", "message"),
    [
        pytest.param(
            "area_ids",
            lambda ids, other: {"area_ids": [str(ids.area_d), str(other.area)]},
            "Choose areas of discussion of {label}; an area of another session was given.",
            id="area",
        ),
        pytest.param(
            "area_ids",
            lambda ids, other: {"area_ids": [str(other.area)]},
            "Choose areas of discussion of {label}; an area of another session was given.",
            id="only_area",
        ),
        pytest.param(
            "panel_id",
            lambda ids, other: {"panel_id": str(other.panel)},
            "Choose a panel of {label}.",
            id="panel",
        ),
    ],
)
def test_submit_choice_of_another_open_session_is_refused(
    app, submitter, ids, second_open_session, field, overrides, message
):
    data = form_data(ids, **overrides(ids, second_open_session))

    response = post_form(submitter, data)

    html = response.get_data(as_text=True)
    assert response.status_code == 400, html
    form = FormState(html)
    assert form.errors[field] == [message.format(label=ids.session1_label)]
    assert form.selected["session_id"] == [str(ids.session1)]
    assert sorted(form.selected["area_ids"]) == sorted(data["area_ids"])
    assert form.selected["panel_id"] == [data["panel_id"]]
    assert form.inputs["title"] == TITLE
    assert form.inputs["delivered_on"] == DELIVERED_ON
    assert_nothing_written(app)


def test_submit_area_of_the_other_session_is_accepted_with_that_session(app, submitter, ids, second_open_session):
    data = form_data(ids, session_id=str(second_open_session.id), area_ids=[str(second_open_session.area)])

    response = post_form(submitter, data)

    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        statement = db.session.scalars(sa.select(Statement)).one()
        assert statement.session_id == second_open_session.id
        assert [a.code for a in statement.areas] == ["b"]


# --- size limits ---------------------------------------------------------------------------------


def test_submit_file_far_over_the_limit_gets_413_page(app, submitter, ids):
    data = form_data(ids, document=doc(b"a" * (300 * 1024), "statement.txt"))

    response = post_form(submitter, data)

    html = response.get_data(as_text=True)
    assert response.status_code == 413
    assert "File too large" in html
    assert "limit" in html
    assert "Nothing was saved" in html
    assert_nothing_written(app)


def test_submit_limit_is_stated_as_configured(app, submitter, ids):
    """The form hint and the 413 page state the configured limit (64 KiB here) as the form error does,
    not rounded down to '0 MB'."""
    form_page = submitter.get("/submit").get_data(as_text=True)
    too_large = post_form(submitter, form_data(ids, document=doc(b"a" * (300 * 1024), "statement.txt")))

    assert too_large.status_code == 413
    assert "0.0625 MB" in FormState(form_page).hints["document"]
    assert "the 0.0625 MB limit" in too_large.get_data(as_text=True)


# --- CSRF ------------------------------------------------------------------------------------------


def tampered_token(client: FlaskClient, app: Flask) -> str:
    real = csrf_token(client, "/submit")
    return real[:-2] + ("BB" if real.endswith("AA") else "AA")


def token_signed_with_another_key(client: FlaskClient, app: Flask) -> str:
    other_app = make_app("sqlite://", store_root(app).parent / "other", SECRET_KEY="another-secret-key")
    with other_app.test_request_context():
        return generate_csrf()


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda client, app: None, id="missing"),
        pytest.param(lambda client, app: "", id="empty"),
        pytest.param(tampered_token, id="tampered"),
        pytest.param(token_signed_with_another_key, id="signed_with_another_key"),
    ],
)
def test_submit_without_valid_csrf_token_is_refused(app, submitter, ids, make_token):
    token = make_token(submitter, app)

    response = post_form(submitter, form_data(ids), token=token)

    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert FORM_EXPIRED in html
    assert "Nothing was saved" in html
    assert_nothing_written(app)


def test_submit_csrf_token_of_another_browser_session_is_refused(app, client, ids):
    other = app.test_client()
    login(other, SUBMITTER)
    foreign_token = csrf_token(other, "/submit")
    login(client, SUBMITTER)

    response = post_form(client, form_data(ids), token=foreign_token)

    assert response.status_code == 400
    assert FORM_EXPIRED in response.get_data(as_text=True)
    assert_nothing_written(app)


# --- failures after the file was placed ----------------------------------------------------------------


@pytest.fixture
def fail_audit(app: Flask, monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """Make portal.audit.record fail, after checking that the document has been placed in the store."""
    seen = SimpleNamespace(files=None)

    def failing_record(*args: Any, **kwargs: Any) -> None:
        seen.files = all_files(store_root(app))
        raise RuntimeError("the database went away")

    monkeypatch.setattr(audit, "record", failing_record)
    return seen


def test_submit_failure_after_file_placed_removes_it_when_exception_propagates(app, submitter, ids, fail_audit):
    data = form_data(ids)
    token = csrf_token(submitter, "/submit")

    with pytest.raises(RuntimeError, match="the database went away"):
        post_form(submitter, data, token=token)

    assert fail_audit.files is not None and len(fail_audit.files) == 1  # it was there
    assert_nothing_written(app)


def test_submit_failure_after_file_placed_shows_500_and_removes_it(app, submitter, ids, fail_audit):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    response = post_form(submitter, form_data(ids))

    assert response.status_code == 500
    assert "Nothing was saved" in response.get_data(as_text=True)
    assert fail_audit.files is not None and len(fail_audit.files) == 1
    assert_nothing_written(app)


@pytest.fixture
def failing_commit() -> Iterator[SimpleNamespace]:
    """Every ORM commit fails while the test runs (as when the database refuses it)."""
    calls = SimpleNamespace(n=0)

    def refuse(session: orm.Session) -> None:
        calls.n += 1
        raise sa.exc.OperationalError("COMMIT", {}, Exception("connection lost"))

    sa.event.listen(orm.Session, "before_commit", refuse)
    try:
        yield calls
    finally:
        sa.event.remove(orm.Session, "before_commit", refuse)


def test_submit_failed_commit_leaves_no_file(app, submitter, ids, failing_commit):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    response = post_form(submitter, form_data(ids))

    assert failing_commit.n >= 1
    assert response.status_code == 500
    assert "Nothing was saved" in response.get_data(as_text=True)
    assert_nothing_written(app)


# --- the form page ------------------------------------------------------------------------------------


def test_submit_form_with_no_open_session_shows_empty_state(app, submitter, ids):
    with app.app_context():
        session = db.session.get(MeetingSession, ids.session1)
        session.submissions_close_at = utcnow() - timedelta(minutes=1)
        db.session.commit()

    page = submitter.get("/submit")

    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert NO_OPEN_SESSION in html
    assert 'name="title"' not in html


def test_submit_post_with_no_open_session_is_refused(app, submitter, ids):
    token = csrf_token(submitter, "/submit")
    with app.app_context():
        session = db.session.get(MeetingSession, ids.session1)
        session.submissions_close_at = utcnow() - timedelta(minutes=1)
        db.session.commit()

    response = post_form(submitter, form_data(ids), token=token)

    assert response.status_code == 400
    assert NO_OPEN_SESSION in response.get_data(as_text=True)
    assert_nothing_written(app)


def test_submit_form_lists_open_sessions_only(submitter, ids):
    html = submitter.get("/submit").get_data(as_text=True)
    form = FormState(html)
    assert form.inputs["title"] == ""
    assert form.selected["kind"] == ["delivered"]
    assert form.selected["language"] == ["en"]
    assert form.options["session_id"] == ["", str(ids.session1)]
    assert form.options["area_ids"] == [str(ids.area_a), str(ids.area_d), str(ids.area_e)]
    assert form.errors == {}
    assert csrf_from(html)
