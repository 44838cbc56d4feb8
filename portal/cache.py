"""HTTP caching of the public record: validators, 304 answers and a per-worker store of rendered pages.

What an anonymous visitor sees on a public page depends only on committed data, the clock (an
embargo ends, a submission window opens or closes, a citation's "accessed" date turns, all
without any write) and the URL. `current_revision()` sums the first two up in one query, so
the pages in CACHED_ENDPOINTS get an ETag and Last-Modified derived from it, are
answered 304 before any view work when the client is current, and are otherwise served from an
LRU of rendered responses kept per worker. Signed-in users bypass all of it (portal/hooks.py
marks their responses `private, no-store`).
"""

from __future__ import annotations

import hashlib
import threading
import time as monotonic_time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask, current_app, g, request, session
from flask_login import current_user
from werkzeug.sansio.http import is_resource_modified
from werkzeug.wsgi import get_current_url
from werkzeug.wrappers import Response

from sqlalchemy.orm import Session as SessionClass

from portal.extensions import READ_ONLY_COMMIT, db, limiter, reads_only
from portal.models import AuditEvent, MeetingSession, Statement, utcnow
from portal.models.base import UTCDateTime

__all__ = ["CACHED_ENDPOINTS", "PageCache", "Revision", "current_revision", "init_app", "page_cache", "public_memo"]

# Public pages whose anonymous rendering is a function of (revision, URL) alone. A name no
# route has (the API blueprint may not be registered yet) is harmless. Feeds keep their own
# validators (portal/feeds.py); downloads use their file's SHA-256.
CACHED_ENDPOINTS = frozenset(
    {
        "public.index",
        "public.session",
        "public.organisation",
        "public.statement",
        "search.index",
        "api.sessions",
        "api.statements",
        "api.statement",
        "api.openapi",
        "api.docs",
    }
)

# How many of the newest audit ids the revision counts. On PostgreSQL ids come from a sequence,
# so a transaction that took id n may commit after one that took n + 1: the maximum alone would
# miss it; the count of rows among the newest RECENT_IDS does not, as long as fewer than that
# many ids are handed out while such a transaction is open.
RECENT_IDS = 1000
# Last-Modified has one-second resolution and comes from when an audit row was written, which
# is a little before its commit. Until the newest change is this old, a second change could
# still appear with the same or an earlier time, so only the ETag is given meanwhile.
SETTLE = timedelta(seconds=5)
# A page larger than this is served but never kept (memory per worker stays predictable).
MAX_ENTRY_BYTES = 1 << 20
# Headers recomputed on every answer, or never to be replayed to someone else.
_NOT_STORED = frozenset({"set-cookie", "content-length", "date", "etag", "last-modified", "cache-control", "vary"})

_EXTENSION = "portal.page_cache"


@dataclass(frozen=True)
class Revision:
    """The state of everything public: a token that changes with any of it, and when it last did."""

    token: str
    changed_at: datetime

    def last_modified(self, now: datetime) -> datetime | None:
        """The Last-Modified to send: the last change to the second, once it has SETTLEd."""
        if now - self.changed_at < SETTLE:
            return None
        return self.changed_at.replace(microsecond=0)


def _revision_query() -> sa.Select[Any]:
    """One round trip, each part answered from an index or a table of a few rows: the newest
    audit id, how many of the newest RECENT_IDS ids are committed, when the newest event was
    written, and the latest time that has passed of each kind that changes pages by itself:
    publication times (of any statement: a superset of the public ones is enough to notice an
    embargo ending) and submission windows opening and closing."""
    audit = AuditEvent.__table__
    now = sa.bindparam("now", type_=UTCDateTime())
    last_id = sa.select(sa.func.max(audit.c.id)).scalar_subquery()
    recent = (
        sa.select(sa.func.count()).select_from(audit).where(audit.c.id > last_id - RECENT_IDS).scalar_subquery()
    )
    written = sa.select(sa.func.max(AuditEvent.created_at)).scalar_subquery()
    passed = [
        sa.select(sa.func.max(column)).where(column <= now).scalar_subquery()
        for column in (Statement.publish_at, MeetingSession.submissions_open_at, MeetingSession.submissions_close_at)
    ]
    return sa.select(last_id, recent, written, *passed)


_REVISION = _revision_query()


def query_revision(now: datetime) -> Revision:
    """The public revision at `now`, from the database (one query).

    Today's date is part of it: statement pages cite themselves "accessed" today.
    """
    last_id, recent, written, *passed = db.session.execute(_REVISION, {"now": now}).one()
    today = datetime.combine(now.date(), time(), tzinfo=UTC)
    moments = "|".join(t.isoformat() if t else "-" for t in passed)
    token = f"{last_id or 0}.{recent}.{today:%Y%m%d}.{moments}"
    changed_at = max(t for t in (written, today, *passed) if t is not None)
    return Revision(token=token, changed_at=changed_at)


class _RevisionMemo:
    """The last revision this worker queried, reused for PORTAL_REVISION_TTL seconds.

    A cached page then costs no database round trip at all. Any commit in this process forgets
    it at once (`_forget`, an after_commit listener), so a change is visible to its author's
    next request; other workers see it within the TTL.
    """

    def __init__(self) -> None:
        self.value: Revision | None = None
        self.expires = 0.0
        self.generation = -1


_MEMO = "portal.revision_memo"
_commits = [0]  # bumped by every commit in this process


def _forget(session: SessionClass) -> None:
    if not session.info.get(READ_ONLY_COMMIT):  # a transaction that only read changed nothing
        _commits[0] += 1


def current_revision() -> Revision:
    """The public revision for this request: from the worker's memo while it is fresh, else
    queried (one round trip); kept on `g` so a request sees one revision throughout."""
    if "_portal_revision" not in g:
        ttl = current_app.config["PORTAL_REVISION_TTL"]
        now = monotonic_time.monotonic()
        memo: _RevisionMemo = current_app.extensions[_MEMO]
        if memo.value is not None and memo.generation == _commits[0] and now < memo.expires and ttl > 0:
            g._portal_revision = memo.value
        else:
            generation = _commits[0]
            g._portal_revision = query_revision(utcnow())
            memo.value, memo.expires, memo.generation = g._portal_revision, now + ttl, generation
    revision: Revision = g._portal_revision
    return revision


@dataclass(frozen=True)
class CachedPage:
    body: bytes
    headers: tuple[tuple[str, str], ...]

    def response(self) -> Response:
        return current_app.response_class(self.body, status=200, headers=list(self.headers))


class PageCache:
    """A bounded, thread-safe LRU keyed by tuples whose first element is a revision token: the
    rendered 200 responses (keyed by (revision token, URL)) and public_memo's values.

    Entries of an older revision are never asked for again and age out.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: tuple[Any, ...]) -> Any:
        with self._lock:
            value = self._entries.get(key)
            if value is not None:
                self._entries.move_to_end(key)
            return value

    def put(self, key: tuple[Any, ...], value: Any) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)


_PUBLIC_MEMO = "portal.public_memo"


def public_memo(key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
    """`compute()`, or its value for `key` computed earlier at the same public revision.

    For values computed from public data alone (counts, choice lists): pages of one listing share
    its counts, so a deep page costs its own rows only. Values must be plain data, never ORM
    objects (those belong to one request's database session), and never None.
    """
    memo: PageCache = current_app.extensions[_PUBLIC_MEMO]
    full_key = (current_revision().token, *key)
    value = memo.get(full_key)
    if value is None:
        value = compute()
        memo.put(full_key, value)
    return value


def page_cache(app: Flask | None = None) -> PageCache:
    """The app's page cache (one per worker process)."""
    cache: PageCache = (app or current_app).extensions[_EXTENSION]
    return cache


@dataclass
class _PageRequest:
    """What the before hook worked out for a cacheable request, for the after hook."""

    key: tuple[str, str]
    etag: str
    last_modified: datetime | None
    answered: bool = False  # a 304 or a stored page, not the view
    personal: bool = False  # the session holds flashed messages meant for this visitor only


def _is_cacheable_request() -> bool:
    return (
        request.method in ("GET", "HEAD")
        and request.endpoint in CACHED_ENDPOINTS
        and not current_user.is_authenticated
    )


def _etag(revision: Revision, url: str) -> str:
    # The full URL: pages carry absolute links (feeds) built from the host and scheme.
    return hashlib.sha256(f"{revision.token}|{url}".encode()).hexdigest()[:32]


def _before() -> Response | None:
    """Answer 304 or a stored page before any view work, for anonymous GETs of public pages."""
    if not _is_cacheable_request():
        return None
    reads_only()  # a public page: a function of committed data and its URL
    revision = current_revision()
    state = _PageRequest(
        key=(revision.token, request.url),
        etag=_etag(revision, request.url),
        last_modified=revision.last_modified(utcnow()),
        # Someone who has just signed out must see "You are signed out" on the next page.
        personal="_flashes" in session,
    )
    g._portal_page = state
    if state.personal:
        return None
    # Only a page known to exist (stored for this revision) is answered before the view: a
    # URL that would be a 404 or 400 must not get a 304 because it was asked with `*` or a
    # date (RFC 9110, 13.1). Otherwise the view runs and _after answers 304 if it can.
    page = page_cache().get(state.key)
    if page is not None:
        state.answered = True
        if _client_is_current(state):
            return current_app.response_class(status=304)
        return page.response()
    return None


def _client_is_current(state: _PageRequest) -> bool:
    """If-None-Match (which wins when given) or If-Modified-Since say the client's copy is this one.
    If-Match and If-Range are for changing or resuming resources, not for these pages."""
    return not is_resource_modified(
        http_if_none_match=request.headers.get("If-None-Match"),
        http_if_modified_since=request.headers.get("If-Modified-Since"),
        etag=state.etag,
        last_modified=state.last_modified,
    )


def _after(response: Response) -> Response:
    """Give public answers their validators and Cache-Control, and keep rendered pages."""
    state: _PageRequest | None = g.get("_portal_page")
    if state is None:
        return response
    if _personal(response, state):
        # Flashed messages, a CSRF token or a new session cookie: this answer is this visitor's alone.
        response.headers["Cache-Control"] = "private, no-store"
        response.vary.add("Cookie")
    elif state.answered:
        _public(response, state)
    elif response.status_code == 200 and _replayable(response):
        _public(response, state)
        body = response.get_data()
        if len(body) <= MAX_ENTRY_BYTES:
            headers = tuple((k, v) for k, v in response.headers.items() if k.lower() not in _NOT_STORED)
            page_cache().put(state.key, CachedPage(body=body, headers=headers))
        if _client_is_current(state):
            response = current_app.response_class(status=304, headers=_validators(response))
        else:
            request.environ[_FRONT_KEY] = state.key
    elif state.answered and response.status_code == 200:
        request.environ[_FRONT_KEY] = state.key
    return response


def _validators(response: Response) -> list[tuple[str, str]]:
    """The headers a 304 repeats (RFC 9110, 15.4.5)."""
    keep = {"etag", "last-modified", "cache-control", "vary", "content-location", "expires"}
    return [(k, v) for k, v in response.headers.items() if k.lower() in keep]


def _personal(response: Response, state: _PageRequest) -> bool:
    """Whether this answer holds something of the visitor's session, or will set its cookie
    (Flask saves a modified session after these hooks)."""
    csrf_field = current_app.config.get("WTF_CSRF_FIELD_NAME", "csrf_token")
    return state.personal or session.modified or csrf_field in g or "Set-Cookie" in response.headers


def _replayable(response: Response) -> bool:
    """A whole body (not a stream) whose content depends on nothing but the URL: a response that
    varies on a request header (say Accept-Language) would need that header in the key."""
    varies = {v.lower() for v in response.vary} - {"cookie"}
    return response.is_sequence and not response.direct_passthrough and not varies


def _public(response: Response, state: _PageRequest) -> None:
    response.set_etag(state.etag)
    if state.last_modified is not None:
        response.last_modified = state.last_modified
    response.headers["Cache-Control"] = f"public, max-age={current_app.config['PORTAL_PUBLIC_MAX_AGE']}"
    # Signed-in visitors see other content at the same URL (portal/hooks.py: private, no-store).
    response.vary.add("Cookie")


# --- the front: stored pages served before Flask ---------------------------------------------

_FRONT_KEY = "portal.cache.front_key"
_FRONT = "portal.page_front"


class PageFront:
    """WSGI middleware that answers a request for a stored page without entering Flask.

    Only requests that cannot be anyone's in particular qualify: GET or HEAD, no cookie at all
    (so no session, no flashed message, nobody signed in), no conditional header (Flask answers
    those, cheaply), and a URL whose complete answer, security headers and validators included,
    Flask marked as public for the worker's current revision (_after sets _FRONT_KEY). The
    revision is the worker's memo while it is fresh; once it is not, or after a commit in this
    worker, the request goes through Flask, which asks the database and renews the memo.
    """

    def __init__(self, wsgi_app: Any, app: Flask) -> None:
        self.wsgi_app = wsgi_app
        self.app = app
        self.pages = PageCache(app.config["PORTAL_PAGE_CACHE_SIZE"])
        app.extensions[_FRONT] = self

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        method = environ.get("REQUEST_METHOD")
        if (
            method in ("GET", "HEAD")
            and "HTTP_COOKIE" not in environ
            and "HTTP_IF_NONE_MATCH" not in environ
            and "HTTP_IF_MODIFIED_SINCE" not in environ
        ):
            revision = self._fresh_revision()
            if revision is not None:
                page = self.pages.get((revision.token, get_current_url(environ)))
                if page is not None:
                    start_response("200 OK", list(page.headers))
                    return [] if method == "HEAD" else [page.body]
        captured: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            captured["status"], captured["headers"] = status, headers
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        body = self.wsgi_app(environ, capture)
        key = environ.get(_FRONT_KEY)
        if key is None or method != "GET" or not captured.get("status", "").startswith("200 "):
            return body
        if any(name.lower() == "set-cookie" for name, _ in captured["headers"]):
            return body
        chunks = list(body)
        if hasattr(body, "close"):
            body.close()
        data = b"".join(chunks)
        headers = tuple((k, v) for k, v in captured["headers"] if k.lower() != "date")
        if len(data) <= MAX_ENTRY_BYTES:
            self.pages.put(key, CachedPage(body=data, headers=headers))
        return [data]

    def _fresh_revision(self) -> Revision | None:
        memo: _RevisionMemo = self.app.extensions[_MEMO]
        if (
            memo.value is None
            or memo.generation != _commits[0]
            or monotonic_time.monotonic() >= memo.expires
            or self.app.config["PORTAL_REVISION_TTL"] <= 0
        ):
            return None
        return memo.value


def init_app(app: Flask) -> None:
    """Install the page cache and its hooks. The after hook runs before portal/hooks.py's
    security_headers (registered earlier), which also covers 304s and stored pages."""
    app.extensions[_EXTENSION] = PageCache(app.config["PORTAL_PAGE_CACHE_SIZE"])
    app.extensions[_MEMO] = _RevisionMemo()
    app.extensions[_PUBLIC_MEMO] = PageCache(app.config["PORTAL_PUBLIC_MEMO_SIZE"])
    app.wsgi_app = PageFront(app.wsgi_app, app)  # type: ignore[method-assign]
    app.before_request(_before)
    app.after_request(_after)
    if not sa.event.contains(SessionClass, "after_commit", _forget):
        sa.event.listen(SessionClass, "after_commit", _forget)
    # Public reads have no rate limit; skipping Flask-Limiter's per-request bookkeeping for
    # them keeps a stored page's cost close to a bare Flask route.
    limiter.request_filter(_is_public_read)


def _is_public_read() -> bool:
    return request.method in ("GET", "HEAD") and request.endpoint in CACHED_ENDPOINTS
