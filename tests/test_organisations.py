"""Organisations: approving, rejecting and merging proposed ones; renaming, deactivating, reactivating.

The operations are driven directly (every action from every status, refusals that change
nothing) and through the organisation pages with CSRF on. E-mail goes through a real
SMTP server (tests/mailserver.py); assertions are on the messages received.
"""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from portal import organisations
from portal.enums import Language, MembershipStatus, OrganisationKind, OrganisationStatus, Role
from portal.exceptions import PermissionDenied, ValidationError, WorkflowError
from portal.extensions import db
from portal.models import Invitation, Organisation, Statement, User, utcnow
from portal.permissions import can_submit, submit_blockers
from tests import factories
from tests.admin_helpers import (
    buttons,
    events,
    field_errors,
    flashes,
    form_actions,
    last_event_id,
    make_organisation,
    make_pending,
    make_people,
    org_by_name,
    signed_in,
    table_rows,
    user_by_email,
)
from tests.conftest import csrf_from
from tests.mailserver import html_of, smtp_server, text_of  # noqa: F401 - fixture

O = OrganisationStatus
REASON = "Not an organisation: this is a private company selling visa services."

# The agreed policy, written out by hand so that portal.organisations.ACTIONS cannot drift silently.
EXPECTED_SOURCES = {
    "approve": {O.PENDING},
    "reject": {O.PENDING},
    "merge": {O.PENDING, O.APPROVED},
    "rename": {O.PENDING, O.APPROVED, O.INACTIVE, O.REJECTED},
    "deactivate": {O.APPROVED},
    "reactivate": {O.INACTIVE},
}
EXPECTED_TARGET = {
    "approve": O.APPROVED,
    "reject": O.REJECTED,
    "merge": O.MERGED,
    "deactivate": O.INACTIVE,
    "reactivate": O.APPROVED,
}
MODERATOR_ACTIONS = {"approve", "reject", "merge"}  # merge only of a pending organisation


@pytest.fixture
def app_config(smtp_server):
    _, port = smtp_server
    return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port, "MAIL_FROM": "Portal <portal@un.example>"}


@pytest.fixture
def inbox(smtp_server):
    return smtp_server[0]


@pytest.fixture
def people(app):
    with app.app_context():
        people = make_people()
        db.session.commit()
        return {key: user.id for key, user in people.items()}


def _text(message) -> str:
    """The plain-text part as written (SMTP carries CRLF line ends)."""
    return text_of(message).replace("\r\n", "\n")


def _subject(message) -> str:
    # Python's email package folds a long Subject right after "Subject:", and its parser
    # then keeps the fold's space; mail programs show the subject without it.
    return str(message["Subject"]).strip()


def _run(app, action, organisation_name, *, actor_email, **kwargs):
    """Call the operation for `action` inside a request context (e-mail links are absolute URLs)."""
    with app.test_request_context():
        organisation = org_by_name(organisation_name)
        actor = user_by_email(actor_email)
        if action == "merge":
            kwargs.setdefault("target", factories.org("IOM"))
            return organisations.merge_organisation(organisation, kwargs["target"], actor=actor)
        function = getattr(organisations, f"{action}_organisation")
        if action == "reject":
            kwargs.setdefault("reason", REASON)
        if action == "rename":
            kwargs.setdefault("name", f"{organisation_name} (renamed)")
        return function(organisation, actor=actor, **kwargs)


# --- the policy table ---------------------------------------------------------------------------


def test_actions_table_matches_agreed_policy():
    assert {name: set(a.source) for name, a in organisations.ACTIONS.items()} == EXPECTED_SOURCES
    assert {name for name, a in organisations.ACTIONS.items() if Role.MODERATOR in a.roles} == MODERATOR_ACTIONS
    assert all(Role.ADMIN in a.roles and Role.SUBMITTER not in a.roles for a in organisations.ACTIONS.values())
    assert [a.label for a in organisations.ACTIONS.values()] == [
        "Approve organisation",
        "Reject organisation",
        "Merge organisation",
        "Rename organisation",
        "Deactivate organisation",
        "Reactivate organisation",
    ]


def test_every_action_from_every_status_moves_or_refuses_without_change(app, people, subtests):
    """Each (action, status) on its own organisation, by an administrator."""
    cases = [(action, status) for action in organisations.ACTIONS for status in OrganisationStatus]
    with app.app_context():
        for action, status in cases:
            make_organisation(f"{action} {status.value}", status)
        db.session.commit()
    for action, status in cases:
        name = f"{action} {status.value}"
        allowed = status in EXPECTED_SOURCES[action]
        with subtests.test(action=action, status=status.value):
            with app.app_context():
                before, after_id = table_rows(), last_event_id()
                organisation = org_by_name(name)
                assert (action in organisations.allowed_actions(organisation, user_by_email("admin@un.example"))) is allowed
            if not allowed:
                with pytest.raises(WorkflowError) as info:
                    _run(app, action, name, actor_email="admin@un.example")
                assert info.value.message == (
                    f"“{name}” cannot be {organisations.ACTIONS[action].past} because it is {status.label.lower()}. "
                    "Nothing was changed."
                )
                with app.app_context():
                    db.session.rollback()
                    assert table_rows() == before
                continue
            with app.app_context():
                _run(app, action, name, actor_email="admin@un.example")
                db.session.commit()
            with app.app_context():
                organisation = db.session.get(Organisation, organisation.id)
                if action == "rename":
                    assert organisation.name == f"{name} (renamed)"
                    assert organisation.status is status
                else:
                    assert organisation.status is EXPECTED_TARGET[action]
                [event] = events("organisations", organisation.id, after=after_id)
                assert (event.action, event.actor_label) == (f"organisation.{action}", "admin@un.example")
                if action != "rename":
                    assert (event.old_status, event.new_status) == (status.value, EXPECTED_TARGET[action].value)


@pytest.mark.parametrize("role", [Role.SUBMITTER, Role.MODERATOR])
def test_roles_without_the_right_are_refused(app, people, role):
    email = {Role.SUBMITTER: "ana@mexico.example", Role.MODERATOR: "mod@un.example"}[role]
    with app.app_context():
        make_pending("Proposed NGO")
        make_organisation("Approved duplicate")
        make_organisation("Dormant NGO", O.INACTIVE)
        db.session.commit()
        before = table_rows()
    cases = [("approve", "Proposed NGO"), ("reject", "Proposed NGO"), ("merge", "Proposed NGO"),
             ("merge", "Approved duplicate"), ("rename", "Approved duplicate"),
             ("deactivate", "Approved duplicate"), ("reactivate", "Dormant NGO")]
    for action, name in cases:
        allowed = role is Role.MODERATOR and action in MODERATOR_ACTIONS and name == "Proposed NGO"
        if allowed:
            continue
        with pytest.raises(PermissionDenied) as info:
            _run(app, action, name, actor_email=email)
        if role is Role.MODERATOR and action == "merge":
            assert info.value.message == "Only an administrator may merge an approved organisation into another."
        else:
            assert info.value.message == f"You are not allowed to {action} organisations."
    with app.app_context():
        assert table_rows() == before


# --- approve ------------------------------------------------------------------------------------


def test_moderator_approves_proposed_organisation_and_proposer_is_emailed(app, people, inbox):
    with app.app_context():
        organisation, proposer = make_pending("Red Migrantes", proposer="rosa@redmigrantes.example", locale=Language.SPANISH)
        db.session.commit()
        org_id, proposer_id, after_id = organisation.id, proposer.id, last_event_id()

    moderator = signed_in(app, "mod@un.example")
    page = moderator.get(f"/admin/organisations/{org_id}").get_data(as_text=True)
    # The moderator is offered the decisions on a proposed organisation, not the administrator's actions.
    assert form_actions(page) == [f"/admin/organisations/{org_id}/{a}" for a in ("approve", "reject", "merge")]
    assert buttons(page) == ["Approve organisation", "Reject organisation", "Merge organisation"]
    assert "rosa@redmigrantes.example" in page

    response = moderator.post(f"/admin/organisations/{org_id}/approve", data={"approve-csrf_token": csrf_from(page)})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/admin/organisations/{org_id}"
    shown = moderator.get(response.headers["Location"]).get_data(as_text=True)
    assert flashes(shown, "success") == ["“Red Migrantes” was approved."]
    assert form_actions(shown) == []  # nothing left for a moderator to do

    with app.app_context():
        organisation = db.session.get(Organisation, org_id)
        proposer = user_by_email("rosa@redmigrantes.example")
        assert organisation.status is O.APPROVED
        assert proposer.membership is MembershipStatus.APPROVED
        assert can_submit(proposer)
        rows = [(e.object_type, e.object_id, e.action, e.old_status, e.new_status, e.actor_label, e.data)
                for e in events(after=after_id)]
        assert rows == [
            ("users", proposer_id, "membership.approve", "pending", "approved", "mod@un.example",
             {"organisation": "Red Migrantes", "because": "organisation.approve"}),
            ("organisations", org_id, "organisation.approve", "pending", "approved", "mod@un.example",
             {"members_approved": ["rosa@redmigrantes.example"]}),
        ]

    [message] = inbox.wait_for(1)
    assert message["To"] == "rosa@redmigrantes.example"
    assert message["From"] == "Portal <portal@un.example>"
    assert _subject(message) == "Su organización Red Migrantes ha sido aprobada"
    text = _text(message)
    assert text.startswith("Estimado/a Rosa:\n")
    assert "La secretaría ha aprobado Red Migrantes" in text
    assert "Ya puede presentar declaraciones: http://localhost/submit\n" in text
    assert '<a href="http://localhost/submit">http://localhost/submit</a>' in html_of(message)


def test_approval_of_unverified_proposer_says_what_remains(app, people, inbox):
    """Only the people whose membership the approval decides are told, and only active accounts."""
    with app.app_context():
        organisation, _ = make_pending("Migrant Voices", proposer="sam@voices.example", verified=False)
        refused = factories.make_user("refused@voices.example", org_code="MEX")
        refused.organisation, refused.membership = organisation, MembershipStatus.REJECTED
        gone = factories.make_user("gone@voices.example", org_code="MEX")
        gone.organisation, gone.membership, gone.active = organisation, MembershipStatus.PENDING, False
        db.session.commit()
    _run(app, "approve", "Migrant Voices", actor_email="mod@un.example")  # not committed: no mail
    with app.app_context():
        db.session.rollback()
        assert org_by_name("Migrant Voices").status is O.PENDING
    assert inbox.messages == []
    with app.app_context():
        event = _run(app, "approve", "Migrant Voices", actor_email="mod@un.example")
        assert event.data == {"members_approved": ["sam@voices.example", "gone@voices.example"]}
        db.session.commit()
    assert [m["To"] for m in inbox.messages] == ["sam@voices.example"]  # sent during the commit
    with app.app_context():
        assert user_by_email("refused@voices.example").membership is MembershipStatus.REJECTED
        assert user_by_email("gone@voices.example").membership is MembershipStatus.APPROVED
    [message] = inbox.messages
    assert _subject(message) == "Your organisation Migrant Voices is approved"
    text = _text(message)
    assert "One more step remains before you can submit; your account page says which: http://localhost/account" in text
    assert "/submit" not in text


# --- reject ---------------------------------------------------------------------------------------


def test_reject_needs_a_reason_shown_on_the_form_and_changes_nothing(app, people, inbox, subtests):
    with app.app_context():
        organisation, _ = make_pending("Visa Express Ltd", proposer="max@visa-express.example")
        db.session.commit()
        org_id = organisation.id
    admin = signed_in(app, "admin@un.example")
    page = admin.get(f"/admin/organisations/{org_id}").get_data(as_text=True)
    with app.app_context():
        before = table_rows()
    for label, reason in {"empty": "", "blank": "  \n\t ", "too-long": "x" * 5001}.items():
        with subtests.test(reason=label):
            response = admin.post(
                f"/admin/organisations/{org_id}/reject",
                data={"reject-csrf_token": csrf_from(page), "reject-reason": reason},
            )
            assert response.status_code == 400
            text = response.get_data(as_text=True)
            expected = (
                "The reason must be at most 5000 characters."
                if label == "too-long"
                else "A reason is required to reject an organisation; the person who proposed it will read it."
            )
            assert field_errors(text, "reject-reason") == [expected]
            assert 'aria-invalid="true"' in text
            # The decision forms are all still offered.
            assert form_actions(text)[:3] == [f"/admin/organisations/{org_id}/{a}" for a in ("approve", "reject", "merge")]
            with app.app_context():
                assert table_rows() == before
    assert inbox.messages == []


def test_reject_with_reason_stores_it_and_tells_the_proposer_in_their_language(app, people, inbox):
    with app.app_context():
        organisation, proposer = make_pending("Visa Express Ltd", proposer="max@visa-express.example", locale=Language.FRENCH)
        db.session.commit()
        org_id, proposer_id, after_id = organisation.id, proposer.id, last_event_id()
    moderator = signed_in(app, "mod@un.example")
    page = moderator.get(f"/admin/organisations/{org_id}").get_data(as_text=True)
    response = moderator.post(
        f"/admin/organisations/{org_id}/reject",
        data={"reject-csrf_token": csrf_from(page), "reject-reason": f"  {REASON}\n"},
    )
    assert response.headers["Location"] == f"/admin/organisations/{org_id}"
    shown = moderator.get(response.headers["Location"]).get_data(as_text=True)
    assert flashes(shown, "success") == ["“Visa Express Ltd” was rejected."]
    assert f"<dt>Reason for rejection</dt><dd>{REASON}</dd>" in shown

    with app.app_context():
        organisation = db.session.get(Organisation, org_id)
        proposer = user_by_email("max@visa-express.example")
        assert (organisation.status, organisation.status_note) == (O.REJECTED, REASON)
        assert (proposer.membership, proposer.membership_note) == (MembershipStatus.REJECTED, REASON)
        assert f"Reason: {REASON}" in " ".join(submit_blockers(proposer))
        rows = [(e.object_type, e.object_id, e.action, e.old_status, e.new_status, e.note, e.data)
                for e in events(after=after_id)]
        assert rows == [
            ("users", proposer_id, "membership.reject", "pending", "rejected", REASON,
             {"organisation": "Visa Express Ltd", "because": "organisation.reject"}),
            ("organisations", org_id, "organisation.reject", "pending", "rejected", REASON,
             {"members_rejected": ["max@visa-express.example"]}),
        ]

    [message] = inbox.wait_for(1)
    assert message["To"] == "max@visa-express.example"
    assert _subject(message) == "L'organisation proposée Visa Express Ltd n'a pas été approuvée"
    assert f"Motif : {REASON}" in _text(message)
    assert REASON in html_of(message)


# --- merge ----------------------------------------------------------------------------------------


def test_moderator_merges_proposed_organisation_into_existing_one(app, people, inbox):
    with app.app_context():
        organisation, proposer = make_pending("IOM Geneva office", proposer="lea@iom-geneva.example", kind=OrganisationKind.UN_ENTITY)
        db.session.commit()
        org_id, proposer_id, iom_id, after_id = organisation.id, proposer.id, factories.org("IOM").id, last_event_id()
    moderator = signed_in(app, "mod@un.example")
    page = moderator.get(f"/admin/organisations/{org_id}").get_data(as_text=True)
    # Only approved organisations other than this one are offered.
    assert '<option selected value="">Choose an approved organisation</option>' in page
    assert f'<option value="{iom_id}">International Organization for Migration</option>' in page
    assert f'<option value="{org_id}">' not in page

    response = moderator.post(
        f"/admin/organisations/{org_id}/merge",
        data={"merge-csrf_token": csrf_from(page), "merge-target_id": str(iom_id)},
    )
    assert response.headers["Location"] == f"/admin/organisations/{iom_id}"
    shown = moderator.get(response.headers["Location"]).get_data(as_text=True)
    assert flashes(shown, "success") == [
        "“IOM Geneva office” was merged into “International Organization for Migration”; "
        "its members and statements now belong there."
    ]
    assert "lea@iom-geneva.example" in shown  # now a member of IOM

    with app.app_context():
        source = db.session.get(Organisation, org_id)
        proposer = user_by_email("lea@iom-geneva.example")
        assert (source.status, source.merged_into_id) == (O.MERGED, iom_id)
        assert proposer.organisation_id == iom_id
        # A proposer still has to be accepted by IOM (its focal points or the secretariat).
        assert proposer.membership is MembershipStatus.PENDING
        assert not can_submit(proposer)
        data = {
            "source": {"id": org_id, "name": "IOM Geneva office"},
            "target": {"id": iom_id, "name": "International Organization for Migration"},
            "members": ["lea@iom-geneva.example"],
            "statements": [],
            "links": {"cosignatory": [], "on_behalf_of": []},
            "invitations": 0,
            "repointed": [],
        }
        rows = [(e.object_type, e.object_id, e.action, e.old_status, e.new_status, e.actor_label, e.data)
                for e in events(after=after_id)]
        assert rows == [
            ("users", proposer_id, "user.organisation", None, None, "mod@un.example",
             {"organisation": {"old": "IOM Geneva office", "new": "International Organization for Migration"}, "merge": org_id}),
            ("organisations", iom_id, "organisation.absorb", None, None, "mod@un.example", data),
            ("organisations", org_id, "organisation.merge", "pending", "merged", "mod@un.example", data),
        ]

    [message] = inbox.wait_for(1)
    assert message["To"] == "lea@iom-geneva.example"
    assert _subject(message) == "IOM Geneva office is now listed as International Organization for Migration"
    text = _text(message)
    assert "Your account now acts for International Organization for Migration" in text
    assert "still awaits approval by the secretariat or a focal point of International Organization for Migration" in text
    assert "<p>" in html_of(message)


def test_admin_merges_approved_duplicate_with_members_statements_links_and_invitations(app, people, inbox):
    with app.app_context():
        duplicate = make_organisation("Mexico (Permanent Mission)", kind=OrganisationKind.MEMBER_STATE)
        older = make_organisation("Mexico PM Geneva", O.MERGED)
        older.merged_into = duplicate
        delegate = factories.make_user("pedro@mision.example", org_code="MEX")
        delegate.organisation, delegate.is_focal_point = duplicate, True
        db.session.flush()
        statement = factories.make_statement(delegate, title="Mexico's statement, filed under the duplicate")
        invitation = Invitation(organisation=duplicate, email="eva@mision.example", invited_by=delegate,
                                expires_at=utcnow() + timedelta(days=14))
        db.session.add(invitation)
        # Swiss joint statements naming the duplicate; the second names Mexico as well.
        hans = db.session.get(User, people["other_org"])
        joint = factories.make_statement(hans, title="Joint statement on detention")
        joint.cosignatories, joint.on_behalf_of = [duplicate], [duplicate]
        both = factories.make_statement(hans, title="Joint statement naming both")
        both.cosignatories = [duplicate, factories.org("MEX")]
        db.session.commit()
        ids = {"duplicate": duplicate.id, "older": older.id, "delegate": delegate.id, "statement": statement.id,
               "public_id": statement.public_id, "invitation": invitation.id, "mexico": factories.org("MEX").id,
               "joint": joint.id, "both": both.id}
        after_id = last_event_id()

    with app.app_context():
        _run(app, "merge", "Mexico (Permanent Mission)", actor_email="admin@un.example", target=factories.org("MEX"))
        db.session.commit()

    with app.app_context():
        assert db.session.get(Organisation, ids["duplicate"]).merged_into_id == ids["mexico"]
        assert db.session.get(Organisation, ids["older"]).merged_into_id == ids["mexico"]  # no chains
        delegate = db.session.get(User, ids["delegate"])
        assert (delegate.organisation_id, delegate.membership, delegate.is_focal_point) == (
            ids["mexico"], MembershipStatus.APPROVED, True)
        assert can_submit(delegate)
        assert db.session.get(Statement, ids["statement"]).organisation_id == ids["mexico"]
        assert db.session.get(Invitation, ids["invitation"]).organisation_id == ids["mexico"]
        joint, both = db.session.get(Statement, ids["joint"]), db.session.get(Statement, ids["both"])
        assert ([o.name for o in joint.cosignatories], [o.name for o in joint.on_behalf_of]) == (["Mexico"], ["Mexico"])
        assert [o.name for o in both.cosignatories] == ["Mexico"]  # one link, not two
        assert joint.organisation.name == "Switzerland"
        change = {"old": "Mexico (Permanent Mission)", "new": "Mexico"}
        rows = [(e.object_type, e.object_id, e.action, e.data) for e in events(after=after_id)]
        assert rows[:4] == [
            ("users", ids["delegate"], "user.organisation", {"organisation": change, "merge": ids["duplicate"]}),
            ("statements", ids["statement"], "statement.organisation", {"organisation": change, "merge": ids["duplicate"]}),
            ("statements", ids["joint"], "statement.organisation",
             {"cosignatory": change, "on_behalf_of": change, "merge": ids["duplicate"]}),
            ("statements", ids["both"], "statement.organisation", {"cosignatory": change, "merge": ids["duplicate"]}),
        ]
        assert [(t, i, a) for t, i, a, _ in rows[4:]] == [
            ("organisations", ids["mexico"], "organisation.absorb"),
            ("organisations", ids["duplicate"], "organisation.merge"),
        ]
        merge = events("organisations", ids["duplicate"], after=after_id)[0]
        assert (merge.old_status, merge.new_status) == ("approved", "merged")
        assert merge.data["statements"] == [ids["public_id"]]
        assert merge.data["links"] == {"cosignatory": [joint.public_id, both.public_id], "on_behalf_of": [joint.public_id]}
        assert (merge.data["invitations"], merge.data["repointed"]) == (1, [ids["older"]])

    [message] = inbox.wait_for(1)
    assert message["To"] == "pedro@mision.example"
    assert "You can submit statements as before: http://localhost/submit" in _text(message)


def test_merge_knows_every_reference_to_an_organisation():
    """merge_organisation moves these; a new foreign key to organisations must be handled there too."""
    references = {
        (fk.parent.table.name, fk.parent.name)
        for table in db.metadata.tables.values()
        for fk in table.foreign_keys
        if fk.column.table.name == "organisations"
    }
    assert references == {
        ("users", "organisation_id"),
        ("statements", "organisation_id"),
        ("invitations", "organisation_id"),
        ("organisations", "merged_into_id"),
        ("statement_cosignatories", "organisation_id"),
        ("statement_on_behalf_of", "organisation_id"),
    }, "a table now refers to organisations: make portal.organisations.merge_organisation move its rows"


def test_merge_refusals_change_nothing(app, people, subtests):
    with app.app_context():
        make_pending("Proposed NGO", proposer="p@ngo.example")
        for status in (O.PENDING, O.REJECTED, O.MERGED, O.INACTIVE):
            make_organisation(f"Target {status.value}", status)
        db.session.commit()
        before = table_rows()
    cases = {f"target {s.value}": f"Target {s.value}" for s in (O.PENDING, O.REJECTED, O.MERGED, O.INACTIVE)}
    cases["itself"] = "Proposed NGO"
    for label, target_name in cases.items():
        with subtests.test(target=label):
            with app.app_context(), pytest.raises(ValidationError) as info:
                _run(app, "merge", "Proposed NGO", actor_email="mod@un.example", target=org_by_name(target_name))
            assert info.value.field == "target_id"
            if label == "itself":
                assert info.value.message == "Choose another organisation to merge this one into."
            else:
                status = O(label.split()[1])
                assert info.value.message == (
                    f"“{target_name}” is {status.label.lower()}: an organisation can only be merged into an approved one."
                )
            with app.app_context():
                assert table_rows() == before


def test_merge_form_refuses_an_unlisted_target(app, people):
    with app.app_context():
        organisation, _ = make_pending("Proposed NGO", proposer="p@ngo.example")
        pending_target, _ = make_pending("Another proposal")
        db.session.commit()
        org_id, target_id = organisation.id, pending_target.id
    moderator = signed_in(app, "mod@un.example")
    page = moderator.get(f"/admin/organisations/{org_id}").get_data(as_text=True)
    with app.app_context():
        before = table_rows()
    for value, message in {"": "Choose the organisation to merge this one into.",
                           str(target_id): "Choose an approved organisation from the list.",
                           "x": "Choose an organisation from the list."}.items():
        response = moderator.post(
            f"/admin/organisations/{org_id}/merge", data={"merge-csrf_token": csrf_from(page), "merge-target_id": value}
        )
        assert response.status_code == 400
        assert field_errors(response.get_data(as_text=True), "merge-target_id") == [message]
    with app.app_context():
        assert table_rows() == before


# --- rename, deactivate, reactivate ------------------------------------------------------------


def test_rename_refuses_a_taken_name_whatever_its_case_and_keeps_the_input(app, people):
    with app.app_context():
        organisation = make_organisation("Mexican Red Cross")
        db.session.commit()
        org_id = organisation.id
    admin = signed_in(app, "admin@un.example")
    page = admin.get(f"/admin/organisations/{org_id}").get_data(as_text=True)
    with app.app_context():
        before = table_rows()
    assert 'id="rename-name" maxlength="200" name="rename-name" required type="text" value="Mexican Red Cross"' in page
    response = admin.post(
        f"/admin/organisations/{org_id}/rename", data={"rename-csrf_token": csrf_from(page), "rename-name": "  MEXICO "}
    )
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert field_errors(text, "rename-name") == [
        "Another organisation is already called “Mexico” (approved). If they are the same organisation, merge them instead."
    ]
    assert 'value="  MEXICO "' in text  # what was typed, to correct
    with app.app_context():
        assert table_rows() == before


def test_rename_normalises_spaces_allows_a_change_of_case_and_is_audited(app, people, subtests):
    with app.app_context():
        organisation = make_organisation("mexican red cross")
        db.session.commit()
        org_id = organisation.id
    for typed, stored in {"Mexican  Red Cross ": "Mexican Red Cross", "Cruz Roja Mexicana": "Cruz Roja Mexicana"}.items():
        with subtests.test(name=typed):
            with app.app_context():
                previous, after_id = db.session.get(Organisation, org_id).name, last_event_id()
                _run(app, "rename", previous, actor_email="admin@un.example", name=typed)
                db.session.commit()
            with app.app_context():
                assert db.session.get(Organisation, org_id).name == stored
                [event] = events(after=after_id)
                assert (event.action, event.object_id, event.object_ref) == ("organisation.rename", org_id, stored)
                assert event.data == {"name": {"old": previous, "new": stored}}
    for typed, message in {"": "Enter the new name of the organisation.",
                           "x" * 201: "The name must be at most 200 characters.",
                           "Cruz  Roja Mexicana": "The organisation is already called “Cruz Roja Mexicana”."}.items():
        with app.app_context(), pytest.raises(ValidationError) as info:
            _run(app, "rename", "Cruz Roja Mexicana", actor_email="admin@un.example", name=typed)
        assert (info.value.field, info.value.message) == ("name", message)


def test_deactivation_stops_members_submitting_until_reactivated(app, people):
    admin = signed_in(app, "admin@un.example")
    with app.app_context():
        mexico_id = factories.org("MEX").id
    page = admin.get(f"/admin/organisations/{mexico_id}").get_data(as_text=True)
    assert buttons(page) == ["Merge organisation", "Rename organisation", "Deactivate organisation"]
    response = admin.post(
        f"/admin/organisations/{mexico_id}/deactivate",
        data={"deactivate-csrf_token": csrf_from(page), "deactivate-note": "Duplicate account under review."},
    )
    assert response.headers["Location"] == f"/admin/organisations/{mexico_id}"
    page = admin.get(response.headers["Location"]).get_data(as_text=True)
    assert flashes(page, "success") == ["“Mexico” was deactivated."]
    assert buttons(page) == ["Rename organisation", "Reactivate organisation"]
    with app.app_context():
        assert factories.org("MEX").status is O.INACTIVE
        assert not can_submit(user_by_email("ana@mexico.example"))
        [event] = events("organisations", mexico_id)
        assert (event.action, event.old_status, event.new_status, event.note) == (
            "organisation.deactivate", "approved", "inactive", "Duplicate account under review.")

    response = admin.post(
        f"/admin/organisations/{mexico_id}/reactivate",
        data={"reactivate-csrf_token": csrf_from(page), "reactivate-note": ""},
    )
    assert response.headers["Location"] == f"/admin/organisations/{mexico_id}"
    with app.app_context():
        assert factories.org("MEX").status is O.APPROVED
        assert can_submit(user_by_email("ana@mexico.example"))
        assert [(e.action, e.old_status, e.new_status) for e in events("organisations", mexico_id)] == [
            ("organisation.deactivate", "approved", "inactive"),
            ("organisation.reactivate", "inactive", "approved"),
        ]


def test_action_on_an_organisation_decided_meanwhile_is_refused_on_the_form(app, people, inbox):
    with app.app_context():
        organisation, _ = make_pending("Proposed NGO", proposer="p@ngo.example")
        db.session.commit()
        org_id = organisation.id
    slow, fast = signed_in(app, "mod@un.example"), signed_in(app, "admin@un.example")
    stale = slow.get(f"/admin/organisations/{org_id}").get_data(as_text=True)
    fresh = fast.get(f"/admin/organisations/{org_id}").get_data(as_text=True)
    fast.post(f"/admin/organisations/{org_id}/approve", data={"approve-csrf_token": csrf_from(fresh)})
    with app.app_context():
        before = table_rows()
    response = slow.post(
        f"/admin/organisations/{org_id}/reject", data={"reject-csrf_token": csrf_from(stale), "reject-reason": REASON}
    )
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert flashes(text, "error") == ["“Proposed NGO” cannot be rejected because it is approved. Nothing was changed."]
    assert form_actions(text) == []  # the page shows the organisation as it now is
    with app.app_context():
        assert table_rows() == before
    assert [_subject(m) for m in inbox.wait_for(1)] == ["Your organisation Proposed NGO is approved"]


# --- the list -----------------------------------------------------------------------------------


def test_list_shows_pending_first_with_counts_and_filters(app, people, subtests):
    with app.app_context():
        make_pending("Zeta Proposed Network", proposer="z@zeta.example")
        make_pending("Alpha Proposed Alliance")
        make_organisation("Beta Dormant", O.INACTIVE)
        db.session.commit()
    moderator = signed_in(app, "mod@un.example")
    page = moderator.get("/admin/organisations").get_data(as_text=True)
    names = _names(page)
    assert names == ["Alpha Proposed Alliance", "Zeta Proposed Network", "Beta Dormant", "International Organization for Migration", "Mexico"]
    assert "Page 1 of 2" in page
    assert ">Awaiting approval (2)</a>" in page
    assert ">All (6)</a>" in page
    assert ">Deactivated (1)</a>" in page
    queries = {
        "?status=pending": ["Alpha Proposed Alliance", "Zeta Proposed Network"],
        "?status=inactive": ["Beta Dormant"],
        "?kind=member_state": ["Mexico", "Switzerland"],
        "?q=propos": ["Alpha Proposed Alliance", "Zeta Proposed Network"],
        "?q=IOM": ["International Organization for Migration"],  # by acronym
        "?q=100%25": [],  # LIKE wildcards are literal
        "?page=2": ["Switzerland"],
    }
    for query, expected in queries.items():
        with subtests.test(query=query):
            response = moderator.get(f"/admin/organisations{query}")
            assert response.status_code == 200
            assert _names(response.get_data(as_text=True)) == expected
    response = moderator.get("/admin/organisations?status=bogus")
    assert response.status_code == 400
    assert field_errors(response.get_data(as_text=True), "status") == ["Choose a status from the list."]
    # Filters combine, and pagination links keep them.
    page = moderator.get("/admin/organisations?kind=ngo&q=a").get_data(as_text=True)
    assert _names(page) == ["Alpha Proposed Alliance", "Zeta Proposed Network", "Beta Dormant"]
    page = moderator.get("/admin/organisations?q=e").get_data(as_text=True)
    assert "6 organisations matching the filters" in page
    assert '<a href="/admin/organisations?page=2&amp;q=e" rel="next">Next page</a>' in page
    assert _names(moderator.get("/admin/organisations?page=2&q=e").get_data(as_text=True)) == ["Switzerland"]


def _names(page: str) -> list[str]:
    return re.findall(r'<td><a href="/admin/organisations/\d+">([^<]+)</a>', page)
