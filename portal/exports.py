"""Bulk exports of a session's published statements: a CSV of their files and a ZIP of the files.

Both start from `queries.public_statements()` and serve only the files of each statement's
published version. Both are streamed: the CSV row by row, the ZIP in chunks of each stored
file (zipfile writes to an unseekable sink, with data descriptors), so the worker's memory
does not grow with the archive's size. What is held is one row of metadata per file (for
the manifest at the end of the ZIP), never file contents.

The CSV files start with a UTF-8 byte-order mark so that Excel reads accented names right;
other tools (Python's "utf-8-sig", pandas, LibreOffice) take it in their stride. Text that
submitters choose (titles, file names) and organisation names are written so that a
spreadsheet cannot read them as a formula: a cell that would begin with = + - @ or a tab
or carriage return begins with an apostrophe instead (OWASP's advice against CSV
injection); the apostrophe is all that changes, and the JSON API has the text as it is.
"""

from __future__ import annotations

import csv
import zipfile
from collections.abc import Iterator
from datetime import date, datetime

import sqlalchemy as sa
from flask import Blueprint, Response, abort, stream_with_context, url_for
from sqlalchemy.orm import selectinload

from portal import queries
from portal.extensions import db
from portal.models import MeetingSession, Organisation, Statement, StatementFile, StatementVersion, StoredFile, utcnow
from portal.storage import CHUNK_SIZE, get_store

bp = Blueprint("exports", __name__)

BOM = "\ufeff"
COLUMNS = (
    "public_id",
    "title",
    "organisation",
    "organisation_kind",
    "session_number",
    "areas",
    "panel",
    "kind",
    "language",
    "delivered_on",
    "published_at",
    "corrected_at",
    "on_behalf_of",
    "cosignatories",
    "file_role",
    "file_language",
    "file_name",
    "content_type",
    "size",
    "sha256",
    "file_url",
    "statement_url",
)
MANIFEST_COLUMNS = (*COLUMNS, "path")
MANIFEST_NAME = "manifest.csv"
_BATCH = 100  # statements loaded at a time
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _text(value: str) -> str:
    """Free text for a CSV cell: never read as a formula by a spreadsheet."""
    return "'" + value if value.startswith(_FORMULA_STARTS) else value


def _session_or_404(slug: str) -> MeetingSession:
    meeting_session = db.session.scalar(sa.select(MeetingSession).where(MeetingSession.slug == slug))
    if meeting_session is None:
        abort(404)
    return meeting_session


def _published(meeting_session: MeetingSession) -> Iterator[Statement]:
    """The session's published statements with what the export needs, by organisation, date, id."""
    query = (
        queries.public_statements(utcnow())
        .where(Statement.session_id == meeting_session.id)
        .join(Statement.organisation)
        .options(
            selectinload(Statement.organisation),
            selectinload(Statement.areas),
            selectinload(Statement.panel),
            selectinload(Statement.on_behalf_of),
            selectinload(Statement.cosignatories),
            selectinload(Statement.versions).selectinload(StatementVersion.files).selectinload(StatementFile.stored),
        )
        .order_by(None)
        .order_by(Organisation.name, Statement.delivered_on, Statement.id)
        .execution_options(yield_per=_BATCH)
    )
    yield from db.session.scalars(query)


def _iso(value: date | datetime | None) -> str:
    return "" if value is None else value.isoformat()


def _files(meeting_session: MeetingSession) -> Iterator[tuple[Statement, StatementFile, dict[str, str]]]:
    """Every file of every published version of the session, with its CSV row."""
    for statement in _published(meeting_session):
        version = statement.published_version
        if version is None:  # approved statements always have one; never serve anything else
            continue
        statement_url = url_for("public.statement", public_id=statement.public_id, _external=True)
        common = {
            "public_id": statement.public_id,
            "title": _text(statement.title),
            "organisation": _text(statement.organisation.name),
            "organisation_kind": statement.organisation.kind.value,
            "session_number": str(meeting_session.number),
            "areas": ";".join(a.code for a in statement.areas),
            "panel": "" if statement.panel is None else str(statement.panel.number),
            "kind": statement.kind.value,
            "language": statement.language.value,
            "delivered_on": _iso(statement.delivered_on),
            "published_at": _iso(statement.published_at),
            "corrected_at": _iso(statement.corrected_at),
            "on_behalf_of": _text("; ".join(o.name for o in statement.on_behalf_of)),
            "cosignatories": _text("; ".join(o.name for o in statement.cosignatories)),
            "statement_url": statement_url,
        }
        for item in version.files:
            stored: StoredFile = item.stored
            row = {
                **common,
                "file_role": item.role.value,
                "file_language": item.language.value,
                "file_name": _text(stored.original_name),
                "content_type": stored.content_type,
                "size": str(stored.size),
                "sha256": stored.sha256,
                "file_url": url_for(
                    "public.download_file", public_id=statement.public_id, file_id=item.id, _external=True
                ),
            }
            yield statement, item, row


class _Sink:
    """A write-only, unseekable file that keeps what is written until drained."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        if data:
            self._chunks.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def drain(self) -> Iterator[bytes]:
        chunks, self._chunks = self._chunks, []
        yield from chunks


class _Line:
    """What csv.writer writes to: returns the line it is given."""

    def write(self, line: str) -> str:
        return line


def _csv_lines(columns: tuple[str, ...], rows: Iterator[dict[str, str]]) -> Iterator[str]:
    writer = csv.writer(_Line())
    yield BOM + writer.writerow(columns)
    for row in rows:
        yield writer.writerow([row[c] for c in columns])


def _attachment(body: Iterator[bytes], *, mimetype: str, filename: str) -> Response:
    response = Response(stream_with_context(body), mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/sessions/<slug>/statements.csv")
def statements_csv(slug: str) -> Response:
    """One row per file of each published statement of the session: metadata, URL, checksum."""
    meeting_session = _session_or_404(slug)

    def body() -> Iterator[bytes]:
        rows = (row for _, _, row in _files(meeting_session))
        for line in _csv_lines(COLUMNS, rows):
            yield line.encode("utf-8")

    return _attachment(
        body(),
        mimetype="text/csv; charset=utf-8",
        filename=f"session-{meeting_session.number}-{meeting_session.slug}-statements.csv",
    )


def _entry_name(statement: Statement, item: StatementFile, taken: set[str]) -> str:
    """"<public_id>/<role>-<language>.<ext>", numbered from 2 when a statement has two alike."""
    stem = f"{statement.public_id}/{item.role.value}-{item.language.value}"
    extension = item.stored.extension
    name, n = f"{stem}.{extension}", 1
    while name in taken:
        n += 1
        name = f"{stem}-{n}.{extension}"
    taken.add(name)
    return name


def _zip_time(value: datetime) -> tuple[int, int, int, int, int, int]:
    return (max(value.year, 1980), value.month, value.day, value.hour, value.minute, value.second)


def zip_chunks(meeting_session: MeetingSession) -> Iterator[bytes]:
    """The session's ZIP, piece by piece: each published file read and written in chunks,
    then manifest.csv (the CSV's columns plus each file's path in the archive)."""
    store = get_store()
    sink = _Sink()
    manifest: list[dict[str, str]] = []
    taken: set[str] = set()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:  # type: ignore[arg-type]
        for statement, item, row in _files(meeting_session):
            stored = item.stored
            if not store.exists(stored.storage_key):
                manifest.append({**row, "path": ""})  # listed, but its bytes are missing from the store
                continue
            name = _entry_name(statement, item, taken)
            info = zipfile.ZipInfo(name, date_time=_zip_time(stored.created_at))
            info.compress_type = zipfile.ZIP_STORED  # PDFs and DOCX are compressed already
            info.file_size = stored.size  # lets zipfile choose ZIP64 up front for big files
            info.external_attr = 0o644 << 16
            with store.open(stored.storage_key) as source, archive.open(info, "w") as entry:
                while chunk := source.read(CHUNK_SIZE):
                    entry.write(chunk)
                    yield from sink.drain()
            yield from sink.drain()
            manifest.append({**row, "path": name})
        info = zipfile.ZipInfo(MANIFEST_NAME, date_time=_zip_time(utcnow()))
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        with archive.open(info, "w") as entry:
            for line in _csv_lines(MANIFEST_COLUMNS, iter(manifest)):
                entry.write(line.encode("utf-8"))
                yield from sink.drain()
        yield from sink.drain()
    yield from sink.drain()  # the central directory, written on close


@bp.get("/sessions/<slug>/documents.zip")
def documents_zip(slug: str) -> Response:
    """Every file of the session's published statements, with a manifest.csv, as one ZIP."""
    meeting_session = _session_or_404(slug)
    return _attachment(
        zip_chunks(meeting_session),
        mimetype="application/zip",
        filename=f"session-{meeting_session.number}-{meeting_session.slug}-documents.zip",
    )
