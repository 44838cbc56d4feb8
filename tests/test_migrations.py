"""`flask --app portal db upgrade` on an empty database yields exactly the models' schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from portal.extensions import db
from portal.models import Base
from portal.models.search import include_in_autogenerate
from tests.conftest import PG_URL, make_app
from tests import pgdb


@pytest.fixture
def empty_database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A database with nothing in it: a new SQLite file, or a new PostgreSQL database."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'empty.db'}"
        return
    with pgdb.private_database(PG_URL, "portal_migrate") as url:
        yield url


def _check_constraints(engine: sa.Engine) -> set[tuple[str, str]]:
    inspector = sa.inspect(engine)
    return {
        (table, c["name"])
        for table in inspector.get_table_names()
        if table != "alembic_version"
        for c in inspector.get_check_constraints(table)
    }


def test_upgrade_empty_database_matches_models(empty_database_url, tmp_path):
    app = make_app(empty_database_url, tmp_path)
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output

    with app.app_context():
        with db.engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "include_object": include_in_autogenerate}
            )
            diff = compare_metadata(context, Base.metadata)
        assert diff == []
        expected_checks = {
            (table.name, constraint.name)
            for table in Base.metadata.sorted_tables
            for constraint in table.constraints
            if isinstance(constraint, sa.CheckConstraint)
        }
        assert _check_constraints(db.engine) == expected_checks
        db.engine.dispose()


def test_upgrade_creates_append_only_audit_trigger(empty_database_url, tmp_path):
    app = make_app(empty_database_url, tmp_path)
    assert app.test_cli_runner().invoke(args=["db", "upgrade"]).exit_code == 0
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO audit_events (created_at, actor_label, action, object_type, object_id, object_ref, note, data) "
                    "VALUES (CURRENT_TIMESTAMP, 'system', 'test', 'statements', 1, '', '', '{}')"
                )
            )
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            with db.engine.begin() as conn:
                conn.execute(sa.text("UPDATE audit_events SET note = 'changed'"))
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            with db.engine.begin() as conn:
                conn.execute(sa.text("DELETE FROM audit_events"))
        with db.engine.connect() as conn:
            assert conn.execute(sa.text("SELECT note FROM audit_events")).scalar_one() == ""
        db.engine.dispose()


def test_downgrade_to_base_removes_everything(empty_database_url, tmp_path):
    app = make_app(empty_database_url, tmp_path)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    result = runner.invoke(args=["db", "downgrade", "base"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert set(sa.inspect(db.engine).get_table_names()) <= {"alembic_version"}
        db.engine.dispose()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_upgrade_0009_splits_the_pairs_index_per_configuration(empty_database_url, tmp_path):
    app = make_app(empty_database_url, tmp_path)
    runner = app.test_cli_runner()

    def pair_indexes() -> dict[str, str]:
        with app.app_context():
            rows = db.session.execute(
                sa.text("SELECT indexname, indexdef FROM pg_indexes WHERE indexname LIKE 'ix_search_documents_tsv_pairs%'")
            ).all()
            db.session.remove()
            db.engine.dispose()
        return dict(rows)

    assert runner.invoke(args=["db", "upgrade", "0008"]).exit_code == 0
    assert list(pair_indexes()) == ["ix_search_documents_tsv_pairs"]
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    upgraded = pair_indexes()
    assert sorted(upgraded) == [f"ix_search_documents_tsv_pairs_{c}" for c in ("arabic", "english", "french", "russian", "simple", "spanish")]
    assert "WHERE ((config)::text = 'english'::text)" in upgraded["ix_search_documents_tsv_pairs_english"]
    result = runner.invoke(args=["db", "downgrade", "0008"])
    assert result.exit_code == 0, result.output
    assert list(pair_indexes()) == ["ix_search_documents_tsv_pairs"]


def test_upgrade_0002_keeps_existing_accounts_usable(empty_database_url, tmp_path):
    """Users created before accounts existed become verified, approved members with a session token."""
    app = make_app(empty_database_url, tmp_path)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade", "0001"]).exit_code == 0
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO organisations (id, name, kind, code, created_at) "
                    "VALUES (1, 'Mexico', 'member_state', 'MEX', CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(
                sa.text(
                    "INSERT INTO users (email, name, password_hash, role, organisation_id, active, created_at) VALUES "
                    "('ana@mexico.example', 'Ana', 'x', 'submitter', 1, :t, CURRENT_TIMESTAMP), "
                    "('mod@un.example', 'Mod', 'x', 'moderator', NULL, :t, CURRENT_TIMESTAMP)"
                ),
                {"t": True},
            )
        db.engine.dispose()
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        with db.engine.connect() as conn:
            rows = conn.execute(
                sa.text(
                    "SELECT email, membership, session_token, email_verified_at, is_focal_point, locale "
                    "FROM users ORDER BY email"
                )
            ).all()
            assert [(r.email, r.membership) for r in rows] == [
                ("ana@mexico.example", "approved"),
                ("mod@un.example", None),
            ]
            assert all(len(r.session_token) == 32 for r in rows)
            assert rows[0].session_token != rows[1].session_token
            assert all(r.email_verified_at is not None and not r.is_focal_point and r.locale == "en" for r in rows)
            assert conn.execute(sa.text("SELECT status FROM organisations")).scalar_one() == "approved"
        db.engine.dispose()


def test_upgrade_0003_turns_documents_into_first_versions(empty_database_url, tmp_path):
    app = make_app(empty_database_url, tmp_path)
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade", "0002"]).exit_code == 0
    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO organisations (id, name, kind, code, status, website, country, status_note, created_at) "
                "VALUES (1, 'Mexico', 'member_state', 'MEX', 'approved', '', '', '', CURRENT_TIMESTAMP)"
            ))
            conn.execute(sa.text(
                "INSERT INTO users (id, email, name, password_hash, role, organisation_id, membership, membership_note, "
                "is_focal_point, locale, active, session_token, failed_logins, created_at) VALUES "
                "(1, 'ana@mexico.example', 'Ana', 'x', 'submitter', 1, 'approved', '', :f, 'en', :t, 'tok', 0, CURRENT_TIMESTAMP), "
                "(2, 'mod@un.example', 'Mod', 'x', 'moderator', NULL, NULL, '', :f, 'en', :t, 'tok2', 0, CURRENT_TIMESTAMP)"
            ), {"t": True, "f": False})
            conn.execute(sa.text(
                "INSERT INTO meeting_sessions (id, number, slug, title, short_title, venue, city, start_date, end_date, created_at) "
                "VALUES (1, 1, 's1', 'Session one', 'One', '', '', '2017-05-08', '2017-05-09', CURRENT_TIMESTAMP)"
            ))
            conn.execute(sa.text(
                "INSERT INTO stored_files (id, storage_key, original_name, content_type, size, sha256, created_at) VALUES "
                f"(1, '{'a' * 32}', 'a.pdf', 'application/pdf', 10, '{'1' * 64}', CURRENT_TIMESTAMP), "
                f"(2, '{'b' * 32}', 'b.pdf', 'application/pdf', 20, '{'2' * 64}', CURRENT_TIMESTAMP)"
            ))
            conn.execute(sa.text(
                "INSERT INTO statements (id, public_id, title, organisation_id, submitted_by_id, session_id, kind, language, "
                "status, document_id, decided_by_id, created_at, updated_at, submitted_at, decided_at, published_at, version) VALUES "
                "(1, 'ST-AAAA-AAAA', 'Published', 1, 1, 1, 'written', 'fr', 'approved', 1, 2, "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 2), "
                "(2, 'ST-BBBB-BBBB', 'Waiting', 1, 1, 1, 'written', 'en', 'submitted', 2, NULL, "
                "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, NULL, NULL, 1)"
            ))
        db.engine.dispose()
    result = runner.invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        with db.engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT s.public_id, v.number, v.status, f.stored_file_id, f.language, f.role "
                "FROM statements s JOIN statement_versions v ON v.statement_id = s.id "
                "JOIN statement_files f ON f.version_id = v.id ORDER BY s.id"
            )).all()
        assert [tuple(r) for r in rows] == [
            ("ST-AAAA-AAAA", 1, "approved", 1, "fr", "original"),
            ("ST-BBBB-BBBB", 1, "submitted", 2, "en", "original"),
        ]
        db.engine.dispose()
