"""How a request's transaction ends: COMMIT when it only read (so PostgreSQL keeps the
statements psycopg prepared), the rollback as before when anything was written or waits."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from portal import cache, extensions, mail
from portal.extensions import ReadOnlyRequestError, db, reads_only
from portal.enums import Role
from portal.models import Organisation, User
from tests import factories
from tests.conftest import login


def _ends(app) -> list[str]:
    """The ends of the transactions on the app's engine, as they happen."""
    ends: list[str] = []
    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "commit", lambda conn: ends.append("commit"))
    sa.event.listen(engine, "rollback", lambda conn: ends.append("rollback"))
    return ends


def test_read_only_request_ends_with_commit(app, client):
    """A signed-in visitor's search: not a public page, so in a transaction on both databases."""
    with app.app_context():
        factories.make_user("reader@mex.example")
        db.session.commit()
    login(client, "reader@mex.example")
    ends = _ends(app)
    response = client.get("/search?q=detention")
    assert response.status_code == 200
    assert ends == ["commit"]


def test_public_page_ends_with_commit_on_sqlite_and_without_a_transaction_on_postgres(app, client, backend):
    """On PostgreSQL a public page ran without a transaction block (reads_only): there is
    nothing to commit, and the driver's rollback at the session's end sends nothing (the
    statements it prepared stay prepared, see below)."""
    ends = _ends(app)
    assert client.get("/search?q=detention").status_code == 200
    assert ends == (["rollback"] if backend == "postgresql" else ["commit"])


def test_read_only_request_keeps_the_public_revision(app, client):
    """A commit that changed nothing does not make the worker ask for the revision again."""
    client.get("/search?q=detention")
    before = cache._commits[0]
    client.get("/search?q=migrants")
    assert cache._commits[0] == before


def test_flushed_change_is_rolled_back_when_not_committed(app):
    ends = _ends(app)
    with app.app_context():
        mexico = factories.org("MEX")
        mexico.name = "Changed"
        db.session.flush()
    with app.app_context():
        assert factories.org("MEX").name == "Mexico"
    assert ends[0] == "rollback"


def test_core_write_is_rolled_back_when_not_committed(app):
    """A write without the ORM's flush (Core through the session) is seen as a write too."""
    with app.app_context():
        db.session.execute(sa.update(Organisation).where(Organisation.code == "MEX").values(name="Changed"))
    with app.app_context():
        assert factories.org("MEX").name == "Mexico"


def test_pending_change_is_not_committed(app):
    with app.app_context():
        factories.org("MEX").name = "Changed"  # not flushed: a commit would flush it
    with app.app_context():
        assert factories.org("MEX").name == "Mexico"


def test_queued_mail_is_not_sent_by_a_read_only_commit(app, monkeypatch):
    """Whatever waits in session.info for the end of the transaction (here, mail to send
    after a commit) is left to the rollback, as before."""
    sent = []
    monkeypatch.setattr(mail, "send_now", sent.append)
    with app.app_context():
        db.session.info.setdefault("portal_outbox", []).append(object())
        factories.org("MEX")
    assert sent == []


def test_context_after_a_failed_flush_ends_and_frees_its_connection(app):
    """After an IntegrityError the session's transaction is dead: the context still ends (no
    error from the teardown), and the connection goes back rolled back, holding no lock."""
    with app.app_context():
        factories.make_user("ann@x.org")
        db.session.commit()
        db.session.add(User(email="ann@x.org", name="Ann", password_hash="x", role=Role.MODERATOR))
        with pytest.raises(sa.exc.IntegrityError):
            db.session.flush()
    with app.app_context():
        with db.engine.connect() as other:  # a DDL-strength lock: waits for any open transaction
            other.execute(sa.text("LOCK TABLE users IN ACCESS EXCLUSIVE MODE NOWAIT" if other.dialect.name == "postgresql" else "SELECT 1"))
        assert factories.org("MEX").name == "Mexico"


def test_objects_read_stay_loaded_after_a_read_only_context(app):
    with app.app_context():
        mexico = factories.org("MEX")
    assert mexico.name == "Mexico"  # not expired by the commit: no DetachedInstanceError


def test_context_ending_with_an_exception_rolls_back(app):
    ends = _ends(app)
    with pytest.raises(RuntimeError), app.app_context():
        factories.org("MEX")
        raise RuntimeError("the view failed")
    assert ends == ["rollback"]


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_postgres_statements_stay_prepared_across_read_only_requests(app, client):
    """psycopg prepares a statement run five times, and forgets all it prepared on a
    rollback: requests that end with COMMIT keep them."""
    for page in range(1, 9):  # distinct URLs: each reaches the database
        assert client.get(f"/search?q=detention&page={page}").status_code == 200
    with app.app_context():
        prepared = db.session.scalar(sa.text("SELECT count(*) FROM pg_prepared_statements"))
    assert prepared > 0


# --- public pages run without a transaction block on PostgreSQL ------------------------------


def _driver_modes(app) -> list[tuple[str, bool]]:
    """(the statement's first words, whether the driver was in autocommit) of each statement
    run through SQLAlchemy, as it runs."""
    modes: list[tuple[str, bool]] = []
    with app.app_context():
        engine = db.engine

    def note(conn, cursor, statement, parameters, context, executemany):
        driver = conn.connection.driver_connection
        modes.append((statement.split(None, 1)[0].upper(), bool(getattr(driver, "autocommit", False))))

    sa.event.listen(engine, "before_cursor_execute", note)
    return modes


def test_public_page_reads_without_a_transaction_block_on_postgres_only(app, client, backend):
    """A public page only reads: on PostgreSQL its statements run in autocommit (no BEGIN,
    no COMMIT round trips); on SQLite nothing changes. A signed-in page is untouched."""
    modes = _driver_modes(app)
    assert client.get("/api/v1/statements?q=detention").status_code == 200
    assert client.get("/search?q=migrants").status_code == 200
    assert modes and all(first == "SELECT" for first, _ in modes)
    assert {autocommit for _, autocommit in modes} == {backend == "postgresql"}


def test_connection_of_a_public_page_goes_back_to_transactions(app, client, backend):
    """After a public page, the pooled connection runs the next request's writes in a
    transaction again: a failed request rolls its write back."""
    assert client.get("/search?q=detention").status_code == 200
    with pytest.raises(RuntimeError), app.app_context():
        if backend == "postgresql":
            assert db.session.connection().connection.driver_connection.autocommit is False
        db.session.execute(sa.update(Organisation).where(Organisation.code == "MEX").values(name="Changed"))
        raise RuntimeError("the view failed")
    with app.app_context():
        assert factories.org("MEX").name == "Mexico"


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_postgres_write_in_a_request_that_only_reads_raises_and_writes_nothing(app):
    with app.test_request_context("/search"), pytest.raises(ReadOnlyRequestError):
        reads_only()
        db.session.execute(sa.update(Organisation).where(Organisation.code == "MEX").values(name="Changed"))
    with app.app_context():
        assert factories.org("MEX").name == "Mexico"


def test_reads_only_leaves_a_begun_transaction_as_it_is(app):
    """Declared too late (the transaction has begun), reads_only changes nothing: the
    transaction goes on, and its write is rolled back with it."""
    with app.app_context():
        iom = factories.org("IOM").name
    with pytest.raises(RuntimeError), app.app_context():
        db.session.execute(sa.update(Organisation).where(Organisation.code == "MEX").values(name="Changed"))
        reads_only()
        db.session.execute(sa.update(Organisation).where(Organisation.code == "IOM").values(name="Changed too"))
        raise RuntimeError("the view failed")
    with app.app_context():
        assert (factories.org("MEX").name, factories.org("IOM").name) == ("Mexico", iom)


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_postgres_search_planner_settings_are_restored_without_a_transaction_block(app, client, monkeypatch):
    """The search's planner settings are set for the session and set back: in autocommit they
    would otherwise stay on the pooled connection for every later statement."""
    from portal import search

    monkeypatch.setattr(search, "PROBE_ROWS", 1)  # the indexes are asked, under the settings
    assert client.get("/search?q=detention+-children").status_code == 200
    with app.app_context():
        settings = db.session.execute(sa.text(
            "SELECT current_setting('enable_seqscan'), current_setting('enable_indexscan'), current_setting('plan_cache_mode')"
        )).one()
    assert tuple(settings) == ("on", "on", "auto")


# --- connections idle for a while are pinged before use -------------------------------------


def _pings(app, monkeypatch) -> list[int]:
    pings: list[int] = []
    with app.app_context():
        dialect = db.engine.dialect
    ping = type(dialect).do_ping
    monkeypatch.setattr(type(dialect), "do_ping", lambda self, conn: pings.append(1) or ping(self, conn))
    return pings


def test_connection_just_used_is_not_pinged(app, client, monkeypatch):
    pings = _pings(app, monkeypatch)
    for _ in range(3):
        assert client.get("/search?q=detention").status_code == 200
    assert pings == []


def test_connection_idle_for_longer_than_the_limit_is_pinged(app, client, monkeypatch):
    pings = _pings(app, monkeypatch)
    assert client.get("/search?q=detention").status_code == 200
    monkeypatch.setattr(extensions, "PING_AFTER_IDLE_SECONDS", 0.0)
    assert client.get("/search?q=migrants").status_code == 200
    assert pings == [1]


def _terminate(app, pid: int) -> None:
    """End a backend from a connection of its own, outside the app's pool."""
    with app.app_context():
        url = db.engine.url
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as other:
            assert other.scalar(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_postgres_connection_closed_by_the_server_while_idle_is_replaced(app, client, monkeypatch):
    """The server ended the pooled connection (a restart, an idle timeout): its ping fails,
    and the request gets a new connection instead of an error."""
    with app.app_context():
        pid = db.session.scalar(sa.text("SELECT pg_backend_pid()"))
    _terminate(app, pid)
    monkeypatch.setattr(extensions, "PING_AFTER_IDLE_SECONDS", 0.0)
    assert client.get("/search?q=detention").status_code == 200
    with app.app_context():
        assert db.session.scalar(sa.text("SELECT pg_backend_pid()")) != pid


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_postgres_search_statement_on_a_lost_connection_raises_sqlalchemys_error_and_invalidates_it(app):
    from portal import search

    with app.app_context():
        pid = db.session.scalar(sa.text("SELECT pg_backend_pid()"))
        _terminate(app, pid)
        with pytest.raises(sa.exc.DBAPIError) as raised:
            search._fetch(search._LEXEMES_SQL, {"words": ["detention"]})
        assert raised.value.connection_invalidated
    with app.app_context():
        assert search._fetch(search._LEXEMES_SQL, {"words": ["detention"]}) == [("detention", "detent")]
