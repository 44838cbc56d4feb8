"""Benchmark of the public record at 100,000 published statements, under gunicorn, on SQLite and PostgreSQL.

Run by hand (pytest does not collect it: its name is not test_*.py):

    .venv/bin/python tests/perf/bench_public.py -n 5000 --backend sqlite --zip-gb 0.1   # a quick look
    PORTAL_TEST_DATABASE_URL=postgresql+psycopg://postgres@127.0.0.1:5432/test \\
        .venv/bin/python tests/perf/bench_public.py                                     # the full run

The load generator is `wrk` (Debian: `apt-get install -y wrk`); without it a Python client
(one process per connection, http.client) is used instead, which needs CPU the server
would otherwise have on a small machine, so install wrk for figures worth comparing.

What it does, for each backend:

1. Generates the corpus once per run (tests/perf/corpus.py, in parallel chunks, cached in
   the work folder): N synthetic published statements of session 1 with realistic text.
2. Creates a fresh database (SQLite: a file in the work folder; PostgreSQL: a private
   database next to PORTAL_TEST_DATABASE_URL's, dropped afterwards), runs the migrations
   (`flask db upgrade`), loads the catalogue (portal.demo), then bulk-inserts with
   SQLAlchemy Core each statement approved and published (no embargo) with its
   StoredFile, StatementVersion, StatementFile, areas, extracted text (DocumentText) and
   search index row (SearchDocument: the database's own triggers fill FTS5 / the tsvector,
   as for the app's own indexing). Each statement's text is a real UTF-8 text file in the
   file store, under the store's layout (portal/storage.py). `--verify-index` (automatic
   up to 2,000 statements) checks that searches through the app find the same statements,
   in the same order, before and after the app's own `flask reindex` (re-extraction and
   rebuild_index), and that the extracted texts and index rows are identical.
3. Adds a second session (5, smuggling and trafficking) whose published statements carry
   files of incompressible data totalling `--zip-gb` GiB, for the streamed ZIP export.
4. Serves, one at a time, with gunicorn (2 sync workers on 127.0.0.1, a free port): a bare
   Flask "hello world" (tests/perf/hello.py, the ceiling), then the portal
   (`wsgi:app`, as in production, PORTAL_ENV=production, configured by environment), and measures
   requests/s and p50/p95/p99 latency for: the session page (first page, and a deep page
   reached by following "Next page" links), the search page (one query repeated, then a
   rotating set of 5,000 distinct queries made of the corpus's words and phrases, also
   with one connection per worker, so that no request waits for another), the API
   list and API search. The session page and API list are measured with the page cache on
   (the default) and off (PORTAL_PAGE_CACHE_SIZE=0, a second server). Then, on a fresh
   server, downloads the 1 GiB session ZIP, checks its bytes against its manifest.csv and
   the database, and samples the serving worker's resident memory (/proc/<pid>/status).

Targets (issue 5): session page and API list >= 40% of hello-world requests/s; search p95
<= 50 ms at 100,000 statements; ZIP streamed with worker peak memory growth <= 50 MB.

Files shared by both backends: the corpus and the file store (the same deterministic keys
and bytes for both, only read by the servers), so they are written once per run. The work
folder is removed at the end unless `--keep` (which also keeps the databases, for inspection)
or `--workdir` (reused by a later run: corpus and files are not made again).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import hashlib
import html
import http.client
import io
import json
import logging
import math
import multiprocessing
import os
import random
import re
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import uuid
import zipfile
from collections import deque
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import sqlalchemy as sa  # noqa: E402

import corpus  # noqa: E402  (tests/perf/corpus.py)
from tests import pgdb  # noqa: E402
from portal import create_app, demo, extract  # noqa: E402
from portal.enums import FileRole, Language, MembershipStatus, Role, StatementKind, StatementStatus, VersionStatus  # noqa: E402
from portal.extensions import db  # noqa: E402
from portal.models import (  # noqa: E402
    Area,
    DocumentText,
    ExtractionStatus,
    MeetingSession,
    Organisation,
    Panel,
    SearchDocument,
    Statement,
    StatementFile,
    StatementVersion,
    StoredFile,
    User,
    statement_areas,
)
from portal.models.statements import new_public_id  # noqa: E402
from portal.search import LANGUAGE_CONFIGS, MAX_INDEXED_CHARS  # noqa: E402
from portal.storage import FileStore  # noqa: E402

WORKERS = 2
BATCH = 2_000  # statements inserted at a time
CHUNK = 1_000  # statements per corpus chunk (the unit generated in parallel)
ZIP_SESSION = 5  # "Smuggling and trafficking of migrants": has areas, gets the big files
ZIP_FILE_BYTES = 8 * 1024 * 1024
TEXT_SESSION = 1  # the corpus is session 1's
MODERATOR = "bench-moderator@secretariat.example"
SESSION_TARGET = 0.40  # of hello-world requests/s
SEARCH_P95_TARGET_MS = 50.0
ZIP_GROWTH_TARGET_MB = 50.0
FIXED_QUERY = "alternatives to detention"
SLOW_PROBE_S = 5.0  # a page slower than this once is reported from single requests, not loaded


def log(message: str = "") -> None:
    print(message, flush=True)


# --- the corpus --------------------------------------------------------------------------


def make_corpus(workdir: Path, n: int, seed: int) -> Path:
    path = workdir / f"corpus-n{n}-seed{seed}-chunk{CHUNK}.jsonl"
    if path.exists():
        log(f"corpus: {path} (reused)")
        return path
    start = time.perf_counter()
    part = path.with_suffix(".part")
    digest = corpus.write_chunked(part, n, seed, size=CHUNK, published=True)
    part.rename(path)
    elapsed = time.perf_counter() - start
    log(f"corpus: generated {n:,} statements ({path.stat().st_size / 1e6:,.0f} MB of JSON Lines, sha256 {digest[:16]}) "
        f"in {elapsed:.1f} s with {os.cpu_count()} processes")
    return path


def corpus_queries(count: int = 5_000, seed: int = 2017) -> list[str]:
    """Distinct, realistic queries made of the corpus's own words and phrases (the seed's
    recommendations and area titles): words, pairs, quoted phrases, exclusions, ORs."""
    s1, _, areas, _ = corpus.load_default_inputs()
    texts = [r for a in areas.values() for r in a["recommendations"]] + [a["title"] for a in areas.values()]
    stop = set(
        "about above after again against their there these those which while with within without would could "
        "should other such into from that this have been being also including ensure through where among"
        .split()
    )
    counts: dict[str, int] = {}
    phrases: list[str] = []
    for text in texts:
        tokens = re.findall(r"[A-Za-z][A-Za-z-]+", text.lower())
        for word in tokens:
            if len(word) >= 5 and word not in stop:
                counts[word] = counts.get(word, 0) + 1
        for i in range(len(tokens) - 2):
            gram = tokens[i : i + 3]
            if gram[0] not in stop and gram[-1] not in stop and len(gram[0]) > 3 and len(gram[-1]) > 3:
                phrases.append(" ".join(gram))
    vocabulary = sorted(counts, key=lambda w: (-counts[w], w))[:250]
    phrases = sorted(set(phrases))
    rng = random.Random(seed)
    queries: list[str] = []
    seen: set[str] = set()
    attempt = 0
    while len(queries) < count:
        shape = attempt % 5  # (singles run out after the vocabulary: the other shapes go on)
        attempt += 1
        if shape == 0:
            q = rng.choice(vocabulary)
        elif shape == 1:
            q = " ".join(rng.sample(vocabulary, 2))
        elif shape == 2:
            q = f'"{rng.choice(phrases)}"'
        elif shape == 3:
            a, b = rng.sample(vocabulary, 2)
            q = f"{a} -{b}"
        else:
            a, b = rng.sample(vocabulary, 2)
            q = f"{a} OR {b}"
        if q not in seen:
            seen.add(q)
            queries.append(q)
    return queries


# --- the file store ----------------------------------------------------------------------


def text_key(record_id: str, sha256: str) -> str:
    return hashlib.md5(f"bench-text:{record_id}:{sha256}".encode()).hexdigest()


def write_file(store: FileStore, key: str, data: bytes, made: set[Path]) -> None:
    path = store.path(key)
    if path.is_file() and path.stat().st_size == len(data):
        return  # written by the other backend's load, or an earlier run with --workdir
    if path.parent not in made:
        path.parent.mkdir(parents=True, exist_ok=True)
        made.add(path.parent)
    tmp = path.with_suffix(".part")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def zip_files(store: FileStore, total_bytes: int) -> list[tuple[str, int, str]]:
    """(key, size, sha256) of the big files: incompressible bytes behind a PDF signature
    (the store's files are typed from their content), written once, described in a JSON file."""
    count = max(1, math.ceil(total_bytes / ZIP_FILE_BYTES))
    index_path = store.root / f"bench-zip-{count}x{ZIP_FILE_BYTES}.json"
    if index_path.exists():
        files = [tuple(f) for f in json.loads(index_path.read_text())]
        if all(store.exists(k) and store.path(k).stat().st_size == s for k, s, _ in files):
            return files  # type: ignore[return-value]
    start = time.perf_counter()
    files = []
    made: set[Path] = set()
    for k in range(count):
        head = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"
        data = head + random.Random(f"bench-zip-{k}").randbytes(ZIP_FILE_BYTES - len(head))
        key = hashlib.md5(f"bench-zip:{k}:{ZIP_FILE_BYTES}".encode()).hexdigest()
        write_file(store, key, data, made)
        files.append((key, len(data), hashlib.sha256(data).hexdigest()))
    index_path.write_text(json.dumps(files))
    log(f"files: wrote {count} files of {ZIP_FILE_BYTES / 2**20:.0f} MiB ({count * ZIP_FILE_BYTES / 2**30:.2f} GiB) "
        f"for the ZIP in {time.perf_counter() - start:.1f} s")
    return files


# --- the database ------------------------------------------------------------------------


def portal_app(url: str, workdir: Path, **overrides):
    return create_app(
        {
            "PORTAL_ENV": "production",
            "SECRET_KEY": "bench-" + secrets.token_hex(16),
            "SQLALCHEMY_DATABASE_URI": url,
            "PORTAL_STORAGE_DIR": str(workdir / "files"),
            "MAIL_FOLDER": str(workdir / "mail"),
            **overrides,
        }
    )


def migrate(app) -> float:
    from flask_migrate import upgrade

    start = time.perf_counter()
    with app.app_context():
        upgrade()
        db.session.remove()
    return time.perf_counter() - start


def aware(value: str) -> datetime:
    return datetime.fromisoformat(value).replace(tzinfo=UTC)


def batched(iterable, size: int):
    batch = []
    for item in iterable:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def organisation_text(name: str, acronym: str | None) -> str:
    """What portal.search._organisation_text indexes for a statement with no partners."""
    return "; ".join(dict.fromkeys(n for n in (name, acronym or "") if n))


def load(app, corpus_path: Path, n: int) -> dict[str, float]:
    """The catalogue, people and the N published statements of session 1. Returns timings."""
    timings: dict[str, float] = {}
    store = FileStore(app.config["PORTAL_STORAGE_DIR"])
    made: set[Path] = set()
    with app.app_context():
        start = time.perf_counter()
        if db.engine.dialect.name == "sqlite":
            db.session.execute(sa.text("PRAGMA synchronous=OFF"))  # loading only; the servers use their own connections
        demo.load_catalogue(open_submissions=False)
        db.session.commit()
        now = datetime.now(UTC)
        db.session.execute(
            sa.insert(User.__table__),
            [{"email": MODERATOR, "name": "Bench Moderator", "password_hash": "x", "role": Role.MODERATOR,
              "email_verified_at": now, "session_token": uuid.uuid4().hex}],
        )
        moderator_id = db.session.scalar(sa.select(User.id).where(User.email == MODERATOR))
        organisations = {
            code: (org_id, name, acronym)
            for org_id, code, name, acronym in db.session.execute(
                sa.select(Organisation.id, Organisation.code, Organisation.name, Organisation.acronym).order_by(Organisation.id)
            )
        }
        db.session.execute(
            sa.insert(User.__table__),
            [
                {"email": f"submitter@{code.lower()}.bench.example", "name": f"Submitter of {name}", "password_hash": "x",
                 "role": Role.SUBMITTER, "organisation_id": org_id, "membership": MembershipStatus.APPROVED,
                 "email_verified_at": now, "session_token": uuid.uuid4().hex}
                for code, (org_id, name, _) in organisations.items()
            ],
        )
        submitter_of = dict(db.session.execute(sa.select(User.organisation_id, User.id).where(User.role == Role.SUBMITTER)).all())
        sessions = {s.number: s for s in db.session.scalars(sa.select(MeetingSession))}
        text_session = sessions[TEXT_SESSION]
        areas = {a.code: a.id for a in text_session.areas}
        panels = {p.number: p.id for p in text_session.panels}
        text_session_id = text_session.id
        db.session.commit()
        timings["catalogue"] = time.perf_counter() - start

        start = time.perf_counter()
        files_time = 0.0
        next_id = 1
        for records in batched(corpus.read_jsonl(corpus_path), BATCH):
            rows: dict[str, list[dict]] = {k: [] for k in ("statements", "files", "versions", "links", "areas", "texts", "index")}
            t_files = time.perf_counter()
            for rec in records:
                body = rec["body"].encode("utf-8")
                sha = hashlib.sha256(body).hexdigest()
                key = text_key(rec["id"], sha)
                write_file(store, key, body, made)
                rec["_key"], rec["_sha"], rec["_size"] = key, sha, len(body)
            files_time += time.perf_counter() - t_files
            for rec in records:
                sid = next_id
                next_id += 1
                org_id, org_name, acronym = organisations[rec["organisation_id"]]
                submitted = aware(rec["submitted_at"])
                published = aware(rec["published_at"])
                language = Language(rec["language"])
                author = submitter_of[org_id]
                rows["statements"].append({
                    "id": sid, "public_id": new_public_id(), "title": rec["title"][:300], "organisation_id": org_id,
                    "submitted_by_id": author, "session_id": text_session_id, "panel_id": panels.get(rec["panel"]),
                    "kind": StatementKind(rec["kind"]), "language": language,
                    "delivered_on": date.fromisoformat(rec["delivered_on"]), "status": StatementStatus.APPROVED,
                    "decided_by_id": moderator_id, "created_at": submitted, "updated_at": published,
                    "submitted_at": submitted, "decided_at": published, "published_at": published, "version": 1,
                })
                rows["files"].append({
                    "id": sid, "storage_key": rec["_key"], "original_name": f"statement-{rec['id']}.txt",
                    "content_type": "text/plain", "size": rec["_size"], "sha256": rec["_sha"], "created_at": submitted,
                })
                rows["versions"].append({
                    "id": sid, "statement_id": sid, "number": 1, "status": VersionStatus.APPROVED, "note": "",
                    "created_by_id": author, "created_at": submitted, "submitted_at": submitted,
                    "decided_at": published, "decided_by_id": moderator_id,
                })
                rows["links"].append({"version_id": sid, "stored_file_id": sid, "language": language,
                                      "role": FileRole.ORIGINAL, "position": 0})
                rows["areas"].extend({"statement_id": sid, "area_id": areas[code]} for code in rec["areas"])
                # What portal.extract records for a UTF-8 text file, and what portal.search indexes.
                text = extract.clean_text(rec["body"])
                assert 0 < len(text) <= extract.MAX_TEXT_CHARS
                rows["texts"].append({
                    "stored_file_id": sid, "status": ExtractionStatus.OK, "message": "", "text": text,
                    "characters": len(text), "pages": None, "truncated": False, "method": "utf-8", "extracted_at": submitted,
                })
                rows["index"].append({
                    "statement_id": sid, "version_id": sid, "config": LANGUAGE_CONFIGS.get(language, "simple"),
                    "title": rec["title"][:300], "organisation": organisation_text(org_name, acronym),
                    "body": text[:MAX_INDEXED_CHARS], "indexed_at": published,
                })
            insert_rows(rows)
            db.session.commit()
            if next_id % 20_000 == 1 or next_id > n:
                log(f"  {next_id - 1:,} statements loaded ({time.perf_counter() - start:.0f} s)")
        timings["statements"] = time.perf_counter() - start
        timings["text files"] = files_time
        db.session.remove()
        db.engine.dispose()
    return timings


def load_zip_session(app, zip_bytes: int) -> dict[str, float]:
    """Published statements of the ZIP session with big files, then statistics. Returns timings and counts."""
    timings: dict[str, float] = {}
    store = FileStore(app.config["PORTAL_STORAGE_DIR"])
    with app.app_context():
        start = time.perf_counter()
        big = zip_files(store, zip_bytes) if zip_bytes else []
        timings["zip files"] = time.perf_counter() - start
        start = time.perf_counter()
        moderator_id = db.session.scalar(sa.select(User.id).where(User.email == MODERATOR))
        submitter_of = dict(db.session.execute(sa.select(User.organisation_id, User.id).where(User.role == Role.SUBMITTER)).all())
        organisations = {
            code: (org_id, name, acronym)
            for org_id, code, name, acronym in db.session.execute(
                sa.select(Organisation.id, Organisation.code, Organisation.name, Organisation.acronym).order_by(Organisation.id)
            )
        }
        next_id = (db.session.scalar(sa.select(sa.func.max(Statement.id))) or 0) + 1
        zip_session = db.session.scalar(sa.select(MeetingSession).where(MeetingSession.number == ZIP_SESSION))
        zip_area = zip_session.areas[0].id if zip_session.areas else None
        codes = sorted(organisations)
        rows = {k: [] for k in ("statements", "files", "versions", "links", "areas", "texts", "index")}
        base = datetime(2017, 9, 4, 9, 0, tzinfo=UTC)
        for k, (key, size, sha) in enumerate(big):
            sid = next_id
            next_id += 1
            org_id, org_name, acronym = organisations[codes[k * 7 % len(codes)]]
            when = base + timedelta(minutes=10 * k)
            title = f"Written input {k + 1} with its annexes on smuggling and trafficking"
            rows["statements"].append({
                "id": sid, "public_id": new_public_id(), "title": title, "organisation_id": org_id,
                "submitted_by_id": submitter_of[org_id], "session_id": zip_session.id, "panel_id": None,
                "kind": StatementKind.WRITTEN, "language": Language.ENGLISH, "delivered_on": None,
                "status": StatementStatus.APPROVED, "decided_by_id": moderator_id, "created_at": when,
                "updated_at": when, "submitted_at": when, "decided_at": when, "published_at": when, "version": 1,
            })
            rows["files"].append({"id": sid, "storage_key": key, "original_name": f"input-{k + 1}.pdf",
                                  "content_type": "application/pdf", "size": size, "sha256": sha, "created_at": when})
            rows["versions"].append({"id": sid, "statement_id": sid, "number": 1, "status": VersionStatus.APPROVED,
                                     "note": "", "created_by_id": submitter_of[org_id], "created_at": when,
                                     "submitted_at": when, "decided_at": when, "decided_by_id": moderator_id})
            rows["links"].append({"version_id": sid, "stored_file_id": sid, "language": Language.ENGLISH,
                                  "role": FileRole.ORIGINAL, "position": 0})
            if zip_area is not None:
                rows["areas"].append({"statement_id": sid, "area_id": zip_area})
            # Random bytes hold no text: extraction fails, so the index holds title and organisation only.
            rows["texts"].append({"stored_file_id": sid, "status": ExtractionStatus.FAILED,
                                  "message": "The file is damaged or not valid for its format.", "text": "",
                                  "characters": 0, "pages": None, "truncated": False, "method": "", "extracted_at": when})
            rows["index"].append({"statement_id": sid, "version_id": sid, "config": "english", "title": title,
                                  "organisation": organisation_text(org_name, acronym), "body": "", "indexed_at": when})
        if rows["statements"]:
            insert_rows(rows)
        db.session.commit()
        timings["zip statements"] = time.perf_counter() - start

        start = time.perf_counter()
        if db.engine.dialect.name == "postgresql":  # explicit ids do not advance sequences
            for table in ("statements", "stored_files", "statement_versions"):
                db.session.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"))
            db.session.commit()
            with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text("VACUUM ANALYZE"))
        else:
            db.session.execute(sa.text("ANALYZE"))
            db.session.commit()
        timings["analyze"] = time.perf_counter() - start
        timings["zip file count"] = len(big)
        timings["zip bytes"] = sum(s for _, s, _ in big)
        db.session.remove()
        db.engine.dispose()
    return timings


def insert_rows(rows: dict[str, list[dict]]) -> None:
    """Core bulk inserts, parents first."""
    for table, name in (
        (Statement.__table__, "statements"),
        (StoredFile.__table__, "files"),
        (StatementVersion.__table__, "versions"),
        (StatementFile.__table__, "links"),
        (statement_areas, "areas"),
        (DocumentText.__table__, "texts"),
        (SearchDocument.__table__, "index"),
    ):
        if rows[name]:
            db.session.execute(sa.insert(table), rows[name])


# --- checking the bulk index against the app's own --------------------------------------


def verify_index(app, queries: list[str]) -> None:
    """Searches through the app (the /search page) find the same statements in the same order
    before and after the app rebuilds extraction and index itself (`flask reindex`), and the
    rows are identical. Raises AssertionError otherwise."""
    from portal import search

    def snapshot() -> tuple:
        texts = db.session.execute(
            sa.select(DocumentText.stored_file_id, DocumentText.status, DocumentText.text, DocumentText.characters,
                      DocumentText.truncated, DocumentText.method, DocumentText.pages).order_by(DocumentText.stored_file_id)
        ).all()
        index = db.session.execute(
            sa.select(SearchDocument.statement_id, SearchDocument.version_id, SearchDocument.config, SearchDocument.title,
                      SearchDocument.organisation, SearchDocument.body).order_by(SearchDocument.statement_id)
        ).all()
        tsv = []
        if db.engine.dialect.name == "postgresql":
            tsv = db.session.execute(sa.text("SELECT statement_id, tsv::text FROM search_documents ORDER BY statement_id")).all()
        return texts, index, tsv

    def results(client) -> list[list[str]]:
        found = []
        for q in queries:
            response = client.get("/search?" + urllib.parse.urlencode({"q": q}))
            assert response.status_code == 200, (q, response.status_code)
            page = response.get_data(as_text=True)
            found.append(re.findall(r'href="/statements/(ST-[0-9A-Z]{4}-[0-9A-Z]{4})"', page))
        return found

    start = time.perf_counter()
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    client = app.test_client()
    with app.app_context():
        before = snapshot()
    found_before = results(client)
    with app.app_context():
        store = FileStore(app.config["PORTAL_STORAGE_DIR"])
        counts = extract.reextract_all(store)
        indexed = search.rebuild_index()
        db.session.commit()
        after = snapshot()
    found_after = results(client)
    ok_before = before[0]
    assert before[0] == after[0], "extracted texts differ from the app's own extraction"
    assert before[1] == after[1], "search_documents rows differ from rebuild_index's"
    assert before[2] == after[2], "tsvectors differ from rebuild_index's"
    assert found_before == found_after, "search results differ after rebuild_index"
    hits = sum(1 for f in found_before if f)
    log(f"  index check: {len(ok_before):,} extracted texts, {indexed:,} index rows identical to the app's own "
        f"(reextract_all: {dict((k.value, v) for k, v in counts.items())}); {len(queries)} searches through /search "
        f"({hits} with results, {sum(map(len, found_before))} links) give the same statements in the same order "
        f"before and after rebuild_index ({time.perf_counter() - start:.1f} s)")


# --- serving -----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """gunicorn with WORKERS sync workers on loopback."""

    def __init__(self, spec: str, env: dict[str, str], chdir: Path, label: str) -> None:
        self.port = free_port()
        self.label = label
        self.log_path = Path(tempfile.mkstemp(prefix="bench-gunicorn-", suffix=".log")[1])
        command = [
            sys.executable, "-m", "gunicorn", "--workers", str(WORKERS), "--worker-class", "sync",
            "--bind", f"127.0.0.1:{self.port}", "--timeout", "600", "--graceful-timeout", "5",
            "--log-level", "warning", "--chdir", str(chdir), spec,
        ]
        self.process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=self.log_path.open("w"))
        deadline = time.time() + 60
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn ({label}) exited: {self.log_path.read_text()[-3000:]}")
            try:
                status, _, _, _ = fetch(self.port, "/_bench_ready", timeout=5)
                if status and len(self.worker_pids()) == WORKERS:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                raise RuntimeError(f"gunicorn ({label}) did not start: {self.log_path.read_text()[-3000:]}")
            time.sleep(0.2)

    def worker_pids(self) -> list[int]:
        try:
            text = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children").read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        errors = self.log_path.read_text()
        if "Traceback" in errors or "[ERROR]" in errors:
            log(f"  ! gunicorn ({self.label}) logged errors; last lines:\n" + "\n".join(errors.splitlines()[-15:]))
        self.log_path.unlink(missing_ok=True)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def fetch(port: int, path: str, timeout: float = 600) -> tuple[int, bytes, float, dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    start = time.perf_counter()
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        return response.status, body, time.perf_counter() - start, {k.lower(): v for k, v in response.getheaders()}
    finally:
        conn.close()


def portal_env(url: str, workdir: Path, *, page_cache: int | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PORTAL_", "DATABASE_URL", "FLASK_"))}
    env.update(
        PORTAL_ENV="production",
        SECRET_KEY=secrets.token_hex(32),
        DATABASE_URL=url,
        PORTAL_STORAGE_DIR=str(workdir / "files"),
        MAIL_FOLDER=str(workdir / "mail"),
        RATELIMIT_STORAGE_URI="memory://",  # per worker; no limit applies to anonymous GETs anyway
    )
    if page_cache is not None:
        env["PORTAL_PAGE_CACHE_SIZE"] = str(page_cache)
    return env


# --- load generation ---------------------------------------------------------------------

WRK_SCRIPT = """
local paths = {%s}
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter - 1) %% #paths + 1])
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKRESULT {"requests": %%d, "duration_us": %%d, "bytes": %%d, "connect": %%d, "read": %%d, '
    .. '"write": %%d, "status": %%d, "timeout": %%d, "p50": %%d, "p95": %%d, "p99": %%d, "max": %%d}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
"""


def run_wrk(port: int, paths: list[str], connections: int, duration: float) -> dict:
    lua = ", ".join(json.dumps(p) for p in paths)  # ASCII only (quoted URLs): JSON strings are Lua strings
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % lua)
    try:
        out = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--timeout", "60s", "-s", script.name,
             f"http://127.0.0.1:{port}"],
            capture_output=True, text=True, check=True,
        ).stdout
    finally:
        os.unlink(script.name)
    data = json.loads(out.split("WRKRESULT", 1)[1].strip().splitlines()[0])
    seconds = data["duration_us"] / 1e6
    return {
        "requests": data["requests"], "rps": data["requests"] / seconds,
        "p50": data["p50"] / 1000, "p95": data["p95"] / 1000, "p99": data["p99"] / 1000,
        "errors": data["status"] + data["timeout"] + data["connect"] + data["write"],
        "client": "wrk",
    }


def _python_client(port: int, paths: list[str], offset: int, stop_at: float, queue) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    latencies, errors, i = [], 0, offset
    while time.time() < stop_at:
        path = paths[i % len(paths)]
        i += 1
        start = time.perf_counter()
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            if response.status >= 400:
                errors += 1
            if response.will_close:
                conn.close()
        except (OSError, http.client.HTTPException):
            errors += 1
            conn.close()
        latencies.append(time.perf_counter() - start)
    queue.put((latencies, errors))


def run_python(port: int, paths: list[str], connections: int, duration: float) -> dict:
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    start = time.time()
    stop_at = start + duration
    procs = [context.Process(target=_python_client, args=(port, paths, k * 7919, stop_at, queue)) for k in range(connections)]
    for p in procs:
        p.start()
    results = [queue.get() for _ in procs]
    for p in procs:
        p.join()
    elapsed = time.time() - start
    latencies = sorted(x for lat, _ in results for x in lat)

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, max(0, math.ceil(p / 100 * len(latencies)) - 1))] * 1000

    return {"requests": len(latencies), "rps": len(latencies) / elapsed, "p50": pct(50), "p95": pct(95), "p99": pct(99),
            "errors": sum(e for _, e in results), "client": "python"}


def load_test(port: int, paths: list[str], args) -> dict:
    runner = run_wrk if shutil.which("wrk") and not args.python_client else run_python
    # Warm up every worker (templates compiled, connections pooled, a repeated page cached in
    # each): concurrent requests, so that they do not all land on the same worker.
    warm = paths[:1] * (2 * WORKERS) + paths[1:3]
    threads = [threading.Thread(target=fetch, args=(port, path)) for path in warm]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return runner(port, paths, args.connections, args.duration)


# --- the figures -------------------------------------------------------------------------


class NextLink(HTMLParser):
    """The href of the page's next-page link: rel="next", else a link whose text says "Next"."""

    def __init__(self) -> None:
        super().__init__()
        self.rel_next: str | None = None
        self.text_next: str | None = None
        self._href: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in ("a", "link") and "next" in (a.get("rel") or "").split() and a.get("href") and self.rel_next is None:
            self.rel_next = a["href"]
        if tag == "a":
            self._href, self._text = a.get("href"), []

    def handle_data(self, data: str) -> None:
        if self._href is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            if "next" in "".join(self._text).lower() and self.text_next is None:
                self.text_next = self._href
            self._href = None

    @classmethod
    def find(cls, page: bytes, current: str) -> str | None:
        parser = cls()
        parser.feed(page.decode("utf-8", "replace"))
        href = parser.rel_next or parser.text_next
        if not href:
            return None
        return urllib.parse.urljoin(current, html.unescape(href))


def figure(name: str, port: int, paths: list[str], args, results: list[dict], *, target: str | None = None,
           hello: float | None = None) -> dict:
    """Probe the first path, then load-test the set; append a row to `results`."""
    row = {"figure": name, "target": target, "path": paths[0], "distinct": len(paths)}
    try:
        status, body, elapsed, _ = fetch(port, paths[0])
    except OSError as exc:
        row["note"] = f"request failed: {exc}"
        results.append(row)
        log(f"  {name}: {row['note']}")
        return row
    if status == 404:
        row["note"] = f"not available: {paths[0]} answers 404 (not written yet?)"
    elif status != 200:
        row["note"] = f"{paths[0]} answers {status}"
    elif elapsed > SLOW_PROBE_S:
        times = [elapsed] + [fetch(port, paths[0])[2] for _ in range(2)]
        row.update(rps=WORKERS / statistics.median(times), p50=statistics.median(times) * 1000, p95=max(times) * 1000,
                   p99=max(times) * 1000, requests=3, errors=0, client="3 single requests")
        row["note"] = f"too slow to load-test: {statistics.median(times):.1f} s per request ({len(body) / 1e6:.1f} MB page); " \
                      f"req/s estimated as {WORKERS} workers / median time"
    else:
        measured = load_test(port, paths, args)
        if measured["errors"] * 2 > measured["requests"]:
            row["note"] = (f"failed: {measured['errors']:,} of {measured['requests']:,} requests were errors or non-2xx "
                           "answers (see the gunicorn log below)")
        else:
            row.update(measured)
            if row["errors"]:
                row["note"] = f"{row['errors']} errors or non-2xx answers during the run"
    results.append(row)
    log("  " + format_row(row, hello))
    return row


def format_row(row: dict, hello: float | None) -> str:
    if "rps" not in row:
        return f"{row['figure']:<46} {row.get('note', '')}"
    share = f"{row['rps'] / hello * 100:5.1f}%" if hello else "     "
    text = (f"{row['figure']:<46} {row['rps']:>8.1f} req/s  p50 {row['p50']:>7.1f}  p95 {row['p95']:>7.1f}  "
            f"p99 {row['p99']:>7.1f} ms  {share}")
    verdict = judge(row, hello)
    if verdict:
        text += f"  {verdict}"
    if row.get("note"):
        text += f"  ({row['note']})"
    return text


def judge(row: dict, hello: float | None) -> str:
    target = row.get("target")
    if not target or "rps" not in row:
        return ""
    if target == "share" and hello:
        ok = row["rps"] >= SESSION_TARGET * hello
        return f"{'PASS' if ok else 'FAIL'} (>= {SESSION_TARGET:.0%})"
    if target == "p95":
        ok = row["p95"] <= SEARCH_P95_TARGET_MS
        return f"{'PASS' if ok else 'FAIL'} (p95 <= {SEARCH_P95_TARGET_MS:.0f} ms)"
    return ""


def deep_page(port: int, first: str, hops: int) -> tuple[str | None, str]:
    """Follow "Next page" links from `first` up to `hops` times: (path reached, note)."""
    path, followed = first, 0
    start = time.perf_counter()
    while followed < hops:
        status, body, _, _ = fetch(port, path)
        if status != 200:
            return None, f"{path} answered {status}"
        nxt = NextLink.find(body, path)
        if nxt is None:
            break
        path, followed = nxt, followed + 1
    if followed == 0:
        return None, "no next-page link on the session page (keyset pagination not there yet?)"
    note = f"page {followed + 1}, reached by following {followed} next-page links in {time.perf_counter() - start:.1f} s"
    if followed < hops:
        note += " (the last page)"
    return path, note


def session_figures(port: int, slug: str, args, results: list[dict], hello: float, label: str) -> None:
    first = f"/sessions/{slug}"
    figure(f"session page, first{label}", port, [first], args, results, target="share", hello=hello)
    try:
        status, _, elapsed, _ = fetch(port, first)
    except OSError:
        status, elapsed = 0, 0.0
    if status == 200 and elapsed <= SLOW_PROBE_S:
        try:
            deep, note = deep_page(port, first, args.deep)
        except OSError as exc:
            deep, note = None, f"following the next-page links failed: {exc}"
    else:
        deep, note = None, "not measured: the first page is not usable"
    if deep is None:
        results.append({"figure": f"session page, deep{label}", "note": note})
        log(f"  {'session page, deep' + label:<46} {note}")
    else:
        row = figure(f"session page, deep{label}", port, [deep], args, results, target="share", hello=hello)
        row["note"] = (row.get("note", "") + "; " if row.get("note") else "") + note
        row["path"] = deep


def api_list_figure(port: int, args, results: list[dict], hello: float, label: str) -> None:
    figure(f"API list{label}", port, ["/api/v1/statements"], args, results, target="share", hello=hello)


def measure_zip(server: Server, slug: str, expected_bytes: int, expected_files: int, results: list[dict]) -> None:
    """Download the session's ZIP through gunicorn, check it, sample the workers' memory."""
    path = f"/sessions/{slug}/documents.zip"
    for _ in range(4):  # warm both workers up on the same code path (CSV: same query, same loop)
        fetch(server.port, f"/sessions/{slug}/statements.csv")
    time.sleep(0.5)
    pids = server.worker_pids()
    for pid in pids:  # reset each worker's VmHWM (peak RSS) to its current RSS (Linux >= 4.0)
        with contextlib.suppress(OSError):
            Path(f"/proc/{pid}/clear_refs").write_text("5")
    baseline = {pid: proc_status(pid) for pid in pids}
    peaks = {pid: baseline[pid]["VmRSS"] for pid in pids}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            for pid in pids:
                with contextlib.suppress(OSError, KeyError):
                    peaks[pid] = max(peaks[pid], proc_status(pid)["VmRSS"])
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
    tail: deque[bytes] = deque()
    tail_bytes = 0
    received = 0
    start = time.perf_counter()
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        status = response.status
        while chunk := response.read(1 << 20):
            received += len(chunk)
            tail.append(chunk)
            tail_bytes += len(chunk)
            while tail_bytes - len(tail[0]) >= 32 << 20:
                tail_bytes -= len(tail.popleft())
    finally:
        conn.close()
    elapsed = time.perf_counter() - start
    stop.set()
    sampler.join()
    after = {pid: proc_status(pid) for pid in pids}
    if status != 200:
        results.append({"figure": "session ZIP", "note": f"{path} answered {status}"})
        log(f"  session ZIP: {path} answered {status}")
        return
    sampled = {pid: (peaks[pid] - baseline[pid]["VmRSS"]) / 1024 for pid in pids}
    hwm_growth = {pid: (after[pid]["VmHWM"] - baseline[pid]["VmRSS"]) / 1024 for pid in pids}
    # The peak growth: from VmHWM, reset just before (exact), else from the 20 ms samples.
    reset = all(baseline[pid]["VmHWM"] == baseline[pid]["VmRSS"] for pid in pids)
    growth = {pid: max(hwm_growth[pid], sampled[pid]) if reset else sampled[pid] for pid in pids}
    served_by = max(growth, key=growth.get)
    check = check_zip(tail, received, expected_bytes, expected_files)
    row = {
        "figure": "session ZIP", "bytes": received, "seconds": elapsed, "growth_mb": growth[served_by],
        "hwm_growth_mb": hwm_growth[served_by], "sampled_growth_mb": sampled[served_by], "hwm_reset": reset,
        "baseline_mb": baseline[served_by]["VmRSS"] / 1024,
        "check": check, "target": "zip",
    }
    results.append(row)
    log(f"  {'session ZIP ' + path:<46} {received / 2**30:.2f} GiB in {elapsed:.1f} s ({received / 2**20 / elapsed:.0f} MiB/s); "
        f"serving worker RSS {row['baseline_mb']:.0f} MB before, peak growth {row['growth_mb']:.1f} MB "
        f"({'VmHWM reset before: exact' if reset else 'VmHWM could not be reset: from samples'}; sampled every 20 ms "
        f"{row['sampled_growth_mb']:.1f} MB); other worker {min(growth.values()):.1f} MB  "
        f"{'PASS' if row['growth_mb'] <= ZIP_GROWTH_TARGET_MB else 'FAIL'} (<= {ZIP_GROWTH_TARGET_MB:.0f} MB)")
    log(f"    {check}")


def proc_status(pid: int) -> dict[str, int]:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            name, value = line.split(":", 1)
            values[name] = int(value.split()[0])  # kB
    return values


def check_zip(tail: deque[bytes], total: int, expected_bytes: int, expected_files: int) -> str:
    """Open the archive from its last bytes only (a sparse file of the full length), read its
    central directory and manifest.csv, and compare them with each other and the database."""
    with tempfile.TemporaryFile() as sparse:
        data = b"".join(tail)
        sparse.seek(total - len(data))
        sparse.write(data)
        with zipfile.ZipFile(sparse) as archive:
            infos = archive.infolist()
            manifest_info = infos[-1]
            assert manifest_info.filename == "manifest.csv", manifest_info.filename
            rows = list(csv.DictReader(io.TextIOWrapper(archive.open(manifest_info), encoding="utf-8-sig")))
    entries = {i.filename: i.file_size for i in infos[:-1]}
    listed = {r["path"]: int(r["size"]) for r in rows if r["path"]}
    assert entries == listed, "the manifest does not list the archive's entries with their sizes"
    assert len(entries) == expected_files, (len(entries), expected_files)
    assert sum(entries.values()) == expected_bytes, (sum(entries.values()), expected_bytes)
    last = infos[-1]
    assert last.header_offset < total
    return (f"archive checked: {len(entries)} files, {sum(entries.values()):,} bytes of files = manifest.csv's sizes = "
            f"the database's; {total:,} bytes received, central directory read at the end")


# --- one backend -------------------------------------------------------------------------


def run_backend(backend: str, url: str, workdir: Path, corpus_path: Path, args, queries: list[str]) -> dict:
    log(f"\n=== {backend} ===")
    app = portal_app(url, workdir)
    log(f"migrations: {migrate(app):.1f} s")
    start = time.perf_counter()
    timings = load(app, corpus_path, args.n)
    if args.verify_index or args.n <= 2_000:
        # Without the page cache: the index changes underneath, the cache's revision does not.
        verify_index(portal_app(url, workdir, PORTAL_PAGE_CACHE_SIZE=0), queries[:40] + [FIXED_QUERY])
    timings.update(load_zip_session(app, int(args.zip_gb * 2**30)))
    loaded = time.perf_counter() - start
    log(f"loaded in {loaded:.0f} s (index check included, if any): " + ", ".join(
        f"{k} {v:.1f} s" for k, v in timings.items() if k not in ("zip file count", "zip bytes")))
    with app.app_context():
        slug = db.session.scalar(sa.select(MeetingSession.slug).where(MeetingSession.number == TEXT_SESSION))
        zip_slug = db.session.scalar(sa.select(MeetingSession.slug).where(MeetingSession.number == ZIP_SESSION))
        cache_key = "PORTAL_PAGE_CACHE_SIZE" in app.config
        db.session.remove()
        db.engine.dispose()
    results: list[dict] = []

    with Server("hello:app", dict(os.environ), HERE, "hello") as server:
        hello_row = figure("hello world (the ceiling)", server.port, ["/"], args, results)
    hello = hello_row.get("rps")

    search_paths = ["/search?" + urllib.parse.urlencode({"q": q}) for q in queries]
    api_search_paths = ["/api/v1/statements?" + urllib.parse.urlencode({"q": q}) for q in queries]
    cache_on = " (page cache on)" if cache_key else ""
    if not cache_key:
        log("  (no PORTAL_PAGE_CACHE_SIZE in the app's config: no page cache yet; measured once, without)")
    with Server("wsgi:app", portal_env(url, workdir, page_cache=None), ROOT, "portal") as server:
        session_figures(server.port, slug, args, results, hello, cache_on)
        api_list_figure(server.port, args, results, hello, cache_on)
        figure("search page, 1 query repeated", server.port,
               ["/search?" + urllib.parse.urlencode({"q": FIXED_QUERY})], args, results, target="p95", hello=hello)
        figure(f"search page, {len(queries):,} queries rotating", server.port, search_paths, args, results,
               target="p95", hello=hello)
        figure("API search, 1 query repeated", server.port,
               ["/api/v1/statements?" + urllib.parse.urlencode({"q": FIXED_QUERY})], args, results, target="p95", hello=hello)
        figure(f"API search, {len(queries):,} queries rotating", server.port, api_search_paths, args, results,
               target="p95", hello=hello)
        if args.connections > WORKERS:
            # Latency without queueing: one connection per worker, so no request waits for another.
            one_each = argparse.Namespace(**{**vars(args), "connections": WORKERS})
            figure(f"search page, {len(queries):,} queries, {WORKERS} connections", server.port, search_paths[2500:],
                   one_each, results, target="p95", hello=hello)
            figure(f"API search, {len(queries):,} queries, {WORKERS} connections", server.port, api_search_paths[2500:],
                   one_each, results, target="p95", hello=hello)
    if cache_key:
        with Server("wsgi:app", portal_env(url, workdir, page_cache=0), ROOT, "portal, no cache") as server:
            session_figures(server.port, slug, args, results, hello, " (page cache off)")
            api_list_figure(server.port, args, results, hello, " (page cache off)")
    if args.zip_gb > 0:
        with Server("wsgi:app", portal_env(url, workdir, page_cache=None), ROOT, "portal, zip") as server:
            try:
                measure_zip(server, zip_slug, int(timings["zip bytes"]), int(timings["zip file count"]), results)
            except (OSError, AssertionError, zipfile.BadZipFile, http.client.HTTPException) as exc:
                results.append({"figure": "session ZIP", "note": f"failed: {exc!r}"})
                log(f"  session ZIP: failed: {exc!r}")
    return {"backend": backend, "load_seconds": loaded, "timings": timings, "hello": hello, "results": results}


def private_postgres(server_url: str, keep: bool):
    return pgdb.private_database(server_url, "portal_bench", keep=keep)


def print_table(runs: list[dict]) -> None:
    log("\n=== summary ===")
    for run in runs:
        log(f"\n{run['backend']} (loaded in {run['load_seconds']:.0f} s)")
        log(f"  {'figure':<46} {'req/s':>8}        {'p50':>7}       {'p95':>7}       {'p99':>7}     of hello")
        for row in run["results"]:
            if row.get("figure") == "session ZIP" and "growth_mb" in row:
                ok = row["growth_mb"] <= ZIP_GROWTH_TARGET_MB
                log(f"  {'session ZIP (' + format(row['bytes'] / 2**30, '.2f') + ' GiB)':<46} "
                    f"{row['bytes'] / 2**20 / row['seconds']:>8.0f} MiB/s, worker peak growth {row['growth_mb']:.1f} MB  "
                    f"{'PASS' if ok else 'FAIL'} (<= {ZIP_GROWTH_TARGET_MB:.0f} MB)")
            else:
                log("  " + format_row(row, run["hello"]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=100_000, help="published statements with text (default 100000)")
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--zip-gb", type=float, default=1.0, help="GiB of files in the ZIP session (default 1; 0 skips)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per measurement (default 10)")
    parser.add_argument("--connections", type=int, default=4, help="concurrent connections of the load (default 4)")
    parser.add_argument("--deep", type=int, default=50, help="next-page links followed to the deep page (default 50)")
    parser.add_argument("--seed", type=int, default=corpus.DEFAULT_SEED, help="corpus seed")
    parser.add_argument("--keep", action="store_true", help="keep the databases and the work folder, for inspection")
    parser.add_argument("--workdir", type=Path, help="work folder to use and keep: its corpus and files are reused by later runs "
                        "(the databases are still dropped unless --keep)")
    parser.add_argument("--verify-index", action="store_true", help="check the bulk index against the app's (automatic up to 2,000)")
    parser.add_argument("--python-client", action="store_true", help="use the Python load client even if wrk is installed")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--pg-url", default=os.environ.get("PORTAL_TEST_DATABASE_URL", "").strip(),
                        help="PostgreSQL server URL (default: PORTAL_TEST_DATABASE_URL)")
    args = parser.parse_args()

    client = "wrk " + subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.split()[1] \
        if shutil.which("wrk") and not args.python_client else "Python client (install wrk: apt-get install -y wrk)"
    log(f"Python {sys.version.split()[0]}, Flask {version('flask')}, SQLAlchemy {sa.__version__}, "
        f"gunicorn {version('gunicorn')} ({WORKERS} sync workers), SQLite {sqlite3.sqlite_version}; {os.cpu_count()} CPUs; "
        f"load: {client}, {args.connections} connections, {args.duration:g} s per figure")
    if not shutil.which("wrk") and not args.python_client:
        log("wrk is not installed (Debian: apt-get install -y wrk): using the Python client, which takes CPU from the server")
        args.python_client = True

    keep = args.keep  # the databases (and the work folder)
    keep_workdir = args.keep or args.workdir is not None
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="portal-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "files").mkdir(exist_ok=True)
    runs = []
    try:
        corpus_path = make_corpus(workdir, args.n, args.seed)
        queries = corpus_queries()
        log(f'queries: "{FIXED_QUERY}" repeated, and {len(queries):,} distinct ones made of the corpus\'s words and phrases, '
            f"in turn (e.g. {'; '.join(queries[:5])})")
        if args.backend in ("sqlite", "both"):
            db_path = workdir / f"bench-{os.getpid()}.sqlite3"
            runs.append(run_backend("SQLite", f"sqlite:///{db_path}", workdir, corpus_path, args, queries))
            if keep:
                log(f"  kept: {db_path}")
            else:
                db_path.unlink(missing_ok=True)
        if args.backend in ("postgresql", "both"):
            if not args.pg_url:
                log("\nPostgreSQL: skipped (set PORTAL_TEST_DATABASE_URL or --pg-url)")
            else:
                with private_postgres(args.pg_url, keep) as url:
                    engine = sa.create_engine(url)
                    with engine.connect() as conn:
                        pg_version = conn.execute(sa.text("SHOW server_version")).scalar()
                    engine.dispose()
                    runs.append(run_backend(f"PostgreSQL {pg_version}", url, workdir, corpus_path, args, queries))
                    if keep:
                        log(f"  kept: {url}")
        print_table(runs)
        if args.json:
            args.json.write_text(json.dumps(runs, indent=2, default=str))
    finally:
        if keep_workdir:
            log(f"\nwork folder kept: {workdir}  (serve a kept database with: DATABASE_URL=... PORTAL_STORAGE_DIR={workdir / 'files'} "
                f"SECRET_KEY=x .venv/bin/gunicorn -w 2 wsgi:app)")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
