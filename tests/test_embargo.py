"""Embargo: an approved statement with a publish time is invisible everywhere public (page,
downloads, session listing, counts, organisation page) until then, and visible after."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from portal import queries
from portal.extensions import db
from portal.models import Statement, utcnow
from tests import factories
from tests.moderation_helpers import (
    MODERATOR,
    SUBMITTER,
    decision_data,
    events,
    flashes,
    make_people,
    row,
    signed_in,
    statement,
    text,
)

SESSION_URL = "/sessions/human-rights-all-migrants"
TITLE = "Statement of Mexico on detention, under embargo"


@pytest.fixture
def item(app) -> dict[str, object]:
    """The cast and one statement awaiting review with an original file; returns its reference and file id."""
    with app.app_context():
        people = make_people()
        s = factories.make_statement(people["submitter"], title=TITLE)
        db.session.commit()
        return {"ref": s.public_id, "file_id": s.current_version.files[0].id, "organisation_id": s.organisation_id}


def _status(client, url: str) -> int:
    response = client.get(url)
    response.close()  # a download streams the stored file
    return response.status_code


def _public_views(client, item) -> dict[str, object]:
    """What an anonymous visitor finds of the statement on every public page."""
    ref = item["ref"]
    return {
        "page": _status(client, f"/statements/{ref}"),
        "document": _status(client, f"/statements/{ref}/document"),
        "file": _status(client, f"/statements/{ref}/files/{item['file_id']}"),
        "session": TITLE in client.get(SESSION_URL).get_data(as_text=True),
        "index": "1 published statement" in client.get("/").get_data(as_text=True),
        "organisation": TITLE in client.get(f"/organisations/{item['organisation_id']}").get_data(as_text=True),
    }


HIDDEN = {"page": 404, "document": 404, "file": 404, "session": False, "index": False, "organisation": False}
SHOWN = {"page": 200, "document": 200, "file": 200, "session": True, "index": True, "organisation": True}


def test_embargoed_statement_is_hidden_until_its_time_then_shown(app, item):
    moderator = signed_in(app, MODERATOR)
    ref = item["ref"]
    when = (utcnow() + timedelta(days=2)).replace(second=0, microsecond=0)
    page = moderator.get(f"/moderation/{ref}").get_data(as_text=True)
    assert '<label for="approve-publish_at">Publish at (UTC, optional)</label>' in page

    response = moderator.post(f"/moderation/{ref}/approve", data=decision_data(page, "approve", publish_at=f"{when:%Y-%m-%dT%H:%M}"))

    assert response.headers["Location"] == "/moderation/"
    with app.app_context():
        stored = statement(ref)
        assert (stored.status.value, stored.publish_at, stored.is_public) == ("approved", when, False)
        assert stored.published_at is not None
        [event] = events(ref, ("approve",))
        assert event.data["publish_at"] == when.isoformat()
    anonymous = app.test_client()
    assert _public_views(anonymous, item) == HIDDEN
    # Its organisation and the moderators still see it, marked as embargoed for the moderators.
    assert signed_in(app, SUBMITTER).get(f"/statements/{ref}").status_code == 200
    review = moderator.get(f"/moderation/{ref}").get_data(as_text=True)
    assert f"Embargoed: hidden from the public until {when.day} {when:%B %Y, %H:%M} UTC." in text(review)

    with app.app_context():  # the publish time passes
        db.session.execute(sa.update(Statement).where(Statement.public_id == ref).values(publish_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()

    assert _public_views(anonymous, item) == SHOWN
    assert "Embargoed: hidden from the public" not in moderator.get(f"/moderation/{ref}").get_data(as_text=True)


def test_public_statements_applies_the_embargo_to_the_second(app, item):
    with app.app_context():
        s = statement(item["ref"])
        when = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
        s.status, s.published_at, s.publish_at = s.status.APPROVED, utcnow(), when
        s.decided_at, s.decided_by_id = utcnow(), s.submitted_by_id
        db.session.commit()

        def visible(now: datetime) -> bool:
            return db.session.scalar(queries.public_statements(now).where(Statement.public_id == item["ref"])) is not None

        assert not visible(when - timedelta(seconds=1))
        assert visible(when)
        assert visible(when + timedelta(days=1))


def test_approving_without_a_time_publishes_at_once(app, item):
    moderator = signed_in(app, MODERATOR)
    page = moderator.get(f"/moderation/{item['ref']}").get_data(as_text=True)

    moderator.post(f"/moderation/{item['ref']}/approve", data=decision_data(page, "approve", publish_at=""))

    with app.app_context():
        assert row(item["ref"])["publish_at"] is None
    assert _public_views(app.test_client(), item) == SHOWN


def test_malformed_publish_time_is_refused_with_the_form_kept(app, item):
    moderator = signed_in(app, MODERATOR)
    page = moderator.get(f"/moderation/{item['ref']}").get_data(as_text=True)

    response = moderator.post(f"/moderation/{item['ref']}/approve", data=decision_data(page, "approve", publish_at="next tuesday"))

    assert response.status_code == 400
    assert "Not a valid datetime value." in response.get_data(as_text=True)
    assert not flashes(response.get_data(as_text=True), "success")
    with app.app_context():
        assert row(item["ref"])["status"] == "submitted"
    assert _public_views(app.test_client(), item) == HIDDEN
