"""Text extraction: every format, every way a file can fail, and zip bombs refused on upload."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import docx
import pytest
import sqlalchemy as sa
from pypdf import PdfWriter

from portal import extract
from portal.enums import Role
from portal.extensions import db
from portal.filetypes import DOCX, ODT, PDF, TEXT
from portal.models import DocumentText, ExtractionStatus, Statement
from tests import factories
from tests.conftest import login
from tests.test_submit import assert_nothing_written, doc, form_data, ids, post_form, submitter  # noqa: F401

OK, EMPTY, FAILED, REFUSED = (
    ExtractionStatus.OK,
    ExtractionStatus.EMPTY,
    ExtractionStatus.FAILED,
    ExtractionStatus.REFUSED,
)


def write(tmp_path: Path, data: bytes, name: str = "file") -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def real_docx(*paragraphs: str, table: list[list[str]] | None = None) -> bytes:
    """A DOCX as Word writes it (python-docx's template), with paragraphs and a table."""
    document = docx.Document()
    document.add_heading(paragraphs[0], level=1)
    for text in paragraphs[1:]:
        document.add_paragraph(text)
    if table:
        grid = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, text in enumerate(row):
                grid.cell(r, c).text = text
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def odt_with(content_body: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), ODT)
        z.writestr(
            "content.xml",
            '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
            'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
            'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0">'
            f"<office:body><office:text>{content_body}</office:text></office:body></office:document-content>",
        )
    return buffer.getvalue()


def encrypted_pdf(text: str, *, user_password: str, algorithm: str = "AES-256") -> bytes:
    writer = PdfWriter(clone_from=io.BytesIO(factories.pdf_bytes(text)))
    writer.encrypt(user_password=user_password, owner_password="owner-secret", algorithm=algorithm)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def blank_pdf(pages: int = 2) -> bytes:
    """What a scan without OCR looks like to a text extractor: pages, no text."""
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(595, 842)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def zip_bomb_docx(expanded_bytes: int) -> bytes:
    """A DOCX whose document.xml is `expanded_bytes` of one repeated byte (deflates ~1000:1)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        source = zipfile.ZipFile(io.BytesIO(factories.docx_bytes("Bomb")))
        for name in source.namelist():
            if name != "word/document.xml":
                z.writestr(name, source.read(name))
        with z.open("word/document.xml", "w", force_zip64=True) as member:
            chunk = b" " * (1 << 20)
            left = expanded_bytes
            while left > 0:
                member.write(chunk[: min(left, len(chunk))])
                left -= len(chunk)
    return buffer.getvalue()


# --- formats ------------------------------------------------------------------------------------


def test_pdf_text_and_page_count(tmp_path):
    result = extract.extract(write(tmp_path, factories.pdf_bytes("Alternatives to detention for migrants")), PDF)

    assert (result.status, result.text, result.pages, result.message) == (
        OK, "Alternatives to detention for migrants", 1, ""
    )
    assert result.method.startswith("pypdf ")


def test_docx_paragraphs_and_tables_in_order(tmp_path):
    data = real_docx("Statement of Mexico", "First paragraph.", "Second paragraph.", table=[["Cell one", "Cell two"]])

    result = extract.extract(write(tmp_path, data), DOCX)

    assert result.status is OK
    assert result.text.split("\n") == ["Statement of Mexico", "First paragraph.", "Second paragraph.", "Cell one", "Cell two"]
    assert result.method.startswith("python-docx ")


def test_docx_minimal_package_is_read(tmp_path):
    result = extract.extract(write(tmp_path, factories.docx_bytes("Statement by the delegation")), DOCX)

    assert (result.status, result.text) == (OK, "Statement by the delegation")


def test_odt_headings_paragraphs_spaces_and_tabs_but_not_comments(tmp_path):
    body = (
        "<text:h>Déclaration</text:h>"
        '<text:p>Les<text:s text:c="3"/>migrations<text:tab/>régulières<text:line-break/>et sûres.</text:p>'
        "<text:p>Visible<office:annotation><text:p>hidden comment</text:p></office:annotation> text.</text:p>"
    )

    result = extract.extract(write(tmp_path, odt_with(body)), ODT)

    assert result.status is OK
    assert result.text == "Déclaration\nLes   migrations\trégulières\net sûres.\nVisible text."


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        pytest.param("Statement on the human rights of all migrants — “quoted”.", "utf-8", id="utf-8"),
        pytest.param("Statement on the human rights of all migrants.", "utf-8-sig", id="utf-8-bom"),
        pytest.param("Заявление делегации о правах человека всех мигрантов.", "utf-16", id="utf-16-bom"),
        pytest.param(
            "Déclaration de la délégation française sur les droits de l'homme des migrants. "
            "L'intégration et la cohésion sociale sont préférées à l'exclusion.",
            "cp1252",
            id="windows-1252-french",
        ),
        pytest.param(
            "Заявление делегации Российской Федерации о правах человека всех мигрантов и об их задержании.",
            "cp1251",
            id="windows-1251-russian",
        ),
    ],
)
def test_plain_text_in_several_encodings(tmp_path, text, encoding):
    result = extract.extract(write(tmp_path, text.encode(encoding)), TEXT)

    assert (result.status, result.text) == (OK, text)


def test_text_is_cleaned_of_control_characters_and_blank_runs(tmp_path):
    raw = "Line one\x00 with NUL\r\n\r\n\r\n\r\nLine\x02two\x1b\x03   \n\fend".encode()

    result = extract.extract(write(tmp_path, raw), TEXT)

    assert result.text == "Line one  with NUL\n\nLine two\n\nend"


def test_long_text_is_truncated_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(extract, "MAX_TEXT_CHARS", 100)

    result = extract.extract(write(tmp_path, ("word " * 100).encode()), TEXT)

    assert (result.status, len(result.text), result.truncated) == (OK, 100, True)
    assert "first 100 characters" in result.message


# --- failures are recorded, never raised ---------------------------------------------------------


def test_encrypted_pdf_needing_a_password_fails_as_encrypted(tmp_path):
    result = extract.extract(write(tmp_path, encrypted_pdf("Secret text", user_password="open-sesame")), PDF)

    assert (result.status, result.text) == (FAILED, "")
    assert result.message.startswith("Encrypted: the PDF needs a password")


@pytest.mark.parametrize("algorithm", ["RC4-128", "AES-128", "AES-256"])
def test_pdf_encrypted_only_against_editing_is_read(tmp_path, algorithm):
    data = encrypted_pdf("Readable without a password", user_password="", algorithm=algorithm)

    result = extract.extract(write(tmp_path, data), PDF)

    assert (result.status, result.text) == (OK, "Readable without a password")


def test_pdf_without_text_layer_is_empty_like_a_scan(tmp_path):
    result = extract.extract(write(tmp_path, blank_pdf(pages=2)), PDF)

    assert (result.status, result.text, result.pages) == (EMPTY, "", 2)
    assert result.message.startswith("No text layer")


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        pytest.param(factories.pdf_bytes("Cut short")[:150], PDF, id="truncated_pdf"),
        pytest.param(b"%PDF-1.7\n" + bytes(range(256)) * 40, PDF, id="pdf_header_then_garbage"),
        pytest.param(factories.docx_bytes("Broken <unclosed & markup"), DOCX, id="docx_with_broken_xml"),
        pytest.param(b"PK\x03\x04" + b"\x00" * 200, DOCX, id="docx_not_a_zip"),
        pytest.param(odt_with("<text:p>never closed"), ODT, id="odt_with_broken_xml"),
        pytest.param(b"PK\x05\x06" + b"\x00" * 18, ODT, id="odt_empty_zip_without_content"),
    ],
)
def test_damaged_files_fail_with_a_reason_and_never_raise(tmp_path, data, content_type):
    result = extract.extract(write(tmp_path, data), content_type)

    assert (result.status, result.text) == (FAILED, "")
    assert result.message.endswith(").")
    assert "(" in result.message  # the error's name, for whoever investigates


def test_docx_with_xml_entities_is_not_expanded(tmp_path):
    """A "billion laughs" document.xml: entities are neither resolved nor expanded."""
    laughs = (
        '<?xml version="1.0"?><!DOCTYPE w:document [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;"><!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]>'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        "<w:body><w:p><w:r><w:t>Before &d; after</w:t></w:r></w:p></w:body></w:document>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z, zipfile.ZipFile(io.BytesIO(factories.docx_bytes())) as source:
        for name in source.namelist():
            z.writestr(name, laughs if name == "word/document.xml" else source.read(name))

    result = extract.extract(write(tmp_path, buffer.getvalue()), DOCX)

    assert "lol" not in result.text


# --- zip bombs ---------------------------------------------------------------------------------


def test_zip_bomb_over_the_size_limit_is_refused_naming_the_limit(tmp_path):
    path = write(tmp_path, zip_bomb_docx(101 * 1024 * 1024))

    result = extract.extract(path, DOCX, max_decompressed_bytes=100 * 1024 * 1024)

    assert (result.status, result.text) == (REFUSED, "")
    assert "more than the 100 MB limit" in result.message


def test_zip_bomb_under_the_size_limit_is_refused_for_its_ratio(tmp_path):
    path = write(tmp_path, zip_bomb_docx(8 * 1024 * 1024))

    result = extract.extract(path, DOCX, max_decompressed_bytes=100 * 1024 * 1024)

    assert result.status is REFUSED
    assert "more than the 100 times" in result.message


def test_odt_bomb_is_refused_too(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(zipfile.ZipInfo("mimetype"), ODT)
        z.writestr("content.xml", b" " * (3 * 1024 * 1024))

    result = extract.extract(write(tmp_path, buffer.getvalue()), ODT, max_decompressed_bytes=1024 * 1024)

    assert result.status is REFUSED
    assert "more than the 1 MB limit" in result.message


def test_ordinary_documents_are_not_bombs(tmp_path):
    data = real_docx("Title", *(f"Paragraph {i} of an ordinary statement." for i in range(500)))

    assert extract.zip_bomb_refusal(write(tmp_path, data), 100 * 1024 * 1024) is None


# --- on upload: stored with the file, or the upload refused -------------------------------------------


def extraction_of(app, public_id: str | None = None) -> DocumentText:
    with app.app_context():
        query = sa.select(DocumentText)
        if public_id:
            statement = db.session.scalar(sa.select(Statement).where(Statement.public_id == public_id))
            query = query.where(DocumentText.stored_file_id == statement.document.id)
        row = db.session.scalars(query).one()
        db.session.expunge(row)
        return row


def test_upload_keeps_the_extracted_text_with_the_file(app, submitter, ids):
    response = post_form(submitter, form_data(ids, document=doc(factories.pdf_bytes("Text kept for search"))))

    assert response.status_code == 302, response.get_data(as_text=True)
    row = extraction_of(app)
    assert (row.status, row.text, row.characters, row.pages) == (OK, "Text kept for search", 20, 1)


def test_upload_of_encrypted_pdf_is_accepted_and_the_failure_recorded(app, submitter, ids):
    data = encrypted_pdf("Secret", user_password="open-sesame")

    response = post_form(submitter, form_data(ids, document=doc(data)))

    assert response.status_code == 302, response.get_data(as_text=True)
    row = extraction_of(app)
    assert (row.status, row.text) == (FAILED, "")
    assert row.message.startswith("Encrypted")


@pytest.mark.parametrize(
    ("app_config", "expanded", "message"),
    [
        pytest.param(
            {"PORTAL_MAX_DECOMPRESSED_BYTES": 2 * 1024 * 1024}, 3 * 1024 * 1024, "more than the 2 MB limit", id="size"
        ),
        pytest.param({}, 40 * 1024 * 1024, "more than the 100 times", id="ratio_under_the_default_limit"),
    ],
    indirect=["app_config"],
)
def test_zip_bomb_docx_upload_is_refused_on_the_form_and_nothing_written(app, submitter, ids, expanded, message):
    data = zip_bomb_docx(expanded)
    assert len(data) < 64 * 1024  # within the upload limit: only the bomb check stops it

    response = post_form(submitter, form_data(ids, document=doc(data, "statement.docx")))

    html = response.get_data(as_text=True)
    assert response.status_code == 400, html
    assert "This document is refused" in html and message in html
    assert_nothing_written(app)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(DocumentText)) == 0


@pytest.fixture
def app_config(request) -> dict[str, object]:
    return getattr(request, "param", {})


def test_moderator_sees_why_the_text_is_missing(app, client):
    with app.app_context():
        author = factories.make_user("ana@mexico.example", org_code="MEX")
        factories.make_user("mod@un.example", role=Role.MODERATOR, org_code=None)
        encrypted = factories.make_statement(author, title="Encrypted one", data=encrypted_pdf("x", user_password="pw"))
        scanned = factories.make_statement(author, title="Scanned one", data=blank_pdf(pages=3))
        fine = factories.make_statement(author, title="Fine one", data=factories.pdf_bytes("Twelve chars"))
        refs = encrypted.public_id, scanned.public_id, fine.public_id
        db.session.commit()
    login(client, "mod@un.example")

    pages = [client.get(f"/moderation/{ref}").get_data(as_text=True) for ref in refs]

    assert "Text could not be extracted." in pages[0] and "Encrypted: the PDF needs a password" in pages[0]
    assert "No text found." in pages[1] and "No text layer" in pages[1]
    assert "text extracted, 12 characters from 1 page." in pages[2]
    assert all("Text for search" in page for page in pages)
