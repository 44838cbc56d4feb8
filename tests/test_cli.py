"""The command line: users, sessions, demo data, file sweeping."""

from __future__ import annotations

import io

import sqlalchemy as sa
from werkzeug.security import check_password_hash

from portal.enums import Role
from portal.extensions import db
from portal.models import Area, AuditEvent, MeetingSession, Organisation, Panel, StoredFile, User
from portal.storage import get_store
from tests import factories


def _create(runner, *args: str, password: str = "a long enough password"):
    return runner.invoke(args=["users", "create", *args, "--password-stdin"], input=password + "\n")


def test_users_create_submitter_with_organisation(app, runner):
    result = _create(runner, "Ana.Garcia@SRE.gob.mx", "--name", "Ana García", "--role", "submitter", "--organisation", "Mexico")
    assert result.exit_code == 0, result.output
    assert "Created submitter ana.garcia@sre.gob.mx for Mexico." in result.output
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == "ana.garcia@sre.gob.mx"))
        assert user.name == "Ana García"
        assert user.role is Role.SUBMITTER
        assert user.organisation.name == "Mexico"
        assert user.password_hash != "a long enough password"
        assert check_password_hash(user.password_hash, "a long enough password")
        event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "user.create"))
        assert event.object_id == user.id
        assert event.actor_label == "system"
        assert event.data == {"role": "submitter", "organisation": "Mexico"}


def test_users_create_organisation_by_code(app, runner):
    result = _create(runner, "iom@iom.example", "--name", "IOM focal point", "--organisation", "iom")
    assert result.exit_code == 0, result.output
    assert "for International Organization for Migration" in result.output


def test_users_create_moderator_without_organisation(app, runner):
    result = _create(runner, "mod@un.example", "--name", "Moderator", "--role", "moderator")
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalar(sa.select(User.role).where(User.email == "mod@un.example")) is Role.MODERATOR


def test_users_create_duplicate_email_any_case_refused(app, runner):
    assert _create(runner, "ann@x.org", "--name", "Ann", "--organisation", "Mexico").exit_code == 0
    result = _create(runner, "ANN@X.org", "--name", "Ann again", "--organisation", "Mexico")
    assert result.exit_code == 1
    assert "An account with the e-mail address ann@x.org already exists." in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 1


def test_users_create_unknown_organisation_refused(app, runner):
    result = _create(runner, "x@y.org", "--name", "X", "--organisation", "Mexic")
    assert result.exit_code == 1
    assert "Unknown organisation 'Mexic'. Did you mean: Mexico?" in result.output
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0


def test_users_create_submitter_without_organisation_refused(app, runner):
    result = _create(runner, "x@y.org", "--name", "X", "--role", "submitter")
    assert result.exit_code == 1
    assert "A submitter must act for an organisation." in result.output


def test_users_create_short_password_refused(app, runner):
    result = _create(runner, "x@y.org", "--name", "X", "--organisation", "Mexico", password="short")
    assert result.exit_code == 1
    assert "at least 12 characters" in result.output


def test_users_create_invalid_email_refused(app, runner):
    result = _create(runner, "not-an-address", "--name", "X", "--organisation", "Mexico")
    assert result.exit_code == 1
    assert "is not a valid e-mail address" in result.output


def test_users_create_unknown_role_refused(app, runner):
    result = _create(runner, "x@y.org", "--name", "X", "--role", "superuser")
    assert result.exit_code == 2
    assert "'superuser' is not one of" in result.output


def test_users_list_shows_accounts(app, runner):
    _create(runner, "ann@x.org", "--name", "Ann", "--organisation", "Mexico")
    result = runner.invoke(args=["users", "list"])
    assert "ann@x.org\tsubmitter\tMexico\tactive" in result.output


def test_demo_loads_gcm_sessions_and_is_idempotent(app, runner):
    first = runner.invoke(args=["demo", "--users"])
    assert first.exit_code == 0, first.output
    assert "moderator@secretariat.example" in first.output
    with app.app_context():
        counts = {
            model.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (MeetingSession, Area, Panel, Organisation, User, AuditEvent)
        }
    second = runner.invoke(args=["demo", "--users"])
    assert second.exit_code == 0, second.output
    assert "nothing new" in second.output
    with app.app_context():
        again = {
            model.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(model))
            for model in (MeetingSession, Area, Panel, Organisation, User, AuditEvent)
        }
        assert again == counts
        assert counts["MeetingSession"] == 6
        # 193 Member States, 2 observer States and the rest of the shipped list (3 already seeded by the tests).
        assert counts["Organisation"] == 259
        session1 = db.session.scalar(sa.select(MeetingSession).where(MeetingSession.number == 1))
        assert session1.start_date.isoformat() == "2017-05-08"
        assert session1.city == "Geneva"
        # The tests' seed holds areas a, d, e and panels 1, 2: kept, and the rest added in order.
        assert [a.code for a in session1.areas] == list("abcdefghijkl")
        assert [p.number for p in session1.panels] == [1, 2, 3, 4]


def test_demo_session1_from_seed_has_twelve_areas_and_four_panels(app, runner, tmp_path):
    # The tests' seed already holds a session 1; load into a database without it.
    with app.app_context():
        for model in (Area, Panel):
            db.session.execute(sa.delete(model))
        db.session.execute(sa.delete(MeetingSession))
        db.session.commit()
    assert runner.invoke(args=["demo"]).exit_code == 0
    with app.app_context():
        session1 = db.session.scalar(sa.select(MeetingSession).where(MeetingSession.number == 1))
        assert [a.label for a in session1.areas][:4] == [
            "a. Overarching frameworks and principles",
            "b. Vulnerability",
            "c. Irregular migration",
            "d. Human rights in migration management",
        ]
        assert session1.areas[-1].label == "l. Data"
        assert len(session1.areas) == 12
        assert [p.title for p in session1.panels] == [
            "Human rights of all migrants",
            "Social inclusion and cohesion",
            "All forms of discrimination, including racism, xenophobia and intolerance",
            "Summary panel: Synopsis of the main conclusions and outcomes",
        ]
        kinds = dict(
            db.session.execute(
                sa.select(Organisation.kind, sa.func.count()).group_by(Organisation.kind)
            ).all()
        )
        assert kinds["member_state"] == 193
        assert kinds["observer_state"] == 2
        assert db.session.scalar(sa.select(Organisation.kind).where(Organisation.code == "EU")) == "igo"


def test_sessions_window_opens_and_closes(app, runner):
    result = runner.invoke(args=["sessions", "window", "2", "--opens", "2020-01-01T00:00", "--closes", "none"])
    assert result.exit_code == 0, result.output
    assert "Session 2: Drivers of migration: open for submissions." in result.output
    result = runner.invoke(args=["sessions", "window", "2", "--closes", "now"])
    assert "closed for submissions" in result.output
    with app.app_context():
        actions = db.session.scalars(sa.select(AuditEvent.action).where(AuditEvent.object_type == "meeting_sessions")).all()
        assert actions == ["session.window", "session.window"]


def test_sessions_window_bad_input_refused(app, runner):
    assert "There is no session number 42." in runner.invoke(args=["sessions", "window", "42", "--opens", "now"]).output
    bad = runner.invoke(args=["sessions", "window", "2", "--opens", "yesterday"])
    assert bad.exit_code == 2
    assert "is not an ISO date" in bad.output
    inverted = runner.invoke(args=["sessions", "window", "2", "--opens", "2030-01-02", "--closes", "2030-01-01"])
    assert inverted.exit_code == 1
    assert "The closing time must be after the opening time." in inverted.output


def test_sweep_files_removes_only_orphans(app, runner):
    with app.app_context():
        author = factories.make_user("ana@mexico.example")
        statement = factories.make_statement(author)
        kept = statement.document.storage_key
        db.session.commit()
        store = get_store()
        orphan = store.place(store.receive(io.BytesIO(b"left by a crash"), max_bytes=1000), db.session())
        db.session.commit()
    assert "0 orphaned file(s)" in runner.invoke(args=["sweep-files"]).output  # too recent by default
    result = runner.invoke(args=["sweep-files", "--min-age", "0"])
    assert result.exit_code == 0, result.output
    assert f"removing {orphan}" in result.output
    assert "1 orphaned file(s) and 0 unfinished upload(s) removed." in result.output
    with app.app_context():
        assert get_store().exists(kept)
        assert not get_store().exists(orphan)
        assert db.session.scalar(sa.select(sa.func.count()).select_from(StoredFile)) == 1


def test_demo_moderators_have_two_factor_and_demo_code_works_in_development(app, runner):
    import pyotp

    result = runner.invoke(args=["demo", "--users"])
    assert "two-factor key:" in result.output
    with app.app_context():
        moderator = db.session.scalar(sa.select(User).where(User.email == "moderator@secretariat.example"))
        assert moderator.has_two_factor
        secret = moderator.totp_secret
    refused = runner.invoke(args=["demo-code", "moderator@secretariat.example"])
    assert refused.exit_code == 1
    assert "only works with PORTAL_ENV=development" in refused.output
    app.config["PORTAL_ENV"] = "development"
    code = runner.invoke(args=["demo-code", "moderator@secretariat.example"]).output.strip()
    assert pyotp.TOTP(secret).verify(code, valid_window=1)
