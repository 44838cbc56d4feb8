"""E-mail about moderation, received by a real SMTP server: decisions to the submitter and the
organisation's focal points with the reason, in their language; new submissions to the
moderators who asked; the daily digest command."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal import workflow
from portal.enums import Language, StatementStatus
from portal.extensions import db
from portal.models import Statement, utcnow
from tests import factories
from tests.conftest import csrf_token
from tests.mailserver import html_of, link_in, smtp_server, text_of  # noqa: F401 - fixture
from tests.moderation_helpers import (
    ADMIN,
    MODERATOR,
    MODERATOR_2,
    REASON,
    SUBMITTER,
    bulk,
    correct,
    csrf,
    decision_data,
    make_people,
    signed_in,
    statement,
    submit,
    user,
)

S = StatementStatus
BASE_URL = "https://inputs.example.org"
FOCAL = "fatima@mexico.example"


@pytest.fixture
def app_config(smtp_server):
    _, port = smtp_server
    return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port, "MAIL_FROM": "Portal <portal@un.example>", "PORTAL_BASE_URL": BASE_URL}


@pytest.fixture
def inbox(smtp_server):
    return smtp_server[0]


@pytest.fixture
def cast(app) -> dict[str, str]:
    """The submitter writes in Spanish; Mexico's focal point in French; an inactive focal point and
    Switzerland's focal point must hear nothing. Two statements await review."""
    with app.app_context():
        people = make_people()
        people["submitter"].locale = Language.SPANISH
        focal = factories.make_user(FOCAL, org_code="MEX", name="Fatima")
        focal.is_focal_point, focal.locale = True, Language.FRENCH
        gone = factories.make_user("gone@mexico.example", org_code="MEX")
        gone.is_focal_point, gone.active = True, False
        swiss = factories.make_user("focal@switzerland.example", org_code="CHE")
        swiss.is_focal_point = True
        first = factories.make_statement(people["submitter"], title="Statement of Mexico on detention")
        second = factories.make_statement(people["submitter"], title="Statement of Mexico on human rights")
        db.session.commit()
        return {"first": first.public_id, "second": second.public_id}


def _by_recipient(messages) -> dict[str, object]:
    return {m["To"]: m for m in messages}


def test_rejection_reaches_submitter_and_focal_point_with_the_reason_in_their_language(app, inbox, cast):
    moderator = signed_in(app, MODERATOR)
    ref = cast["first"]
    page = moderator.get(f"/moderation/{ref}").get_data(as_text=True)

    response = moderator.post(f"/moderation/{ref}/reject", data=decision_data(page, "reject", note=REASON))

    assert response.headers["Location"] == "/moderation/"
    mails = _by_recipient(inbox.wait_for(2))
    assert sorted(mails) == [SUBMITTER, FOCAL]
    spanish, french = mails[SUBMITTER], mails[FOCAL]
    assert spanish["Subject"] == f"Su declaración {ref} no ha sido aceptada"
    assert f"Motivo: {REASON}" in text_of(spanish)
    assert "Estimado/a Ana:" in text_of(spanish)
    assert "punto focal" not in text_of(spanish)
    assert link_in(spanish, f"/statements/{ref}") == f"/statements/{ref}"
    assert REASON in html_of(spanish)
    assert french["Subject"] == f"Votre déclaration {ref} n'a pas été acceptée"
    assert f"Motif : {REASON}" in text_of(french)
    assert "en tant que point focal de Mexico ; la déclaration a été soumise par Ana" in text_of(french)
    assert french["From"] == "Portal <portal@un.example>"
    assert len(inbox.messages) == 2  # not the inactive focal point, not another organisation's


def test_changes_requested_and_approval_with_embargo_are_mailed(app, inbox, cast):
    moderator = signed_in(app, MODERATOR)
    first, second = cast["first"], cast["second"]
    page = moderator.get(f"/moderation/{first}").get_data(as_text=True)
    moderator.post(f"/moderation/{first}/request_changes", data=decision_data(page, "request_changes", note="Please add the date delivered."))
    mails = _by_recipient(inbox.wait_for(2))
    assert mails[SUBMITTER]["Subject"] == f"Cambios solicitados en su declaración {first}"
    assert "Mensaje de la secretaría: Please add the date delivered." in text_of(mails[SUBMITTER])
    assert "Message du secrétariat : Please add the date delivered." in text_of(mails[FOCAL])
    inbox.clear()

    when = (utcnow() + timedelta(days=2)).replace(second=0, microsecond=0)
    page = moderator.get(f"/moderation/{second}").get_data(as_text=True)
    moderator.post(f"/moderation/{second}/approve", data=decision_data(page, "approve", publish_at=f"{when:%Y-%m-%dT%H:%M}"))

    mails = _by_recipient(inbox.wait_for(2))
    assert mails[SUBMITTER]["Subject"] == f"Su declaración {second} ha sido aprobada"
    assert f"Se publicará el {when.day} {when:%B %Y, %H:%M} UTC" in text_of(mails[SUBMITTER])
    assert f"Elle sera publiée le {when.day} {when:%B %Y, %H:%M} UTC" in text_of(mails[FOCAL])


def test_a_decision_without_its_own_translation_falls_back_to_english(app, inbox, cast):
    with app.app_context():
        original = factories.make_statement(user(SUBMITTER), title="The original", status=S.APPROVED, moderator=user(MODERATOR))
        db.session.commit()
        original_ref = original.public_id
    moderator = signed_in(app, MODERATOR)
    ref = cast["first"]
    page = moderator.get(f"/moderation/{ref}").get_data(as_text=True)

    moderator.post(f"/moderation/{ref}/mark_duplicate", data=decision_data(page, "mark_duplicate", duplicate_of=original_ref))

    mails = _by_recipient(inbox.wait_for(2))
    assert mails[SUBMITTER]["Subject"] == f"Your statement {ref} was recorded as a duplicate"
    assert f"as a duplicate of {original_ref} (“The original”)" in text_of(mails[SUBMITTER])


def test_bulk_decisions_mail_each_item_and_refused_items_send_nothing(app, inbox, cast):
    moderator, other = signed_in(app, MODERATOR), signed_in(app, MODERATOR_2)
    queue = moderator.get("/moderation/").get_data(as_text=True)
    page = other.get(f"/moderation/{cast['second']}").get_data(as_text=True)
    other.post(f"/moderation/{cast['second']}/claim", data={"csrf_token": csrf(page)})

    response = bulk(moderator, queue, [cast["first"], cast["second"]], "reject", note=REASON)

    assert "<h1>Bulk decision: 1 rejected, 1 not changed</h1>" in response.get_data(as_text=True)
    messages = inbox.wait_for(2)
    assert sorted(m["To"] for m in messages) == [SUBMITTER, FOCAL]
    assert all(cast["first"] in m["Subject"] for m in messages)
    assert all(REASON in text_of(m) for m in messages)


def test_a_refused_decision_sends_nothing(app, inbox, cast):
    moderator = signed_in(app, MODERATOR)
    ref = cast["first"]
    page = moderator.get(f"/moderation/{ref}").get_data(as_text=True)
    moderator.post(f"/moderation/{ref}/approve", data=decision_data(page, "approve"))
    inbox.wait_for(2)
    inbox.clear()

    again = moderator.post(f"/moderation/{ref}/reject", data=decision_data(page, "reject", note=REASON))  # a stale page

    assert again.headers["Location"] == f"/moderation/{ref}"
    # A later decision's mail arrives alone: nothing was queued by the refused one.
    page = moderator.get(f"/moderation/{cast['second']}").get_data(as_text=True)
    moderator.post(f"/moderation/{cast['second']}/approve", data=decision_data(page, "approve"))
    messages = inbox.wait_for(2)
    assert len(messages) == 2 and all(cast["second"] in m["Subject"] for m in messages)


# --- new submissions -----------------------------------------------------------------------------


def _opt_in(app, email: str, **choices: str) -> None:
    client = signed_in(app, email)
    page = client.get("/moderation/settings").get_data(as_text=True)
    client.post("/moderation/settings", data={"csrf_token": csrf(page), **choices})


def test_moderators_who_asked_hear_of_each_new_submission(app, inbox, cast):
    _opt_in(app, MODERATOR, notify_new_submissions="y")
    _opt_in(app, ADMIN, daily_digest="y")  # the digest only: no mail on each submission
    submitter = signed_in(app, SUBMITTER)
    with app.app_context():
        ids = {"session": factories.session_by_number(1).id, "area": factories.area(1, "d").id}
    title = "Statement of Mexico on social inclusion"

    response = submitter.post(
        "/submit",
        data={
            "csrf_token": csrf_token(submitter, "/submit"),
            "title": title,
            "session_id": str(ids["session"]),
            "area_ids": [str(ids["area"])],
            "panel_id": "0",
            "kind": "delivered",
            "language": "es",
            "delivered_on": "2017-05-08",
            "document": (io.BytesIO(factories.pdf_bytes(title)), "statement.pdf"),
        },
        content_type="multipart/form-data",
    )

    assert response.status_code == 302
    [message] = inbox.wait_for(1)
    with app.app_context():
        ref = db.session.scalar(sa.select(Statement.public_id).where(Statement.title == title))
    assert message["To"] == MODERATOR
    assert message["Subject"] == f"New statement awaiting review: {ref}"
    assert f"Mexico submitted a statement “{title}” ({ref}), Session 1: Human rights of all migrants." in text_of(message)
    assert link_in(message, "/moderation/") == f"/moderation/{ref}"


def test_corrections_and_submitted_drafts_are_announced_too(app, inbox, cast):
    with app.app_context():
        published = factories.make_statement(user(SUBMITTER), title="Published", status=S.APPROVED, moderator=user(MODERATOR))
        user(MODERATOR).notify_new_submissions = True
        draft = factories.make_statement(user(SUBMITTER), title="A draft", status=S.DRAFT)
        db.session.commit()
        assert inbox.messages == []  # saving a draft announces nothing

        correct(published, user(SUBMITTER))
        db.session.commit()
        [correction] = inbox.wait_for(1)
        assert correction["Subject"] == f"Correction awaiting review: {published.public_id}"
        assert "Mexico sent a correction to its published statement “Published”" in text_of(correction)
        # Outside a request, links are built on PORTAL_BASE_URL.
        assert f"{BASE_URL}/moderation/{published.public_id}" in text_of(correction)

        workflow.apply(statement(draft.public_id), "submit", actor=user(SUBMITTER))
        db.session.commit()
        messages = inbox.wait_for(2)
        assert messages[1]["Subject"] == f"New statement awaiting review: {draft.public_id}"


def test_nothing_is_announced_when_the_submission_rolls_back(app, inbox, cast):
    with app.app_context():
        user(MODERATOR).notify_new_submissions = True
        db.session.commit()
        submit(user(SUBMITTER), "Never committed")
        db.session.rollback()
        factories.make_statement(user(SUBMITTER), title="Committed")
        db.session.commit()
    [message] = inbox.wait_for(1)
    assert "Committed" in text_of(message)


# --- the daily digest ---------------------------------------------------------------------------


def test_digest_command_mails_each_moderator_who_asked_a_summary(app, inbox, cast, runner):
    with app.app_context():
        user(MODERATOR).daily_digest = True
        user(ADMIN).daily_digest = True
        old = statement(cast["first"])
        old.submitted_at = utcnow() - timedelta(days=2, hours=3)
        published = factories.make_statement(user(SUBMITTER), title="Published, corrected", status=S.APPROVED, moderator=user(MODERATOR))
        correct(published, user(SUBMITTER))
        submit(user(SUBMITTER), "Mexico on poverty", session_number=2, area_code="a")
        db.session.commit()
        old_ref, corrected_ref = old.public_id, published.public_id

    result = runner.invoke(args=["digest"])

    assert result.exit_code == 0, result.output
    assert result.output.strip() == "Digest sent to 2 moderators: 3 awaiting review, 1 correction, 3 new in the last 24 hours."
    messages = _by_recipient(inbox.wait_for(2))
    assert sorted(messages) == [ADMIN, MODERATOR]
    body = text_of(messages[MODERATOR])
    assert messages[MODERATOR]["Subject"] == "Review queue: 4 items waiting"
    assert "3 statements awaiting review and 1 correction awaiting review." in body
    assert f"The oldest has waited 2 days, 3 hours: “Statement of Mexico on detention” ({old_ref})" in body
    assert f"{BASE_URL}/moderation/{old_ref}" in body
    assert "- Session 1: Human rights of all migrants: 2 awaiting review, 1 correction" in body
    assert "- Session 2: Drivers of migration: 1 awaiting review, 0 corrections" in body
    assert "and still waiting (3):" in body
    assert f"- {corrected_ref} (correction): “Published, corrected”, Mexico," in body
    assert old_ref + ":" not in body.split("still waiting")[1]  # waiting for two days: not new
    assert f"The review queue: {BASE_URL}/moderation/" in body
    assert f"{BASE_URL}/moderation/settings" in body
    assert "Dear Admin," in text_of(messages[ADMIN])


def test_digest_command_with_nobody_asking_or_nothing_waiting_sends_nothing(app, inbox, cast, runner):
    result = runner.invoke(args=["digest"])
    assert (result.exit_code, result.output.strip()) == (0, "No moderator asked for the daily digest: nothing sent.")

    with app.app_context():
        user(MODERATOR).daily_digest = True
        for ref in cast.values():
            workflow.apply(statement(ref), "approve", actor=user(MODERATOR_2))
        db.session.commit()
    result = runner.invoke(args=["digest"])
    assert (result.exit_code, result.output.strip()) == (0, "Nothing is waiting for review: no digest sent.")
    assert inbox.messages == []


def test_digest_command_fails_when_mail_cannot_be_sent(app, cast, runner, smtp_server):
    with app.app_context():
        user(MODERATOR).daily_digest = True
        db.session.commit()
    app.config["MAIL_PORT"] = 1  # nothing listens there

    result = runner.invoke(args=["digest"])

    assert result.exit_code == 1
    assert "Digest sent to 0 moderators" in result.output
    assert f"Could not send the digest to: {MODERATOR}" in result.output
