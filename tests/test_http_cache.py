"""HTTP caching of the public record (portal/cache.py): ETag and Last-Modified, 304s before any view
work, Cache-Control, the per-worker store of rendered anonymous pages, and that no change,
signed-in page or visitor's own message is ever served from it to the wrong person."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask, Response, make_response, render_template_string, session

from portal import audit, cache, organisations, workflow
from portal.enums import StatementStatus
from portal.extensions import db
from portal.models import AuditEvent, MeetingSession, Organisation, Statement, User, utcnow
from tests import factories
from tests.conftest import csrf_token, login, logout
from tests.moderation_helpers import MODERATOR, decision_data, signed_in

SESSION_URL = "/sessions/human-rights-all-migrants"
PUBLISHED = "Statement of Mexico on firewalls between services and immigration enforcement"
PENDING = "Statement of Mexico on alternatives to detention, awaiting review"
SIGNED_OUT = "You are signed out."


@pytest.fixture
def app_config(request: pytest.FixtureRequest) -> dict[str, object]:
    """Settings for one test, given with @pytest.mark.parametrize("app_config", [...], indirect=True)."""
    return getattr(request, "param", {})


@pytest.fixture
def record(app: Flask) -> dict[str, Any]:
    """The cast, one published statement by Mexico and one of Mexico's awaiting review."""
    with app.app_context():
        people = factories.make_people()
        published = factories.make_statement(people["submitter"], title=PUBLISHED, status=StatementStatus.APPROVED)
        pending = factories.make_statement(people["submitter"], title=PENDING)
        db.session.commit()
        return {
            "published": published.public_id,
            "pending": pending.public_id,
            "organisation_id": published.organisation_id,
        }


@pytest.fixture
def settled(monkeypatch: pytest.MonkeyPatch) -> None:
    """Last-Modified at once: the tests' changes are a moment old, not cache.SETTLE."""
    monkeypatch.setattr(cache, "SETTLE", timedelta(0))


def page_urls(record: dict[str, Any]) -> dict[str, str]:
    """One URL of each kind of cached public page."""
    return {
        "index": "/",
        "session": SESSION_URL,
        "session filtered": f"{SESSION_URL}?organisation={record['organisation_id']}",
        "organisation": f"/organisations/{record['organisation_id']}",
        "statement": f"/statements/{record['published']}",
        "search": "/search?q=firewalls",
    }


KINDS = ["index", "session", "session filtered", "organisation", "statement", "search"]


@contextmanager
def counted_queries(app: Flask) -> Iterator[list[str]]:
    """The SQL statements run inside the block."""
    with app.app_context():
        engine = db.engine
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def decide(app: Flask, public_id: str, action: str, *, note: str = "", **kwargs: Any) -> None:
    """A moderator's decision through the workflow, committed."""
    with app.app_context():
        moderator = db.session.scalar(sa.select(User).where(User.email == "mod@un.example"))
        statement = db.session.scalar(sa.select(Statement).where(Statement.public_id == public_id))
        workflow.apply(statement, action, actor=moderator, note=note, **kwargs)
        db.session.commit()


def stored_pages(app: Flask) -> int:
    return len(cache.page_cache(app))


# --- validators and headers ------------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_public_page_has_etag_last_modified_and_public_cache_control(client, record, settled, kind):
    response = client.get(page_urls(record)[kind])

    assert response.status_code == 200
    assert response.headers["ETag"].startswith('"') and len(response.headers["ETag"]) == 34
    assert parsedate_to_datetime(response.headers["Last-Modified"]) <= utcnow()
    assert response.headers["Cache-Control"] == "public, max-age=60"
    assert "Cookie" in response.headers["Vary"]
    assert "Content-Security-Policy" in response.headers


@pytest.mark.parametrize("kind", KINDS)
def test_if_none_match_current_is_answered_304_with_empty_body(client, record, kind):
    url = page_urls(record)[kind]
    etag = client.get(url).headers["ETag"]

    response = client.get(url, headers={"If-None-Match": etag})

    assert (response.status_code, response.data, response.headers["ETag"]) == (304, b"", etag)
    assert response.headers["Cache-Control"] == "public, max-age=60"
    assert response.headers["X-Content-Type-Options"] == "nosniff"  # the security headers still apply
    assert client.get(url, headers={"If-None-Match": '"something-else"'}).status_code == 200


@pytest.mark.parametrize("kind", KINDS)
def test_if_modified_since_last_modified_is_answered_304(client, record, settled, kind):
    url = page_urls(record)[kind]
    last_modified = client.get(url).headers["Last-Modified"]
    earlier = format_datetime(parsedate_to_datetime(last_modified) - timedelta(seconds=1), usegmt=True)

    current = client.get(url, headers={"If-Modified-Since": last_modified})
    stale = client.get(url, headers={"If-Modified-Since": earlier})

    assert (current.status_code, current.data) == (304, b"")
    assert stale.status_code == 200 and b"</html>" in stale.data


def test_etag_differs_by_url_including_query(client, record):
    urls = page_urls(record)
    etags = {client.get(url).headers["ETag"] for url in urls.values()}
    assert len(etags) == len(urls)


def test_last_modified_withheld_until_the_change_settles(app, client, record, monkeypatch):
    """One-second dates cannot tell two changes in the same second apart: the date is given
    only once the last change is cache.SETTLE old; the ETag always."""
    with app.app_context():
        newest = db.session.scalar(sa.select(sa.func.max(AuditEvent.created_at)))

    monkeypatch.setattr(cache, "utcnow", lambda: newest + timedelta(seconds=1))
    fresh = client.get(SESSION_URL)
    monkeypatch.setattr(cache, "utcnow", lambda: newest + cache.SETTLE)
    settled = client.get(SESSION_URL)

    assert "ETag" in fresh.headers and "Last-Modified" not in fresh.headers
    assert settled.headers["ETag"] == fresh.headers["ETag"]
    assert parsedate_to_datetime(settled.headers["Last-Modified"]) == newest.replace(microsecond=0)


# --- the store of rendered pages ---------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_stored_page_is_served_with_only_the_revision_query(app, client, record, kind):
    url = page_urls(record)[kind]
    first = client.get(url)

    with counted_queries(app) as statements:
        second = client.get(url)

    assert len(statements) == 1 and "audit_events" in statements[0]
    assert second.data == first.data
    assert second.headers["ETag"] == first.headers["ETag"]
    assert second.headers["Content-Type"] == first.headers["Content-Type"] == "text/html; charset=utf-8"
    assert second.headers["Content-Security-Policy"] == first.headers["Content-Security-Policy"]


def test_304_runs_only_the_revision_query(app, client, record):
    etag = client.get(SESSION_URL).headers["ETag"]

    with counted_queries(app) as statements:
        response = client.get(SESSION_URL, headers={"If-None-Match": etag})

    assert response.status_code == 304
    assert len(statements) == 1


def test_head_is_served_from_the_store_without_a_body(app, client, record):
    client.get(SESSION_URL)

    with counted_queries(app) as statements:
        response = client.head(SESSION_URL)

    assert (response.status_code, response.data, len(statements)) == (200, b"", 1)


@pytest.mark.parametrize("app_config", [{"PORTAL_PAGE_CACHE_SIZE": 2}], indirect=True)
def test_store_keeps_at_most_its_size_dropping_the_least_recently_used(app, client, record):
    urls = page_urls(record)
    for kind in ("index", "session", "statement"):
        client.get(urls[kind])
    assert stored_pages(app) == 2

    with counted_queries(app) as newest:
        client.get(urls["statement"])
    with counted_queries(app) as oldest:
        client.get(urls["index"])

    assert len(newest) == 1  # still stored
    assert len(oldest) > 1  # dropped: rendered again
    assert stored_pages(app) == 2


def test_page_cache_is_a_bounded_lru() -> None:
    store = cache.PageCache(3)
    page = cache.CachedPage(body=b"x", headers=())
    for n in range(3):
        store.put(("r", f"/{n}"), page)
    assert store.get(("r", "/0")) is page  # now the most recent
    store.put(("r", "/3"), page)
    assert len(store) == 3
    assert store.get(("r", "/1")) is None
    assert all(store.get(("r", f"/{n}")) is page for n in (0, 2, 3))


@pytest.mark.parametrize("app_config", [{"PORTAL_PAGE_CACHE_SIZE": 0}], indirect=True)
def test_cache_size_zero_stores_nothing_but_keeps_etag_and_304(app, client, record, settled):
    first = client.get(SESSION_URL)
    with counted_queries(app) as statements:
        second = client.get(SESSION_URL)
    by_etag = client.get(SESSION_URL, headers={"If-None-Match": first.headers["ETag"]})
    by_date = client.get(SESSION_URL, headers={"If-Modified-Since": first.headers["Last-Modified"]})

    assert stored_pages(app) == 0
    assert len(statements) > 1  # rendered again
    assert second.headers["ETag"] == first.headers["ETag"]
    assert (by_etag.status_code, by_date.status_code) == (304, 304)


@pytest.mark.parametrize("app_config", [{"PORTAL_PUBLIC_MAX_AGE": 300}], indirect=True)
def test_public_max_age_follows_the_setting(client, record):
    assert client.get("/").headers["Cache-Control"] == "public, max-age=300"


# --- changes reach the next anonymous request -------------------------------------------------


def test_approval_shows_on_the_next_anonymous_request(app, client, record):
    before = client.get(SESSION_URL)
    assert PENDING not in before.get_data(as_text=True)
    assert client.get(f"/statements/{record['pending']}").status_code == 404

    decide(app, record["pending"], "approve")

    after = client.get(SESSION_URL, headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200 and PENDING in after.get_data(as_text=True)
    assert after.headers["ETag"] != before.headers["ETag"]
    assert client.get(f"/statements/{record['pending']}").status_code == 200


def test_approval_through_the_moderation_page_shows_at_once(app, client, record):
    """The whole web path: a signed-in moderator decides, an anonymous visitor looks."""
    before = client.get(SESSION_URL).get_data(as_text=True)
    moderator = signed_in(app, MODERATOR)
    page = moderator.get(f"/moderation/{record['pending']}").get_data(as_text=True)

    response = moderator.post(f"/moderation/{record['pending']}/approve", data=decision_data(page, "approve"))

    assert response.headers["Location"] == "/moderation/"
    assert PENDING not in before
    assert PENDING in client.get(SESSION_URL).get_data(as_text=True)


def test_unpublishing_removes_the_statement_from_stored_pages(app, client, record):
    urls = page_urls(record)
    for kind in ("session", "organisation", "statement", "search"):
        assert PUBLISHED in client.get(urls[kind]).get_data(as_text=True)
    assert "1 published statement" in client.get("/").get_data(as_text=True)

    decide(app, record["published"], "unpublish", note="Sent to the wrong session.")

    assert client.get(urls["statement"]).status_code == 404
    for kind in ("session", "organisation", "search"):
        assert PUBLISHED not in client.get(urls[kind]).get_data(as_text=True)
    assert "0 published statements" in client.get("/").get_data(as_text=True)


def test_embargo_passing_without_any_write_shows_the_statement(app, client, record):
    when = utcnow() + timedelta(seconds=2)
    decide(app, record["pending"], "approve", publish_at=when)
    hidden = client.get(SESSION_URL)
    assert PENDING not in hidden.get_data(as_text=True)
    assert stored_pages(app) == 1

    time.sleep(max(0.0, (when - utcnow()).total_seconds()) + 0.05)

    shown = client.get(SESSION_URL, headers={"If-None-Match": hidden.headers["ETag"]})
    assert shown.status_code == 200 and PENDING in shown.get_data(as_text=True)
    assert shown.headers["ETag"] != hidden.headers["ETag"]


def test_organisation_rename_shows_on_every_stored_page(app, client, record):
    urls = page_urls(record)
    kinds = ("session", "organisation", "statement")
    before = {kind: client.get(urls[kind]) for kind in kinds}
    assert all("Mexico" in r.get_data(as_text=True) for r in before.values())

    with app.app_context():
        admin = db.session.scalar(sa.select(User).where(User.email == "admin@un.example"))
        organisation = db.session.get(Organisation, record["organisation_id"])
        organisations.rename_organisation(organisation, actor=admin, name="United Mexican States")
        db.session.commit()

    for kind in kinds:
        after = client.get(urls[kind], headers={"If-None-Match": before[kind].headers["ETag"]})
        assert after.status_code == 200
        assert "United Mexican States" in after.get_data(as_text=True), kind


def insert_event(event_id: int) -> None:
    """An audit row with a chosen id, as a transaction that took it would commit it."""
    db.session.execute(
        sa.insert(AuditEvent.__table__).values(
            id=event_id, created_at=utcnow(), actor_label="system", action="organisation.test",
            object_type="organisations", object_id=1, object_ref="", note="", data={},
        )
    )
    db.session.commit()


def test_commit_out_of_id_order_still_changes_the_revision(app):
    """On PostgreSQL a transaction can commit audit id n after another committed n + 1 (ids are
    taken from the sequence, not committed, in order): the newest id alone would miss it."""
    with app.app_context():
        last = db.session.scalar(sa.select(sa.func.max(AuditEvent.id))) or 0
        insert_event(last + 2)
        before = cache.query_revision(utcnow())
        insert_event(last + 1)
        after = cache.query_revision(utcnow())
        assert db.session.scalar(sa.select(sa.func.max(AuditEvent.id))) == last + 2
    assert after.token != before.token


def test_revision_changes_when_a_submission_window_opens_or_closes(app):
    """The session page says whether submissions are open: that changes with no write."""
    with app.app_context():
        opens, closes = utcnow() + timedelta(hours=1), utcnow() + timedelta(hours=2)
        db.session.execute(
            sa.update(MeetingSession).where(MeetingSession.number == 2).values(submissions_open_at=opens, submissions_close_at=closes)
        )
        db.session.commit()
        token = {at: cache.query_revision(at).token for at in (opens, closes)}
        just_before = {at: cache.query_revision(at - timedelta(microseconds=1)).token for at in (opens, closes)}
    assert token[opens] != just_before[opens]
    assert token[closes] != just_before[closes]


def test_revision_changes_with_the_day(app):
    """A statement page cites itself "accessed" today."""
    with app.app_context():
        today = utcnow().replace(hour=23, minute=59, second=59)
        before, after = cache.query_revision(today), cache.query_revision(today + timedelta(seconds=1))
    assert before.token != after.token
    assert after.changed_at == (today + timedelta(seconds=1)).replace(microsecond=0)


def test_site_wide_writers_change_the_revision(app, runner, record):
    with app.app_context():
        before = cache.query_revision(utcnow())
    result = runner.invoke(args=["reindex", "--index-only"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        after = cache.query_revision(utcnow())
        [event] = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "search.reindex")).all()
        assert (event.object_type, event.object_id, event.actor_label) == (audit.SITE, 0, "system")
    assert after.token != before.token


# --- never the wrong person's page -------------------------------------------------------------


@pytest.mark.parametrize("kind", KINDS)
def test_signed_in_pages_are_private_and_get_no_304_from_the_anonymous_cache(app, client, record, kind):
    url = page_urls(record)[kind]
    anonymous_etag = client.get(url).headers["ETag"]
    member = app.test_client()
    login(member, "ana@mexico.example")
    member.get("/account")  # shows, and so clears, any message from signing in

    response = member.get(url, headers={"If-None-Match": anonymous_etag})

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "private, no-store"
    assert "Cookie" in response.headers["Vary"]
    assert "ETag" not in response.headers and "Last-Modified" not in response.headers
    assert "Sign out" in response.get_data(as_text=True)  # rendered for them, not the stored page


def test_member_only_page_is_never_stored_or_shown_to_the_public(app, client, record):
    member = app.test_client()
    login(member, "ana@mexico.example")
    member.get("/account")
    url = f"/statements/{record['pending']}"

    own = member.get(url)
    again = member.get(url)

    assert own.status_code == again.status_code == 200 and PENDING in again.get_data(as_text=True)
    assert own.headers["Cache-Control"] == "private, no-store"
    assert stored_pages(app) == 0
    anonymous = client.get(url)
    assert anonymous.status_code == 404 and PENDING not in anonymous.get_data(as_text=True)
    assert "ETag" not in anonymous.headers and "public" not in anonymous.headers.get("Cache-Control", "")


def test_signed_in_visit_stores_nothing_for_the_public(app, client, record):
    member = app.test_client()
    login(member, "ana@mexico.example")
    member.get("/account")
    for url in page_urls(record).values():
        member.get(url)
    assert stored_pages(app) == 0
    assert "Sign out" not in client.get(SESSION_URL).get_data(as_text=True)


def test_flashed_message_is_shown_not_stored_and_the_page_not_served_from_the_store(app, client, record):
    stored = client.get("/")
    assert stored.headers["Cache-Control"] == "public, max-age=60"
    login(client, "ana@mexico.example")

    token = csrf_token(client, "/")
    signed_out = client.post("/sign-out", data={"csrf_token": token}, follow_redirects=True)

    assert SIGNED_OUT in signed_out.get_data(as_text=True)
    assert signed_out.headers["Cache-Control"] == "private, no-store"
    assert "ETag" not in signed_out.headers
    assert SIGNED_OUT not in app.test_client().get("/").get_data(as_text=True)
    assert SIGNED_OUT not in client.get("/").get_data(as_text=True)  # shown once


def test_flashed_message_skips_the_304(app, client, record):
    etag = client.get("/").headers["ETag"]
    login(client, "ana@mexico.example")
    logout(client)

    response = client.get("/", headers={"If-None-Match": etag})

    assert response.status_code == 200 and SIGNED_OUT in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("url", "status"),
    [
        ("/search?session=not-a-number", 400),
        ("/statements/ST-NO-SUCH-ONE", 404),
        ("/sessions/no-such-session", 404),
        ("/organisations/999999", 404),
    ],
)
def test_error_answers_are_neither_stored_nor_public(app, client, record, url, status):
    from flask import template_rendered

    first = client.get(url)
    rendered: list[str] = []
    record_template = lambda sender, template, context, **extra: rendered.append(template.name)  # noqa: E731
    template_rendered.connect(record_template, app)
    try:
        second = client.get(url)
    finally:
        template_rendered.disconnect(record_template, app)

    assert first.status_code == second.status_code == status
    assert rendered  # answered by the view (or error handler) again, not from a store
    assert stored_pages(app) == 0
    assert "ETag" not in second.headers
    assert "public" not in second.headers.get("Cache-Control", "")


def _csrf_form() -> str:
    return render_template_string('<form method="post"><input name="csrf_token" value="{{ csrf_token() }}"></form>')


def _writes_session() -> str:
    session["seen"] = True
    return "noted"


def _sets_cookie() -> Response:
    response = make_response("hello")
    response.set_cookie("choice", "fr")
    return response


def _varies() -> Response:
    response = make_response("bonjour")
    response.vary.add("Accept-Language")
    return response


def _streams() -> Response:
    return Response((part for part in (b"one ", b"two")), mimetype="text/plain")


@pytest.mark.parametrize(
    ("view", "personal"),
    [(_csrf_form, True), (_writes_session, True), (_sets_cookie, True), (_varies, False), (_streams, False)],
    ids=["csrf token", "session written", "cookie set", "varies on a header", "streamed"],
)
def test_personal_or_unrepeatable_answers_are_never_stored(app, client, monkeypatch, view, personal):
    """Safety nets behind the page rules: a public view that one day shows a CSRF token or
    writes the session or a cookie is this visitor's alone; one that varies on a request
    header or streams is not kept."""
    app.add_url_rule("/test-page", endpoint="test.page", view_func=view)
    monkeypatch.setattr(cache, "CACHED_ENDPOINTS", cache.CACHED_ENDPOINTS | {"test.page"})

    first = client.get("/test-page")
    second = client.get("/test-page")

    assert first.status_code == second.status_code == 200
    assert stored_pages(app) == 0
    if personal:
        assert second.headers["Cache-Control"] == "private, no-store"
        assert "ETag" not in second.headers
    else:
        assert "public" not in second.headers.get("Cache-Control", "")


@pytest.mark.parametrize("url", ["/sign-in", "/register"])
def test_form_pages_are_not_publicly_cacheable(client, record, url):
    response = client.get(url)

    assert response.status_code == 200
    assert "public" not in response.headers.get("Cache-Control", "")
    assert "ETag" not in response.headers


def test_feeds_are_public_for_anonymous_and_private_when_signed_in(app, client, record):
    anonymous = client.get("/feeds/statements.atom")
    member = app.test_client()
    login(member, "ana@mexico.example")

    assert anonymous.headers["Cache-Control"] == "public, max-age=300"
    assert member.get("/feeds/statements.atom").headers["Cache-Control"] == "private, no-store"


def test_feed_etag_changes_when_an_organisation_is_renamed(app, client, record):
    before = client.get("/feeds/statements.atom")
    assert "Mexico" in before.get_data(as_text=True)

    with app.app_context():
        admin = db.session.scalar(sa.select(User).where(User.email == "admin@un.example"))
        organisations.rename_organisation(db.session.get(Organisation, record["organisation_id"]), actor=admin, name="United Mexican States")
        db.session.commit()

    after = client.get("/feeds/statements.atom", headers={"If-None-Match": before.headers["ETag"]})
    assert after.status_code == 200 and "United Mexican States" in after.get_data(as_text=True)


# --- the worker's revision memo and conditional requests for pages that do not exist ----------


@pytest.mark.parametrize("app_config", [{"PORTAL_REVISION_TTL": 60}], indirect=True)
def test_revision_memo_serves_stored_pages_without_any_query(app, client, record):
    client.get(SESSION_URL)

    with counted_queries(app) as statements:
        response = client.get(SESSION_URL)

    assert response.status_code == 200 and PUBLISHED in response.get_data(as_text=True)
    assert statements == []


@pytest.mark.parametrize("app_config", [{"PORTAL_REVISION_TTL": 60}], indirect=True)
def test_revision_memo_is_forgotten_on_a_commit_in_the_worker(app, client, record):
    assert PENDING not in client.get(SESSION_URL).get_data(as_text=True)

    decide(app, record["pending"], "approve")

    assert PENDING in client.get(SESSION_URL).get_data(as_text=True)


@pytest.mark.parametrize("app_config", [{"PORTAL_REVISION_TTL": 60}], indirect=True)
def test_revision_memo_lasts_only_its_ttl_for_other_workers_changes(app, client, record, monkeypatch):
    """A change committed elsewhere (another worker: here a Core connection, no ORM commit in
    this process) shows once the memo's TTL has passed."""
    client.get(SESSION_URL)
    with app.app_context():
        with db.engine.begin() as connection:
            connection.execute(
                sa.update(Organisation).where(Organisation.id == record["organisation_id"]).values(name="Mexico (renamed elsewhere)")
            )
            audit_row = {"created_at": utcnow(), "actor_label": "other worker", "action": "organisation.renamed",
                         "object_type": "organisation", "object_id": record["organisation_id"], "object_ref": "",
                         "note": "", "data": {}}
            connection.execute(sa.insert(AuditEvent), audit_row)

    assert "renamed elsewhere" not in client.get(SESSION_URL).get_data(as_text=True)
    clock = time.monotonic() + 61
    monkeypatch.setattr(cache.monotonic_time, "monotonic", lambda: clock)
    assert "renamed elsewhere" in client.get(SESSION_URL).get_data(as_text=True)


@pytest.mark.parametrize(
    "headers", [{"If-None-Match": "*"}, {"If-Modified-Since": "Fri, 01 Jan 2100 00:00:00 GMT"}]
)
def test_conditional_request_for_a_missing_page_is_still_404(client, record, headers):
    assert client.get("/statements/NO-SUCH-ID", headers=headers).status_code == 404
    assert client.get(f"/statements/{record['pending']}", headers=headers).status_code == 404


def test_conditional_request_for_an_unstored_page_is_answered_304_after_the_view(app, client, record):
    etag = client.get(SESSION_URL).headers["ETag"]
    cache.page_cache(app)._entries.clear()

    response = client.get(SESSION_URL, headers={"If-None-Match": etag})

    assert (response.status_code, response.data, response.headers["ETag"]) == (304, b"", etag)


@contextmanager
def flask_requests(app: Flask) -> Iterator[list[str]]:
    """The requests that entered Flask inside the block (not those the PageFront answered)."""
    from flask import request, request_started

    seen: list[str] = []

    def started(sender: Flask, **extra: Any) -> None:
        seen.append(request.path)

    request_started.connect(started, app)
    try:
        yield seen
    finally:
        request_started.disconnect(started, app)


@pytest.mark.parametrize("app_config", [{"PORTAL_REVISION_TTL": 60}], indirect=True)
def test_front_answers_a_stored_page_without_entering_flask(app, client, record):
    first = client.get(SESSION_URL)

    with flask_requests(app) as entered, counted_queries(app) as statements:
        again = client.get(SESSION_URL)
        head = client.head(SESSION_URL)

    assert entered == [] and statements == []
    assert again.get_data() == first.get_data() and head.data == b""
    for name in ("ETag", "Cache-Control", "Vary", "Content-Security-Policy", "X-Content-Type-Options", "Content-Type"):
        assert again.headers[name] == first.headers[name]


@pytest.mark.parametrize("app_config", [{"PORTAL_REVISION_TTL": 60}], indirect=True)
def test_front_leaves_requests_with_a_cookie_or_a_validator_to_flask(app, client, record):
    etag = client.get(SESSION_URL).headers["ETag"]
    with flask_requests(app) as entered:
        assert client.get(SESSION_URL, headers={"If-None-Match": etag}).status_code == 304
        client.set_cookie("something", "1")
        assert client.get(SESSION_URL).status_code == 200
    assert entered == [SESSION_URL, SESSION_URL]


@pytest.mark.parametrize("app_config", [{"PORTAL_REVISION_TTL": 60}], indirect=True)
def test_front_never_stores_signed_in_or_missing_pages(app, client, record):
    member = app.test_client()
    login(member, "ana@mexico.example")
    pending_url = f"/statements/{record['pending']}"
    assert PENDING in member.get(pending_url).get_data(as_text=True)
    member.get(SESSION_URL)

    assert client.get(pending_url).status_code == 404
    assert client.get(pending_url).status_code == 404
    with flask_requests(app) as entered:
        client.get(SESSION_URL)
    assert entered == [SESSION_URL]  # the member's visit stored nothing the front serves


@pytest.mark.parametrize("app_config", [{"PORTAL_REVISION_TTL": 60}], indirect=True)
def test_front_shows_a_commit_of_its_worker_at_once(app, client, record):
    client.get(SESSION_URL)
    client.get(SESSION_URL)

    decide(app, record["pending"], "approve")

    assert PENDING in client.get(SESSION_URL).get_data(as_text=True)
