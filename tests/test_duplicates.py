"""Possible duplicates: an identical file (SHA-256) or, within one organisation and session, a
near-identical title, flagged in the queue and on the review page; marking one a duplicate."""

from __future__ import annotations

import re

import pytest

from portal import queries
from portal.enums import StatementStatus
from portal.extensions import db
from tests import factories
from tests.moderation_helpers import (
    MODERATOR,
    decision_data,
    events,
    make_people,
    row,
    signed_in,
    statement,
    submit,
)

S = StatementStatus


def _flags(page: str, reference: str) -> list[tuple[str, str]]:
    """(other reference, reason) of the possible duplicates flagged in the queue row of `reference`."""
    row_html = re.search(rf'<tr>\s*<td>\s*<input type="checkbox" name="items" id="select-{reference}".*?</tr>', page, flags=re.S)
    assert row_html, f"{reference} is not in the queue"
    return re.findall(
        r'<p class="duplicate">Possible duplicate of <a href="/moderation/([\w-]+)">\1</a>: ([^(]+?) \(', row_html.group(0)
    )


@pytest.mark.parametrize(
    ("a", "b", "near"),
    [
        ("Statement of Mexico on detention", "Statement of Mexico on detention", True),
        ("Statement of Mexico on detention", "STATEMENT OF MÉXICO ON DETENTION.", True),
        ("Statement of Mexico on human rights", "Statment of Mexico on human rights", True),
        ("Statement of Mexico on detention (rev. 1)", "Statement of Mexico on detention (rev. 2)", True),
        ("Statement of Mexico on detention", "Statement of Mexico on poverty", False),
        ("Mexico on detention (submitted)", "Mexico on detention (approved)", False),
        ("", "", False),
    ],
)
def test_near_identical_titles(a, b, near):
    assert queries.titles_near_identical(a, b) is near
    assert queries.titles_near_identical(b, a) is near


@pytest.fixture
def cast(app) -> dict[str, str]:
    """Statements built to be (or not be) duplicates of one another; returns name -> reference."""
    with app.app_context():
        people = make_people()
        mexico, colleague, iom = people["submitter"], people["colleague"], people["iom"]
        same_bytes = factories.pdf_bytes("Our statement, word for word")
        made = {
            "original": factories.make_statement(mexico, title="Statement of Mexico on detention", status=S.APPROVED, moderator=people["moderator"]),
            "retitled": submit(mexico, "Mexico: statement on detention", data=factories.pdf_bytes("Something else")),
            "same_title": submit(colleague, "Statement of México on detention.", data=factories.pdf_bytes("Another text")),
            "file_a": submit(iom, "IOM on migration data", data=same_bytes),
            "file_b": submit(mexico, "Mexico on something else entirely", data=same_bytes),
            "other_org": submit(iom, "Statement of Mexico on detention", data=factories.pdf_bytes("IOM's own")),
            "other_session": submit(mexico, "Statement of Mexico on detention", session_number=2, area_code="a", data=factories.pdf_bytes("S2")),
        }
        draft = factories.make_statement(mexico, title="Statement of Mexico on detention", status=S.DRAFT, data=same_bytes)
        made["draft"] = draft
        db.session.commit()
        return {name: s.public_id for name, s in made.items()}


def test_queue_flags_identical_files_and_near_identical_titles_with_links(app, cast):
    moderator = signed_in(app, MODERATOR)

    page = moderator.get("/moderation/?per_page=50").get_data(as_text=True)

    assert _flags(page, cast["same_title"]) == [(cast["original"], "near-identical title")]
    assert _flags(page, cast["file_a"]) == [(cast["file_b"], "identical file")]
    assert _flags(page, cast["file_b"]) == [(cast["file_a"], "identical file")]  # never the draft with the same bytes
    # Another organisation's or another session's statement of the same title is not flagged, nor a loosely similar title.
    for name in ("other_org", "other_session", "retitled"):
        assert _flags(page, cast[name]) == []


def test_review_page_lists_candidates_with_their_references(app, cast):
    moderator = signed_in(app, MODERATOR)

    page = moderator.get(f"/moderation/{cast['same_title']}").get_data(as_text=True)

    assert '<h2 id="duplicates-heading">Possible duplicates</h2>' in page
    assert (
        f'<li><a href="/moderation/{cast["original"]}">{cast["original"]}</a>: “Statement of Mexico on detention”, '
        "Mexico, published (near-identical title)</li>"
    ) in page
    assert "Reference of the original statement" in page
    clean = moderator.get(f"/moderation/{cast['retitled']}").get_data(as_text=True)
    assert "Possible duplicates" not in clean


def test_identical_file_and_title_are_both_named(app):
    with app.app_context():
        people = make_people()
        data = factories.pdf_bytes("Twice")
        first = submit(people["submitter"], "Statement on detention", data=data)
        second = submit(people["submitter"], "Statement on detention", data=data)
        db.session.commit()
        found = queries.duplicate_candidates([statement(second.public_id)])
        assert [(c.public_id, c.reason) for c in found[second.id]] == [(first.public_id, "identical file and near-identical title")]


def test_marking_a_duplicate_records_the_original_and_never_publishes(app, cast):
    moderator = signed_in(app, MODERATOR)
    duplicate, original = cast["same_title"], cast["original"]
    page = moderator.get(f"/moderation/{duplicate}").get_data(as_text=True)

    response = moderator.post(
        f"/moderation/{duplicate}/mark_duplicate", data=decision_data(page, "mark_duplicate", duplicate_of=original.lower())
    )

    assert response.status_code == 302 and response.headers["Location"] == "/moderation/"
    with app.app_context():
        stored, original_id = row(duplicate), statement(original).id
        assert (stored["status"], stored["duplicate_of_id"], stored["published_at"]) == ("duplicate", original_id, None)
        [event] = events(duplicate, ("mark_duplicate",))
        assert (event.old_status, event.new_status, event.actor_label) == ("submitted", "duplicate", MODERATOR)
        assert event.data["duplicate_of"] == original
    queue = moderator.get("/moderation/?per_page=50").get_data(as_text=True)
    assert f'id="select-{duplicate}"' not in queue
    # Never public, whatever the URL.
    public = app.test_client()
    assert public.get(f"/statements/{duplicate}").status_code == 404
    assert public.get(f"/statements/{duplicate}/document").status_code == 404
    assert duplicate not in public.get("/sessions/human-rights-all-migrants").get_data(as_text=True)
    assert original in public.get("/sessions/human-rights-all-migrants").get_data(as_text=True)


def test_marking_a_duplicate_of_an_unknown_reference_is_refused(app, cast):
    moderator = signed_in(app, MODERATOR)
    page = moderator.get(f"/moderation/{cast['retitled']}").get_data(as_text=True)

    response = moderator.post(
        f"/moderation/{cast['retitled']}/mark_duplicate", data=decision_data(page, "mark_duplicate", duplicate_of="ST-ZZZZ-ZZZZ")
    )

    assert response.status_code == 400
    assert "There is no statement &#39;ST-ZZZZ-ZZZZ&#39;." in response.get_data(as_text=True)
    with app.app_context():
        assert row(cast["retitled"])["status"] == "submitted"
