"""The moderation workflow: the transition table, its web pages, concurrent decisions, the audit trail.

Every (status, action, role) goes through workflow.apply directly; the web tests then
drive the same moves through the review page with CSRF on, and the concurrency
tests make two moderators decide the same statement at the same moment.
"""

from __future__ import annotations

import html as html_lib
import re
import threading
import time
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from portal import workflow
from portal.enums import Role, StatementStatus
from portal.exceptions import ConflictError, PermissionDenied, WorkflowError
from portal.extensions import db
from portal.models import AuditEvent, Statement, User, utcnow
from tests import factories
from tests.conftest import csrf_token, login

S = StatementStatus

# The agreed policy, written out by hand so that the table in portal.workflow cannot drift silently.
EXPECTED_ALLOWED = {
    (S.SUBMITTED, "approve", Role.MODERATOR),
    (S.SUBMITTED, "approve", Role.ADMIN),
    (S.SUBMITTED, "reject", Role.MODERATOR),
    (S.SUBMITTED, "reject", Role.ADMIN),
}
EXPECTED_TARGETS = {"approve": S.APPROVED, "reject": S.REJECTED}

REASON = "Not a statement to this session: please submit it to the session on detention."
ACTOR_EMAILS = {
    Role.SUBMITTER: "ana@mexico.example",  # the author's own organisation: still may not decide
    Role.MODERATOR: "mod@un.example",
    Role.ADMIN: "admin@un.example",
}
DECISIONS = tuple(workflow.TRANSITIONS)


# --- helpers ---------------------------------------------------------------------------


def _user(email: str) -> User:
    return db.session.scalar(sa.select(User).where(User.email == email))


def _statement(public_id: str) -> Statement:
    return db.session.scalar(sa.select(Statement).where(Statement.public_id == public_id))


def _row(public_id: str) -> dict[str, Any]:
    """The statement's row as stored, read with a fresh query (not from the identity map)."""
    table = Statement.__table__
    return dict(db.session.execute(sa.select(table).where(table.c.public_id == public_id)).mappings().one())


def _audit_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))


def _decision_events(statement_id: int) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            sa.select(AuditEvent)
            .where(
                AuditEvent.object_type == "statements",
                AuditEvent.object_id == statement_id,
                AuditEvent.action.in_(DECISIONS),
            )
            .order_by(AuditEvent.id)
        )
    )


def _arrange(app: Flask, status: StatementStatus = S.SUBMITTED) -> tuple[str, int]:
    """The cast of people and one statement in `status`; returns (public_id, id)."""
    return _arrange_many(app, [status])[0]


def _arrange_many(app: Flask, statuses: list[StatementStatus]) -> list[tuple[str, int]]:
    """The cast of people and one statement per entry of `statuses`; returns their (public_id, id)."""
    with app.app_context():
        people = factories.make_people()
        statements = [
            factories.make_statement(
                people["submitter"], status=status, moderator=people["moderator"], title=f"Statement {n} on detention"
            )
            for n, status in enumerate(statuses, start=1)
        ]
        db.session.commit()
        return [(s.public_id, s.id) for s in statements]


def _hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{re.escape(name)}" type="hidden" value="([^"]*)"', page)
    assert match, f"no hidden field {name!r} in the page"
    return match.group(1)


def _decision_data(page: str, action: str, *, note: str | None = None, version: str | None = None) -> dict[str, str]:
    data = {
        f"{action}-csrf_token": _hidden(page, f"{action}-csrf_token"),
        f"{action}-version": version if version is not None else _hidden(page, f"{action}-version"),
    }
    if note is not None:
        data[f"{action}-note"] = note
    return data


def _signed_in(app: Flask, email: str) -> FlaskClient:
    client = app.test_client()
    login(client, email)
    return client


def _forms_on(page: str, public_id: str) -> list[str]:
    return re.findall(rf'<form method="post" action="/moderation/{re.escape(public_id)}/(\w+)"', page)


def _buttons_on(page: str) -> list[str]:
    return re.findall(
        r'<input class="button [^"]*" id="\w+-submit" name="\w+-submit" type="submit" value="([^"]+)"', page
    )


def _flashes(page: str, category: str) -> list[str]:
    return [
        html_lib.unescape(m)
        for m in re.findall(rf'<p class="flash flash-{category}" role="\w+">(.*?)</p>', page, flags=re.S)
    ]


# --- the table itself ----------------------------------------------------------------------


def test_transitions_table_matches_agreed_policy():
    derived = {
        (status, action, role)
        for action, transition in workflow.TRANSITIONS.items()
        for status in transition.source
        for role in transition.roles
    }
    assert derived == EXPECTED_ALLOWED
    assert {action: t.target for action, t in workflow.TRANSITIONS.items()} == EXPECTED_TARGETS
    assert {action for action, t in workflow.TRANSITIONS.items() if t.note_required} == {"reject"}
    assert workflow.TRANSITIONS["reject"].note_label == "Reason"


@pytest.mark.parametrize("active", [True, False], ids=["active", "inactive"])
@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
@pytest.mark.parametrize("status", list(StatementStatus), ids=lambda s: s.value)
def test_allowed_actions_per_status_and_role(status, role, active):
    statement = Statement(status=status)
    actor = User(email="someone@example.org", role=role, active=active)
    expected = [a for a in workflow.TRANSITIONS if active and (status, a, role) in EXPECTED_ALLOWED]
    assert workflow.allowed_actions(statement, actor) == expected


# --- workflow.apply, every status x action x role ----------------------------------------------


def _check_apply_case(
    app: Flask, status: StatementStatus, action: str, role: Role, public_id: str, statement_id: int
) -> None:
    """apply() on a statement in `status` by `role`: the move and its audit row, or a refusal that changes nothing."""
    transition = workflow.TRANSITIONS[action]
    allowed = status in transition.source and role in transition.roles
    assert allowed == ((status, action, role) in EXPECTED_ALLOWED)
    # Always give a reason, so a refusal can only come from the state or the role.
    note = REASON if transition.note_required else ""

    with app.app_context():
        statement = _statement(public_id)
        assert statement.status is status
        actor = _user(ACTOR_EMAILS[role])
        actor_id = actor.id
        before = _row(public_id)
        audit_before = _audit_count()
        assert (action in workflow.allowed_actions(statement, actor)) is allowed

        if allowed:
            started = utcnow()
            event = workflow.apply(statement, action, actor=actor, note=note)
            db.session.commit()
            finished = utcnow()
            event_id = event.id
        else:
            expected = PermissionDenied if role not in transition.roles else WorkflowError
            with pytest.raises((WorkflowError, PermissionDenied, ConflictError)) as info:
                workflow.apply(statement, action, actor=actor, note=note)
            assert type(info.value) is expected
            assert info.value.message
            db.session.rollback()
            assert _row(public_id) == before
            assert _audit_count() == audit_before

    with app.app_context():
        after = _row(public_id)
        if not allowed:
            assert after == before
            assert _audit_count() == audit_before
            return
        target = EXPECTED_TARGETS[action]
        assert after["status"] == target.value
        assert after["version"] == before["version"] + 1
        assert after["decided_by_id"] == actor_id
        statement = _statement(public_id)
        assert statement.status is target
        assert started <= statement.decided_at <= finished
        if target is S.APPROVED:
            assert statement.published_at == statement.decided_at
            assert statement.decision_note is None
        else:
            assert statement.published_at is None
            assert statement.decision_note == REASON
        # Everything else about the statement is as it was.
        changed = {"status", "version", "decided_by_id", "decided_at", "published_at", "decision_note", "updated_at"}
        assert {k: v for k, v in after.items() if k not in changed} == {
            k: v for k, v in before.items() if k not in changed
        }

        assert _audit_count() == audit_before + 1
        event = db.session.get(AuditEvent, event_id)
        assert (event.actor_id, event.actor_label) == (actor_id, ACTOR_EMAILS[role])
        assert (event.action, event.old_status, event.new_status) == (action, status.value, target.value)
        assert (event.object_type, event.object_id, event.object_ref) == ("statements", statement_id, public_id)
        assert event.note == note
        assert [e.id for e in _decision_events(statement_id)] == [event_id]


@pytest.mark.parametrize("status", list(StatementStatus), ids=lambda s: s.value)
def test_apply_matrix_moves_or_refuses_without_change(app, subtests, status):
    """Every action x role from `status`, each on its own statement (one app per status keeps this fast)."""
    cases = [(action, role) for action in workflow.TRANSITIONS for role in Role]
    statements = _arrange_many(app, [status] * len(cases))
    for (action, role), (public_id, statement_id) in zip(cases, statements):
        with subtests.test(status=status.value, action=action, role=role.value):
            _check_apply_case(app, status, action, role, public_id, statement_id)


def test_apply_unknown_action_or_inactive_moderator_is_refused(app):
    public_id, _ = _arrange(app)
    with app.app_context():
        before, audit_before = _row(public_id), _audit_count()
        with pytest.raises(WorkflowError):
            workflow.apply(_statement(public_id), "publish", actor=_user("admin@un.example"))
        db.session.rollback()
        _user("mod@un.example").active = False
        db.session.commit()
    with app.app_context():
        statement, moderator = _statement(public_id), _user("mod@un.example")
        assert workflow.allowed_actions(statement, moderator) == []
        for action in workflow.TRANSITIONS:
            with pytest.raises(PermissionDenied):
                workflow.apply(statement, action, actor=moderator, note=REASON)
            db.session.rollback()
    with app.app_context():
        assert _row(public_id) == before
        assert _audit_count() == audit_before


def test_reject_without_valid_reason_is_refused(app, subtests):
    public_id, _ = _arrange(app)
    notes = {
        "empty": "",
        "spaces": "   ",
        "whitespace": "\n\t  \r\n",
        "too-long": "x" * (workflow.MAX_NOTE_LENGTH + 1),
    }
    with app.app_context():
        before, audit_before = _row(public_id), _audit_count()
    for name, note in notes.items():
        with subtests.test(note=name):
            with app.app_context():
                with pytest.raises(WorkflowError) as info:
                    workflow.apply(_statement(public_id), "reject", actor=_user("mod@un.example"), note=note)
                assert info.value.field == "note"
                if name == "too-long":
                    assert f"at most {workflow.MAX_NOTE_LENGTH} characters" in info.value.message
                else:
                    assert info.value.message == "Reason is required to reject a statement."
                db.session.rollback()
            with app.app_context():
                assert _row(public_id) == before
                assert _audit_count() == audit_before


def test_reject_reason_at_limit_is_accepted_and_stripped(app):
    public_id, _ = _arrange(app)
    reason = "x" * workflow.MAX_NOTE_LENGTH
    with app.app_context():
        workflow.apply(_statement(public_id), "reject", actor=_user("mod@un.example"), note=f"  {reason}\n")
        db.session.commit()
    with app.app_context():
        statement = _statement(public_id)
        assert statement.status is S.REJECTED
        assert statement.decision_note == reason
        assert [e.note for e in _decision_events(statement.id)] == [reason]


def test_apply_expected_version_mismatch_raises_conflict(app, subtests):
    public_id, _ = _arrange(app)
    with app.app_context():
        before, audit_before = _row(public_id), _audit_count()
    for action in workflow.TRANSITIONS:
        for offset in (-1, 1, 100):
            with subtests.test(action=action, offset=offset):
                with app.app_context():
                    statement = _statement(public_id)
                    with pytest.raises(ConflictError) as info:
                        workflow.apply(
                            statement,
                            action,
                            actor=_user("mod@un.example"),
                            note=REASON,
                            expected_version=statement.version + offset,
                        )
                    assert "changed after you opened it" in info.value.message
                    db.session.rollback()
                with app.app_context():
                    assert _row(public_id) == before
                    assert _audit_count() == audit_before
    # The version the moderator saw, still current: the move goes through.
    with app.app_context():
        statement = _statement(public_id)
        workflow.apply(statement, "approve", actor=_user("mod@un.example"), expected_version=statement.version)
        db.session.commit()
    with app.app_context():
        assert _statement(public_id).status is S.APPROVED


# --- through the web ------------------------------------------------------------------------


def test_web_approve_publishes_and_audits(app):
    public_id, statement_id = _arrange(app)
    client = _signed_in(app, "mod@un.example")
    page = client.get(f"/moderation/{public_id}").get_data(as_text=True)
    response = client.post(f"/moderation/{public_id}/approve", data=_decision_data(page, "approve"))
    assert response.status_code == 302
    assert response.headers["Location"] == "/moderation/"
    queue = client.get("/moderation/").get_data(as_text=True)
    assert any(public_id in m and "approved and published" in m for m in _flashes(queue, "success"))

    with app.app_context():
        statement = _statement(public_id)
        assert statement.status is S.APPROVED
        assert statement.decided_by.email == "mod@un.example"
        assert statement.published_at is not None
        assert statement.decision_note is None
        assert statement.version == 2
        events = _decision_events(statement_id)
        assert [(e.action, e.old_status, e.new_status, e.actor_label, e.note) for e in events] == [
            ("approve", "submitted", "approved", "mod@un.example", "")
        ]
    assert app.test_client().get(f"/statements/{public_id}").status_code == 200


def test_web_reject_with_reason_is_shown_to_submitter(app):
    public_id, statement_id = _arrange(app)
    reason = "Off-topic for this session <b>& please</b> resubmit to session 2."
    admin = _signed_in(app, "admin@un.example")
    page = admin.get(f"/moderation/{public_id}").get_data(as_text=True)
    response = admin.post(f"/moderation/{public_id}/reject", data=_decision_data(page, "reject", note=f"  {reason}\n"))
    assert response.status_code == 302
    assert response.headers["Location"] == "/moderation/"
    queue = admin.get("/moderation/").get_data(as_text=True)
    assert any(public_id in m and "was rejected" in m for m in _flashes(queue, "success"))

    with app.app_context():
        statement = _statement(public_id)
        assert statement.status is S.REJECTED
        assert statement.decision_note == reason
        assert statement.decided_by.email == "admin@un.example"
        assert statement.published_at is None
        events = _decision_events(statement_id)
        assert [(e.action, e.old_status, e.new_status, e.actor_label, e.note) for e in events] == [
            ("reject", "submitted", "rejected", "admin@un.example", reason)
        ]

    escaped = html_lib.escape(reason, quote=False)
    submitter = _signed_in(app, "ana@mexico.example")
    mine = submitter.get("/my/submissions").get_data(as_text=True)
    assert "Rejected" in mine
    assert f"<strong>Reason:</strong> {escaped}" in mine
    assert "<b>& please</b>" not in mine
    page = submitter.get(f"/statements/{public_id}")
    assert page.status_code == 200
    assert f"<strong>Reason given by the secretariat:</strong> {escaped}" in page.get_data(as_text=True)
    # Still not public.
    assert app.test_client().get(f"/statements/{public_id}").status_code == 404


def test_web_reject_without_valid_reason_shows_error_and_changes_nothing(app, subtests):
    public_id, _ = _arrange(app)
    with app.app_context():
        before, audit_before = _row(public_id), _audit_count()
    client = _signed_in(app, "mod@un.example")
    page = client.get(f"/moderation/{public_id}").get_data(as_text=True)
    notes = {
        "empty": ("", "Reason is required to reject a statement."),
        "whitespace": ("   \n  ", "Reason is required to reject a statement."),
        "too-long": ("x" * (workflow.MAX_NOTE_LENGTH + 1), f"{workflow.MAX_NOTE_LENGTH} characters"),
    }
    for name, (note, message) in notes.items():
        with subtests.test(note=name):
            response = client.post(f"/moderation/{public_id}/reject", data=_decision_data(page, "reject", note=note))
            assert response.status_code == 400
            text = response.get_data(as_text=True)
            errors = re.search(r'<ul class="errors" id="reject-note-error">(.*?)</ul>', text, flags=re.S)
            assert errors, "no error on the Reason field"
            assert message in errors.group(1)
            assert 'aria-invalid="true"' in text
            # The form is shown again, with both decisions still open.
            assert _forms_on(text, public_id) == ["approve", "reject"]
            with app.app_context():
                assert _row(public_id) == before
                assert _audit_count() == audit_before


@pytest.mark.parametrize("first", DECISIONS)
def test_web_deciding_twice_redirects_with_message_and_changes_nothing(app, subtests, first):
    public_id, statement_id = _arrange(app)
    client = _signed_in(app, "mod@un.example")
    page = client.get(f"/moderation/{public_id}").get_data(as_text=True)  # the first page load
    response = client.post(f"/moderation/{public_id}/{first}", data=_decision_data(page, first, note=REASON))
    assert response.status_code == 302
    assert response.headers["Location"] == "/moderation/"
    client.get("/moderation/")  # shows (and consumes) the success message
    with app.app_context():
        decided = _row(public_id)
        audit_before = _audit_count()
    label = EXPECTED_TARGETS[first].label.lower()

    for second in DECISIONS:  # the same decision again, and the other one, from the first page load
        with subtests.test(first=first, second=second):
            response = client.post(
                f"/moderation/{public_id}/{second}", data=_decision_data(page, second, note="Second thoughts.")
            )
            assert response.status_code == 302
            assert response.headers["Location"] == f"/moderation/{public_id}"
            review = client.get(response.headers["Location"])
            assert review.status_code == 200
            text = review.get_data(as_text=True)
            errors = _flashes(text, "error")
            assert len(errors) == 1
            assert f"it is now {label}" in errors[0]
            assert "Nothing was changed" in errors[0]
            assert _forms_on(text, public_id) == []
            assert f"This statement has been decided: {label} by Mod" in text
            with app.app_context():
                assert _row(public_id) == decided
                assert _audit_count() == audit_before
                assert [e.action for e in _decision_events(statement_id)] == [first]


def test_web_stale_form_after_other_moderator_decided_is_refused(app, subtests):
    public_id, statement_id = _arrange(app)
    slow = _signed_in(app, "mod@un.example")
    fast = _signed_in(app, "admin@un.example")
    stale_page = slow.get(f"/moderation/{public_id}").get_data(as_text=True)

    fast_page = fast.get(f"/moderation/{public_id}").get_data(as_text=True)
    response = fast.post(f"/moderation/{public_id}/approve", data=_decision_data(fast_page, "approve"))
    assert response.headers["Location"] == "/moderation/"
    with app.app_context():
        decided = _row(public_id)
        audit_before = _audit_count()

    for action in DECISIONS:
        with subtests.test(action=action):
            data = _decision_data(stale_page, action, note=REASON)
            response = slow.post(f"/moderation/{public_id}/{action}", data=data)
            assert response.status_code == 302
            assert response.headers["Location"] == f"/moderation/{public_id}"
            text = slow.get(response.headers["Location"]).get_data(as_text=True)
            errors = _flashes(text, "error")
            assert len(errors) == 1
            assert "changed after you opened it" in errors[0]
            assert "it is now published" in errors[0]
            assert "Nothing was changed" in errors[0]
            assert _forms_on(text, public_id) == []
            with app.app_context():
                assert _row(public_id) == decided
                assert _audit_count() == audit_before
                events = _decision_events(statement_id)
                assert [(e.action, e.actor_label) for e in events] == [("approve", "admin@un.example")]


def test_web_stale_version_on_undecided_statement_is_refused(app):
    """Someone changed the statement (version bumped) but it is still awaiting review."""
    public_id, _ = _arrange(app)
    client = _signed_in(app, "mod@un.example")
    page = client.get(f"/moderation/{public_id}").get_data(as_text=True)
    with app.app_context():
        _statement(public_id).title = "Statement on detention (revised)"
        db.session.commit()
        before, audit_before = _row(public_id), _audit_count()
        assert before["version"] == 2
    response = client.post(f"/moderation/{public_id}/approve", data=_decision_data(page, "approve"))
    assert response.headers["Location"] == f"/moderation/{public_id}"
    text = client.get(response.headers["Location"]).get_data(as_text=True)
    assert any("changed after you opened it" in m for m in _flashes(text, "error"))
    assert _forms_on(text, public_id) == ["approve", "reject"]
    with app.app_context():
        assert _row(public_id) == before
        assert _audit_count() == audit_before


def test_web_decide_without_token_by_submitter_or_unknown_action_is_refused(app):
    public_id, _ = _arrange(app)
    moderator = _signed_in(app, "mod@un.example")
    page = moderator.get(f"/moderation/{public_id}").get_data(as_text=True)
    with app.app_context():
        before, audit_before = _row(public_id), _audit_count()

    no_token = {"approve-version": _hidden(page, "approve-version")}
    response = moderator.post(f"/moderation/{public_id}/approve", data=no_token)
    assert response.status_code == 400
    assert "Form expired" in response.get_data(as_text=True)

    submitter = _signed_in(app, "ana@mexico.example")
    assert submitter.get(f"/moderation/{public_id}").status_code == 403
    token = csrf_token(submitter, "/my/submissions")
    for action in DECISIONS:
        data = {
            f"{action}-csrf_token": token,
            f"{action}-version": _hidden(page, f"{action}-version"),
            f"{action}-note": REASON,
        }
        assert submitter.post(f"/moderation/{public_id}/{action}", data=data).status_code == 403

    data = {"publish-csrf_token": _hidden(page, "approve-csrf_token"), "publish-version": "1"}
    assert moderator.post(f"/moderation/{public_id}/publish", data=data).status_code == 404

    with app.app_context():
        assert _row(public_id) == before
        assert _audit_count() == audit_before


def test_review_page_buttons_are_exactly_allowed_actions(app, subtests):
    statuses = list(StatementStatus)
    statements = dict(zip(statuses, _arrange_many(app, statuses)))
    for email in ("mod@un.example", "admin@un.example"):
        client = _signed_in(app, email)
        for status, (public_id, _) in statements.items():
            with subtests.test(status=status.value, email=email):
                with app.app_context():
                    user = _user(email)
                    expected = workflow.allowed_actions(_statement(public_id), user)
                    assert expected == [a for a in workflow.TRANSITIONS if (status, a, user.role) in EXPECTED_ALLOWED]
                text = client.get(f"/moderation/{public_id}").get_data(as_text=True)
                assert _forms_on(text, public_id) == expected
                assert _buttons_on(text) == [workflow.TRANSITIONS[a].label for a in expected]
                if status is S.SUBMITTED:
                    assert _buttons_on(text) == ["Approve", "Reject"]
                    assert '<label for="reject-note">Reason</label>' in text
                    assert "This statement has been decided" not in text
                else:
                    assert _buttons_on(text) == []
                    assert f"This statement has been decided: {status.label.lower()} by Mod on " in text
                    if status is S.REJECTED:
                        assert "Reason: Not a statement to this session." in text


# --- two moderators at the same moment ------------------------------------------------------------


@pytest.mark.parametrize(("winner", "loser"), [("approve", "reject"), ("reject", "approve")])
def test_concurrent_decisions_in_two_sessions_only_first_commits(app, winner, loser):
    """Both sessions load the statement before either decides; the second flush hits the version check.

    Flask-SQLAlchemy scopes db.session to the app context, so two app contexts give two
    real sessions on two connections, and workflow.apply runs unpatched in each.
    """
    public_id, statement_id = _arrange(app)
    with app.app_context():
        audit_before = _audit_count()

    with app.app_context():  # the slower moderator
        slow_session = db.session()
        slow_statement = _statement(public_id)
        slow_actor = _user("admin@un.example")
        assert slow_statement.status is S.SUBMITTED and slow_statement.version == 1

        with app.app_context():  # the faster moderator, at the same moment
            fast_session = db.session()
            assert fast_session is not slow_session
            fast_statement = _statement(public_id)
            assert fast_statement is not slow_statement
            workflow.apply(fast_statement, winner, actor=_user("mod@un.example"), note=REASON)
            db.session.commit()

        assert db.session() is slow_session
        # The slow session still holds the statement as it loaded it, awaiting review.
        assert slow_statement.status is S.SUBMITTED
        with pytest.raises(ConflictError) as info:
            workflow.apply(slow_statement, loser, actor=slow_actor, note=REASON)
        assert "at the same moment" in info.value.message
        db.session.rollback()

    with app.app_context():
        statement = _statement(public_id)
        assert statement.status is EXPECTED_TARGETS[winner]
        assert statement.decided_by.email == "mod@un.example"
        assert statement.version == 2
        assert (statement.published_at is not None) is (winner == "approve")
        assert _audit_count() == audit_before + 1
        events = _decision_events(statement_id)
        assert [(e.action, e.actor_label) for e in events] == [(winner, "mod@un.example")]


@pytest.mark.postgres_only
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_concurrent_web_decisions_exactly_one_wins(app):
    """Two moderators post approve and reject at once; SELECT ... FOR UPDATE serialises them."""
    public_id, statement_id = _arrange(app)
    with app.app_context():
        factories.make_user("mod2@un.example", role=Role.MODERATOR, org_code=None)
        db.session.commit()
        engine = db.engine
        audit_before = _audit_count()

    players = {
        "approve": ("mod@un.example", _signed_in(app, "mod@un.example")),
        "reject": ("mod2@un.example", _signed_in(app, "mod2@un.example")),
    }
    data = {}
    for action, (_, client) in players.items():
        page = client.get(f"/moderation/{public_id}").get_data(as_text=True)
        data[action] = _decision_data(page, action, note=REASON)

    barrier = threading.Barrier(len(players))
    responses: dict[str, Any] = {}
    failures: list[BaseException] = []

    def decide(action: str) -> None:
        try:
            client = players[action][1]
            barrier.wait(timeout=10)
            responses[action] = client.post(f"/moderation/{public_id}/{action}", data=data[action])
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    threads = [threading.Thread(target=decide, args=(action,)) for action in players]
    # Hold the row lock ourselves until both requests are waiting on it, so they really collide.
    with engine.connect() as blocker:
        blocker.execute(sa.text("SELECT id FROM statements WHERE id = :id FOR UPDATE"), {"id": statement_id})
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 10
        waiting = 0
        while time.monotonic() < deadline:
            with engine.connect() as probe:
                waiting = probe.scalar(
                    sa.text(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                        "AND wait_event_type = 'Lock' AND query ILIKE '%FOR UPDATE%'"
                    )
                )
            if waiting == 2 or failures:
                break
            time.sleep(0.02)
        blocker.rollback()
    for thread in threads:
        thread.join(timeout=20)
    assert not any(t.is_alive() for t in threads), "a request never finished"
    assert not failures, failures
    assert waiting == 2, "both requests should have been waiting for the row lock"

    locations = {action: (r.status_code, r.headers.get("Location")) for action, r in responses.items()}
    winners = [a for a, loc in locations.items() if loc == (302, "/moderation/")]
    losers = [a for a, loc in locations.items() if loc == (302, f"/moderation/{public_id}")]
    assert len(winners) == 1 and len(losers) == 1, locations
    winner, loser = winners[0], losers[0]

    text = players[loser][1].get(f"/moderation/{public_id}").get_data(as_text=True)
    errors = _flashes(text, "error")
    assert len(errors) == 1
    assert f"it is now {EXPECTED_TARGETS[winner].label.lower()}" in errors[0]
    assert "Nothing was changed" in errors[0]

    with app.app_context():
        statement = _statement(public_id)
        assert statement.status is EXPECTED_TARGETS[winner]
        assert statement.decided_by.email == players[winner][0]
        assert statement.version == 2
        assert _audit_count() == audit_before + 1
        events = _decision_events(statement_id)
        assert [(e.action, e.actor_label) for e in events] == [(winner, players[winner][0])]


# --- the audit trail is append-only -------------------------------------------------------------


def _audit_rows() -> list[dict[str, Any]]:
    table = AuditEvent.__table__
    return [dict(r) for r in db.session.execute(sa.select(table).order_by(table.c.id)).mappings()]


def test_audit_event_update_through_orm_is_refused(app):
    _arrange(app, S.REJECTED)
    with app.app_context():
        before = _audit_rows()
        event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "reject")).one()
        event.note = "Nothing to see here."
        with pytest.raises(RuntimeError, match="append-only"):
            db.session.flush()
        db.session.rollback()
        event = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "reject")).one()
        event.actor_label = "someone-else@example.org"
        with pytest.raises(RuntimeError, match="append-only"):
            db.session.commit()
        db.session.rollback()
    with app.app_context():
        assert _audit_rows() == before


def test_audit_event_delete_through_orm_is_refused(app):
    _arrange(app, S.APPROVED)
    with app.app_context():
        before = _audit_rows()
        db.session.delete(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "approve")).one())
        with pytest.raises(RuntimeError, match="append-only"):
            db.session.commit()
        db.session.rollback()
    with app.app_context():
        assert _audit_rows() == before


RAW_AUDIT_CHANGES = {
    "update-all": sa.text("UPDATE audit_events SET note = 'rewritten'"),
    "update-one": sa.text("UPDATE audit_events SET new_status = 'submitted' WHERE action = 'approve'"),
    "delete-all": sa.text("DELETE FROM audit_events"),
    "delete-one": sa.text("DELETE FROM audit_events WHERE action = 'approve'"),
    "orm-bulk-update": sa.update(AuditEvent).values(note="rewritten"),
    "orm-bulk-delete": sa.delete(AuditEvent),
}


def test_audit_events_raw_change_is_refused_by_database(app, backend, subtests):
    _arrange(app, S.APPROVED)
    with app.app_context():
        before = _audit_rows()
        assert [r["action"] for r in before] == ["submit", "approve"]
    for name, statement in RAW_AUDIT_CHANGES.items():
        with subtests.test(change=name):
            with app.app_context():
                with pytest.raises(sa.exc.DatabaseError, match="append-only") as info:
                    db.session.execute(statement)
                # Refused by the trigger, not by some other error: SQLite's RAISE(ABORT) inside a trigger,
                # PL/pgSQL's RAISE EXCEPTION (SQLSTATE P0001, which psycopg maps to ProgrammingError).
                if backend == "sqlite":
                    assert isinstance(info.value, sa.exc.IntegrityError)
                    assert info.value.orig.sqlite_errorname == "SQLITE_CONSTRAINT_TRIGGER"
                else:
                    assert isinstance(info.value, sa.exc.ProgrammingError)
                    assert info.value.orig.sqlstate == "P0001"
                db.session.rollback()
                # Also on a plain connection, outside the ORM session.
                with db.engine.connect() as conn:
                    with pytest.raises(sa.exc.DatabaseError, match="append-only"):
                        conn.execute(statement)
                    conn.rollback()
            with app.app_context():
                assert _audit_rows() == before
