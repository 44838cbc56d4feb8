"""Decides what a file is from its content: never from its name or the browser's claim."""

from __future__ import annotations

import zipfile
from pathlib import Path

import charset_normalizer
import filetype

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ODT = "application/vnd.oasis.opendocument.text"
TEXT = "text/plain"

ACCEPTED = {PDF: "PDF", DOCX: "Word document (DOCX)", ODT: "OpenDocument text (ODT)", TEXT: "plain text"}
EXTENSIONS = {PDF: "pdf", DOCX: "docx", ODT: "odt", TEXT: "txt"}
ACCEPTED_DESCRIPTION = "PDF, Word (DOCX), OpenDocument text (ODT) or plain text"

_SNIFF_BYTES = 8192
_TEXT_SAMPLE_BYTES = 256 * 1024


def detect(path: Path) -> str | None:
    """Return the accepted MIME type of the file at `path`, or None if it is none of them.

    Binary formats are recognised by their signature (the `filetype` library) and then
    checked structurally: a DOCX or ODT must be a readable ZIP package with the parts
    that format requires. Plain text must decode in some text encoding and hold no
    NUL bytes or binary control characters.
    """
    with path.open("rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    if not head:
        return None
    kind = filetype.guess(head)
    if kind is not None:
        if kind.mime == PDF:
            return PDF
        if kind.mime in (DOCX, ODT, "application/zip"):
            return _zip_document_type(path)
        return None
    if head.startswith(b"PK\x03\x04"):
        return _zip_document_type(path)
    return TEXT if _looks_like_text(path) else None


def _zip_document_type(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "mimetype" in names and "content.xml" in names:
                # Read a bounded amount: a crafted member could decompress to gigabytes.
                with archive.open("mimetype") as member:
                    declared = member.read(200).decode("ascii", "replace").strip()
                return ODT if declared == ODT else None
            if "[Content_Types].xml" in names and "word/document.xml" in names:
                return DOCX
    except Exception:  # any damage (bad CRC, zlib errors, truncation) means "not a document"
        return None
    return None


def _has_binary_controls(codes: bytes | list[int]) -> bool:
    """NUL, or more than 1% of control characters that text files do not contain."""
    if 0 in codes:
        return True
    binary_controls = sum(1 for c in codes if c < 32 and c not in (9, 10, 12, 13, 27))
    return binary_controls > len(codes) // 100


def _looks_like_text(path: Path) -> bool:
    with path.open("rb") as fh:
        sample = fh.read(_TEXT_SAMPLE_BYTES)
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        if len(sample) % 2:
            sample = sample[:-1]
        try:
            text = sample.decode("utf-16")
        except UnicodeDecodeError:
            return False
        return not _has_binary_controls([ord(ch) for ch in text])
    if _has_binary_controls(sample):
        return False
    try:
        # A sample may end inside a multi-byte character; ignore an incomplete tail.
        sample.decode("utf-8")
        return True
    except UnicodeDecodeError as exc:
        if exc.start >= len(sample) - 3 and len(sample) == _TEXT_SAMPLE_BYTES:
            return True
    match = charset_normalizer.from_bytes(sample).best()
    return match is not None and match.chaos < 0.2
