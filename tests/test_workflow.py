"""The statement lifecycle: the transition table, its web pages, claims, embargoes, concurrent
decisions and the audit trail.

The agreed policy is written out by hand below (POLICY), so the table in portal.workflow
cannot drift silently. Every (state, action, role) goes through workflow.apply directly;
the web tests then drive the moderator moves through the review page with CSRF on, and
the concurrency tests make two moderators decide the same statement at the same moment.
"""

from __future__ import annotations

import html as html_lib
import io
import re
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from portal import operations, queries, workflow
from portal.enums import Language, MembershipStatus, OrganisationStatus, Role, StatementStatus, VersionStatus
from portal.exceptions import ConflictError, PermissionDenied, PortalError, WorkflowError
from portal.extensions import db
from portal.models import AuditEvent, Statement, StatementVersion, User, utcnow
from portal.storage import get_store
from tests import factories
from tests.conftest import csrf_token, login

S = StatementStatus
V = VersionStatus

# --- the agreed policy, by hand ----------------------------------------------------------------

# The states of the matrix: every status, plus a published statement with a correction
# awaiting review (its status is "approved"; only the correction moves act on it).
CORRECTION = "correction_pending"
STATES = [s.value for s in S] + [CORRECTION]
STATUS_OF = {**{s.value: s for s in S}, CORRECTION: S.APPROVED}

# Who acts: a submitter of the statement's organisation, one of another organisation,
# a moderator and an administrator.
ROLES = ["own", "other_org", "moderator", "admin"]
ACTOR_EMAILS = {
    "own": "ana@mexico.example",
    "other_org": "hans@switzerland.example",
    "moderator": "mod@un.example",
    "admin": "admin@un.example",
}
ROLE_OF = {"own": Role.SUBMITTER, "other_org": Role.SUBMITTER, "moderator": Role.MODERATOR, "admin": Role.ADMIN}
OWN = frozenset({"own"})
SECRETARIAT = frozenset({"moderator", "admin"})


@dataclass(frozen=True)
class Rule:
    sources: frozenset[str]
    target: StatementStatus
    roles: frozenset[str]
    label: str
    note_label: str | None = None  # a reason or message is required
    version: VersionStatus | None = None  # what becomes of the version under review


POLICY: dict[str, Rule] = {
    "submit": Rule(frozenset({"draft"}), S.SUBMITTED, OWN, "Submit for review", version=V.SUBMITTED),
    "resubmit": Rule(frozenset({"changes_requested"}), S.SUBMITTED, OWN, "Resubmit for review", version=V.SUBMITTED),
    "withdraw": Rule(frozenset({"submitted", "changes_requested"}), S.WITHDRAWN, OWN, "Withdraw"),
    "approve": Rule(frozenset({"submitted"}), S.APPROVED, SECRETARIAT, "Approve", version=V.APPROVED),
    "reject": Rule(frozenset({"submitted"}), S.REJECTED, SECRETARIAT, "Reject", "Reason", V.REJECTED),
    "request_changes": Rule(
        frozenset({"submitted"}), S.CHANGES_REQUESTED, SECRETARIAT, "Request changes", "Message to the submitter"
    ),
    "mark_duplicate": Rule(frozenset({"submitted"}), S.DUPLICATE, SECRETARIAT, "Mark as duplicate", version=V.REJECTED),
    # A published statement with a correction awaiting review: decide the correction first.
    "unpublish": Rule(frozenset({"approved"}), S.UNPUBLISHED, SECRETARIAT, "Unpublish", "Reason"),
    "republish": Rule(frozenset({"unpublished"}), S.APPROVED, SECRETARIAT, "Republish"),
    "approve_correction": Rule(
        frozenset({CORRECTION}), S.APPROVED, SECRETARIAT, "Approve the correction", version=V.APPROVED
    ),
    "reject_correction": Rule(
        frozenset({CORRECTION}), S.APPROVED, SECRETARIAT, "Reject the correction", "Reason", V.REJECTED
    ),
}
ACTIONS = list(POLICY)
DECISIONS = [a for a, rule in POLICY.items() if rule.roles == SECRETARIAT]
SUBMITTER_ACTIONS = [a for a, rule in POLICY.items() if rule.roles == OWN]
EXPECTED_ALLOWED = {
    (state, action, role) for action, rule in POLICY.items() for state in rule.sources for role in rule.roles
}


def expected_actions(state: str, role: str) -> list[str]:
    return [a for a in ACTIONS if (state, a, role) in EXPECTED_ALLOWED]


REASON = "Not a statement to this session: please submit it to the session on detention."
ARRANGED_REASON = "Not a statement to this session."


# --- helpers ---------------------------------------------------------------------------


def _user(email: str) -> User:
    return db.session.scalar(sa.select(User).where(User.email == email))


def _statement(public_id: str) -> Statement:
    return db.session.scalar(sa.select(Statement).where(Statement.public_id == public_id))


def _row(public_id: str) -> dict[str, Any]:
    """The statement's row as stored, read with a fresh query (not from the identity map)."""
    table = Statement.__table__
    return dict(db.session.execute(sa.select(table).where(table.c.public_id == public_id)).mappings().one())


def _versions(statement_id: int) -> list[dict[str, Any]]:
    table = StatementVersion.__table__
    rows = db.session.execute(sa.select(table).where(table.c.statement_id == statement_id).order_by(table.c.number))
    return [dict(r) for r in rows.mappings()]


def _audit_count() -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))


def _last_audit_id() -> int:
    return db.session.scalar(sa.select(sa.func.max(AuditEvent.id))) or 0


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


def make_in_state(state: str, people: dict[str, User], title: str) -> Statement:
    """A statement of Mexico's in `state`, built through the real operations and workflow."""
    if state == CORRECTION:
        statement = factories.make_statement(
            people["submitter"], status=S.APPROVED, moderator=people["moderator"], title=title
        )
        operations.upload_version(
            statement,
            author=people["submitter"],
            uploads=[operations.Upload(io.BytesIO(factories.pdf_bytes(f"{title}, corrected")), "fixed.pdf", Language.ENGLISH)],
            note="Corrected the figures in paragraph 3.",
            store=get_store(),
            max_bytes=10 * 1024 * 1024,
        )
        assert statement.pending_correction is not None
        return statement
    return factories.make_statement(
        people["submitter"], status=S(state), moderator=people["moderator"], title=title, reason=ARRANGED_REASON
    )


def _arrange(app: Flask, state: str = "submitted") -> tuple[str, int]:
    """The cast of people and one statement in `state`; returns (public_id, id)."""
    return _arrange_many(app, [state])[0]


def _arrange_many(app: Flask, states: list[str]) -> list[tuple[str, int]]:
    """The cast of people and one statement per entry of `states`; returns their (public_id, id)."""
    with app.app_context():
        people = factories.make_people()
        statements = [make_in_state(state, people, f"Statement {n} on detention") for n, state in enumerate(states, 1)]
        db.session.commit()
        return [(s.public_id, s.id) for s in statements]


def _original(app: Flask) -> str:
    """A published statement that others can duplicate; returns its public id."""
    with app.app_context():
        original = factories.make_statement(
            _user("ana@mexico.example"), status=S.APPROVED, moderator=_user("mod@un.example"), title="The original"
        )
        db.session.commit()
        return original.public_id


def _hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{re.escape(name)}" type="hidden" value="([^"]*)"', page)
    assert match, f"no hidden field {name!r} in the page"
    return match.group(1)


def _any_hidden(page: str, suffix: str) -> str:
    match = re.search(rf'name="\w+-{suffix}" type="hidden" value="([^"]*)"', page)
    assert match, f"no hidden field *-{suffix} in the page"
    return match.group(1)


def _decision_data(
    page: str,
    action: str,
    *,
    note: str | None = None,
    version: str | None = None,
    duplicate_of: str | None = None,
    publish_at: str | None = None,
) -> dict[str, str]:
    """What the browser posts for `action` from `page` (the token and version of another form
    of the page when that action has none, as a hand-made request would)."""
    on_page = f'name="{action}-version"' in page
    data = {
        f"{action}-csrf_token": _hidden(page, f"{action}-csrf_token") if on_page else _any_hidden(page, "csrf_token"),
        f"{action}-version": version
        if version is not None
        else (_hidden(page, f"{action}-version") if on_page else _any_hidden(page, "version")),
    }
    if note is not None:
        data[f"{action}-note"] = note
    if duplicate_of is not None:
        data[f"{action}-duplicate_of"] = duplicate_of
    if publish_at is not None:
        data[f"{action}-publish_at"] = publish_at
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


def _field_errors(page: str, field_id: str) -> str | None:
    match = re.search(rf'<ul class="errors" id="{re.escape(field_id)}-error">(.*?)</ul>', page, flags=re.S)
    return html_lib.unescape(match.group(1)) if match else None


def _flashes(page: str, category: str) -> list[str]:
    return [
        html_lib.unescape(m)
        for m in re.findall(rf'<p class="flash flash-{category}" role="\w+">(.*?)</p>', page, flags=re.S)
    ]


def _refused_without_change(
    app: Flask, public_id: str, call, exception: type[PortalError], *, field: str | None = None
) -> PortalError:
    """Run `call(statement)` in an app context, expect `exception`, and check nothing changed."""
    with app.app_context():
        statement = _statement(public_id)
        before, versions, audit_before = _row(public_id), _versions(statement.id), _audit_count()
        with pytest.raises(PortalError) as info:
            call(statement)
        assert type(info.value) is exception, info.value
        assert info.value.message
        if field is not None:
            assert info.value.field == field
        db.session.rollback()
    with app.app_context():
        assert _row(public_id) == before
        assert _versions(before["id"]) == versions
        assert _audit_count() == audit_before
    return info.value


# --- the table itself ----------------------------------------------------------------------


def test_transitions_table_matches_agreed_policy():
    assert list(workflow.TRANSITIONS) == ACTIONS
    for action, rule in POLICY.items():
        transition = workflow.TRANSITIONS[action]
        assert transition.source == {STATUS_OF[s] for s in rule.sources}, action
        assert transition.target is rule.target, action
        assert transition.roles == {ROLE_OF[r] for r in rule.roles}, action
        assert transition.label == rule.label, action
        assert transition.note_required is (rule.note_label is not None), action
        if rule.note_label is not None:
            assert transition.note_label == rule.note_label, action
        assert transition.correction is (rule.sources == {CORRECTION}), action
        # Every secretariat move is a decision, which a claim by another moderator blocks.
        assert transition.decision is (rule.roles == SECRETARIAT), action


# --- workflow.apply and allowed_actions, every state x action x role -------------------------------


def _check_apply_case(
    app: Flask, state: str, action: str, role: str, public_id: str, statement_id: int, original_id: int
) -> None:
    """apply() on a statement in `state` by `role`: the move, its side effects and its audit row,
    or a refusal that changes nothing."""
    rule = POLICY[action]
    allowed = (state, action, role) in EXPECTED_ALLOWED
    # Always give what the move needs, so a refusal can only come from the state or the actor.
    note = REASON if rule.note_label else ""

    with app.app_context():
        statement = _statement(public_id)
        assert statement.status is STATUS_OF[state]
        assert (statement.pending_correction is not None) is (state == CORRECTION)
        actor = _user(ACTOR_EMAILS[role])
        actor_id = actor.id
        original = db.session.get(Statement, original_id)
        before, versions_before = _row(public_id), _versions(statement_id)
        audit_before, last_audit = _audit_count(), _last_audit_id()
        assert (action in workflow.allowed_actions(statement, actor)) is allowed
        kwargs: dict[str, Any] = {"actor": actor, "note": note}
        if action == "mark_duplicate":
            kwargs["duplicate_of"] = original

        if allowed:
            started = utcnow()
            event = workflow.apply(statement, action, **kwargs)
            db.session.commit()
            finished = utcnow()
            event_id = event.id
        else:
            expected = PermissionDenied if role not in rule.roles else WorkflowError
            with pytest.raises(PortalError) as info:
                workflow.apply(statement, action, **kwargs)
            assert type(info.value) is expected, info.value
            assert info.value.message
            if expected is WorkflowError:
                assert rule.label.lower() in info.value.message
                assert "Nothing was changed." in info.value.message
                if (state, action) == (CORRECTION, "unpublish"):
                    # Refused because a correction awaits a decision: the message must say so,
                    # not that the statement "is published" (which is why one unpublishes it).
                    assert "correction" in info.value.message, info.value.message
            db.session.rollback()

    with app.app_context():
        after = _row(public_id)
        if not allowed:
            assert after == before
            assert _versions(statement_id) == versions_before
            assert _audit_count() == audit_before
            return

        # The statement: exactly these columns change.
        expected_row = dict(before, status=rule.target, version=before["version"] + 1)
        moments = ["updated_at"]
        if action in ("submit", "resubmit"):
            moments.append("submitted_at")
        if role in SECRETARIAT:
            moments.append("decided_at")
            expected_row.update(decided_by_id=actor_id, claimed_by_id=None, claimed_until=None)
            if state != CORRECTION:
                expected_row["decision_note"] = note or None
        if action == "approve":  # first approval
            moments.append("published_at")
        if action in ("approve", "republish"):
            expected_row["publish_at"] = None
        if action == "approve_correction":
            moments.append("corrected_at")
        if action == "mark_duplicate":
            expected_row["duplicate_of_id"] = original_id
        for column in moments:
            assert after[column] is not None and started <= after[column] <= finished, column
            expected_row[column] = after[column]
        assert after == expected_row
        if action == "approve":
            assert after["published_at"] == after["decided_at"]
        if action == "republish":
            assert after["published_at"] == before["published_at"] < after["decided_at"]
        if action == "approve_correction":
            assert after["corrected_at"] == after["decided_at"]

        # The versions: only the one under review moves, and only as the policy says.
        versions = _versions(statement_id)
        expected_versions = [dict(v) for v in versions_before]
        if rule.version is not None:
            current = expected_versions[-1]
            current["status"] = rule.version
            if rule.version is V.SUBMITTED:
                assert started <= versions[-1]["submitted_at"] <= finished
                current["submitted_at"] = versions[-1]["submitted_at"]
            else:
                assert versions[-1]["decided_at"] == after["decided_at"]
                current.update(decided_at=after["decided_at"], decided_by_id=actor_id)
        assert versions == expected_versions

        # Exactly one new audit row, saying who did what, from which state to which, and why.
        assert _audit_count() == audit_before + 1
        new_events = list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.id > last_audit)))
        assert [e.id for e in new_events] == [event_id]
        event = new_events[0]
        assert (event.actor_id, event.actor_label) == (actor_id, ACTOR_EMAILS[role])
        assert (event.action, event.old_status, event.new_status) == (action, STATUS_OF[state].value, rule.target.value)
        assert (event.object_type, event.object_id, event.object_ref) == ("statements", statement_id, public_id)
        assert event.note == note
        expected_data: dict[str, Any] = {"version": versions[-1]["number"]}
        if action == "mark_duplicate":
            expected_data["duplicate_of"] = db.session.get(Statement, original_id).public_id
        assert event.data == expected_data


@pytest.mark.parametrize("state", STATES)
def test_apply_matrix_moves_or_refuses_without_change(app, subtests, state):
    """Every action x role on a statement in `state` (one app per state keeps this fast).

    Refusals share one statement (each is checked to change nothing); each allowed move gets its own.
    """
    allowed = [(a, r) for a in ACTIONS for r in ROLES if (state, a, r) in EXPECTED_ALLOWED]
    arranged = _arrange_many(app, [state] * (1 + len(allowed)))
    original_public_id = _original(app)
    refused_on, own = arranged[0], dict(zip(allowed, arranged[1:]))
    with app.app_context():
        original_id = _statement(original_public_id).id
        statement = _statement(refused_on[0])
        for role in ROLES:
            with subtests.test(state=state, role=role, check="allowed_actions"):
                assert workflow.allowed_actions(statement, _user(ACTOR_EMAILS[role])) == expected_actions(state, role)

    for action in ACTIONS:
        for role in ROLES:
            public_id, statement_id = own.get((action, role), refused_on)
            with subtests.test(state=state, action=action, role=role):
                _check_apply_case(app, state, action, role, public_id, statement_id, original_id)


# (description, change to Ana's account or organisation): she may no longer act for Mexico.
INELIGIBLE = {
    "inactive": lambda user: setattr(user, "active", False),
    "unverified": lambda user: setattr(user, "email_verified_at", None),
    "membership-pending": lambda user: setattr(user, "membership", MembershipStatus.PENDING),
    "membership-rejected": lambda user: setattr(user, "membership", MembershipStatus.REJECTED),
    "membership-removed": lambda user: setattr(user, "membership", MembershipStatus.REMOVED),
    "organisation-pending": lambda user: setattr(user.organisation, "status", OrganisationStatus.PENDING),
}


@pytest.mark.parametrize("change", list(INELIGIBLE))
def test_submitter_actions_only_for_approved_verified_members(app, subtests, change):
    """Submitter moves are open only to active, verified, approved members of the statement's organisation."""
    cases = [(state, action) for action in SUBMITTER_ACTIONS for state in sorted(POLICY[action].sources)]
    arranged = dict(zip(cases, _arrange_many(app, [state for state, _ in cases])))
    with app.app_context():
        INELIGIBLE[change](_user("ana@mexico.example"))
        db.session.commit()
    for (state, action), (public_id, _) in arranged.items():
        with subtests.test(change=change, state=state, action=action):
            with app.app_context():
                ana = _user("ana@mexico.example")
                assert workflow.allowed_actions(_statement(public_id), ana) == []
            _refused_without_change(
                app, public_id, lambda s: workflow.apply(s, action, actor=_user("ana@mexico.example")), PermissionDenied
            )


def test_colleague_of_same_organisation_may_act_for_it(app):
    public_id, _ = _arrange(app, "submitted")
    with app.app_context():
        luis = _user("luis@mexico.example")
        assert workflow.allowed_actions(_statement(public_id), luis) == ["withdraw"]
        event = workflow.apply(_statement(public_id), "withdraw", actor=luis)
        db.session.commit()
        assert (event.actor_label, event.old_status, event.new_status) == ("luis@mexico.example", "submitted", "withdrawn")
    with app.app_context():
        assert _statement(public_id).status is S.WITHDRAWN


def test_apply_unknown_action_or_inactive_moderator_is_refused(app, subtests):
    public_id, _ = _arrange(app)
    _refused_without_change(app, public_id, lambda s: workflow.apply(s, "publish", actor=_user("admin@un.example")), WorkflowError)
    with app.app_context():
        _user("mod@un.example").active = False
        db.session.commit()
    with app.app_context():
        assert workflow.allowed_actions(_statement(public_id), _user("mod@un.example")) == []
    for action in ACTIONS:
        with subtests.test(action=action):
            _refused_without_change(
                app,
                public_id,
                lambda s: workflow.apply(s, action, actor=_user("mod@un.example"), note=REASON),
                PermissionDenied,
            )


# action -> (state it applies in, the message when its note is missing)
NOTE_REQUIRED = {
    "reject": ("submitted", "Reason is required to reject."),
    "request_changes": ("submitted", "Message to the submitter is required to request changes."),
    "unpublish": ("approved", "Reason is required to unpublish."),
    "reject_correction": (CORRECTION, "Reason is required to reject the correction."),
}


def test_note_required_by_policy_is_exactly_these_actions():
    assert {a for a, rule in POLICY.items() if rule.note_label} == set(NOTE_REQUIRED)


def test_move_without_valid_note_is_refused(app, subtests):
    arranged = dict(zip(NOTE_REQUIRED, _arrange_many(app, [state for state, _ in NOTE_REQUIRED.values()])))
    notes = {
        "empty": "",
        "spaces": "   ",
        "whitespace": "\n\t  \r\n",
        "too-long": "x" * (workflow.MAX_NOTE_LENGTH + 1),
    }
    for action, (public_id, _) in arranged.items():
        for name, note in notes.items():
            with subtests.test(action=action, note=name):
                error = _refused_without_change(
                    app,
                    public_id,
                    lambda s: workflow.apply(s, action, actor=_user("mod@un.example"), note=note),
                    WorkflowError,
                    field="note",
                )
                if name == "too-long":
                    assert f"at most {workflow.MAX_NOTE_LENGTH} characters" in error.message
                else:
                    assert error.message == NOTE_REQUIRED[action][1]


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


def test_mark_duplicate_needs_another_statement(app, subtests):
    public_id, _ = _arrange(app)
    with subtests.test(duplicate_of="none"):
        error = _refused_without_change(
            app,
            public_id,
            lambda s: workflow.apply(s, "mark_duplicate", actor=_user("mod@un.example")),
            WorkflowError,
            field="duplicate_of",
        )
        assert error.message == "Choose the statement this one duplicates."
    with subtests.test(duplicate_of="itself"):
        error = _refused_without_change(
            app,
            public_id,
            lambda s: workflow.apply(s, "mark_duplicate", actor=_user("mod@un.example"), duplicate_of=s),
            WorkflowError,
            field="duplicate_of",
        )
        assert error.message == "A statement cannot duplicate itself."


def test_apply_expected_version_mismatch_raises_conflict(app, subtests):
    public_id, _ = _arrange(app)
    original_public_id = _original(app)
    movers = [(a, r) for a in ACTIONS for r in ROLES if ("submitted", a, r) in EXPECTED_ALLOWED]
    assert movers == [
        ("withdraw", "own"),
        ("approve", "moderator"), ("approve", "admin"),
        ("reject", "moderator"), ("reject", "admin"),
        ("request_changes", "moderator"), ("request_changes", "admin"),
        ("mark_duplicate", "moderator"), ("mark_duplicate", "admin"),
    ]  # fmt: skip
    for action, role in movers:
        for offset in (-1, 1, 100):
            with subtests.test(action=action, role=role, offset=offset):

                def call(statement: Statement) -> None:
                    workflow.apply(
                        statement,
                        action,
                        actor=_user(ACTOR_EMAILS[role]),
                        note=REASON,
                        expected_version=statement.version + offset,
                        duplicate_of=_statement(original_public_id),
                    )

                error = _refused_without_change(app, public_id, call, ConflictError)
                assert "changed after you opened it" in error.message
    # The version the moderator saw, still current: the move goes through.
    with app.app_context():
        statement = _statement(public_id)
        workflow.apply(statement, "approve", actor=_user("mod@un.example"), expected_version=statement.version)
        db.session.commit()
    with app.app_context():
        assert _statement(public_id).status is S.APPROVED


# --- embargo ------------------------------------------------------------------------------------


@pytest.mark.parametrize("action", ["approve", "republish"])
def test_publish_with_embargo_hides_statement_until_then(app, action):
    public_id, statement_id = _arrange(app, "submitted" if action == "approve" else "unpublished")
    embargo = (utcnow() + timedelta(days=2)).replace(microsecond=0)
    with app.app_context():
        last_audit = _last_audit_id()
        workflow.apply(_statement(public_id), action, actor=_user("admin@un.example"), publish_at=embargo)
        db.session.commit()
    with app.app_context():
        statement = _statement(public_id)
        assert statement.status is S.APPROVED
        assert statement.publish_at == embargo
        assert statement.published_at is not None and statement.published_at < embargo
        assert statement.is_public is False
        assert db.session.scalar(queries.public_statements().where(Statement.id == statement_id)) is None
        assert db.session.scalar(
            queries.public_statements(now=embargo).where(Statement.id == statement_id)
        ) is statement
        events = list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.id > last_audit)))
        assert [(e.action, e.data["publish_at"]) for e in events] == [(action, embargo.isoformat())]


def test_publish_time_refused_on_every_other_move(app, subtests):
    """An embargo is set only when publishing: every other allowed move refuses a publish_at."""
    cases = [
        (state, action, role)
        for action in ACTIONS
        if action not in ("approve", "republish")
        for state in sorted(POLICY[action].sources)
        for role in sorted(POLICY[action].roles)[:1]
    ]
    arranged = dict(zip(cases, _arrange_many(app, [state for state, _, _ in cases])))
    original_public_id = _original(app)
    embargo = utcnow() + timedelta(days=2)
    for (state, action, role), (public_id, _) in arranged.items():
        with subtests.test(state=state, action=action):

            def call(statement: Statement) -> None:
                workflow.apply(
                    statement,
                    action,
                    actor=_user(ACTOR_EMAILS[role]),
                    note=REASON,
                    duplicate_of=_statement(original_public_id),
                    publish_at=embargo,
                )

            error = _refused_without_change(app, public_id, call, WorkflowError, field="publish_at")
            assert error.message == "A publication time can only be set when publishing."


# --- claims --------------------------------------------------------------------------------------

# claim -> (held by, minutes until it lapses, whether another moderator's decision is refused)
CLAIMS = {
    "by-other": ("admin@un.example", 30, True),
    "by-other-lapsed": ("admin@un.example", -1, False),
    "by-self": ("mod@un.example", 30, False),
}


def test_claim_by_another_moderator_refuses_every_decision(app, subtests):
    cases = [(action, state, claim) for action in DECISIONS for state in sorted(POLICY[action].sources) for claim in CLAIMS]
    arranged = dict(zip(cases, _arrange_many(app, [state for _, state, _ in cases])))
    original_public_id = _original(app)
    with app.app_context():
        now = utcnow()
        for (_, _, claim), (public_id, _) in arranged.items():
            holder, minutes, _ = CLAIMS[claim]
            statement = _statement(public_id)
            statement.claimed_by = _user(holder)
            statement.claimed_until = now + timedelta(minutes=minutes)
        db.session.commit()

    for (action, state, claim), (public_id, statement_id) in arranged.items():
        refused = CLAIMS[claim][2]
        with subtests.test(action=action, claim=claim):
            with app.app_context():
                statement, moderator = _statement(public_id), _user("mod@un.example")
                allowed = workflow.allowed_actions(statement, moderator)
                assert allowed == ([] if refused else expected_actions(state, "moderator"))
                # The holder of the claim may decide; the admin is blocked only by the moderator's live claim.
                admin_blocked = claim == "by-self"
                assert workflow.allowed_actions(statement, _user("admin@un.example")) == (
                    [] if admin_blocked else expected_actions(state, "admin")
                )

            def call(statement: Statement) -> None:
                workflow.apply(
                    statement,
                    action,
                    actor=_user("mod@un.example"),
                    note=REASON,
                    duplicate_of=_statement(original_public_id),
                )

            if refused:
                error = _refused_without_change(app, public_id, call, ConflictError)
                assert error.message.startswith("Admin is reviewing this statement (claimed until ")
                assert error.message.endswith("UTC). Nothing was changed.")
            else:
                with app.app_context():
                    call(_statement(public_id))
                    db.session.commit()
                with app.app_context():
                    statement = _statement(public_id)
                    assert statement.status is POLICY[action].target
                    assert statement.decided_by.email == "mod@un.example"
                    # The decision ends the claim.
                    assert (statement.claimed_by_id, statement.claimed_until) == (None, None)


def test_claim_does_not_block_the_submitter_withdrawing(app):
    public_id, _ = _arrange(app, "submitted")
    with app.app_context():
        statement = _statement(public_id)
        statement.claimed_by, statement.claimed_until = _user("mod@un.example"), utcnow() + timedelta(minutes=30)
        db.session.commit()
    with app.app_context():
        ana = _user("ana@mexico.example")
        assert workflow.allowed_actions(_statement(public_id), ana) == ["withdraw"]
        workflow.apply(_statement(public_id), "withdraw", actor=ana)
        db.session.commit()
    with app.app_context():
        assert _statement(public_id).status is S.WITHDRAWN


# --- through the web ------------------------------------------------------------------------


def test_web_approve_publishes_and_audits(app):
    public_id, statement_id = _arrange(app)
    client = _signed_in(app, "mod@un.example")
    page = client.get(f"/moderation/{public_id}").get_data(as_text=True)
    response = client.post(f"/moderation/{public_id}/approve", data=_decision_data(page, "approve"))
    assert response.status_code == 302
    assert response.headers["Location"] == "/moderation/"
    queue = client.get("/moderation/").get_data(as_text=True)
    assert _flashes(queue, "success") == [f"“Statement 1 on detention” ({public_id}): approved and published."]

    with app.app_context():
        statement = _statement(public_id)
        assert statement.status is S.APPROVED
        assert statement.decided_by.email == "mod@un.example"
        assert statement.published_at is not None
        assert statement.publish_at is None
        assert statement.decision_note is None
        assert statement.version == 2
        assert statement.current_version.status is V.APPROVED
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
    assert _flashes(queue, "success") == [f"“Statement 1 on detention” ({public_id}): rejected."]

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


def test_web_note_missing_or_too_long_shows_error_and_changes_nothing(app, subtests):
    arranged = dict(zip(NOTE_REQUIRED, _arrange_many(app, [state for state, _ in NOTE_REQUIRED.values()])))
    client = _signed_in(app, "mod@un.example")
    for action, (public_id, _) in arranged.items():
        state, required = NOTE_REQUIRED[action]
        page = client.get(f"/moderation/{public_id}").get_data(as_text=True)
        with app.app_context():
            before, audit_before = _row(public_id), _audit_count()
        notes = {
            "empty": ("", required),
            "whitespace": ("   \n  ", required),
            "too-long": ("x" * (workflow.MAX_NOTE_LENGTH + 1), f"{workflow.MAX_NOTE_LENGTH} characters"),
        }
        for name, (note, message) in notes.items():
            with subtests.test(action=action, note=name):
                response = client.post(f"/moderation/{public_id}/{action}", data=_decision_data(page, action, note=note))
                assert response.status_code == 400
                text = response.get_data(as_text=True)
                errors = _field_errors(text, f"{action}-note")
                assert errors is not None, f"no error on the {POLICY[action].note_label} field"
                assert message in errors
                assert 'aria-invalid="true"' in text
                # The form is shown again, with every move still open.
                assert _forms_on(text, public_id) == expected_actions(state, "moderator")
                with app.app_context():
                    assert _row(public_id) == before
                    assert _audit_count() == audit_before


def test_web_request_changes_message_is_shown_to_submitter(app):
    public_id, statement_id = _arrange(app)
    message = "Please add the <i>date</i> & the panel you spoke on."
    moderator = _signed_in(app, "mod@un.example")
    page = moderator.get(f"/moderation/{public_id}").get_data(as_text=True)
    assert '<label for="request_changes-note">Message to the submitter</label>' in page
    response = moderator.post(
        f"/moderation/{public_id}/request_changes", data=_decision_data(page, "request_changes", note=message)
    )
    assert response.headers["Location"] == "/moderation/"
    queue = moderator.get("/moderation/").get_data(as_text=True)
    assert _flashes(queue, "success") == [
        f"“Statement 1 on detention” ({public_id}): changes requested from the submitter."
    ]
    assert f'href="/moderation/{public_id}"' not in queue  # it left the queue

    with app.app_context():
        statement = _statement(public_id)
        assert statement.status is S.CHANGES_REQUESTED
        assert statement.decision_note == message
        assert statement.decided_by.email == "mod@un.example"
        assert statement.current_version.status is V.SUBMITTED
        events = _decision_events(statement_id)
        assert [(e.action, e.old_status, e.new_status, e.note) for e in events] == [
            ("request_changes", "submitted", "changes_requested", message)
        ]

    escaped = html_lib.escape(message, quote=False)
    submitter = _signed_in(app, "ana@mexico.example")
    mine = submitter.get("/my/submissions").get_data(as_text=True)
    assert '<span class="badge badge-changes_requested">Changes requested</span>' in mine
    assert escaped in mine, "the submitter is not shown what to change on My submissions"
    assert "<i>date</i>" not in mine
    statement_page = submitter.get(f"/statements/{public_id}").get_data(as_text=True)
    assert escaped in statement_page, "the submitter is not shown what to change on the statement's page"
    assert app.test_client().get(f"/statements/{public_id}").status_code == 404


def test_web_mark_duplicate_by_reference(app, subtests):
    public_id, statement_id = _arrange(app)
    original_public_id = _original(app)
    client = _signed_in(app, "mod@un.example")
    page = client.get(f"/moderation/{public_id}").get_data(as_text=True)
    assert '<label for="mark_duplicate-duplicate_of">Reference of the original statement</label>' in page
    with app.app_context():
        before, audit_before = _row(public_id), _audit_count()

    refused = {
        "unknown": ("ST-ZZZZ-ZZZZ", "There is no statement 'ST-ZZZZ-ZZZZ'."),
        "empty": ("", "Choose the statement this one duplicates."),
        "itself": (public_id, "A statement cannot duplicate itself."),
    }
    for name, (reference, message) in refused.items():
        with subtests.test(reference=name):
            data = _decision_data(page, "mark_duplicate", duplicate_of=reference)
            response = client.post(f"/moderation/{public_id}/mark_duplicate", data=data)
            assert response.status_code == 400
            text = response.get_data(as_text=True)
            assert _field_errors(text, "mark_duplicate-duplicate_of") is not None
            assert message in _field_errors(text, "mark_duplicate-duplicate_of")
            # The field is shown again, marked invalid, with what was typed.
            assert re.search(
                rf'<input [^>]*aria-invalid="true" id="mark_duplicate-duplicate_of" [^>]*'
                rf'name="mark_duplicate-duplicate_of" type="text" value="{re.escape(reference)}">',
                text,
            )
            assert _forms_on(text, public_id) == expected_actions("submitted", "moderator")
            with app.app_context():
                assert _row(public_id) == before
                assert _audit_count() == audit_before

    # Typed in lower case with spaces around it, as people do.
    data = _decision_data(page, "mark_duplicate", duplicate_of=f"  {original_public_id.lower()} ")
    response = client.post(f"/moderation/{public_id}/mark_duplicate", data=data)
    assert response.headers["Location"] == "/moderation/"
    with app.app_context():
        statement = _statement(public_id)
        assert statement.status is S.DUPLICATE
        assert statement.duplicate_of.public_id == original_public_id
        assert statement.current_version.status is V.REJECTED
        events = _decision_events(statement_id)
        assert [(e.action, e.old_status, e.new_status, e.data) for e in events] == [
            ("mark_duplicate", "submitted", "duplicate", {"version": 1, "duplicate_of": original_public_id})
        ]
    assert app.test_client().get(f"/statements/{public_id}").status_code == 404


def test_web_unpublish_then_republish(app):
    public_id, statement_id = _arrange(app, "approved")
    reason = "Published in error: the delegation asked us to take it down."
    anonymous = app.test_client()
    assert anonymous.get(f"/statements/{public_id}").status_code == 200
    with app.app_context():
        first_published = _statement(public_id).published_at
    moderator = _signed_in(app, "mod@un.example")

    page = moderator.get(f"/moderation/{public_id}").get_data(as_text=True)
    assert _buttons_on(page) == ["Unpublish"]
    response = moderator.post(f"/moderation/{public_id}/unpublish", data=_decision_data(page, "unpublish", note=reason))
    assert response.headers["Location"] == "/moderation/"
    with app.app_context():
        statement = _statement(public_id)
        assert (statement.status, statement.decision_note) == (S.UNPUBLISHED, reason)
    assert anonymous.get(f"/statements/{public_id}").status_code == 404
    assert anonymous.get(f"/statements/{public_id}/document").status_code == 404
    assert public_id not in anonymous.get("/sessions/human-rights-all-migrants").get_data(as_text=True)
    submitter = _signed_in(app, "ana@mexico.example")
    own_page = submitter.get(f"/statements/{public_id}").get_data(as_text=True)
    assert "This statement is not public." in own_page
    # The form promises "The submitter will see this."
    assert html_lib.escape(reason, quote=False) in own_page, "the submitter is not shown why it was unpublished"

    page = moderator.get(f"/moderation/{public_id}").get_data(as_text=True)
    assert _buttons_on(page) == ["Republish"]
    response = moderator.post(f"/moderation/{public_id}/republish", data=_decision_data(page, "republish"))
    assert response.headers["Location"] == "/moderation/"
    with app.app_context():
        statement = _statement(public_id)
        assert statement.status is S.APPROVED
        assert statement.published_at == first_published  # the first publication stays on record
        assert statement.decision_note is None
        events = _decision_events(statement_id)
        assert [(e.action, e.old_status, e.new_status, e.note) for e in events] == [
            ("approve", "submitted", "approved", ""),
            ("unpublish", "approved", "unpublished", reason),
            ("republish", "unpublished", "approved", ""),
        ]
    assert anonymous.get(f"/statements/{public_id}").status_code == 200


def test_web_approve_with_embargo_publishes_only_from_then(app):
    public_id, statement_id = _arrange(app)
    embargo = (utcnow() + timedelta(days=3)).replace(second=0, microsecond=0)
    moderator = _signed_in(app, "mod@un.example")
    page = moderator.get(f"/moderation/{public_id}").get_data(as_text=True)
    assert '<label for="approve-publish_at">Publish at (UTC, optional)</label>' in page
    data = _decision_data(page, "approve", publish_at=embargo.strftime("%Y-%m-%dT%H:%M"))
    response = moderator.post(f"/moderation/{public_id}/approve", data=data)
    assert response.headers["Location"] == "/moderation/"

    with app.app_context():
        statement = _statement(public_id)
        assert statement.status is S.APPROVED
        assert statement.publish_at == embargo
        events = _decision_events(statement_id)
        assert [(e.action, e.data) for e in events] == [("approve", {"version": 1, "publish_at": embargo.isoformat()})]

    anonymous = app.test_client()
    assert anonymous.get(f"/statements/{public_id}").status_code == 404
    assert anonymous.get(f"/statements/{public_id}/document").status_code == 404
    session_page = anonymous.get("/sessions/human-rights-all-migrants").get_data(as_text=True)
    assert public_id not in session_page
    assert "<p>0 published statements</p>" in anonymous.get("/").get_data(as_text=True)
    submitter = _signed_in(app, "ana@mexico.example")
    assert "This statement is not public." in submitter.get(f"/statements/{public_id}").get_data(as_text=True)

    # Time passes: once the embargo has lapsed, the statement is public.
    with app.app_context():
        _statement(public_id).publish_at = utcnow() - timedelta(minutes=1)
        db.session.commit()
    assert anonymous.get(f"/statements/{public_id}").status_code == 200
    assert public_id in anonymous.get("/sessions/human-rights-all-migrants").get_data(as_text=True)
    assert "<p>1 published statement</p>" in anonymous.get("/").get_data(as_text=True)


def test_web_claim_by_another_moderator_refuses_decision(app):
    public_id, statement_id = _arrange(app)
    with app.app_context():
        statement = _statement(public_id)
        statement.claimed_by = _user("admin@un.example")
        statement.claimed_until = utcnow() + timedelta(minutes=30)
        db.session.commit()
        before, audit_before = _row(public_id), _audit_count()

    moderator = _signed_in(app, "mod@un.example")
    page = moderator.get(f"/moderation/{public_id}").get_data(as_text=True)
    assert _forms_on(page, public_id) == []
    assert _buttons_on(page) == []
    # It awaits review (by someone else): it has not been decided.
    assert "This statement has been decided" not in page

    token = csrf_token(moderator, "/moderation/")
    for action in expected_actions("submitted", "moderator"):
        data = {f"{action}-csrf_token": token, f"{action}-version": str(before["version"]), f"{action}-note": REASON}
        response = moderator.post(f"/moderation/{public_id}/{action}", data=data)
        assert response.status_code == 302
        assert response.headers["Location"] == f"/moderation/{public_id}"
        errors = _flashes(moderator.get(response.headers["Location"]).get_data(as_text=True), "error")
        assert len(errors) == 1
        assert errors[0].startswith("Admin is reviewing this statement (claimed until ")
        assert errors[0].endswith("Nothing was changed.")
        with app.app_context():
            assert _row(public_id) == before
            assert _audit_count() == audit_before

    # The holder of the claim decides.
    admin = _signed_in(app, "admin@un.example")
    page = admin.get(f"/moderation/{public_id}").get_data(as_text=True)
    assert _forms_on(page, public_id) == expected_actions("submitted", "admin")
    response = admin.post(f"/moderation/{public_id}/approve", data=_decision_data(page, "approve"))
    assert response.headers["Location"] == "/moderation/"
    with app.app_context():
        statement = _statement(public_id)
        assert statement.status is S.APPROVED
        assert (statement.claimed_by_id, statement.claimed_until) == (None, None)
        assert [(e.action, e.actor_label) for e in _decision_events(statement_id)] == [("approve", "admin@un.example")]


@pytest.mark.parametrize("first", expected_actions("submitted", "moderator"))
def test_web_deciding_twice_redirects_with_message_and_changes_nothing(app, subtests, first):
    public_id, statement_id = _arrange(app)
    original_public_id = _original(app)
    client = _signed_in(app, "mod@un.example")
    page = client.get(f"/moderation/{public_id}").get_data(as_text=True)  # the first page load
    response = client.post(
        f"/moderation/{public_id}/{first}",
        data=_decision_data(page, first, note=REASON, duplicate_of=original_public_id if first == "mark_duplicate" else None),
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/moderation/"
    client.get("/moderation/")  # shows (and consumes) the success message
    with app.app_context():
        decided = _row(public_id)
        audit_before = _audit_count()
    now = POLICY[first].target
    label = now.label.lower()

    for second in DECISIONS:  # the same decision again, and every other, from the first page load
        with subtests.test(first=first, second=second):
            data = _decision_data(page, second, note="Second thoughts.", duplicate_of=original_public_id)
            response = client.post(f"/moderation/{public_id}/{second}", data=data)
            assert response.status_code == 302
            assert response.headers["Location"] == f"/moderation/{public_id}"
            review = client.get(response.headers["Location"])
            assert review.status_code == 200
            text = review.get_data(as_text=True)
            errors = _flashes(text, "error")
            assert len(errors) == 1
            assert f"it is now {label}" in errors[0]
            assert "Nothing was changed" in errors[0]
            assert _forms_on(text, public_id) == expected_actions(now.value, "moderator")
            with app.app_context():
                assert _row(public_id) == decided
                assert _audit_count() == audit_before
                assert [e.action for e in _decision_events(statement_id)] == [first]


def test_web_stale_form_after_other_moderator_decided_is_refused(app, subtests):
    public_id, statement_id = _arrange(app)
    original_public_id = _original(app)
    slow = _signed_in(app, "mod@un.example")
    fast = _signed_in(app, "admin@un.example")
    stale_page = slow.get(f"/moderation/{public_id}").get_data(as_text=True)
    assert _forms_on(stale_page, public_id) == ["approve", "reject", "request_changes", "mark_duplicate"]

    fast_page = fast.get(f"/moderation/{public_id}").get_data(as_text=True)
    response = fast.post(f"/moderation/{public_id}/approve", data=_decision_data(fast_page, "approve"))
    assert response.headers["Location"] == "/moderation/"
    with app.app_context():
        decided = _row(public_id)
        audit_before = _audit_count()

    for action in _forms_on(stale_page, public_id):
        with subtests.test(action=action):
            data = _decision_data(stale_page, action, note=REASON, duplicate_of=original_public_id)
            response = slow.post(f"/moderation/{public_id}/{action}", data=data)
            assert response.status_code == 302
            assert response.headers["Location"] == f"/moderation/{public_id}"
            text = slow.get(response.headers["Location"]).get_data(as_text=True)
            errors = _flashes(text, "error")
            assert len(errors) == 1
            assert "changed after you opened it" in errors[0]
            assert "it is now published" in errors[0]
            assert "Nothing was changed" in errors[0]
            assert _forms_on(text, public_id) == ["unpublish"]
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
    assert _forms_on(text, public_id) == ["approve", "reject", "request_changes", "mark_duplicate"]
    with app.app_context():
        assert _row(public_id) == before
        assert _audit_count() == audit_before


def test_web_decide_without_token_by_submitter_or_unknown_action_is_refused(app, subtests):
    public_id, _ = _arrange(app)
    moderator = _signed_in(app, "mod@un.example")
    page = moderator.get(f"/moderation/{public_id}").get_data(as_text=True)
    with app.app_context():
        before, audit_before = _row(public_id), _audit_count()

    no_token = {"approve-version": _hidden(page, "approve-version")}
    response = moderator.post(f"/moderation/{public_id}/approve", data=no_token)
    assert response.status_code == 400
    assert "Form expired" in response.get_data(as_text=True)

    # The submitter's own moves are not the secretariat's to make for them.
    for action in SUBMITTER_ACTIONS:
        with subtests.test(moderator_posts=action):
            response = moderator.post(f"/moderation/{public_id}/{action}", data=_decision_data(page, action))
            assert response.headers["Location"] == f"/moderation/{public_id}"
            errors = _flashes(moderator.get(response.headers["Location"]).get_data(as_text=True), "error")
            assert errors == [f"You are not allowed to {POLICY[action].label.lower()} this statement."]

    submitter = _signed_in(app, "ana@mexico.example")
    assert submitter.get(f"/moderation/{public_id}").status_code == 403
    token = csrf_token(submitter, "/my/submissions")
    for action in ACTIONS:
        with subtests.test(submitter_posts=action):
            data = {f"{action}-csrf_token": token, f"{action}-version": str(before["version"]), f"{action}-note": REASON}
            assert submitter.post(f"/moderation/{public_id}/{action}", data=data).status_code == 403

    data = {"publish-csrf_token": _hidden(page, "approve-csrf_token"), "publish-version": "1"}
    assert moderator.post(f"/moderation/{public_id}/publish", data=data).status_code == 404

    with app.app_context():
        assert _row(public_id) == before
        assert _audit_count() == audit_before


# What the review page offers in each state, by hand.
BUTTONS = {
    "draft": [],
    "submitted": ["Approve", "Reject", "Request changes", "Mark as duplicate"],
    "changes_requested": [],
    "approved": ["Unpublish"],
    "rejected": [],
    "withdrawn": [],
    "unpublished": ["Republish"],
    "duplicate": [],
    CORRECTION: ["Approve the correction", "Reject the correction"],
}


def test_review_page_buttons_are_exactly_allowed_actions(app, subtests):
    assert set(BUTTONS) == set(STATES)
    statements = dict(zip(STATES, _arrange_many(app, STATES)))
    for email in ("mod@un.example", "admin@un.example"):
        client = _signed_in(app, email)
        role = "moderator" if email.startswith("mod") else "admin"
        for state, (public_id, _) in statements.items():
            with subtests.test(state=state, email=email):
                with app.app_context():
                    allowed = workflow.allowed_actions(_statement(public_id), _user(email))
                assert allowed == expected_actions(state, role)
                text = client.get(f"/moderation/{public_id}").get_data(as_text=True)
                assert _forms_on(text, public_id) == allowed
                assert _buttons_on(text) == [POLICY[a].label for a in allowed] == BUTTONS[state]
                for action in allowed:
                    note_label = POLICY[action].note_label
                    assert (f'<label for="{action}-note">{note_label}</label>' in text) is (note_label is not None)
                    assert (f'name="{action}-publish_at"' in text) is (action in ("approve", "republish"))
                    assert (f'name="{action}-duplicate_of"' in text) is (action == "mark_duplicate")
                if allowed:
                    assert "This statement has been decided" not in text
                elif state in ("rejected", "duplicate"):
                    label = STATUS_OF[state].label.lower()
                    assert f"This statement has been decided: {label} by Mod on " in text
                    if state == "rejected":
                        assert f"Reason: {ARRANGED_REASON}" in text


# --- two moderators at the same moment ------------------------------------------------------------


@pytest.mark.parametrize(
    ("winner", "loser"), [("approve", "reject"), ("reject", "approve"), ("request_changes", "mark_duplicate")]
)
def test_concurrent_decisions_in_two_sessions_only_first_commits(app, winner, loser):
    """Both sessions load the statement before either decides; the second flush hits the version check.

    Flask-SQLAlchemy scopes db.session to the app context, so two app contexts give two
    real sessions on two connections, and workflow.apply runs unpatched in each.
    """
    public_id, statement_id = _arrange(app)
    original_public_id = _original(app)
    with app.app_context():
        audit_before = _audit_count()

    with app.app_context():  # the slower moderator
        slow_session = db.session()
        slow_statement = _statement(public_id)
        slow_actor = _user("admin@un.example")
        slow_original = _statement(original_public_id)
        assert slow_statement.status is S.SUBMITTED and slow_statement.version == 1

        with app.app_context():  # the faster moderator, at the same moment
            fast_session = db.session()
            assert fast_session is not slow_session
            fast_statement = _statement(public_id)
            assert fast_statement is not slow_statement
            workflow.apply(
                fast_statement, winner, actor=_user("mod@un.example"), note=REASON, duplicate_of=_statement(original_public_id)
            )
            db.session.commit()

        assert db.session() is slow_session
        # The slow session still holds the statement as it loaded it, awaiting review.
        assert slow_statement.status is S.SUBMITTED
        with pytest.raises(ConflictError) as info:
            workflow.apply(slow_statement, loser, actor=slow_actor, note=REASON, duplicate_of=slow_original)
        assert "at the same moment" in info.value.message
        db.session.rollback()

    with app.app_context():
        statement = _statement(public_id)
        assert statement.status is POLICY[winner].target
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
    assert f"it is now {POLICY[winner].target.label.lower()}" in errors[0]
    assert "Nothing was changed" in errors[0]

    with app.app_context():
        statement = _statement(public_id)
        assert statement.status is POLICY[winner].target
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
    _arrange(app, "rejected")
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
    _arrange(app, "approved")
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
    _arrange(app, "approved")
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
