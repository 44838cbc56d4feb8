"""Text extraction from stored documents (PDF, DOCX, ODT, plain text), for search and review.

`extract()` never raises for a bad file: encrypted, scanned, damaged or refused files come
back as an `Extraction` whose status and message say why there is no text. ZIP-based
formats are checked for "zip bombs" from their directory before anything is decompressed.
"""

from __future__ import annotations

import re
import unicodedata
import zipfile
from collections import Counter
from dataclasses import dataclass
from importlib.metadata import version as package_version
from pathlib import Path

import charset_normalizer
import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from portal import filetypes
from portal.models import DocumentText, ExtractionStatus, StoredFile, utcnow
from portal.storage import FileStore, megabytes

DEFAULT_MAX_DECOMPRESSED_BYTES = 100 * 1024 * 1024
# Deflate reaches about 1000:1 on runs of one byte; real DOCX and ODT packages stay far below.
MAX_COMPRESSION_RATIO = 100
# The ratio alone is not held against small packages: they cannot do harm whatever their ratio.
RATIO_CHECKED_ABOVE_BYTES = 2 * 1024 * 1024
MAX_ZIP_MEMBERS = 10_000
# Text kept per file; the rest is dropped (and the row says `truncated`).
MAX_TEXT_CHARS = 1_000_000
# Encodings plain text in the UN's languages arrives in besides UTF-8 and UTF-16, preferred
# in this order when equally plausible (charset-normalizer's names).
LEGACY_ENCODINGS = ("cp1252", "cp1251", "koi8_r", "iso8859_5", "cp1256", "iso8859_6", "gb18030", "big5")


@dataclass(frozen=True)
class Extraction:
    status: ExtractionStatus
    text: str = ""
    message: str = ""
    pages: int | None = None
    truncated: bool = False
    method: str = ""


def extract(path: Path, content_type: str, *, max_decompressed_bytes: int | None = None) -> Extraction:
    """Extract the text of the file at `path`, of the (detected) `content_type`. Never raises
    for a bad file: failures come back with status FAILED, EMPTY or REFUSED and a message.

    `max_decompressed_bytes` defaults to the app's PORTAL_MAX_DECOMPRESSED_BYTES.
    """
    if max_decompressed_bytes is None:
        max_decompressed_bytes = configured_max_decompressed_bytes()
    try:
        if content_type == filetypes.PDF:
            return _pdf(path)
        if content_type in (filetypes.DOCX, filetypes.ODT):
            refusal = zip_bomb_refusal(path, max_decompressed_bytes)
            if refusal:
                return Extraction(ExtractionStatus.REFUSED, message=refusal, method="zipfile")
            return _docx(path) if content_type == filetypes.DOCX else _odt(path)
        if content_type == filetypes.TEXT:
            return _text(path)
        return Extraction(ExtractionStatus.FAILED, message=f"No text extraction for {content_type}.")
    except Exception as exc:  # a damaged file must never lose the submission
        return Extraction(ExtractionStatus.FAILED, message=_describe(exc))


def configured_max_decompressed_bytes() -> int:
    from flask import current_app, has_app_context

    if not has_app_context():
        return DEFAULT_MAX_DECOMPRESSED_BYTES
    return int(current_app.config.get("PORTAL_MAX_DECOMPRESSED_BYTES", DEFAULT_MAX_DECOMPRESSED_BYTES))


def zip_bomb_refusal(path: Path, max_bytes: int) -> str | None:
    """Why the ZIP package at `path` must not be opened, or None if it may.

    Judged from the central directory alone (nothing is decompressed): the sum of the
    members' sizes against `max_bytes`, and the overall compression ratio. Python's
    zipfile never yields more than a member's declared size, so the declared sizes bound
    what opening the document can cost.
    """
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
    expanded = sum(m.file_size for m in members)
    compressed = sum(m.compress_size for m in members) or 1
    limit = megabytes(max_bytes)
    if len(members) > MAX_ZIP_MEMBERS:
        return (
            f"This document is refused: its package holds {len(members):,} parts, more than the "
            f"{MAX_ZIP_MEMBERS:,} allowed. Please save it again, or upload it as PDF."
        )
    if expanded > max_bytes:
        return (
            f"This document is refused: it would expand to {megabytes(expanded)} when opened, "
            f"more than the {limit} limit for uncompressed documents. Please save it again "
            "without embedded media, or upload it as PDF."
        )
    if expanded > RATIO_CHECKED_ABOVE_BYTES and expanded / compressed > MAX_COMPRESSION_RATIO:
        return (
            f"This document is refused: it is compressed {expanded / compressed:,.0f} times "
            f"(from {megabytes(expanded)}), more than the {MAX_COMPRESSION_RATIO} times real documents "
            "reach, which is how harmful \"zip bombs\" are made. Please save it again, or upload it as PDF."
        )
    return None


def record(stored: StoredFile, extraction: Extraction, existing: DocumentText | None = None) -> DocumentText:
    """A DocumentText row (new, or `existing` updated) holding `extraction` for `stored`."""
    row = existing or DocumentText(stored_file=stored)
    row.status = extraction.status
    row.text = extraction.text
    row.message = extraction.message
    row.characters = len(extraction.text)
    row.pages = extraction.pages
    row.truncated = extraction.truncated
    row.method = extraction.method[:64]
    row.extracted_at = utcnow()
    return row


def reextract_all(store: FileStore, batch_size: int = 100) -> Counter[ExtractionStatus]:
    """Extract the text of every stored file again, recording each outcome; return the counts.
    A file missing from the store is recorded as failed. Detaches objects from the session
    between batches. Flushes; never commits."""
    from portal.extensions import db

    counts: Counter[ExtractionStatus] = Counter()
    ids = list(db.session.scalars(sa.select(StoredFile.id).order_by(StoredFile.id)))
    for start in range(0, len(ids), batch_size):
        db.session.expunge_all()
        files = db.session.scalars(
            sa.select(StoredFile)
            .where(StoredFile.id.in_(ids[start : start + batch_size]))
            .options(selectinload(StoredFile.extraction))  # type: ignore[attr-defined]
        )
        for stored in files:
            path = store.path(stored.storage_key)
            if path.is_file():
                extraction = extract(path, stored.content_type)
            else:
                extraction = Extraction(ExtractionStatus.FAILED, message="The file is missing from the file store.")
            row = record(stored, extraction, existing=stored.extraction)  # type: ignore[attr-defined]
            db.session.add(row)
            counts[extraction.status] += 1
        db.session.flush()
    db.session.expunge_all()
    return counts


# --- formats ----------------------------------------------------------------------------

def _pdf(path: Path) -> Extraction:
    from pypdf import PasswordType, PdfReader

    method = f"pypdf {package_version('pypdf')}"
    reader = PdfReader(path)
    if reader.is_encrypted:
        # Many PDFs are encrypted only to restrict printing or editing, with an empty
        # password for reading: those are read. A password to open one cannot be guessed.
        try:
            opened = reader.decrypt("") != PasswordType.NOT_DECRYPTED
        except Exception:
            opened = False
        if not opened:
            return Extraction(
                ExtractionStatus.FAILED,
                message="Encrypted: the PDF needs a password to be opened, so its text cannot be searched.",
                method=method,
            )
    parts: list[str] = []
    size = 0
    pages = len(reader.pages)
    truncated = False
    for page in reader.pages:
        text = page.extract_text() or ""
        parts.append(text)
        size += len(text)
        if size > MAX_TEXT_CHARS:
            truncated = True
            break
    return _result("\n\n".join(parts), method, pages=pages, truncated=truncated, empty_message=(
        "No text layer: the PDF seems to hold only images (perhaps a scan), so its text cannot be searched."
    ))


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _docx(path: Path) -> Extraction:
    import docx

    method = f"python-docx {package_version('python-docx')}"
    document = docx.Document(str(path))
    parts: list[str] = []
    # Every paragraph in document order, tables and text boxes included; deleted
    # revisions (w:delText) are not text of the document.
    for element in document.element.body.iter(f"{_W}p", f"{_W}t", f"{_W}tab", f"{_W}br", f"{_W}cr"):
        tag = element.tag
        if tag == f"{_W}p":
            parts.append("\n")
        elif tag == f"{_W}t":
            parts.append(element.text or "")
        elif tag == f"{_W}tab":
            parts.append("\t")
        else:
            parts.append("\n")
    return _result("".join(parts), method)


_TEXT_NS = "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
_OFFICE_NS = "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
_ODT_BLOCKS = {f"{{{_TEXT_NS}}}{name}" for name in ("p", "h", "list-item")}
# Comments and the deleted text of tracked changes are not part of what the document says.
_ODT_SKIP = {f"{{{_OFFICE_NS}}}annotation", f"{{{_TEXT_NS}}}tracked-changes", f"{{{_TEXT_NS}}}note-citation"}


def _odt(path: Path) -> Extraction:
    from lxml import etree

    with zipfile.ZipFile(path) as archive, archive.open("content.xml") as member:
        # No DTDs, entities or network: a document cannot make the parser expand or fetch anything.
        parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False)
        root = etree.parse(member, parser).getroot()
    body = root.find(f"{{{_OFFICE_NS}}}body")
    parts: list[str] = []
    if body is not None:
        _odt_walk(body, parts)
    return _result("".join(parts), f"lxml {etree.__version__}")


def _odt_walk(element: object, parts: list[str]) -> None:
    from lxml import etree

    assert isinstance(element, etree._Element)
    tag = element.tag
    if tag in _ODT_SKIP:
        return
    if tag in _ODT_BLOCKS:
        parts.append("\n")
    elif tag == f"{{{_TEXT_NS}}}s":
        parts.append(" " * min(int(element.get(f"{{{_TEXT_NS}}}c", "1") or 1), 100))
    elif tag == f"{{{_TEXT_NS}}}tab":
        parts.append("\t")
    elif tag == f"{{{_TEXT_NS}}}line-break":
        parts.append("\n")
    if element.text and isinstance(tag, str):
        parts.append(element.text)
    for child in element:
        _odt_walk(child, parts)
        if child.tail:
            parts.append(child.tail)


def _text(path: Path) -> Extraction:
    raw = path.read_bytes()
    for bom, encoding in ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16")):
        if raw.startswith(bom):
            return _result(raw.decode(encoding, errors="replace"), encoding)
    try:
        return _result(raw.decode("utf-8"), "utf-8")
    except UnicodeDecodeError:
        pass
    # Detection among the legacy encodings of the six UN languages first: charset-normalizer
    # alone takes short French or Spanish text in Windows-1252 for Baltic or Central European.
    candidates = list(charset_normalizer.from_bytes(raw, cp_isolation=list(LEGACY_ENCODINGS)))
    if candidates:
        match = min(
            candidates,
            key=lambda m: (round(m.chaos, 3), -round(m.coherence, 3), LEGACY_ENCODINGS.index(m.encoding)),
        )
    else:
        match = charset_normalizer.from_bytes(raw).best()
    if match is None:
        return Extraction(
            ExtractionStatus.FAILED,
            message="The text encoding could not be recognised, so the text cannot be searched.",
            method="charset-normalizer",
        )
    return _result(str(match), f"charset-normalizer: {match.encoding}")


# --- common -----------------------------------------------------------------------------

# C0 and C1 controls other than tab and newline: PostgreSQL refuses NUL in text, and the
# search module uses two of them as highlight markers.
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SPACES = re.compile(r"[ \t\u00a0]+\n")
_BLANK_LINES = re.compile(r"\n{3,}")


def clean_text(text: str) -> str:
    """Normalised text: NFC, Unix newlines, no control characters, no runs of blank lines."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n").replace("\r", "\n").replace("\f", "\n"))
    text = _CONTROLS.sub(" ", text)
    text = _SPACES.sub("\n", text)
    return _BLANK_LINES.sub("\n\n", text).strip()


def _result(
    text: str,
    method: str,
    *,
    pages: int | None = None,
    truncated: bool = False,
    empty_message: str = "The document holds no text.",
) -> Extraction:
    text = clean_text(text)
    if len(text) > MAX_TEXT_CHARS:
        text, truncated = text[:MAX_TEXT_CHARS], True
    if not text:
        return Extraction(ExtractionStatus.EMPTY, message=empty_message, pages=pages, method=method)
    message = f"Only the first {MAX_TEXT_CHARS:,} characters are kept for search." if truncated else ""
    return Extraction(ExtractionStatus.OK, text=text, message=message, pages=pages, truncated=truncated, method=method)


def _describe(exc: Exception) -> str:
    """A moderator-readable reason for a failed extraction."""
    name = type(exc).__name__
    detail = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
    if isinstance(exc, zipfile.BadZipFile) or name in ("PdfReadError", "PdfStreamError", "XMLSyntaxError"):
        what = "The file is damaged or not valid for its format"
    elif name == "LimitReachedError":
        what = "The file expands beyond the limits of the PDF reader"
    elif name == "PackageNotFoundError":
        what = "The file is not a valid Word document"
    else:
        what = "The text could not be extracted"
    return f"{what} ({name}{': ' + detail if detail else ''})."
