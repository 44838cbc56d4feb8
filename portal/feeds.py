"""Atom 1.0 feeds of the public record: the whole site, one session, one area of a session.

Every feed starts from `queries.public_statements`, the only definition of what the public
may see. A feed answers conditional requests (ETag, Last-Modified) with 304 before it loads
its entries, so a feed reader polling every few minutes costs one aggregate query and the
site's revision (portal/cache.py, which serves the other public pages).
"""

from __future__ import annotations

import hashlib
import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, request, url_for
from sqlalchemy.orm import selectinload
from werkzeug.http import is_resource_modified
from werkzeug.wrappers import Response

from portal import cache, queries
from portal.extensions import db
from portal.models import Area, MeetingSession, Statement, utcnow
from portal.models.base import UTCDateTime
from portal.models.statements import statement_areas

bp = Blueprint("feeds", __name__, url_prefix="/feeds")

ATOM = "http://www.w3.org/2005/Atom"
MAX_ENTRIES = 50
CACHE_CONTROL = "public, max-age=300"
CONTENT_TYPE = "application/atom+xml; charset=utf-8"
# The date of the tag: URIs (RFC 4151) naming feeds and entries; it never changes.
TAG_DATE = "2017"
# `updated` of a feed with no entry yet (Atom requires one).
EMPTY_FEED_UPDATED = datetime(2017, 1, 1, tzinfo=UTC)

# Characters XML 1.0 forbids; a title pasted from a word processor may carry them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

ET.register_namespace("", ATOM)


def _effective_published() -> sa.ColumnElement[datetime]:
    """When a statement became public: its approval, or the end of its embargo if later."""
    return sa.type_coerce(
        sa.case(
            (sa.and_(Statement.publish_at.is_not(None), Statement.publish_at > Statement.published_at), Statement.publish_at),
            else_=Statement.published_at,
        ),
        UTCDateTime(),
    )


def _published(statement: Statement) -> datetime:
    assert statement.published_at is not None  # approved statements always have one
    if statement.publish_at is not None and statement.publish_at > statement.published_at:
        return statement.publish_at
    return statement.published_at


def _updated(statement: Statement) -> datetime:
    published = _published(statement)
    return max(published, statement.corrected_at) if statement.corrected_at else published


def rfc3339(value: datetime) -> str:
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _text(value: str) -> str:
    return _NOT_XML.sub("", value)


def _tag(specific: str) -> str:
    """A stable tag: URI for `specific` ("statements", "statement/ST-…")."""
    authority = (
        current_app.config.get("PORTAL_FEED_TAG_AUTHORITY")
        or current_app.config.get("SERVER_NAME")
        or request.host
    )
    return f"tag:{authority.split(':')[0]},{TAG_DATE}:{specific}"


def _sub(parent: ET.Element, name: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ATOM}}}{name}", {k: _text(v) for k, v in attrs.items()})
    if text is not None:
        element.text = _text(text)
    return element


def _summary(statement: Statement) -> str:
    parts = [statement.organisation.name]
    if statement.on_behalf_of:
        parts[0] += " on behalf of " + ", ".join(o.name for o in statement.on_behalf_of)
    parts.append(statement.meeting_session.label)
    if statement.areas:
        parts.append("Areas: " + "; ".join(a.label for a in statement.areas))
    parts += [statement.kind.label, statement.language.label]
    return " · ".join(parts)


def _feed(*, scope: sa.Select[tuple[Statement]], feed_id: str, title: str, alternate: str) -> Response:
    """The Atom feed of the published statements `scope` selects (a filtered `public_statements`)."""
    effective = _effective_published()
    sub = scope.order_by(None).with_only_columns(
        Statement.id, Statement.updated_at, Statement.corrected_at, effective.label("effective")
    ).subquery()
    count, id_sum, last_change, last_published, last_corrected = db.session.execute(
        sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(sub.c.id), 0),
            sa.func.max(sub.c.updated_at),
            sa.func.max(sub.c.effective),
            sa.func.max(sub.c.corrected_at),
        )
    ).one()
    last_modified = max((t for t in (last_published, last_corrected) if t is not None), default=EMPTY_FEED_UPDATED)
    last_modified = _as_utc(last_modified).replace(microsecond=0)
    # Any publication, correction, unpublishing or edit of a published statement changes the tag;
    # the site's revision covers what entries show of other records (an organisation renamed).
    revision = cache.current_revision().token
    fingerprint = f"{request.path}|{count}|{id_sum}|{last_change}|{last_published}|{last_corrected}|{revision}"
    etag = hashlib.sha256(fingerprint.encode()).hexdigest()[:32]

    headers = {"Cache-Control": CACHE_CONTROL}
    if not is_resource_modified(request.environ, etag=etag, last_modified=last_modified):
        response = Response(status=304, headers=headers)
    else:
        statements = db.session.scalars(
            scope.order_by(None)
            .order_by(effective.desc(), Statement.id.desc())
            .options(
                selectinload(Statement.areas),
                selectinload(Statement.organisation),
                selectinload(Statement.on_behalf_of),
                selectinload(Statement.meeting_session),
            )
            .limit(MAX_ENTRIES)
        ).all()
        body = _render(statements, feed_id=feed_id, title=title, alternate=alternate)
        response = Response(body, headers=headers, content_type=CONTENT_TYPE)
    response.set_etag(etag)
    response.last_modified = last_modified
    return response


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _render(statements: list[Statement], *, feed_id: str, title: str, alternate: str) -> bytes:
    site_name = current_app.config["PORTAL_SITE_NAME"]
    feed = ET.Element(f"{{{ATOM}}}feed")
    _sub(feed, "id", feed_id)
    _sub(feed, "title", title)
    updated = max((_updated(s) for s in statements), default=EMPTY_FEED_UPDATED)
    _sub(feed, "updated", rfc3339(updated))
    _sub(feed, "link", rel="self", type="application/atom+xml", href=request.base_url)
    _sub(feed, "link", rel="alternate", type="text/html", href=alternate)
    author = _sub(feed, "author")
    _sub(author, "name", site_name)
    _sub(author, "uri", url_for("public.index", _external=True))
    _sub(feed, "generator", site_name)
    for statement in statements:
        entry = _sub(feed, "entry")
        _sub(entry, "id", _tag(f"statement/{statement.public_id}"))
        _sub(entry, "title", statement.title)
        _sub(entry, "updated", rfc3339(_updated(statement)))
        _sub(entry, "published", rfc3339(_published(statement)))
        _sub(
            entry, "link", rel="alternate", type="text/html",
            href=url_for("public.statement", public_id=statement.public_id, _external=True),
        )
        entry_author = _sub(entry, "author")
        _sub(entry_author, "name", statement.organisation.name)
        _sub(entry, "summary", _summary(statement), type="text")
        scheme = url_for("public.session", slug=statement.meeting_session.slug, _external=True)
        for area in statement.areas:
            _sub(entry, "category", term=area.code, label=area.label, scheme=scheme)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


def _session_or_404(slug: str) -> MeetingSession:
    found = db.session.scalar(sa.select(MeetingSession).where(MeetingSession.slug == slug))
    if found is None:
        abort(404)
    return found


@bp.get("/statements.atom")
def site() -> Response:
    """Every published statement, newest first."""
    return _feed(
        scope=queries.public_statements(utcnow()),
        feed_id=_tag("statements"),
        title=f"{current_app.config['PORTAL_SITE_NAME']}: published statements",
        alternate=url_for("public.index", _external=True),
    )


@bp.get("/sessions/<slug>.atom")
def session(slug: str) -> Response:
    """The published statements of one session."""
    meeting_session = _session_or_404(slug)
    return _feed(
        scope=queries.public_statements(utcnow()).where(Statement.session_id == meeting_session.id),
        feed_id=_tag(f"session/{meeting_session.slug}"),
        title=f"{meeting_session.label}: published statements",
        alternate=url_for("public.session", slug=meeting_session.slug, _external=True),
    )


@bp.get("/sessions/<slug>/areas/<code>.atom")
def area(slug: str, code: str) -> Response:
    """The published statements of one area of discussion of a session."""
    meeting_session = _session_or_404(slug)
    found = db.session.scalar(sa.select(Area).where(Area.session_id == meeting_session.id, Area.code == code))
    if found is None:
        abort(404)
    in_area = sa.select(statement_areas.c.statement_id).where(statement_areas.c.area_id == found.id)
    return _feed(
        scope=queries.public_statements(utcnow()).where(
            Statement.session_id == meeting_session.id, Statement.id.in_(in_area)
        ),
        feed_id=_tag(f"session/{meeting_session.slug}/area/{found.code}"),
        title=f"{meeting_session.label}, {found.label}: published statements",
        alternate=url_for("public.session", slug=meeting_session.slug, _external=True, _anchor=f"area-{found.code}"),
    )
