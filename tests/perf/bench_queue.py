"""Benchmark of the review queue and of one bulk approval, on SQLite and PostgreSQL.

Run by hand (pytest does not collect it: its name is not test_*.py):

    .venv/bin/python tests/perf/bench_queue.py
    PORTAL_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test .venv/bin/python tests/perf/bench_queue.py

For each backend it loads the GCM catalogue (sessions, areas, ~200 organisations), inserts
10,000 statements awaiting review and 1,000 published ones (20 with a correction waiting) with
SQLAlchemy Core bulk inserts, each with its real StoredFile, StatementVersion, StatementFile and
area rows, then measures through the Flask test client, signed in as a moderator with CSRF on:

- the reference: a trivial route behind the same app and session machinery, and a `SELECT 1`
  round trip on the same engine;
- GET /moderation/ (what waits, 50 per page), a filtered and a deep page, 500 per page;
- one POST /moderation/bulk approving the 500 oldest items (each locked, decided through
  workflow.apply, audited, mailed as .eml files, committed).

PostgreSQL runs in a private database created next to the URL's and dropped afterwards.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from portal import demo  # noqa: E402
from tests import pgdb  # noqa: E402
from portal.enums import (  # noqa: E402
    FileRole,
    Language,
    MembershipStatus,
    Role,
    StatementKind,
    StatementStatus,
    VersionStatus,
)
from portal.extensions import db  # noqa: E402
from portal.models import (  # noqa: E402
    AuditEvent,
    Base,
    MeetingSession,
    Organisation,
    Statement,
    StatementFile,
    StatementVersion,
    StoredFile,
    User,
    statement_areas,
    utcnow,
)
from portal.models.statements import new_public_id  # noqa: E402
from tests import factories  # noqa: E402
from tests.conftest import TEST_CONFIG, login, make_app  # noqa: E402

PENDING = 10_000
PUBLISHED = 1_000
CORRECTIONS = 20
BULK = 500
MODERATOR = "bench-mod@un.example"
# Titles as delegations write them: an opening, the organisation, the area, an aspect.
OPENINGS = ("Statement by", "Written input of", "Intervention of", "Contribution of", "Remarks by")
ASPECTS = (
    "children and families", "alternatives to detention", "access to justice", "data and evidence",
    "the role of local authorities", "labour rights", "gender-responsive policies", "regional cooperation",
    "remittances", "climate and environmental drivers", "consular protection", "return and reintegration",
    "skills recognition", "xenophobia and hate speech", "health services", "education", "decent work",
    "border governance", "trafficking in persons", "smuggling of migrants", "partnerships", "follow-up and review",
)


# --- data ----------------------------------------------------------------------------------------


def load(app) -> dict[str, int]:
    """The catalogue, people and statements; returns counts of what was inserted."""
    rng = random.Random(2017)
    with app.app_context():
        demo.load_catalogue(open_submissions=True)
        moderator = factories.make_user(MODERATOR, role=Role.MODERATOR, org_code=None, name="Bench Moderator")
        db.session.commit()
        moderator_id = moderator.id
        sessions = [s for s in db.session.scalars(sa.select(MeetingSession).order_by(MeetingSession.number)) if s.areas]
        areas = {s.id: [(a.id, a.title) for a in s.areas] for s in sessions}
        organisations = list(db.session.execute(sa.select(Organisation.id, Organisation.name).order_by(Organisation.id)))
        now = utcnow()
        users = [
            {
                "email": f"submitter{n}@org{org_id}.example",
                "name": f"Submitter {n}",
                "password_hash": "x",
                "role": Role.SUBMITTER,
                "organisation_id": org_id,
                "membership": MembershipStatus.APPROVED,
                "email_verified_at": now,
                "session_token": uuid.uuid4().hex,
            }
            for n, (org_id, _) in enumerate(organisations)
        ]
        db.session.execute(sa.insert(User.__table__), users)
        submitter_of = dict(db.session.execute(sa.select(User.organisation_id, User.id).where(User.role == Role.SUBMITTER)).all())

        total = PENDING + PUBLISHED
        statements, files, versions, links, file_links = [], [], [], [], []
        languages = list(Language)
        hashes: list[str] = []
        for n in range(total):
            org_id, org_name = organisations[rng.randrange(len(organisations))]
            meeting_session = sessions[rng.randrange(len(sessions))]
            chosen = rng.sample(areas[meeting_session.id], k=min(len(areas[meeting_session.id]), rng.choice((1, 1, 2))))
            submitted = now - timedelta(days=30) + timedelta(seconds=n * 2)
            published = n >= PENDING
            # About 1% are resubmissions of an earlier file; titles name the organisation and area.
            sha = hashes[rng.randrange(len(hashes))] if hashes and rng.random() < 0.01 else uuid.uuid4().hex * 2
            hashes.append(sha)
            statements.append(
                {
                    "id": n + 1,
                    "public_id": new_public_id(),
                    "title": f"{rng.choice(OPENINGS)} {org_name} on {chosen[0][1].lower()}: {rng.choice(ASPECTS)}",
                    "organisation_id": org_id,
                    "submitted_by_id": submitter_of[org_id],
                    "session_id": meeting_session.id,
                    "kind": StatementKind.WRITTEN,
                    "language": languages[rng.randrange(len(languages))],
                    "status": StatementStatus.APPROVED if published else StatementStatus.SUBMITTED,
                    "created_at": submitted,
                    "updated_at": submitted,
                    "submitted_at": submitted,
                    "decided_at": submitted + timedelta(hours=1) if published else None,
                    "decided_by_id": moderator_id if published else None,
                    "published_at": submitted + timedelta(hours=1) if published else None,
                    "version": 1,
                }
            )
            files.append(
                {
                    "id": n + 1,
                    "storage_key": uuid.uuid4().hex,
                    "original_name": "statement.pdf",
                    "content_type": "application/pdf",
                    "size": rng.randrange(20_000, 2_000_000),
                    "sha256": sha,
                    "created_at": submitted,
                }
            )
            versions.append(
                {
                    "id": n + 1,
                    "statement_id": n + 1,
                    "number": 1,
                    "status": VersionStatus.APPROVED if published else VersionStatus.SUBMITTED,
                    "note": "",
                    "created_by_id": submitter_of[org_id],
                    "created_at": submitted,
                    "submitted_at": submitted,
                    "decided_at": submitted + timedelta(hours=1) if published else None,
                    "decided_by_id": moderator_id if published else None,
                }
            )
            file_links.append(
                {"version_id": n + 1, "stored_file_id": n + 1, "language": Language.ENGLISH, "role": FileRole.ORIGINAL, "position": 0}
            )
            links.extend({"statement_id": n + 1, "area_id": area_id} for area_id, _ in chosen)
        # Corrections waiting on some published statements: a second version, submitted.
        for k in range(CORRECTIONS):
            statement_id = PENDING + 1 + k * (PUBLISHED // CORRECTIONS)
            new_id = total + k + 1
            files.append({**files[statement_id - 1], "id": new_id, "storage_key": uuid.uuid4().hex, "sha256": uuid.uuid4().hex * 2})
            versions.append(
                {**versions[statement_id - 1], "id": new_id, "number": 2, "status": VersionStatus.SUBMITTED,
                 "submitted_at": now - timedelta(days=1), "decided_at": None, "decided_by_id": None}
            )
            file_links.append({**file_links[statement_id - 1], "version_id": new_id, "stored_file_id": new_id})
        for table, rows in (
            (Statement.__table__, statements),
            (StoredFile.__table__, files),
            (StatementVersion.__table__, versions),
            (StatementFile.__table__, file_links),
            (statement_areas, links),
        ):
            db.session.execute(sa.insert(table), rows)
        db.session.commit()
        if db.engine.dialect.name == "postgresql":  # explicit ids do not advance sequences
            for table in ("statements", "stored_files", "statement_versions"):
                db.session.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
            db.session.execute(sa.text("ANALYZE"))
            db.session.commit()
        else:
            db.session.execute(sa.text("ANALYZE"))
            db.session.commit()
        return {"statements": len(statements), "files": len(files), "organisations": len(organisations)}


# --- measuring -----------------------------------------------------------------------------------

SENT: list = []  # the loopback SMTP server's inbox, with --smtp


def sent_by_smtp() -> int:
    """Messages received by the loopback SMTP server since the last call."""
    inbox = SENT[0]
    n = len(inbox.messages)
    inbox.clear()
    return n



def timed(fn: Callable[[], object], n: int) -> list[float]:
    fn()  # warm up (templates compiled, connection pooled)
    out = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        out.append(time.perf_counter() - start)
    return out


def summary(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[max(0, int(round(0.95 * len(ordered))) - 1)]
    rate = len(samples) / sum(samples)
    return (
        f"  {name:<44} {len(samples):>5} req  {rate:>9.1f} req/s  p50 {statistics.median(samples) * 1000:>8.2f} ms"
        f"  p95 {p95 * 1000:>8.2f} ms"
    )


def get_ok(client, url: str, expect: str | None = None) -> Callable[[], None]:
    def fn() -> None:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        if expect is not None:
            assert expect in response.get_data(as_text=True), url

    return fn


def run(backend: str, url: str, workdir: Path, requests: int, smtp_port: int | None) -> None:
    mail = {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": smtp_port} if smtp_port else {"MAIL_FOLDER": str(workdir / "mail")}
    app = make_app(url, workdir, PORTAL_PAGE_SIZE=50, **mail)
    assert app.config["WTF_CSRF_ENABLED"] and TEST_CONFIG["WTF_CSRF_ENABLED"]
    app.add_url_rule("/_bench/ping", "bench_ping", lambda: "ok")  # the trivial route of the reference
    with app.app_context():
        Base.metadata.create_all(db.engine)
    start = time.perf_counter()
    counts = load(app)
    loaded = time.perf_counter() - start
    print(f"\n{backend}: loaded {counts['statements']:,} statements ({PENDING:,} awaiting review, {CORRECTIONS} corrections), "
          f"{counts['files']:,} files, {counts['organisations']} organisations in {loaded:.1f} s")

    client = app.test_client()
    login(client, MODERATOR)
    with app.app_context():
        def select_one() -> None:
            db.session.execute(sa.text("SELECT 1")).scalar()
            db.session.commit()

        print("  reference")
        print(summary("SELECT 1 round trip (session, commit)", timed(select_one, requests * 10)))
    print(summary("GET /_bench/ping (trivial route, signed in)", timed(get_ok(client, "/_bench/ping"), requests)))
    print("  queue")
    with app.app_context():
        session_id = db.session.scalar(sa.select(MeetingSession.id).order_by(MeetingSession.number))
    print(summary("GET /moderation/ (waiting, 50 per page)", timed(get_ok(client, "/moderation/", "Review queue"), requests)))
    print(summary("GET /moderation/?status=submitted", timed(get_ok(client, "/moderation/?status=submitted"), requests)))
    print(summary("GET /moderation/ session+language filter", timed(get_ok(client, f"/moderation/?session_id={session_id}&language=fr"), requests)))
    print(summary("GET /moderation/?page=150 (deep page)", timed(get_ok(client, "/moderation/?page=150"), requests)))
    print(summary("GET /moderation/?per_page=500", timed(get_ok(client, "/moderation/?status=submitted&per_page=500"), max(3, requests // 10))))

    page = client.get(f"/moderation/?status=submitted&per_page={BULK}").get_data(as_text=True)
    items = re.findall(r'<input type="checkbox" name="items" id="select-[\w-]+" value="([^"]+)"', page)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    assert len(items) == BULK, len(items)
    with app.app_context():
        audit_before = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
    with contextlib.redirect_stderr(io.StringIO()):  # one "mail written to" line per message
        start = time.perf_counter()
        response = client.post("/moderation/bulk", data={"csrf_token": token, "items": items, "note": "", "approve": "Approve selected"})
        elapsed = time.perf_counter() - start
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and f"Bulk decision: {BULK} approved, 0 not changed" in body, body[:2000]
    with app.app_context():
        approved = db.session.scalar(
            sa.select(sa.func.count()).select_from(Statement).where(Statement.public_id.in_([i.split(":")[0] for i in items]), Statement.status == StatementStatus.APPROVED)
        )
        audited = db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) - audit_before
    mails = len(list((workdir / "mail").glob("*.eml"))) if not smtp_port else f"{sent_by_smtp()}"
    print("  bulk")
    how = "SMTP on loopback" if smtp_port else ".eml files"
    print(f"  POST /moderation/bulk approving {BULK:<16}     1 req  {elapsed:>9.2f} s total  {elapsed / BULK * 1000:>6.2f} ms/item"
          f"  {BULK / elapsed:>7.1f} items/s  ({approved} approved, {audited} audit rows, {mails} e-mails as {how})")
    print(summary("GET /moderation/ after the bulk approval", timed(get_ok(client, "/moderation/"), requests)))
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def private_postgres(server_url: str):
    return pgdb.private_database(server_url, "portal_bench")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=50, help="requests per measured page (default 50)")
    parser.add_argument("--pg-url", default=os.environ.get("PORTAL_TEST_DATABASE_URL", "").strip(), help="PostgreSQL server URL (default: PORTAL_TEST_DATABASE_URL)")
    parser.add_argument("--only", choices=["sqlite", "postgresql"], help="run one backend only")
    parser.add_argument("--smtp", action="store_true", help="send the bulk approval's e-mails to an SMTP server on loopback (aiosmtpd) rather than .eml files")
    args = parser.parse_args()
    smtp_port = None
    if args.smtp:
        from aiosmtpd.controller import Controller

        from tests.mailserver import Inbox, _free_port

        inbox = Inbox()
        controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
        controller.start()
        smtp_port = controller.port
        SENT.append(inbox)
    print(f"Python {sys.version.split()[0]}, Flask {version('flask')}, SQLAlchemy {sa.__version__}, SQLite {sqlite3.sqlite_version}; "
          f"{os.cpu_count()} CPUs; Flask test client (no network), one process")
    try:
        if args.only in (None, "sqlite"):
            with tempfile.TemporaryDirectory() as tmp:
                run("SQLite", f"sqlite:///{Path(tmp) / 'bench.db'}", Path(tmp), args.requests, smtp_port)
        if args.only in (None, "postgresql"):
            if not args.pg_url:
                print("\nPostgreSQL: skipped (set PORTAL_TEST_DATABASE_URL or --pg-url)")
                return
            with tempfile.TemporaryDirectory() as tmp, private_postgres(args.pg_url) as url:
                engine = sa.create_engine(url)
                with engine.connect() as conn:
                    print(f"\nPostgreSQL {conn.execute(sa.text('SHOW server_version')).scalar()}")
                engine.dispose()
                run("PostgreSQL", url, Path(tmp), args.requests, smtp_port)
    finally:
        if args.smtp:
            controller.stop()


if __name__ == "__main__":
    main()
