"""portal.filetypes.detect: the type of a file comes from its content, never from its name."""

from __future__ import annotations

import io
import random
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from portal import filetypes
from portal.filetypes import DOCX, ODT, PDF, TEXT, detect
from tests import factories


def zip_of(members: dict[str, str], compression: int = zipfile.ZIP_STORED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def odt_with_damaged_mimetype() -> bytes:
    """An ODT-shaped ZIP whose deflated `mimetype` member holds a corrupt deflate stream."""
    data = bytearray(
        zip_of({"mimetype": ODT * 4, "content.xml": "<office:document-content/>"}, zipfile.ZIP_DEFLATED)
    )
    start = 30 + len("mimetype")  # the local header of the first member, then its data
    data[start : start + 10] = b"\xff" * 10
    return bytes(data)


LATIN_1_TEXT = (
    "Déclaration de la délégation française sur les droits de l'homme des migrants. "
    "L'intégration et la cohésion sociale sont préférées à l'exclusion.\n"
)

CASES: list[tuple[str, Callable[[], bytes], str | None]] = [
    ("pdf", lambda: factories.pdf_bytes(), PDF),
    ("docx", lambda: factories.docx_bytes(), DOCX),
    ("odt", lambda: factories.odt_bytes(), ODT),
    ("utf8_text", lambda: "Declaración de México — «migrantes» 移民\n".encode(), TEXT),
    ("ascii_text", lambda: b"Statement by the delegation of Mexico.\r\n", TEXT),
    ("utf16_text_with_bom", lambda: "Déclaration de la délégation française\n".encode("utf-16"), TEXT),
    ("utf16be_text_with_bom", lambda: b"\xfe\xff" + "Заявление делегации\n".encode("utf-16-be"), TEXT),
    ("latin1_text", lambda: LATIN_1_TEXT.encode("latin-1"), TEXT),
    ("exe", factories.exe_bytes, None),
    ("zip_without_document_parts", lambda: zip_of({"hello.txt": "hi", "data.xml": "<x/>"}), None),
    ("zip_with_only_content_types", lambda: zip_of({"[Content_Types].xml": "<Types/>"}), None),
    (
        "ods_spreadsheet",
        lambda: zip_of({"mimetype": "application/vnd.oasis.opendocument.spreadsheet", "content.xml": "<x/>"}),
        None,
    ),
    ("truncated_docx", lambda: factories.docx_bytes()[:200], None),
    ("corrupt_zip_starting_with_pk", lambda: b"PK\x03\x04" + b"not really a zip archive" * 20, None),
    ("odt_with_damaged_mimetype_member", odt_with_damaged_mimetype, None),
    ("png", lambda: b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 17, None),
    ("empty", lambda: b"", None),
    ("binary_noise", lambda: random.Random(1).randbytes(4096), None),
    ("text_with_nul_bytes", lambda: b"Statement\x00by\x00the\x00delegation\n" * 10, None),
    ("text_with_binary_controls", lambda: b"Statement \x01\x02\x03\x04\x05\x06 by the delegation\n" * 10, None),
    ("utf16_text_with_binary_controls", lambda: "\x01\x02\x03\x04\x05\x06\x07\x08".encode("utf-16") * 100, None),
]


@pytest.mark.parametrize(("content", "expected"), [(make, expected) for _, make, expected in CASES], ids=[c[0] for c in CASES])
def test_detect_types_by_content(tmp_path: Path, content: Callable[[], bytes], expected: str | None) -> None:
    path = tmp_path / "upload.bin"
    path.write_bytes(content())
    assert detect(path) == expected


@pytest.mark.parametrize("name", ["statement.txt", "statement.docx", "statement", "statement.exe"])
def test_detect_ignores_the_file_name(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(factories.pdf_bytes())
    assert detect(path) == PDF


def test_detect_text_longer_than_the_sample_cut_inside_a_character(tmp_path: Path) -> None:
    # 'é' is two bytes in UTF-8; the sample read for text detection ends inside one.
    data = b"a" + "é".encode() * (filetypes._TEXT_SAMPLE_BYTES // 2 + 10)
    with pytest.raises(UnicodeDecodeError):
        data[: filetypes._TEXT_SAMPLE_BYTES].decode("utf-8")
    path = tmp_path / "long.txt"
    path.write_bytes(data)
    assert detect(path) == TEXT


def test_detected_types_are_accepted_with_extensions() -> None:
    for mime in (PDF, DOCX, ODT, TEXT):
        assert mime in filetypes.ACCEPTED
        assert mime in filetypes.EXTENSIONS
