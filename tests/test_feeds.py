"""Atom feeds: validity (required elements), scope, nothing unpublished, conditional requests, discovery."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from email.utils import format_datetime

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from portal.enums import StatementStatus
from portal.extensions import db
from portal.models import Statement, utcnow
from tests import factories

NS = {"a": "http://www.w3.org/2005/Atom"}
SITE = "/feeds/statements.atom"
SESSION = "/feeds/sessions/human-rights-all-migrants.atom"
AREA_D = "/feeds/sessions/human-rights-all-migrants/areas/d.atom"
AREA_E = "/feeds/sessions/human-rights-all-migrants/areas/e.atom"
HIDDEN_TITLES = {
    "Submitted statement",
    "Rejected statement",
    "Withdrawn statement",
    "Unpublished statement",
    "Embargoed statement",
}
NOW = utcnow()


def _set(public_id: str, **values: object) -> None:
    db.session.execute(sa.update(Statement).where(Statement.public_id == public_id).values(**values))


@pytest.fixture
def record(app: Flask) -> dict[str, str]:
    """Three published statements (oldest first: d, e, d+e), and one of every unpublished kind."""
    with app.app_context():
        people = factories.make_people()
        author = people["submitter"]
        refs: dict[str, str] = {}
        for name, codes, hours_ago in (("old", ("d",), 3), ("middle", ("e",), 2), ("new", ("d", "e"), 1)):
            s = factories.make_statement(author, title=f"Published {name}", status=StatementStatus.APPROVED, area_codes=codes)
            refs[name] = s.public_id
            _set(s.public_id, published_at=NOW - timedelta(hours=hours_ago))
        for title, status in (
            ("Submitted statement", StatementStatus.SUBMITTED),
            ("Rejected statement", StatementStatus.REJECTED),
            ("Withdrawn statement", StatementStatus.WITHDRAWN),
            ("Unpublished statement", StatementStatus.UNPUBLISHED),
            ("Embargoed statement", StatementStatus.APPROVED),
        ):
            s = factories.make_statement(author, title=title, status=status, area_codes=("d", "e"))
            refs[title] = s.public_id
        _set(refs["Embargoed statement"], publish_at=NOW + timedelta(days=1))
        db.session.commit()
    return refs


def parse(client: FlaskClient, url: str, **headers: str) -> ET.Element:
    response = client.get(url, headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
    assert response.headers["Cache-Control"] == "public, max-age=300"
    return ET.fromstring(response.data)


def rfc3339(value: str) -> datetime:
    assert value.endswith("Z"), value
    return datetime.fromisoformat(value)


def entry_titles(feed: ET.Element) -> list[str]:
    return [e.findtext("a:title", namespaces=NS) for e in feed.findall("a:entry", NS)]


def check_valid(feed: ET.Element, self_url: str) -> None:
    """The elements RFC 4287 requires of a feed and its entries, with well-formed values."""
    assert feed.tag == "{http://www.w3.org/2005/Atom}feed"
    assert feed.findtext("a:id", namespaces=NS).startswith(("tag:", "http"))
    assert feed.findtext("a:title", namespaces=NS)
    rfc3339(feed.findtext("a:updated", namespaces=NS))
    links = {link.get("rel"): link.get("href") for link in feed.findall("a:link", NS)}
    assert links["self"] == f"http://localhost{self_url}"
    assert links["alternate"].startswith("http://localhost/")
    assert feed.findtext("a:author/a:name", namespaces=NS)
    ids = []
    for entry in feed.findall("a:entry", NS):
        ids.append(entry.findtext("a:id", namespaces=NS))
        assert entry.findtext("a:title", namespaces=NS)
        assert rfc3339(entry.findtext("a:updated", namespaces=NS)) >= rfc3339(entry.findtext("a:published", namespaces=NS))
        link = entry.find("a:link[@rel='alternate']", NS)
        assert link is not None and link.get("href").startswith("http://localhost/statements/ST-")
        assert entry.findtext("a:author/a:name", namespaces=NS) == "Mexico"
        assert entry.findtext("a:summary", namespaces=NS)
    assert len(ids) == len(set(ids))


def test_site_feed_is_valid_atom_newest_first(client: FlaskClient, record: dict[str, str]) -> None:
    feed = parse(client, SITE)

    check_valid(feed, SITE)
    assert entry_titles(feed) == ["Published new", "Published middle", "Published old"]
    entries = feed.findall("a:entry", NS)
    published = [rfc3339(e.findtext("a:published", namespaces=NS)) for e in entries]
    assert published == sorted(published, reverse=True)
    assert rfc3339(feed.findtext("a:updated", namespaces=NS)) == max(
        rfc3339(e.findtext("a:updated", namespaces=NS)) for e in entries
    )
    first = entries[0]
    assert first.findtext("a:id", namespaces=NS) == f"tag:localhost,2017:statement/{record['new']}"
    assert first.find("a:link", NS).get("href") == f"http://localhost/statements/{record['new']}"
    assert [c.get("term") for c in first.findall("a:category", NS)] == ["d", "e"]
    summary = first.findtext("a:summary", namespaces=NS)
    for part in ("Mexico", "Session 1: Human rights of all migrants", "Detention", "Delivered statement", "English"):
        assert part in summary


def test_entry_ids_are_stable(client: FlaskClient, record: dict[str, str]) -> None:
    first = [e.findtext("a:id", namespaces=NS) for e in parse(client, SITE).findall("a:entry", NS)]
    again = [e.findtext("a:id", namespaces=NS) for e in parse(client, SESSION).findall("a:entry", NS)]
    assert first == again
    assert parse(client, SITE).findtext("a:id", namespaces=NS) == "tag:localhost,2017:statements"


@pytest.mark.parametrize("url", [SITE, SESSION, AREA_D, AREA_E])
def test_nothing_unpublished_appears(client: FlaskClient, record: dict[str, str], url: str) -> None:
    body = client.get(url).get_data(as_text=True)

    for title in HIDDEN_TITLES:
        assert title not in body
        assert record[title] not in body


def test_area_feeds_hold_only_their_area(client: FlaskClient, record: dict[str, str]) -> None:
    area_d = parse(client, AREA_D)
    area_e = parse(client, AREA_E)

    check_valid(area_d, AREA_D)
    check_valid(area_e, AREA_E)
    assert entry_titles(area_d) == ["Published new", "Published old"]
    assert entry_titles(area_e) == ["Published new", "Published middle"]
    assert entry_titles(parse(client, "/feeds/sessions/human-rights-all-migrants/areas/a.atom")) == []


def test_session_feed_and_empty_session(client: FlaskClient, record: dict[str, str]) -> None:
    session_feed = parse(client, SESSION)
    empty = parse(client, "/feeds/sessions/drivers-migration.atom")

    check_valid(session_feed, SESSION)
    assert entry_titles(session_feed) == ["Published new", "Published middle", "Published old"]
    check_valid(empty, "/feeds/sessions/drivers-migration.atom")
    assert entry_titles(empty) == []


def test_embargo_lifts_into_the_feed(app: Flask, client: FlaskClient, record: dict[str, str]) -> None:
    before = client.get(SITE)
    with app.app_context():
        _set(record["Embargoed statement"], publish_at=utcnow() - timedelta(seconds=1))
        db.session.commit()

    after = client.get(SITE, headers={"If-None-Match": before.headers["ETag"]})

    assert after.status_code == 200
    feed = ET.fromstring(after.data)
    assert entry_titles(feed)[0] == "Embargoed statement"
    assert rfc3339(feed.findtext("a:updated", namespaces=NS)) > NOW.replace(microsecond=0)


def test_correction_updates_entry_and_feed(app: Flask, client: FlaskClient, record: dict[str, str]) -> None:
    corrected = NOW + timedelta(minutes=5)
    with app.app_context():
        _set(record["old"], corrected_at=corrected)
        db.session.commit()

    feed = parse(client, SITE)

    assert entry_titles(feed)[-1] == "Published old"  # still ordered by publication
    old = feed.findall("a:entry", NS)[-1]
    assert rfc3339(old.findtext("a:updated", namespaces=NS)) == corrected.replace(microsecond=0)
    assert rfc3339(feed.findtext("a:updated", namespaces=NS)) == corrected.replace(microsecond=0)


@pytest.mark.parametrize(
    "url",
    [
        "/feeds/sessions/no-such-session.atom",
        "/feeds/sessions/no-such-session/areas/d.atom",
        "/feeds/sessions/human-rights-all-migrants/areas/z.atom",
        "/feeds/sessions/drivers-migration/areas/e.atom",  # "e" is an area of another session
    ],
)
def test_unknown_session_or_area_is_404(client: FlaskClient, url: str) -> None:
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("url", [SITE, SESSION, AREA_D])
def test_conditional_requests(client: FlaskClient, record: dict[str, str], url: str) -> None:
    first = client.get(url)
    etag, last_modified = first.headers["ETag"], first.headers["Last-Modified"]

    by_etag = client.get(url, headers={"If-None-Match": etag})
    by_date = client.get(url, headers={"If-Modified-Since": last_modified})
    stale_etag = client.get(url, headers={"If-None-Match": '"something-else"'})
    older = client.get(url, headers={"If-Modified-Since": format_datetime(NOW - timedelta(days=1), usegmt=True)})

    assert etag and last_modified
    assert (by_etag.status_code, by_etag.data, by_etag.headers["ETag"]) == (304, b"", etag)
    assert by_etag.headers["Cache-Control"] == "public, max-age=300"
    assert (by_date.status_code, by_date.data) == (304, b"")
    assert stale_etag.status_code == 200
    assert older.status_code == 200
    newest = max(rfc3339(u.text) for u in ET.fromstring(first.data).findall("a:entry/a:updated", NS))
    assert first.last_modified == newest


def test_etag_changes_when_a_statement_leaves_or_joins(app: Flask, client: FlaskClient, record: dict[str, str]) -> None:
    etags = {client.get(url).headers["ETag"] for url in (SITE, SESSION, AREA_D)}
    assert len(etags) == 3  # the path is part of the tag
    before = client.get(SITE).headers["ETag"]
    with app.app_context():
        _set(record["middle"], status=StatementStatus.UNPUBLISHED, decision_note="Withdrawn by the secretariat.")
        db.session.commit()

    after = client.get(SITE, headers={"If-None-Match": before})

    assert after.status_code == 200
    assert after.headers["ETag"] != before
    assert "Published middle" not in after.get_data(as_text=True)


def test_pages_advertise_their_feeds(client: FlaskClient, record: dict[str, str]) -> None:
    site_link = '<link rel="alternate" type="application/atom+xml" title="Stakeholder Inputs Portal: published statements" href="http://localhost/feeds/statements.atom">'
    index = client.get("/").get_data(as_text=True)
    session_page = client.get("/sessions/human-rights-all-migrants").get_data(as_text=True)
    statement_page = client.get(f"/statements/{record['new']}").get_data(as_text=True)

    assert site_link in index
    assert site_link in statement_page
    assert site_link in session_page
    assert 'type="application/atom+xml" title="Session 1: Human rights of all migrants: published statements" href="http://localhost/feeds/sessions/human-rights-all-migrants.atom">' in session_page
    assert 'href="http://localhost/feeds/sessions/human-rights-all-migrants/areas/e.atom"' in session_page


def test_feed_survives_awkward_titles(app: Flask, client: FlaskClient, record: dict[str, str]) -> None:
    with app.app_context():
        _set(record["new"], title="Déclaration <b>&amp; \"quotes\"\x0b")
        db.session.commit()

    feed = parse(client, SITE)

    assert entry_titles(feed)[0] == 'Déclaration <b>&amp; "quotes"'
