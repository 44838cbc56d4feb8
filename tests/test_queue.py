"""The review queue: filters, counts, the oldest item; claims; bulk decisions; saved reasons;
notification settings. Through the test client with CSRF on, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
import threading
import time
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from portal import workflow
from portal.enums import Language, StatementStatus
from portal.exceptions import ConflictError
from portal.extensions import db
from portal.models import ReasonTemplate, Statement, utcnow
from tests import factories
from tests.conftest import csrf_from
from tests.moderation_helpers import (
    ADMIN,
    MODERATOR,
    MODERATOR_2,
    REASON,
    SUBMITTER,
    bulk,
    checkbox_values,
    correct,
    csrf,
    decision_data,
    events,
    flashes,
    make_people,
    queue_titles,
    result_rows,
    row,
    signed_in,
    statement,
    submit,
    text,
    user,
)

S = StatementStatus


# --- filters, order and counts ----------------------------------------------------------------


@pytest.fixture
def catalogue(app) -> dict[str, str]:
    """Eight statements: six waiting (one a correction), one published, one rejected; returns title -> reference.

    Submitted one after the other, so the order of submission is the order of waiting,
    except the correction, which joins the queue when it is sent (last).
    """
    with app.app_context():
        people = make_people()
        mexico, iom = people["submitter"], people["iom"]
        made = [
            submit(mexico, "Mexico on detention"),
            submit(iom, "IOM on human rights"),
            submit(mexico, "Mexico on poverty", session_number=2, area_code="a"),
            submit(mexico, "Mexico en français", language=Language.FRENCH, area_code="e"),
            factories.make_statement(mexico, title="Mexico, published", status=S.APPROVED, moderator=people["moderator"]),
            factories.make_statement(mexico, title="Mexico, rejected", status=S.REJECTED, moderator=people["moderator"]),
            submit(mexico, "Mexico on overarching principles", area_code="a"),
            factories.make_statement(mexico, title="Mexico, to be corrected", status=S.APPROVED, moderator=people["moderator"]),
        ]
        submit(iom, "IOM, the latest")
        correct(made[-1], mexico)
        db.session.commit()
        return {s.title: s.public_id for s in made} | {"IOM, the latest": statement_ref("IOM, the latest")}


def statement_ref(title: str) -> str:
    return db.session.scalar(sa.select(Statement.public_id).where(Statement.title == title))


@pytest.fixture
def moderator(app, catalogue):
    return signed_in(app, MODERATOR)


def _counts(page: str) -> dict[str, int]:
    return {label: int(n) for label, n in re.findall(r'<dt><a href="[^"]+">([^<]+)</a></dt><dd>(\d+)</dd>', page)}


def _session_counts(page: str) -> dict[str, list[int]]:
    table = re.search(r'<table class="table counts-by-session">(.*?)</table>', page, flags=re.S).group(1)
    rows = re.findall(r'<th scope="row"><a [^>]+>([^<]+)</a></th>\s*((?:<td>\d+</td>)+)', table)
    return {label: [int(n) for n in re.findall(r"\d+", cells)] for label, cells in rows}


def test_queue_shows_what_waits_oldest_first_with_corrections_marked(app, moderator, catalogue):
    page = moderator.get("/moderation/?per_page=50").get_data(as_text=True)

    assert "<h1>Review queue</h1>" in page
    assert queue_titles(page) == [
        "Mexico on detention",
        "IOM on human rights",
        "Mexico on poverty",
        "Mexico en français",
        "Mexico on overarching principles",
        "IOM, the latest",
        "Mexico, to be corrected",  # the correction waits since it was sent, not since the first submission
    ]
    assert "7 statements: waiting for review (new and corrections), oldest first" in page
    correction = catalogue["Mexico, to be corrected"]
    assert re.search(
        rf'<span class="badge badge-correction">Correction</span> <a href="/moderation/{correction}">', page
    )
    assert page.count('<span class="badge badge-correction">Correction</span>') == 1
    for title in ("Mexico, published", "Mexico, rejected"):
        assert f'href="/moderation/{catalogue[title]}"' not in page
    # Every item can be ticked, with a label naming it.
    for title, ref in catalogue.items():
        if title not in ("Mexico, published", "Mexico, rejected"):
            assert f'<label for="select-{ref}">Select {ref}<span class="visually-hidden">: {title}</span></label>' in page.replace("&#39;", "'")


def test_queue_counts_per_status_and_session_and_oldest_age(app, moderator, catalogue):
    with app.app_context():
        oldest = catalogue["Mexico on detention"]
        db.session.execute(
            sa.update(Statement).where(Statement.public_id == oldest).values(submitted_at=utcnow() - timedelta(days=3, hours=4))
        )
        db.session.commit()

    page = moderator.get("/moderation/").get_data(as_text=True)

    assert _counts(page) == {
        "Awaiting review": 6,
        "Correction awaiting review": 1,
        "Changes requested": 0,
        "Published": 2,
        "Rejected": 1,
        "Withdrawn": 0,
        "Unpublished": 0,
        "Duplicate": 0,
    }
    assert _session_counts(page) == {
        "Session 1: Human rights of all migrants": [5, 1, 0, 2, 1, 0, 0, 0],
        "Session 2: Drivers of migration": [1, 0, 0, 0, 0, 0, 0, 0],
    }
    assert f'Oldest waiting item: <a href="/moderation/{oldest}">{oldest}</a>' in " ".join(page.split())
    assert "waiting for 3 days, 4 hours" in text(page)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"status": "submitted"}, ["Mexico on detention", "IOM on human rights", "Mexico on poverty", "Mexico en français", "Mexico on overarching principles", "IOM, the latest"]),
        ({"status": "correction"}, ["Mexico, to be corrected"]),
        ({"status": "rejected"}, ["Mexico, rejected"]),
        ({"status": "approved"}, ["Mexico, published", "Mexico, to be corrected"]),
        ({"session_id": "2"}, ["Mexico on poverty"]),
        ({"area_id": "AREA_A"}, ["Mexico on overarching principles"]),
        ({"organisation_kind": "un_entity"}, ["IOM on human rights", "IOM, the latest"]),
        ({"language": "fr"}, ["Mexico en français"]),
        ({"language": "fr", "organisation_kind": "un_entity"}, []),
    ],
    ids=lambda v: "-".join(f"{k}={x}" for k, x in v.items()) if isinstance(v, dict) else None,
)
def test_queue_filters(app, moderator, catalogue, args, expected):
    with app.app_context():
        area_a = factories.area(1, "a").id
    query = {k: (str(area_a) if v == "AREA_A" else v) for k, v in args.items()} | {"per_page": "50"}

    response = moderator.get("/moderation/", query_string=query)

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert queue_titles(page) == expected
    if not expected:
        assert "No statement matches in this selection." in text(page) or "Nothing is waiting for review in this selection." in text(page)
    # The chosen filters stay selected.
    for name, value in query.items():
        select = re.search(rf'<select id="{name}" name="{name}">(.*?)</select>', page, flags=re.S).group(1)
        assert f'<option selected value="{value}">' in select


def test_queue_filters_are_labelled_selects(moderator):
    page = moderator.get("/moderation/").get_data(as_text=True)

    for name, label in [
        ("status", "Status"),
        ("session_id", "Session"),
        ("area_id", "Area"),
        ("organisation_kind", "Organisation kind"),
        ("language", "Language"),
    ]:
        assert f'<label for="{name}">{label}</label>' in page
        assert f'<select id="{name}" name="{name}">' in page
    options = dict(re.findall(r'<option (?:selected )?value="(\w+)">([^<]+)</option>', page.split('id="status"')[1].split("</select>")[0]))
    assert options["submitted"] == "Awaiting review"
    assert options["correction"] == "Correction awaiting review"
    assert {"changes_requested", "approved", "rejected", "withdrawn", "unpublished", "duplicate"} <= set(options)
    assert "draft" not in options


def test_queue_bad_filter_shows_error_and_everything_waiting(moderator):
    response = moderator.get("/moderation/", query_string={"status": "frobnicated", "per_page": "50"})

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "The filters could not be applied" in page
    assert "Choose a status from the list." in page
    assert "7 statements: waiting for review (new and corrections), oldest first" in page
    assert len(queue_titles(page)) == 5  # the default page size: no filter is applied


def test_queue_pagination_keeps_filters(moderator):
    first = moderator.get("/moderation/", query_string={"status": "submitted"}).get_data(as_text=True)

    assert len(queue_titles(first)) == 5  # PORTAL_PAGE_SIZE in the tests
    assert '<a href="/moderation/?page=2&amp;status=submitted" rel="next">Next page</a>' in first
    second = moderator.get("/moderation/?page=2&status=submitted").get_data(as_text=True)
    assert queue_titles(second) == ["IOM, the latest"]


def test_select_all_ticks_every_item_of_the_page(moderator):
    page = moderator.get("/moderation/?select=all&status=submitted").get_data(as_text=True)

    assert page.count(' checked>') == 5
    assert "Clear the selection" in page


def test_queue_is_for_moderators_only(app, catalogue):
    submitter = signed_in(app, SUBMITTER)
    assert submitter.get("/moderation/").status_code == 403
    anonymous = app.test_client()
    response = anonymous.get("/moderation/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/sign-in")
    admin = signed_in(app, ADMIN)
    assert "<h1>Review queue</h1>" in admin.get("/moderation/").get_data(as_text=True)


# --- claims -------------------------------------------------------------------------------------


@pytest.fixture
def one(app) -> str:
    """The cast and one statement awaiting review; returns its reference."""
    with app.app_context():
        people = make_people()
        s = factories.make_statement(people["submitter"], title="Statement on detention")
        db.session.commit()
        return s.public_id


def _claim(client, ref, action="claim"):
    page = client.get(f"/moderation/{ref}").get_data(as_text=True)
    return client.post(f"/moderation/{ref}/{action}", data={"csrf_token": csrf(page)})


@pytest.mark.parametrize("app_config", [{"PORTAL_CLAIM_MINUTES": 45}])
def test_claim_holds_the_item_for_the_configured_time_and_others_see_who(app, one):
    first, second = signed_in(app, MODERATOR), signed_in(app, MODERATOR_2)
    before = utcnow()

    response = _claim(first, one)

    assert response.status_code == 302 and response.headers["Location"] == f"/moderation/{one}"
    with app.app_context():
        stored = row(one)
        holder = user(MODERATOR)
        assert stored["claimed_by_id"] == holder.id
        until = statement(one).claimed_until
        assert before + timedelta(minutes=45) <= until <= utcnow() + timedelta(minutes=45)
        [event] = events(one, ("claim",))
        assert (event.actor_label, event.data) == (MODERATOR, {"until": until.isoformat()})
    hhmm = f"{until:%H:%M}"
    own = first.get(f"/moderation/{one}").get_data(as_text=True)
    assert f"You are reviewing this statement until {hhmm} UTC." in flashes(own, "success")
    assert f"Claimed by you until {hhmm} UTC." in text(own)
    assert "Release my claim" in own and 'action="/moderation/' + one + '/approve"' in own

    queue = second.get("/moderation/").get_data(as_text=True)
    assert f"Claimed by Mod until {hhmm} UTC" in text(queue)
    review = second.get(f"/moderation/{one}").get_data(as_text=True)
    assert f"Claimed by Mod until {hhmm} UTC." in text(review)
    assert f"Mod is reviewing this statement: decisions are theirs until {hhmm} UTC." in text(review)
    assert f'action="/moderation/{one}/approve"' not in review  # no decision forms for the others
    assert "Claim this statement" not in review


def test_decision_by_another_moderator_on_claimed_item_is_refused(app, one):
    first, second = signed_in(app, MODERATOR), signed_in(app, MODERATOR_2)
    stale = second.get(f"/moderation/{one}").get_data(as_text=True)  # opened before the claim
    _claim(first, one)
    with app.app_context():
        until = statement(one).claimed_until
        audit_before = len(events())

    for action, fields in [("approve", {}), ("reject", {"note": REASON})]:
        response = second.post(f"/moderation/{one}/{action}", data=decision_data(stale, action, **fields))

        assert response.status_code == 302 and response.headers["Location"] == f"/moderation/{one}"
        page = second.get(f"/moderation/{one}").get_data(as_text=True)
        assert flashes(page, "error") == [
            f"Mod is reviewing this statement (claimed until {until:%H:%M} UTC). Nothing was changed."
        ]
    with app.app_context():
        stored = row(one)
        assert (stored["status"], stored["decided_by_id"]) == ("submitted", None)
        assert len(events()) == audit_before
    # The holder decides.
    own = first.get(f"/moderation/{one}").get_data(as_text=True)
    response = first.post(f"/moderation/{one}/approve", data=decision_data(own, "approve"))
    assert response.headers["Location"] == "/moderation/"
    with app.app_context():
        stored = row(one)
        assert (stored["status"], stored["claimed_by_id"], stored["claimed_until"]) == ("approved", None, None)


def test_workflow_apply_refuses_other_moderators_while_claimed(app, one):
    """The same refusal below the web layer: workflow.apply itself says who holds the claim."""
    first = signed_in(app, MODERATOR)
    _claim(first, one)
    with app.app_context():
        item = statement(one)
        with pytest.raises(ConflictError) as refused:
            workflow.apply(item, "approve", actor=user(MODERATOR_2), expected_version=item.version)
        assert refused.value.message == (
            f"Mod is reviewing this statement (claimed until {item.claimed_until:%H:%M} UTC). Nothing was changed."
        )
        db.session.rollback()


def test_second_claim_is_refused_while_the_first_runs(app, one):
    first, second = signed_in(app, MODERATOR), signed_in(app, MODERATOR_2)
    _claim(first, one)
    page = second.get(f"/moderation/{one}").get_data(as_text=True)

    response = second.post(f"/moderation/{one}/claim", data={"csrf_token": csrf(page)})

    assert response.headers["Location"] == f"/moderation/{one}"
    [message] = flashes(second.get(f"/moderation/{one}").get_data(as_text=True), "error")
    assert message.startswith("Mod is reviewing this statement (claimed until ") and message.endswith(
        "You cannot claim it until then."
    )
    with app.app_context():
        assert row(one)["claimed_by_id"] == user(MODERATOR).id
        assert [e.actor_label for e in events(one, ("claim",))] == [MODERATOR]


def test_expired_claim_lets_others_decide_and_claim(app, one):
    first, second = signed_in(app, MODERATOR), signed_in(app, MODERATOR_2)
    _claim(first, one)
    with app.app_context():  # the claim's time passes
        db.session.execute(
            sa.update(Statement).where(Statement.public_id == one).values(claimed_until=utcnow() - timedelta(minutes=1))
        )
        db.session.commit()

    queue = second.get("/moderation/").get_data(as_text=True)
    assert "Claimed by" not in text(queue)
    response = _claim(second, one)
    assert response.headers["Location"] == f"/moderation/{one}"
    with app.app_context():
        assert row(one)["claimed_by_id"] == user(MODERATOR_2).id
        assert events(one, ("claim",))[-1].data["expired_claim_of"] == MODERATOR
    page = second.get(f"/moderation/{one}").get_data(as_text=True)
    response = second.post(f"/moderation/{one}/reject", data=decision_data(page, "reject", note=REASON))
    assert response.headers["Location"] == "/moderation/"
    with app.app_context():
        stored = row(one)
        assert (stored["status"], stored["decided_by_id"], stored["claimed_by_id"]) == ("rejected", user(MODERATOR_2).id, None)


def test_release_ends_the_claim_and_only_the_holder_can(app, one):
    first, second = signed_in(app, MODERATOR), signed_in(app, MODERATOR_2)
    _claim(first, one)

    refused = _claim(second, one, "release")
    assert refused.headers["Location"] == f"/moderation/{one}"
    assert flashes(second.get(f"/moderation/{one}").get_data(as_text=True), "error") == [
        "You hold no claim on this statement. Nothing was changed."
    ]
    with app.app_context():
        assert row(one)["claimed_by_id"] == user(MODERATOR).id

    released = _claim(first, one, "release")

    assert released.headers["Location"] == f"/moderation/{one}"
    page = first.get(f"/moderation/{one}").get_data(as_text=True)
    assert flashes(page, "success") == ["You released your claim: other moderators can decide it."]
    assert "Not claimed." in page
    with app.app_context():
        stored = row(one)
        assert (stored["claimed_by_id"], stored["claimed_until"]) == (None, None)
        assert [(e.action, e.actor_label) for e in events(one, ("claim", "release"))] == [
            ("claim", MODERATOR),
            ("release", MODERATOR),
        ]
    assert f'action="/moderation/{one}/approve"' in second.get(f"/moderation/{one}").get_data(as_text=True)


def test_claims_need_a_waiting_item_a_token_and_a_moderator(app, one):
    with app.app_context():
        published = factories.make_statement(user(SUBMITTER), title="Published", status=S.APPROVED, moderator=user(MODERATOR))
        db.session.commit()
        published_ref = published.public_id
    moderator = signed_in(app, MODERATOR)

    response = _claim(moderator, published_ref)
    assert response.headers["Location"] == f"/moderation/{published_ref}"
    assert flashes(moderator.get(f"/moderation/{published_ref}").get_data(as_text=True), "error") == [
        "Only statements awaiting review can be claimed; this one is published."
    ]
    assert moderator.post(f"/moderation/{one}/claim", data={}).status_code == 400
    submitter = signed_in(app, SUBMITTER)
    token = csrf_from(submitter.get("/my/submissions").get_data(as_text=True))
    assert submitter.post(f"/moderation/{one}/claim", data={"csrf_token": token}).status_code == 403
    own_token = csrf(moderator.get(f"/moderation/{one}").get_data(as_text=True))
    assert moderator.post("/moderation/ST-ZZZZ-ZZZZ/claim", data={"csrf_token": own_token}).status_code == 404
    with app.app_context():
        assert row(one)["claimed_by_id"] is None
        assert events(one, ("claim",)) == []


# --- bulk decisions ------------------------------------------------------------------------------


@pytest.fixture
def several(app) -> list[str]:
    """The cast and four statements awaiting review; returns their references, oldest first."""
    with app.app_context():
        people = make_people()
        refs = [factories.make_statement(people["submitter"], title=f"Statement {n} on detention").public_id for n in range(1, 5)]
        db.session.commit()
        return refs


def test_bulk_approve_decides_each_selected_item(app, several):
    moderator = signed_in(app, MODERATOR)
    queue = moderator.get("/moderation/").get_data(as_text=True)
    chosen = several[:3]

    response = bulk(moderator, queue, chosen, "approve")

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<h1>Bulk decision: 3 approved, 0 not changed</h1>" in page
    assert flashes(page, "success") == ["3 statements approved."]
    assert result_rows(page, "done") == [(ref, "Approved and published") for ref in chosen]
    with app.app_context():
        for ref in chosen:
            stored = row(ref)
            assert (stored["status"], stored["decided_by_id"], stored["version"]) == ("approved", user(MODERATOR).id, 2)
            assert stored["published_at"] is not None
            assert [(e.action, e.old_status, e.new_status, e.actor_label) for e in events(ref, ("approve",))] == [
                ("approve", "submitted", "approved", MODERATOR)
            ]
        assert row(several[3])["status"] == "submitted"


def test_bulk_reject_with_a_saved_reason(app, several):
    with app.app_context():
        template = ReasonTemplate(action="reject", label="Wrong session", text=REASON)
        db.session.add(template)
        db.session.commit()
        template_id = str(template.id)
    moderator = signed_in(app, MODERATOR)
    queue = moderator.get("/moderation/").get_data(as_text=True)
    assert f'<option value="{template_id}">Wrong session</option>' in queue

    response = bulk(moderator, queue, several[:2], "reject", template_id=template_id)

    page = response.get_data(as_text=True)
    assert "<h1>Bulk decision: 2 rejected, 0 not changed</h1>" in page
    with app.app_context():
        for ref in several[:2]:
            assert (row(ref)["status"], row(ref)["decision_note"]) == ("rejected", REASON)
            assert [e.note for e in events(ref, ("reject",))] == [REASON]


def test_bulk_reject_without_reason_changes_nothing(app, several):
    moderator = signed_in(app, MODERATOR)
    queue = moderator.get("/moderation/").get_data(as_text=True)
    with app.app_context():
        audit_before = len(events())

    response = bulk(moderator, queue, several[:2], "reject", note="   ")

    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "A reason is required to reject: write one or choose a saved reason." in page
    assert page.count(" checked>") == 2  # the selection is kept
    with app.app_context():
        assert [row(ref)["status"] for ref in several] == ["submitted"] * 4
        assert len(events()) == audit_before


def test_bulk_needs_a_selection_and_a_token(app, several):
    moderator = signed_in(app, MODERATOR)
    queue = moderator.get("/moderation/").get_data(as_text=True)

    nothing = bulk(moderator, queue, [], "approve")
    assert nothing.status_code == 400 and "Tick at least one statement." in nothing.get_data(as_text=True)
    no_token = moderator.post("/moderation/bulk", data={"items": [checkbox_values(queue)[several[0]]], "approve": "Approve selected"})
    assert no_token.status_code == 400
    with app.app_context():
        assert [row(ref)["status"] for ref in several] == ["submitted"] * 4


def test_bulk_mixed_batch_reports_failures_by_reference_and_decides_the_rest(app, several):
    """Of five ticked items, one was decided by someone else after the queue was loaded, one is
    claimed by another moderator, one is a correction: the others are approved, the correction
    is approved as a correction, and the two refusals are reported."""
    with app.app_context():
        corrected = factories.make_statement(user(SUBMITTER), title="Published, corrected", status=S.APPROVED, moderator=user(MODERATOR_2))
        correct(corrected, user(SUBMITTER))
        db.session.commit()
        corrected_ref = corrected.public_id
    fine, changed, claimed, also_fine = several
    moderator, other = signed_in(app, MODERATOR), signed_in(app, MODERATOR_2)
    queue = moderator.get("/moderation/").get_data(as_text=True)
    # Meanwhile the other moderator rejects one item and claims another.
    page = other.get(f"/moderation/{changed}").get_data(as_text=True)
    other.post(f"/moderation/{changed}/reject", data=decision_data(page, "reject", note=REASON))
    _claim(other, claimed)
    with app.app_context():
        until = statement(claimed).claimed_until

    response = bulk(moderator, queue, [fine, changed, claimed, corrected_ref, also_fine], "approve", note="Checked at the session.")

    page = response.get_data(as_text=True)
    assert "<h1>Bulk decision: 3 approved, 2 not changed</h1>" in page
    assert result_rows(page, "not-changed") == [
        (changed, "This statement changed after you opened it (it is now rejected). Nothing was changed; please review it again."),
        (claimed, f"Second Moderator is reviewing this statement (claimed until {until:%H:%M} UTC). Nothing was changed."),
    ]
    assert result_rows(page, "done") == [
        (fine, "Approved and published"),
        (corrected_ref, "Correction approved and published"),
        (also_fine, "Approved and published"),
    ]
    assert flashes(page, "error") == ["2 statements not changed: see below."]
    with app.app_context():
        assert {ref: row(ref)["status"] for ref in several} == {
            fine: "approved",
            changed: "rejected",
            claimed: "submitted",
            also_fine: "approved",
        }
        assert row(changed)["decided_by_id"] == user(MODERATOR_2).id
        assert row(claimed)["claimed_by_id"] == user(MODERATOR_2).id
        assert statement(corrected_ref).pending_correction is None
        assert statement(corrected_ref).corrected_at is not None
        assert [(e.action, e.note) for e in events(corrected_ref, ("approve_correction",))] == [
            ("approve_correction", "Checked at the session.")
        ]
        assert [e.actor_label for e in events(changed, tuple(workflow.TRANSITIONS))][-1] == MODERATOR_2
        assert events(claimed, tuple(workflow.TRANSITIONS))[-1].action == "submit"


@pytest.mark.postgres_only
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_bulk_waits_for_a_row_lock_then_reports_the_item_changed(app, several):
    """While another transaction holds one item's row lock and decides it, the bulk request waits
    on that item, then finds it decided and reports it; the other items are approved."""
    first, locked, last = several[0], several[1], several[2]
    moderator = signed_in(app, MODERATOR)
    queue = moderator.get("/moderation/").get_data(as_text=True)
    with app.app_context():
        engine = db.engine
    responses: dict[str, Any] = {}
    failures: list[BaseException] = []

    def run_bulk() -> None:
        try:
            responses["bulk"] = bulk(moderator, queue, [first, locked, last], "approve")
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    with app.app_context():  # the other moderator's transaction
        item = db.session.scalar(sa.select(Statement).where(Statement.public_id == locked).with_for_update())
        workflow.apply(item, "reject", actor=user(MODERATOR_2), note=REASON)
        thread = threading.Thread(target=run_bulk)
        thread.start()
        deadline, waiting = time.monotonic() + 10, 0
        while time.monotonic() < deadline and not failures:
            with engine.connect() as probe:
                waiting = probe.scalar(
                    sa.text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock' AND query ILIKE '%FOR UPDATE%'"
                    )
                )
            if waiting:
                break
            time.sleep(0.02)
        db.session.commit()
    thread.join(timeout=20)
    assert not failures, failures
    assert waiting == 1, "the bulk request should have waited for the row lock"

    page = responses["bulk"].get_data(as_text=True)
    assert result_rows(page, "not-changed") == [
        (locked, "This statement changed after you opened it (it is now rejected). Nothing was changed; please review it again.")
    ]
    assert [ref for ref, _ in result_rows(page, "done")] == [first, last]
    with app.app_context():
        assert [row(ref)["status"] for ref in (first, locked, last)] == ["approved", "rejected", "approved"]
        assert [e.actor_label for e in events(locked, ("approve", "reject"))] == [MODERATOR_2]


# --- saved reasons -------------------------------------------------------------------------------


def test_saved_reasons_add_use_and_delete(app, one):
    moderator = signed_in(app, MODERATOR)
    page = moderator.get("/moderation/reasons").get_data(as_text=True)
    assert "No saved reasons yet." in page
    for name, label in [("action", "Action"), ("label", "Label"), ("text", "Text")]:
        assert f'<label for="{name}">{label}</label>' in page

    response = moderator.post(
        "/moderation/reasons",
        data={"csrf_token": csrf(page), "action": "reject", "label": " Wrong  session ", "text": f"  {REASON} "},
    )

    assert response.status_code == 302 and response.headers["Location"] == "/moderation/reasons"
    listing = moderator.get("/moderation/reasons").get_data(as_text=True)
    assert flashes(listing, "success") == ["Saved the reason “Wrong session”."]
    assert f"<td>Reject</td>\n            <td>Wrong session</td>\n            <td>{REASON}</td>" in listing
    with app.app_context():
        template = db.session.scalar(sa.select(ReasonTemplate))
        assert (template.action, template.label, template.text, template.created_by_id) == ("reject", "Wrong session", REASON, user(MODERATOR).id)
        [event] = events(actions=("reason_template.create",))
        assert (event.actor_label, event.object_type, event.data) == (MODERATOR, "reason_templates", {"action": "reject", "label": "Wrong session"})
        template_id = template.id

    # Offered on the review page, and used when the reason box is left empty.
    review = moderator.get(f"/moderation/{one}").get_data(as_text=True)
    assert f'<option value="{template_id}">Wrong session</option>' in review
    response = moderator.post(f"/moderation/{one}/reject", data=decision_data(review, "reject", note="", template_id=str(template_id)))
    assert response.headers["Location"] == "/moderation/"
    with app.app_context():
        assert (row(one)["status"], row(one)["decision_note"]) == ("rejected", REASON)

    # The same label twice for one action is refused, with the input kept.
    page = moderator.get("/moderation/reasons").get_data(as_text=True)
    again = moderator.post(
        "/moderation/reasons", data={"csrf_token": csrf(page), "action": "reject", "label": "wrong session", "text": "Another text"}
    )
    assert again.status_code == 400
    assert "There is already a saved reason “wrong session” for “Reject”." in again.get_data(as_text=True)
    assert "Another text" in again.get_data(as_text=True)

    deleted = moderator.post(f"/moderation/reasons/{template_id}/delete", data={"csrf_token": csrf(page)})

    assert deleted.headers["Location"] == "/moderation/reasons"
    assert flashes(moderator.get("/moderation/reasons").get_data(as_text=True), "success") == ["Deleted the saved reason “Wrong session”."]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ReasonTemplate)) == 0
        assert [e.action for e in events(actions=("reason_template.create", "reason_template.delete"))] == [
            "reason_template.create",
            "reason_template.delete",
        ]
        assert row(one)["decision_note"] == REASON  # decisions keep their text


def test_saved_reasons_refuse_bad_input_and_non_moderators(app, one):
    moderator = signed_in(app, MODERATOR)
    page = moderator.get("/moderation/reasons").get_data(as_text=True)
    for data, message in [
        ({"action": "approve", "label": "x", "text": "y"}, "Choose the decision this reason is for from the list."),
        ({"action": "reject", "label": "", "text": "y"}, "Give the reason a short label."),
        ({"action": "reject", "label": "x", "text": ""}, "Write the text of the reason."),
    ]:
        response = moderator.post("/moderation/reasons", data={"csrf_token": csrf(page), **data})
        assert response.status_code == 400
        assert message in response.get_data(as_text=True)
    assert moderator.post("/moderation/reasons", data={"action": "reject", "label": "x", "text": "y"}).status_code == 400
    submitter = signed_in(app, SUBMITTER)
    assert submitter.get("/moderation/reasons").status_code == 403
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(ReasonTemplate)) == 0


# --- notification settings --------------------------------------------------------------------


def test_notification_settings_are_saved_and_audited(app, one):
    moderator = signed_in(app, MODERATOR)
    page = moderator.get("/moderation/settings").get_data(as_text=True)
    assert '<label for="notify_new_submissions">E-mail me about each new submission</label>' in page
    assert '<label for="daily_digest">Send me a daily digest</label>' in page
    assert 'value="Save settings"' in page

    response = moderator.post("/moderation/settings", data={"csrf_token": csrf(page), "daily_digest": "y"})

    assert response.status_code == 302 and response.headers["Location"] == "/moderation/settings"
    page = moderator.get("/moderation/settings").get_data(as_text=True)
    assert flashes(page, "success") == ["Your notification settings are saved."]
    assert '<input checked id="daily_digest" name="daily_digest" type="checkbox" value="y">' in page.replace(' aria-describedby="digest-hint"', "")
    with app.app_context():
        mod = user(MODERATOR)
        assert (mod.notify_new_submissions, mod.daily_digest) == (False, True)
        [event] = events(MODERATOR, ("user.notifications",))
        assert event.data == {
            "before": {"new_submissions": False, "daily_digest": False},
            "after": {"new_submissions": False, "daily_digest": True},
        }
    assert signed_in(app, SUBMITTER).get("/moderation/settings").status_code == 403
