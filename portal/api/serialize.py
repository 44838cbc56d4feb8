"""The JSON shapes of the API (described by the schemas in portal/api/openapi.py).

Plain functions from models to dicts. Absolute URLs come from url_for, so they need a request
context. Absent values are null, never left out; dates are ISO 8601, times RFC 3339 in UTC.
"""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime
from typing import Any

from flask import url_for
from markupsafe import Markup

from portal.models import Area, MeetingSession, Organisation, Panel, Statement, StatementFile


def iso_date(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def iso_datetime(value: datetime | None) -> str | None:
    """RFC 3339 in UTC to the second, e.g. 2017-05-08T09:30:00Z."""
    if value is None:
        return None
    aware = value if value.tzinfo else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def organisation(o: Organisation) -> dict[str, Any]:
    return {"id": o.id, "name": o.name, "kind": o.kind.value, "acronym": o.acronym or None}


def area(a: Area) -> dict[str, Any]:
    return {"id": a.id, "code": a.code, "title": a.title}


def panel(p: Panel | None) -> dict[str, Any] | None:
    if p is None:
        return None
    return {"id": p.id, "number": p.number, "title": p.title, "held_on": iso_date(p.held_on)}


def session_ref(s: MeetingSession) -> dict[str, Any]:
    return {"id": s.id, "number": s.number, "slug": s.slug, "title": s.title, "short_title": s.short_title}


def session(s: MeetingSession, published: int) -> dict[str, Any]:
    """A meeting session with its programme, counts and links."""
    return {
        "id": s.id,
        "number": s.number,
        "slug": s.slug,
        "title": s.title,
        "short_title": s.short_title,
        "venue": s.venue,
        "city": s.city,
        "start_date": iso_date(s.start_date),
        "end_date": iso_date(s.end_date),
        "submissions": {"opens_at": iso_datetime(s.submissions_open_at), "closes_at": iso_datetime(s.submissions_close_at)},
        "areas": [area(a) for a in s.areas],
        "panels": [panel(p) for p in s.panels],
        "published_statements": published,
        "links": {
            "html": url_for("public.session", slug=s.slug, _external=True),
            "statements": url_for("api.statements", session=s.id, _external=True),
            "feed": url_for("feeds.session", slug=s.slug, _external=True),
            "csv": url_for("exports.statements_csv", slug=s.slug, _external=True),
            "zip": url_for("exports.documents_zip", slug=s.slug, _external=True),
        },
    }


def statement_summary(s: Statement) -> dict[str, Any]:
    """What a listing shows of a published statement (`search` is filled in for search results)."""
    return {
        "id": s.public_id,
        "title": s.title,
        "organisation": organisation(s.organisation),
        "on_behalf_of": [organisation(o) for o in s.on_behalf_of],
        "cosignatories": [organisation(o) for o in s.cosignatories],
        "session": session_ref(s.meeting_session),
        "areas": [area(a) for a in s.areas],
        "panel": panel(s.panel),
        "kind": s.kind.value,
        "language": s.language.value,
        "delivered_on": iso_date(s.delivered_on),
        "published_at": iso_datetime(s.published_at),
        "corrected_at": iso_datetime(s.corrected_at),
        "links": {
            "self": url_for("api.statement", public_id=s.public_id, _external=True),
            "html": url_for("public.statement", public_id=s.public_id, _external=True),
        },
        "search": None,
    }


def file(s: Statement, item: StatementFile) -> dict[str, Any]:
    stored = item.stored
    return {
        "id": item.id,
        "role": item.role.value,
        "language": item.language.value,
        "content_type": stored.content_type,
        "size": stored.size,
        "sha256": stored.sha256,
        "url": url_for("public.download_file", public_id=s.public_id, file_id=item.id, _external=True),
    }


def statement(s: Statement) -> dict[str, Any]:
    """A published statement in full: its metadata and the files of its published version.

    The caller has checked that it is public (only the published version is ever shown)."""
    summary = statement_summary(s)
    del summary["search"]
    version = s.published_version
    return {
        **summary,
        "version": version.number if version else 1,
        "files": [file(s, item) for item in version.files] if version else [],
    }


_MARK = re.compile(r"(<mark>|</mark>)")


def search_match(rank: int, snippet: Markup) -> dict[str, Any]:
    """The search part of a result: its rank, and its snippet as plain text with the [start, end)
    code-point ranges of the matches, and as HTML. `snippet` is portal.search.highlight()'s
    output: escaped text whose only tags are <mark> and </mark>."""
    text: list[str] = []
    highlights: list[list[int]] = []
    length = 0
    start: int | None = None
    for piece in _MARK.split(str(snippet)):
        if piece == "<mark>":
            start = length
        elif piece == "</mark>":
            if start is not None and length > start:
                highlights.append([start, length])
            start = None
        elif piece:
            plain = html.unescape(piece)
            text.append(plain)
            length += len(plain)
    return {"rank": rank, "snippet": "".join(text), "highlights": highlights, "snippet_html": str(snippet)}
