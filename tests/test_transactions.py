"""How a request's transaction ends: COMMIT when it only read (so PostgreSQL keeps the
statements psycopg prepared), the rollback as before when anything was written or waits."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from portal import cache, mail
from portal.extensions import db
from portal.enums import Role
from portal.models import Organisation, User
from tests import factories


def _ends(app) -> list[str]:
    """The ends of the transactions on the app's engine, as they happen."""
    ends: list[str] = []
    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "commit", lambda conn: ends.append("commit"))
    sa.event.listen(engine, "rollback", lambda conn: ends.append("rollback"))
    return ends


def test_read_only_request_ends_with_commit(app, client):
    ends = _ends(app)
    response = client.get("/search?q=detention")
    assert response.status_code == 200
    assert ends == ["commit"]


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
