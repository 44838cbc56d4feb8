"""Full-text search of published statements: the index and the one public search query.

The only module that speaks either backend's full-text dialect: SQLite FTS5 (porter
stemmer, bm25, snippet) and PostgreSQL (tsvector per statement language, a partial GIN
index per language, websearch_to_tsquery, ts_rank; passages marked by passages() around
the words as each language stems them). The index holds the text of each approved
statement's published version only; whether a row may be shown is decided at query time
by portal.queries.public_statements(), so status and embargo can never leak. Flushes;
never commits.
"""

from __future__ import annotations

import bisect
import functools
import itertools
import math
import re
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

import snowballstemmer
import sqlalchemy as sa
from markupsafe import Markup, escape
from sqlalchemy.orm import joinedload, selectinload

from portal.enums import Language, OrganisationKind, StatementKind, StatementStatus
from portal.extensions import db
from portal.models import (
    DocumentText,
    ExtractionStatus,
    Organisation,
    SearchDocument,
    Statement,
    StatementVersion,
    statement_areas,
    utcnow,
)
from portal.models.search import FTS_TABLE, TSV_COLUMN, TSV_CONFIGS
from portal.queries import involving, public_statements

# PostgreSQL text search configuration per statement language (snowball stemmers where
# PostgreSQL has one; Chinese has no word boundaries to stem, so 'simple').
LANGUAGE_CONFIGS: dict[Language, str] = {
    Language.ENGLISH: "english",
    Language.FRENCH: "french",
    Language.SPANISH: "spanish",
    Language.RUSSIAN: "russian",
    Language.ARABIC: "arabic",
    Language.CHINESE: "simple",
}
CONFIGS: tuple[str, ...] = TSV_CONFIGS  # each has its index; a test checks they cover LANGUAGE_CONFIGS

MAX_QUERY_LENGTH = 500
MAX_TERMS = 24
MAX_PHRASE_WORDS = 16
# Text indexed per statement: a long statement is some 100,000 characters; the cap keeps
# any tsvector well under PostgreSQL's 1 MB limit, so indexing can never fail an approval.
MAX_INDEXED_CHARS = 250_000
# Text of each result that its passages are taken from.
PASSAGE_SOURCE_CHARS = 100_000
# When more statements match a query than this, the newest this many are ranked (and the
# count says "more than"): ranking computes a score per match, which for a word found in
# most of 100,000 statements costs far more than the 50 ms a search may take (on
# PostgreSQL each score reads a 4 KB tsvector: 1,000 of them took some 10 ms, and the
# newest 1,000 matches as long again). More words, a phrase or a filter narrow the
# matches; the API pages no deeper than this either.
MATCH_WINDOW = 250
# PostgreSQL: the newest statements tested one by one for a match before the indexes are
# asked (see _Postgres.newest); then the indexes, in about RANGE_MARGIN times as many older
# rows as the probe's rate of matches says hold the rest of the window.
PROBE_ROWS = 1_000
RANGE_MARGIN = 1.5
# ...unless PostgreSQL's statistics of the index's lexemes say the probe would find fewer than
# this share of the window in its rows: then the probe is skipped (it would read a thousand
# vectors, some 6 ms, to find too few) and the indexes are asked at once (see match_rate).
PROBE_FILL = 1.0
# A phrase with word pairs starts with the indexes, in PHRASE_FIRST_RANGE times PROBE_ROWS of
# the newest rows: its share of matches is not known beforehand, and each statement asking the
# indexes decodes every posting list of its pairs whatever the range (3-5 ms at 100,000
# statements), while a larger range costs a visit to each candidate (about 2 µs) and the tests
# stop once the window is full. Phrases that 6-25% of statements hold then need one such
# statement rather than two.
PHRASE_FIRST_RANGE = 4
# When the probe falls short of the window by no more matches than its rate says the next
# PROBE_MORE_ROWS rows hold, the probe goes on below (to twice PROBE_ROWS) rather than ask the
# indexes: a statement asking them decodes every posting list of the query's words (9-17 ms
# for common words at 100,000 statements), where a row tested costs some 6 µs.
PROBE_MORE_ROWS = 500
_NO_BOUND = 2**31 - 1  # above any id
STATISTICS_SECONDS = 600  # how long a worker keeps the lexeme statistics it has read
_HEX = re.compile(r"[0-9a-f]{1,8}")
# Highlight markers: control characters, which extracted text never contains
# (portal.extract.clean_text), so the text cannot forge a highlight.
_START, _STOP = "\x02", "\x03"
_PAIRED_MARKERS = re.compile(f"[^{_START}{_STOP}]*(?:{_START}[^{_START}{_STOP}]*{_STOP}[^{_START}{_STOP}]*)*")

# --- the query language -------------------------------------------------------------------

_TOKEN = re.compile(r'(-?)"([^"]*)"?|(\S+)')
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Term:
    """A word, or a phrase of words that must follow each other."""

    words: tuple[str, ...]

    @property
    def is_phrase(self) -> bool:
        return len(self.words) > 1

    def fts5(self) -> str:
        # Always a quoted FTS5 string: no user text is ever read as FTS5 syntax.
        return '"' + " ".join(self.words).replace('"', '""') + '"'

    def websearch(self) -> str:
        text = " ".join(self.words)
        return f'"{text}"' if self.is_phrase else text


@dataclass(frozen=True)
class ParsedQuery:
    """Web-search syntax: words and "quoted phrases" must all match, `OR` between two
    offers a choice, `-word` or `-"a phrase"` excludes. Words are lower-cased runs of
    letters and digits; anything else in the input is a separator."""

    text: str = ""
    groups: tuple[tuple[Term, ...], ...] = ()  # all groups must match; any term of a group
    excluded: tuple[Term, ...] = ()

    @property
    def is_empty(self) -> bool:
        """Nothing to look for (only exclusions count as nothing: they cannot rank)."""
        return not self.groups

    def websearch(self) -> str:
        """The query rewritten for PostgreSQL's websearch_to_tsquery, in a canonical form."""
        parts = [" OR ".join(t.websearch() for t in group) for group in self.groups]
        parts += ["-" + t.websearch() for t in self.excluded]
        return " ".join(parts)

    def fts5(self) -> str:
        """The query as an SQLite FTS5 MATCH expression."""
        expression = " AND ".join("(" + " OR ".join(t.fts5() for t in group) + ")" for group in self.groups)
        expression = f"({expression})"
        for term in self.excluded:
            expression = f"({expression} NOT {term.fts5()})"
        return expression

    @property
    def has_phrases(self) -> bool:
        """Whether any term is a phrase: testing a phrase needs word positions, which an
        inverted index without them (PostgreSQL's GIN) cannot answer by itself."""
        return any(t.is_phrase for g in self.groups for t in g) or any(t.is_phrase for t in self.excluded)

    def relaxed_tsquery(self) -> str:
        """The query for PostgreSQL's to_tsquery with each phrase loosened to its words (all
        present, anywhere) and phrase exclusions left out: it matches every statement the
        query matches and more, and a GIN index answers it exactly. Each word is quoted,
        and words are runs of letters and digits, so no input is read as syntax."""
        def words(term: Term) -> str:
            return "(" + " & ".join(f"'{w}'" for w in term.words) + ")"

        parts = ["(" + " | ".join(words(t) for t in group) + ")" for group in self.groups]
        parts += [f"!'{t.words[0]}'" for t in self.excluded if not t.is_phrase]
        return " & ".join(parts)

    def fts5_relaxed(self) -> str:
        """The FTS5 expression of relaxed_tsquery(): each phrase loosened to its words."""

        def words(term: Term) -> str:
            return "(" + " AND ".join(Term((w,)).fts5() for w in term.words) + ")"

        expression = "(" + " AND ".join("(" + " OR ".join(words(t) for t in g) + ")" for g in self.groups) + ")"
        for term in self.excluded:
            if not term.is_phrase:
                expression = f"({expression} NOT {term.fts5()})"
        return expression

    def adjacent(self) -> Term | None:
        """The plain words of a query like `alternatives to detention` as one phrase: results
        holding them side by side rank first. None when there are quotes, ORs or one word."""
        if len(self.groups) < 2 or any(len(g) > 1 or g[0].is_phrase for g in self.groups):
            return None
        return Term(tuple(g[0].words[0] for g in self.groups)[:MAX_PHRASE_WORDS])


def parse_query(text: str | None) -> ParsedQuery:
    """Parse web-search syntax. Never raises: whatever is typed becomes some query."""
    text = " ".join((text or "").split())[:MAX_QUERY_LENGTH]
    groups: list[list[Term]] = []
    excluded: list[Term] = []
    pending_or = last_positive = False
    count = 0
    for match in _TOKEN.finditer(text):
        if count >= MAX_TERMS:
            break
        negative, quoted, bare = match.group(1) == "-", match.group(2), match.group(3)
        if quoted is None:
            if bare == "OR":
                pending_or = last_positive
                continue
            negative = bare.startswith("-") and len(bare.lstrip("-")) > 0
            quoted = bare
        words = tuple(w.lower() for w in _WORD.findall(quoted))[:MAX_PHRASE_WORDS]
        if not words:
            continue
        count += 1
        term = Term(words)
        if negative:
            excluded.append(term)
            pending_or = last_positive = False
        else:
            if pending_or and groups:
                groups[-1].append(term)
            else:
                groups.append([term])
            pending_or, last_positive = False, True
    return ParsedQuery(text=text, groups=tuple(tuple(g) for g in groups), excluded=tuple(excluded))


# --- filters ------------------------------------------------------------------------------


@dataclass(frozen=True)
class SearchFilters:
    session_id: int | None = None
    area_id: int | None = None
    panel_id: int | None = None
    organisation_kind: OrganisationKind | None = None
    organisation_id: int | None = None
    language: Language | None = None
    kind: StatementKind | None = None

    @property
    def any(self) -> bool:
        return any(v is not None for v in vars(self).values())


def apply_filters(query: sa.Select, filters: SearchFilters, *, bound: bool = False) -> sa.Select:
    """`query` (over Statement) narrowed by the filters; no joins, so no duplicate rows.

    `bound`: each filter's value is left out, as a required bound parameter named
    `filter_<field>` to be given at execution, so that the query can be built once for
    each set of filters in use and reused (see _Scope)."""

    def value(name: str) -> Any:
        return sa.bindparam(f"filter_{name}") if bound else getattr(filters, name)

    if filters.session_id is not None:
        query = query.where(Statement.session_id == value("session_id"))
    if filters.area_id is not None:
        query = query.where(
            Statement.id.in_(sa.select(statement_areas.c.statement_id).where(statement_areas.c.area_id == value("area_id")))
        )
    if filters.panel_id is not None:
        query = query.where(Statement.panel_id == value("panel_id"))
    if filters.organisation_kind is not None:
        query = query.where(
            Statement.organisation_id.in_(sa.select(Organisation.id).where(Organisation.kind == value("organisation_kind")))
        )
    if filters.organisation_id is not None:
        # By, on behalf of, or co-signed by the organisation: a joint statement is theirs too.
        query = query.where(involving(value("organisation_id")))
    if filters.language is not None:
        query = query.where(Statement.language == value("language"))
    if filters.kind is not None:
        query = query.where(Statement.kind == value("kind"))
    return query


@dataclass(frozen=True)
class _Scope:
    """The statements a search may return: in the index, public at `now` (the index holds
    approved statements only, index_statement keeps it so on every decision; of those,
    the ones under embargo are not public yet) and matching the filters. `conditions` are
    on the backend's key, with the values left out as bound parameters (`params`): they
    depend only on which filters are in use, so the statements holding them are built
    once and reused. Building an SQLAlchemy statement and computing its cache key cost
    more, for a search's statements, than PostgreSQL takes to run some of them."""

    conditions: tuple[sa.ColumnElement[bool], ...]
    params: dict[str, Any]
    shape: tuple[str, ...]  # the filters in use: what the statements built with `conditions` depend on

    @classmethod
    def of(cls, key: sa.ColumnElement[int], filters: SearchFilters, now: datetime) -> _Scope:
        shape = tuple(name for name, value in vars(filters).items() if value is not None)
        params = {"search_now": now, **{f"filter_{name}": getattr(filters, name) for name in shape}}
        return cls(_scope_conditions(key, shape), params, shape)


@functools.lru_cache(maxsize=256)
def _scope_conditions(key: sa.ColumnElement[int], shape: tuple[str, ...]) -> tuple[sa.ColumnElement[bool], ...]:
    now = sa.bindparam("search_now", type_=Statement.publish_at.type)
    conditions: tuple[sa.ColumnElement[bool], ...] = (key.not_in(sa.select(Statement.id).where(Statement.publish_at > now)),)
    if shape:
        # Any value of the right type stands for each filter in use: apply_filters leaves it out.
        used = SearchFilters(**{name: _PLACEHOLDERS[name] for name in shape})
        public = apply_filters(public_statements(now).order_by(None), used, bound=True)
        conditions += (key.in_(public.with_only_columns(Statement.id)),)
    return conditions


_PLACEHOLDERS: dict[str, Any] = {
    "session_id": 0, "area_id": 0, "panel_id": 0, "organisation_id": 0,
    "organisation_kind": next(iter(OrganisationKind)), "language": next(iter(Language)), "kind": next(iter(StatementKind)),
}


# --- searching ----------------------------------------------------------------------------


@dataclass
class SearchResult:
    statement: Statement
    rank: float = 0.0
    snippet: Markup = field(default_factory=Markup)
    adjacent: bool = False  # the query's words side by side (ranked first)


@dataclass
class SearchPage:
    query: ParsedQuery
    filters: SearchFilters
    results: list[SearchResult]
    total: int
    page: int
    per_page: int
    more: bool = False  # more than MATCH_WINDOW statements match: `total` is MATCH_WINDOW

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def search_public(
    q: str | ParsedQuery | None,
    filters: SearchFilters | None = None,
    *,
    page: int = 1,
    per_page: int = 20,
    now: datetime | None = None,
    options: Sequence[Any] = (),
) -> SearchPage:
    """Published statements matching `q` and `filters`, best first, one page of them.

    Starts from public_statements(): nothing unpublished or under embargo is ever
    searched. With words to look for, results are ranked (the query's words side by
    side first, then by relevance, title before organisation before text) and carry a
    highlighted snippet of their documents. Without words but with filters, the matching
    statements come newest first. With neither, the page is empty.
    """
    query = q if isinstance(q, ParsedQuery) else parse_query(q)
    filters = filters or SearchFilters()
    page = max(1, page)
    empty = SearchPage(query, filters, [], 0, page, per_page)
    if query.is_empty:
        if not filters.any:
            return empty
        base = apply_filters(public_statements(now).order_by(None), filters)
        ids_query = base.with_only_columns(Statement.id).order_by(Statement.published_at.desc(), Statement.id.desc())
        total = _count(ids_query)
        ids = list(db.session.scalars(ids_query.limit(per_page).offset((page - 1) * per_page)))
        statements = _load(ids, options)
        return SearchPage(query, filters, [SearchResult(statements[i]) for i in ids], total, page, per_page)

    backend: _Postgres | _SQLite = _POSTGRES if db.engine.dialect.name == "postgresql" else _SQLITE
    now = now or utcnow()
    scope = _Scope.of(backend.key, filters, now)
    newest = backend.newest(query, scope, MATCH_WINDOW + 1)
    if not newest:
        return empty
    more = len(newest) > MATCH_WINDOW
    words = sorted({w for group in query.groups for term in group for w in term.words})
    rows = backend.ranked(query, newest[:MATCH_WINDOW], scope, per_page, (page - 1) * per_page, words)
    # Belt and braces: every result passes public_statements() again, so nothing unpublished
    # can appear even if the index were stale.
    statements = _load([row.id for row in rows], options, public_at=now)
    rows = [row for row in rows if row.id in statements]
    snippets = _snippets(rows, words)
    results = [
        SearchResult(statements[row.id], float(row.rank or 0), highlight(snippets[row.id]), bool(row.adjacent))
        for row in rows
    ]
    return SearchPage(query, filters, results, min(len(newest), MATCH_WINDOW), page, per_page, more)


def _snippets(rows: Sequence[_Ranked], words: Sequence[str]) -> dict[int, str]:
    """A passage of each result's text around the query's `words`, marked (passages()).
    ts_headline and FTS5's snippet() parse and stem every word of every text (0.25–0.7 ms a
    statement); here the query's words are stemmed as the index stems them (each row's
    `stems`), and each text is searched for words that begin with a stem or a query word."""
    prefixes: dict[tuple[str, ...], list[str]] = {}
    snippets = {}
    for row in rows:
        key = tuple(row.stems or ())
        if key not in prefixes:
            prefixes[key] = _highlighted(words, key)
        snippets[row.id] = passages(row.body or "", prefixes[key])
    return snippets


def highlight(raw: str) -> Markup:
    """HTML for a snippet whose matches are between the _START and _STOP markers: the text
    is escaped first, then each match is wrapped in <mark> (balanced, whatever the input)."""
    if _PAIRED_MARKERS.fullmatch(raw):
        # As passages() makes them: escaped at once (the markers are not HTML), then marked.
        return Markup(str(escape(raw)).replace(_START, "<mark>").replace(_STOP, "</mark>"))
    return _balanced_highlight(raw)


def _balanced_highlight(raw: str) -> Markup:
    """highlight() for any markers: piece by piece, a <mark> opened only when none is open
    and closed only when one is, and closed at the end."""
    out: list[str] = []
    open_ = False
    for piece in re.split(f"([{_START}{_STOP}])", raw):
        if piece == _START:
            if not open_:
                out.append("<mark>")
                open_ = True
        elif piece == _STOP:
            if open_:
                out.append("</mark>")
                open_ = False
        elif piece:
            out.append(str(escape(piece)))
    if open_:
        out.append("</mark>")
    return Markup("".join(out))


def _count(query: sa.Select) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery())) or 0


def _load(ids: Sequence[int], options: Sequence[Any] = (), public_at: datetime | None = None) -> dict[int, Statement]:
    """The statements, their organisation and session (what a result shows) and whatever
    else `options` load, in one go; only those public at `public_at`, if given."""
    if not ids:
        return {}
    statements = db.session.scalars(
        _load_statement(tuple(options), public_at is not None), {"ids": list(ids), "search_now": public_at}
    )
    return {s.id: s for s in statements}


@functools.lru_cache(maxsize=32)
def _load_statement(options: tuple[Any, ...], public: bool) -> sa.Select[tuple[Statement]]:
    """_load's statement, built once for each set of options (the callers' are constants)."""
    query = public_statements(sa.bindparam("search_now", type_=Statement.publish_at.type)).order_by(None) if public else sa.select(Statement)
    return query.where(Statement.id.in_(sa.bindparam("ids", expanding=True))).options(
        joinedload(Statement.organisation, innerjoin=True),
        joinedload(Statement.meeting_session, innerjoin=True),
        *options,
    )


# --- running a search's PostgreSQL statements -----------------------------------------------


@dataclass(frozen=True)
class _Compiled:
    """A statement built once, compiled once for the engine's dialect: its SQL, the values it
    holds itself (a constant compared with, processed for the database) and the bind processors
    of the parameters it is given (an enum to its name)."""

    sql: str
    values: dict[str, Any]
    processors: dict[str, Callable[[Any], Any]]

    @classmethod
    def of(cls, statement: sa.Executable, dialect: sa.Dialect) -> _Compiled:
        compiled = statement.compile(dialect=dialect)
        values: dict[str, Any] = {}
        processors: dict[str, Callable[[Any], Any]] = {}
        for bind, name in compiled.bind_names.items():
            processor = bind.type.dialect_impl(dialect).bind_processor(dialect)
            if bind.required or bind.callable is not None:
                if processor is not None:
                    processors[name] = processor
            else:
                values[name] = bind.value if processor is None else processor(bind.value)
        return cls(compiled.string, values, processors)


_COMPILED: dict[tuple[sa.Executable, sa.Dialect], _Compiled] = {}  # the statements are long-lived constants


def _fetch(statement: sa.Executable, params: dict[str, Any]) -> list[tuple[Any, ...]]:
    """The rows of a statement built once (a module constant or from a functools.cache'd
    builder; all of them only read), run as its compiled SQL by the driver on the session's
    connection. SQLAlchemy's execution computes the statement's cache key and sets up its
    result objects on every run: 0.4-1.1 ms of the worker's CPU for a search's statement,
    against 0.3 ms through the driver, where PostgreSQL takes less than 1 ms to run some.
    A driver error is raised as SQLAlchemy's (DBAPIError), and a lost connection is
    invalidated, as SQLAlchemy does for its own statements."""
    connection = db.session.connection()
    dialect = connection.dialect
    compiled = _COMPILED.get((statement, dialect))
    if compiled is None:
        compiled = _COMPILED[(statement, dialect)] = _Compiled.of(statement, dialect)
    values = {**compiled.values, **params}
    for name, processor in compiled.processors.items():
        if name in values:
            values[name] = processor(values[name])
    pooled = connection.connection
    cursor = pooled.driver_connection.cursor()
    try:
        cursor.execute(compiled.sql, values)
        return cursor.fetchall()
    except dialect.loaded_dbapi.Error as exc:
        disconnected = dialect.is_disconnect(exc, pooled.dbapi_connection, cursor)
        if disconnected:
            connection.invalidate(exc)
        raise sa.exc.DBAPIError.instance(
            compiled.sql, values, exc, dialect.loaded_dbapi.Error, connection_invalidated=disconnected
        ) from exc
    finally:
        cursor.close()


_SEARCH_KEY = SearchDocument.__table__.c.statement_id
# The id below which the probe stops: the `probe_rows`-th newest in the index (NULL: fewer).
_PROBE_FLOOR = (
    sa.select(_SEARCH_KEY).order_by(_SEARCH_KEY.desc()).offset(sa.bindparam("probe_rows", type_=sa.Integer)).limit(1).scalar_subquery()
)
# The newest id in the index, and the id below which the probe stops.
_TOP_AND_PROBE_FLOOR = (sa.select(sa.func.max(_SEARCH_KEY)).scalar_subquery(), _PROBE_FLOOR)


class _Ranked(NamedTuple):
    """A result of a backend's `ranked`, with what its passages are taken from: the opening of
    its text, and the query's words as its language's configuration stems them."""

    id: int
    rank: float
    adjacent: int
    body: str | None
    stems: list[str] | None


class _Postgres:
    """tsvector per statement language: each language's rows are matched with a tsquery
    parsed in that language, one constant query per configuration, so each branch of the
    OR is answered by that configuration's partial GIN index (migration 0007).

    What costs is reading a statement's tsvector (some 4 KB, out of TOAST): the index finds
    matches without it, but testing a phrase, ranking and highlighting need it. So the
    newest matches are found without reading vectors where possible, phrases are tested
    newest first only until the window is full, and only the window's vectors are ranked.
    """

    table = SearchDocument.__table__
    key = _SEARCH_KEY

    def _per_config(self, function: str, param: str, table: str = "search_documents", row_test: bool = False) -> sa.TextClause:
        """OR over the configurations of (config = X AND tsv @@ function(X, :param)), each
        configuration a literal, so the planner matches it to X's partial index (unless
        `row_test`, see _per_config_sql). SQL text: built as an expression tree, six
        branches cost more to assemble and compile than the database takes to run them."""
        return sa.text(_per_config_sql(function, table, param, row_test)).bindparams(sa.bindparam(param, type_=sa.Text))

    def match(self, table: str = "search_documents", row_test: bool = False) -> sa.ColumnElement[bool]:
        """The rows matching the query given as the `query` parameter (websearch syntax);
        `row_test`: tested row by row, never from an index."""
        return self._per_config("websearch_to_tsquery", "query", table, row_test)

    def params(self, parsed: ParsedQuery, scope: _Scope, **more: Any) -> dict[str, Any]:
        return {**scope.params, "query": parsed.websearch(), "probe_rows": PROBE_ROWS, **more}

    @functools.cache
    def _probe_statement(self, shape: tuple[str, ...]) -> sa.Select[tuple[int]]:
        conditions = _scope_conditions(self.key, shape)
        return (
            sa.select(self.key)
            .where(
                self.match(row_test=True), *conditions,
                self.key < sa.bindparam("below", type_=sa.Integer), self.key > sa.func.coalesce(_PROBE_FLOOR, 0),
            )
            .order_by(self.key.desc())
            .limit(sa.bindparam("limit", type_=sa.Integer))
        )

    def newest(self, parsed: ParsedQuery, scope: _Scope, limit: int) -> list[int]:
        """The ids of the newest `limit` statements matching, newest first."""
        pairs = self.phrase_pairs(parsed) if parsed.has_phrases else {}
        found: list[int] = []
        first_rows = float(PROBE_ROWS * (PHRASE_FIRST_RANGE if pairs else 1))  # the first range from the indexes, if the probe is skipped
        probed = False
        probed_rows = PROBE_ROWS  # how many of the newest rows the probe covers (its floor)
        if not pairs:
            rate = match_rate(parsed, lexeme_statistics())
            if rate is not None and rate * PROBE_ROWS < PROBE_FILL * limit:
                # Too few of the newest rows would match for the probe to fill the window: the
                # indexes are asked at once, in a range as many rows as should hold it.
                first_rows = max(float(PROBE_ROWS), RANGE_MARGIN * limit / rate) if rate > 0 else math.inf
            else:
                # 1. The newest PROBE_ROWS statements, tested one by one (stopping at `limit`): a
                #    broad query (the words most statements use) fills the window here. A phrase
                #    with word pairs skips this: its pairs' index finds its matches faster.
                probe = self._probe_statement(scope.shape)
                found = [row[0] for row in _fetch(probe, self.params(parsed, scope, limit=limit, below=_NO_BOUND))]
                missing = limit - len(found)
                if found and 0 < missing and missing * PROBE_ROWS <= PROBE_MORE_ROWS * len(found):
                    # Nearly full: the rows below, tested one by one as far as twice PROBE_ROWS,
                    # should hold the rest at the rate seen (the last rows tested again at most).
                    probed_rows = 2 * PROBE_ROWS
                    more = self.params(parsed, scope, limit=missing, below=found[-1], probe_rows=probed_rows)
                    found += [row[0] for row in _fetch(probe, more)]
                if len(found) >= limit:
                    return found
                probed = True
        # 2. Below them (or from the top, for a phrase with pairs), from the indexes, in
        #    ranges of ids sized by the rate of matches seen so far. The index finds every
        #    match in a range without reading a vector, but each one found costs a visit to
        #    its row, so a range keeps a common word's thousands of older matches out of the
        #    way. The planner's estimates for text queries are poor, and a scan that tests
        #    every row reads every vector, so the indexes are imposed for these statements
        #    (with the newest id and the probe's floor, in the same round trip). With the
        #    plan imposed, nothing is gained by planning it again for each range's values:
        #    once the driver has prepared a statement (on its fifth use on a connection),
        #    its generic plan is kept (planning one took up to 1 ms).
        with _planner(
            *_TOP_AND_PROBE_FLOOR, params={"probe_rows": probed_rows},
            enable_seqscan="off", enable_indexscan="off", max_parallel_workers_per_gather="0", jit="off",
            plan_cache_mode="force_generic_plan",
        ) as (top, floor):
            if top is None or (floor is None and probed):
                return found  # no statements, or the probe saw them all
            ids_per_row = (top - floor) / probed_rows if floor is not None else 0.0  # near the top
            seen, upper, rows = (probed_rows, floor, 0.0) if probed else (0, top, 0.0)
            while len(found) < limit:
                # Rows that should hold the matches still missing at the rate seen so far, with
                # a margin, and at least twice the last range (no rate seen: all the rest).
                if floor is None:
                    rows = math.inf  # fewer statements than a probe: all of them
                elif not seen:
                    rows = first_rows
                elif found:
                    rows = max(RANGE_MARGIN * (limit - len(found)) * seen / len(found), 2 * rows, PROBE_ROWS)
                else:
                    rows = math.inf
                lower: int | None = upper - int(rows * ids_per_row) if rows < math.inf else None
                if lower is not None and lower <= 0:
                    lower = None
                found += self._indexed(parsed, scope, upper, lower, limit - len(found), pairs)
                if lower is None:
                    break
                seen, upper = seen + int(rows), lower
        return found

    def _indexed(
        self, parsed: ParsedQuery, scope: _Scope, upper: int, lower: int | None, limit: int, pairs: dict[str, list[str]]
    ) -> list[int]:
        """The newest `limit` matches with ids in (lower, upper], found by the indexes alone
        (exact for a query without phrases). A query with phrases takes the statements
        holding its phrases' word pairs (`pairs`, search_pairs) or else its words from the
        indexes, and tests the phrases on them newest first, stopping when it has `limit`."""
        statement = self._indexed_statement(scope.shape, lower is not None, parsed.has_phrases, bool(pairs))
        params = self.params(parsed, scope, upper=upper, lower=lower, limit=limit)
        if parsed.has_phrases:
            params.update(self._candidates_params(parsed, pairs))
        return [row[0] for row in _fetch(statement, params)]

    @functools.cache
    def _indexed_statement(self, shape: tuple[str, ...], bounded: bool, phrases: bool, pairs: bool) -> sa.Select[tuple[int]]:
        conditions = _scope_conditions(self.key, shape)
        bounds = [self.key <= sa.bindparam("upper", type_=sa.Integer)]
        if bounded:
            bounds.append(self.key > sa.bindparam("lower", type_=sa.Integer))
        limit = sa.bindparam("limit", type_=sa.Integer)
        if not phrases:
            return sa.select(self.key).where(self.match(), *conditions, *bounds).order_by(self.key.desc()).limit(limit)
        candidates = (
            sa.select(self.key.label("id"))
            .where(self._candidates(pairs), *conditions, *bounds)
            .order_by(self.key.desc())
            .offset(0)  # a fence: sorted first, then tested in that order
            .subquery("candidates")
        )
        other = self.table.alias("tested")
        test = (
            sa.select(sa.literal(1).label("ok"))
            .select_from(other)
            .where(other.c.statement_id == candidates.c.id, self.match("tested", row_test=True))
            .offset(0)
            .lateral("test")
        )
        return sa.select(candidates.c.id).select_from(candidates.join(test, sa.true())).order_by(candidates.c.id.desc()).limit(limit)

    def _candidates(self, pairs: bool) -> sa.ColumnElement[bool]:
        """A superset of the query's matches that the indexes answer exactly: with `pairs`,
        the statements holding the word pairs of each of its phrases that stands alone in
        its group (in the statement's configuration: an OR over the configurations of
        config = X AND its pairs in X, each branch answered by X's partial index; the
        `pairs_<config>` parameters, from _candidates_params()), or else those holding its
        words (the `relaxed` parameter, relaxed_tsquery). The pairs alone: beside other
        conditions on the vector, the planner may keep one as a filter, which would compute
        the pairs of every row it finds."""
        if not pairs:
            return self._per_config("to_tsquery", "relaxed")
        return sa.text(_PAIRS_CONDITION).bindparams(  # type: ignore[return-value]
            *(sa.bindparam(f"pairs_{config}", type_=sa.Text) for config in CONFIGS)
        )

    def _candidates_params(self, parsed: ParsedQuery, pairs: dict[str, list[str]]) -> dict[str, str]:
        """The parameters of _candidates(bool(pairs)); `pairs` from phrase_pairs()."""
        if not pairs:
            return {"relaxed": parsed.relaxed_tsquery()}
        return {f"pairs_{config}": " & ".join(f"'{t}'" for t in pairs[config]) for config in CONFIGS}

    def phrase_pairs(self, parsed: ParsedQuery) -> dict[str, list[str]]:
        """Per configuration, the search_pairs tokens of the query's phrases that stand alone
        in their group (a phrase offered as a choice, or excluded, narrows nothing); nothing
        if in some configuration none of them has two words that are not stop words."""
        phrases = [" ".join(g[0].words) for g in parsed.groups if len(g) == 1 and g[0].is_phrase]
        if not phrases:
            return {}
        rows = _fetch(_PAIRS_SQL, {"configs": list(CONFIGS), "phrases": phrases})
        pairs: dict[str, set[str]] = {config: set() for config in CONFIGS}
        for config, tokens in rows:
            # Hex digits (to_hex): safe inside a quoted tsquery lexeme.
            pairs[config].update(t for t in tokens or () if _HEX.fullmatch(t))
        if any(not tokens for tokens in pairs.values()):
            return {}  # a configuration's statements cannot be narrowed by pairs: none are
        return {config: sorted(tokens) for config, tokens in pairs.items()}

    def ranked(
        self, parsed: ParsedQuery, window: list[int], scope: _Scope, limit: int, offset: int, words: Sequence[str]
    ) -> list[_Ranked]:
        """One page of the window, best first: the query's words side by side, then ts_rank;
        with each result's source of passages (`words` through its configuration), in the same
        query. (The window's statements are all in scope: newest() found them there.)"""
        phrase = parsed.adjacent()
        params: dict[str, Any] = {
            "query": parsed.websearch(), "window": _int_array(window), "limit": limit, "offset": offset,
            "words": " ".join(words), "chars": PASSAGE_SOURCE_CHARS,
        }
        if phrase is not None:
            params["phrase"] = " ".join(phrase.words)
        return [_Ranked(*row) for row in _fetch(_ranked_statement(phrase is not None), params)]


@dataclass(frozen=True)
class LexemeStatistics:
    """PostgreSQL's statistics of the index's lexemes (pg_stats.most_common_elems of the
    tsvector column, from ANALYZE): the share of statements holding each of the most common
    ones, and the share assumed for any other (half the least common's: fewer hold it)."""

    shares: dict[str, float]
    other: float


_STATISTICS: dict[str, tuple[float, LexemeStatistics | None]] = {}  # per database: (read at, statistics)
_STATISTICS_SQL = sa.text(
    "SELECT CAST(CAST(most_common_elems AS text) AS text[]), most_common_elem_freqs FROM pg_stats "
    "WHERE schemaname = current_schema() AND tablename = :table AND attname = :column"
)


def lexeme_statistics() -> LexemeStatistics | None:
    """The lexeme statistics of the database in use, read at most every STATISTICS_SECONDS
    (ANALYZE changes them, and only a strategy depends on them); None before any ANALYZE."""
    key = str(db.engine.url)
    read_at, statistics = _STATISTICS.get(key, (-math.inf, None))
    if time.monotonic() - read_at < STATISTICS_SECONDS:
        return statistics
    row = db.session.execute(_STATISTICS_SQL, {"table": SearchDocument.__tablename__, "column": TSV_COLUMN}).first()
    statistics = None
    if row is not None and row[0] and row[1]:
        lexemes, shares = row
        # most_common_elem_freqs: one per lexeme, then the least and greatest of them, then the share of NULLs.
        statistics = LexemeStatistics(dict(zip(lexemes, shares)), min(shares[: len(lexemes)]) / 2)
    _STATISTICS[key] = (time.monotonic(), statistics)
    return statistics


def match_rate(parsed: ParsedQuery, statistics: LexemeStatistics | None) -> float | None:
    """The estimated share of statements matching `parsed`, as PostgreSQL's planner would
    estimate it (words independent): the words' shares multiplied, an OR's terms added, an
    excluded word's complement; each word as the English configuration, which most
    statements use, keeps it (a stop word matches all). Only decides how the matches are
    found, never which: a wrong estimate costs time, not results. None without statistics."""
    if statistics is None:
        return None
    lexemes = english_lexemes({w for group in parsed.groups for t in group for w in t.words} | {
        w for t in parsed.excluded for w in t.words
    })

    def share(term: Term) -> float | None:  # None: stop words only, which the tsquery leaves out
        kept = [lexemes[w] for w in term.words if lexemes.get(w) is not None]
        return math.prod(statistics.shares.get(lexeme, statistics.other) for lexeme in kept) if kept else None

    def held(term: Term) -> float:
        return 1.0 if (value := share(term)) is None else value

    def left(term: Term) -> float:
        return 1.0 if term.is_phrase or (value := share(term)) is None else 1.0 - value

    return math.prod(min(1.0, sum(map(held, group))) for group in parsed.groups) * math.prod(map(left, parsed.excluded))


_LEXEMES: dict[str, str | None] = {}  # word: its English lexeme (None: a stop word), as PostgreSQL gave it
MAX_LEXEMES = 100_000
_LEXEMES_SQL = sa.text(
    "SELECT w, (tsvector_to_array(to_tsvector('english', w)))[1] FROM unnest(CAST(:words AS text[])) AS w"
).columns(sa.column("w", sa.Text), sa.column("lexeme", sa.Text))


def english_lexemes(words: set[str]) -> dict[str, str | None]:
    """Each word as PostgreSQL's English configuration indexes it (None for a stop word),
    asked of the database once per worker for each word (the stemmer of a Python library
    differs from PostgreSQL's on some words, and its stop words are PostgreSQL's own)."""
    missing = [w for w in words if w not in _LEXEMES]
    if missing:
        if len(_LEXEMES) + len(missing) > MAX_LEXEMES:
            _LEXEMES.clear()
        _LEXEMES.update((word, lexeme) for word, lexeme in _fetch(_LEXEMES_SQL, {"words": missing}))
    return {w: _LEXEMES.get(w) for w in words}


def _highlighted(words: Sequence[str], stems: Sequence[str]) -> list[str]:
    """The stems, and the query's words that have a stem (all but its last letter begins the
    word: "policy" for 'polici'); a stop word ("to") has none, so it is not marked."""
    folded = [fold(s) for s in stems]
    return [*stems, *(w for w in words if any(len(s) > 1 and fold(w).startswith(s[:-1]) for s in folded))]


def _fold_table() -> dict[int, str]:
    """Latin letters with diacritics to their base letter, one character for one (so offsets
    in a folded text are offsets in the text), as SQLite's remove_diacritics folds them."""
    table: dict[int, str] = {}
    for code in (*range(0xC0, 0x250), *range(0x1E00, 0x1F00)):
        decomposed = unicodedata.normalize("NFD", chr(code))
        base = "".join(c for c in decomposed if not unicodedata.combining(c))
        if len(base) == 1 and base != chr(code):
            table[code] = base
    return table


_FOLD = _fold_table()
_ACCENTED = re.compile("[\u00c0-\u024f\u1e00-\u1eff]")
_WORD_TAIL = re.compile(r"\w*")
MAX_HITS = 64
WHOLE_WORD_BELOW = 4  # a prefix shorter than this marks only itself ("to" is not "together")


def fold(text: str) -> str:
    """`text` lower-cased and without diacritics (a few letters, such as "İ", lengthen)."""
    lower = text.lower()
    if lower.isascii():  # a flag of the string: no scan
        return lower
    # Only the letters that have a diacritic are looked up (translate() would look up each one).
    return _ACCENTED.sub(lambda m: _FOLD.get(ord(m.group()), m.group()), lower)


def word_hits(text: str, prefixes: Sequence[str]) -> list[tuple[int, int, str]]:
    """(start, end, folded word) of the first MAX_HITS words of `text` that begin with one of
    `prefixes` (a prefix shorter than WHOLE_WORD_BELOW must be the whole word), in text
    order, compared lower-cased and without diacritics. str.find on the folded text (a
    third of a regular expression's time); a regular expression over the text where folding
    changes its length."""
    wanted = sorted({fold(p) for p in prefixes if p}, key=len, reverse=True)
    if not wanted:
        return []
    folded = fold(text)
    if len(folded) != len(text):
        alternatives = "|".join(
            re.escape(p) + (r"\b" if len(p) < WHOLE_WORD_BELOW else r"\w*") for p in wanted
        )
        pattern = re.compile(r"\b(?:" + alternatives + ")", re.IGNORECASE)
        return [(m.start(), m.end(), fold(m.group())) for m in itertools.islice(pattern.finditer(text), MAX_HITS)]
    found: dict[int, tuple[int, str]] = {}
    for prefix in wanted:
        start = count = 0
        while count < MAX_HITS:
            at = folded.find(prefix, start)
            if at < 0:
                break
            start = at + len(prefix)
            if at and (folded[at - 1].isalnum() or folded[at - 1] == "_"):
                continue  # inside a word, not at its beginning
            end = _WORD_TAIL.match(folded, start).end()  # type: ignore[union-attr]
            if len(prefix) < WHOLE_WORD_BELOW and end != start:
                continue
            if end > found.get(at, (0, ""))[0]:
                found[at] = (end, folded[at:end])
            count += 1
    return sorted((at, end, word) for at, (end, word) in found.items())[:MAX_HITS]


PASSAGE_CHARS = 200  # about 30 words
MAX_PASSAGES = 2


def passages(text: str, prefixes: Sequence[str]) -> str:
    """Up to MAX_PASSAGES passages of `text` of about PASSAGE_CHARS each, chosen for holding
    the most different words that begin with one of `prefixes`, in text order, joined by
    " … ", each such word between the _START and _STOP markers; the opening of the text
    when no word matches."""
    hits = word_hits(text, prefixes)
    if not hits:
        return _widen(text, 0, PASSAGE_CHARS)[2]
    starts = [h[0] for h in hits]
    words = [h[2] for h in hits]
    scored = []
    for start in starts:
        begin = max(0, start - PASSAGE_CHARS // 4)
        end = begin + PASSAGE_CHARS
        inside = words[bisect.bisect_left(starts, begin) : bisect.bisect_left(starts, end)]
        scored.append((-len(set(inside)), begin, end))
    chosen: list[tuple[int, int]] = []
    for _, begin, end in sorted(scored):
        if len(chosen) == MAX_PASSAGES:
            break
        if all(end <= b or begin >= e for b, e in chosen):
            chosen.append((begin, end))
    parts = []
    for begin, end in sorted(chosen):
        begin, end, _ = _widen(text, begin, end)
        piece, at = [], begin
        for s, e, _ in hits:
            if begin <= s and e <= end:
                piece += [text[at:s], _START, text[s:e], _STOP]
                at = e
        piece.append(text[at:end])
        parts.append("".join(piece).strip())
    return " … ".join(parts)


def _widen(text: str, begin: int, end: int) -> tuple[int, int, str]:
    """[begin, end) moved out to whole words (and whitespace collapsed in the returned text)."""
    while begin > 0 and not text[begin - 1].isspace():
        begin -= 1
    end = min(end, len(text))
    while end < len(text) and not text[end].isspace():
        end += 1
    return begin, end, " ".join(text[begin:end].split())


class _SQLite:
    """FTS5 external-content table over search_documents (rowid = statement_id)."""

    fts = sa.table(FTS_TABLE, sa.column("rowid", sa.Integer))
    # bm25 weights of the columns: title, organisation, body.
    weights = (10.0, 5.0, 1.0)

    key = fts.c.rowid

    def match(self, parsed: ParsedQuery) -> sa.ColumnElement[bool]:
        return sa.text(f"{FTS_TABLE} MATCH :fts_query").bindparams(fts_query=parsed.fts5())  # type: ignore[return-value]

    def rank(self, parsed: ParsedQuery) -> sa.ColumnElement[float]:
        return -sa.func.bm25(sa.literal_column(FTS_TABLE), *(sa.literal(w) for w in self.weights))

    def newest(self, parsed: ParsedQuery, scope: _Scope, limit: int) -> list[int]:
        """The ids of the newest `limit` statements matching, newest first (FTS5 reads its
        doclists in rowid order and stops at the limit)."""
        return list(db.session.scalars(
            sa.select(self.key).select_from(self.fts).where(self.match(parsed), *scope.conditions).order_by(self.key.desc()).limit(limit),
            scope.params,
        ))

    def ranked(
        self, parsed: ParsedQuery, window: list[int], scope: _Scope, limit: int, offset: int, words: Sequence[str]
    ) -> list[_Ranked]:
        """One page of the window, best first: the query's words side by side, then bm25; with
        each result's source of passages (sources())."""
        floor = window[-1]  # the oldest statement ranked: the window is every match from it on
        adjacent = self.adjacent(parsed, floor)
        rank = self.rank(parsed)
        match = self.match(parsed)
        conditions = list(scope.conditions)
        if parsed.has_phrases:
            # bm25 weighs a phrase by how many statements hold it, which FTS5 finds by testing
            # the phrase on every statement holding its words (at 100,000 statements, some 40
            # ms). The window's statements all hold the query's phrases: they are ranked by the
            # query's words instead, and the rows the words alone match are left out by id
            # (`+rowid`: a test on the row, not a lookup in the index per id).
            match = sa.text(f"{FTS_TABLE} MATCH :fts_relaxed").bindparams(fts_relaxed=parsed.fts5_relaxed())  # type: ignore[assignment]
            conditions.append(sa.literal_column(f"+{FTS_TABLE}.rowid").in_(window))
        rows = db.session.execute(
            sa.select(self.key.label("id"), rank.label("rank"), adjacent.label("adjacent"))
            .select_from(self.fts)
            .where(match, *conditions, self.key >= floor)
            .order_by(adjacent.desc(), rank.desc(), self.key.desc())
            .limit(limit)
            .offset(offset),
            scope.params,
        ).all()
        sources = {statement_id: (body, stems) for statement_id, body, stems in self.sources([row.id for row in rows], words)}
        return [_Ranked(row.id, row.rank, row.adjacent, *sources.get(row.id, (None, None))) for row in rows]

    def adjacent(self, parsed: ParsedQuery, floor: int) -> sa.ColumnElement[int]:
        """1 where the query's words stand side by side: the phrase's matches among statements
        from `floor` on (the ranked ones), not across the whole index."""
        phrase = parsed.adjacent()
        if phrase is None:
            return sa.literal(0)
        inner = sa.text(
            f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH :fts_phrase AND rowid >= :adjacent_floor"
        ).bindparams(fts_phrase=phrase.fts5(), adjacent_floor=floor)
        return sa.case((self.key.in_(inner.columns(sa.column("rowid", sa.Integer))), 1), else_=0)

    def sources(self, ids: Sequence[int], words: Sequence[str]) -> list[tuple[int, str, list[str]]]:
        """(statement_id, the opening of its text, the words as FTS5's tokenizer keeps them:
        diacritics removed, then Porter, the same in every language) of each statement."""
        if not ids:
            return []
        stems = [porter_stem(fold(w)) for w in words]
        rows = db.session.execute(
            sa.select(SearchDocument.statement_id, sa.func.substr(SearchDocument.body, 1, PASSAGE_SOURCE_CHARS))
            .where(SearchDocument.statement_id.in_(ids))
        )
        return [(statement_id, body, stems) for statement_id, body in rows]


_PAIRS_SQL = sa.text(
    "SELECT c.config, tsvector_to_array(search_pairs(to_tsvector(CAST(c.config AS regconfig), p.phrase))) "
    "FROM unnest(CAST(:configs AS text[])) AS c(config), unnest(CAST(:phrases AS text[])) AS p(phrase)"
)


# _Postgres._candidates' condition. Each tsquery in a scalar subquery: the planner then
# estimates the pairs' matches by its default (0.5%) rather than as vanishingly few, and
# ANDs a range of ids with them in the index (a BitmapAnd) instead of visiting every row
# holding a common pair.
_PAIRS_CONDITION = "(" + " OR ".join(
    f"(search_documents.config = '{config}' AND search_pairs(search_documents.{TSV_COLUMN}) @@ (SELECT CAST(:pairs_{config} AS tsquery)))"
    for config in CONFIGS
) + ")"


@functools.cache
def _per_config_sql(function: str, table: str, param: str, row_test: bool = False) -> str:
    """See _Postgres._per_config. `row_test`: the condition as a test of each row rather than
    one an index can answer: ts_match_vq(), the function behind @@, which no index serves, and
    each tsquery in a scalar subquery, parsed once per execution. Then the plan is the same
    whatever the query, and PostgreSQL keeps the prepared statement's generic plan instead of
    planning it again on every search (with @@ a generic plan would scan the GIN index for
    want of the query's selectivity); and a generic plan does not parse the tsquery again
    for every row tested, as it would `{function}(..., $1)`."""
    if row_test:
        test = "ts_match_vq({table}.{tsv}, (SELECT {function}('{config}'::regconfig, :{param})))"
    else:
        test = "{table}.{tsv} @@ {function}('{config}'::regconfig, :{param})"
    return "(" + " OR ".join(
        f"({table}.config = '{config}' AND " + test.format(table=table, tsv=TSV_COLUMN, function=function, config=config, param=param) + ")"
        for config in CONFIGS
    ) + ")"


@functools.cache
def _ranked_sql(adjacent: bool) -> str:
    """_Postgres.ranked's statement: CASE config WHEN X THEN ...: one tsquery per
    configuration, each parsed once per execution (a scalar subquery: an InitPlan, even in a
    prepared statement's generic plan, where a function of a parameter would be called
    again for every row; a tsquery parsed per row would cost more than the rank)."""

    def by_config(make: Callable[[str], str], default: str) -> str:
        return "CASE config " + " ".join(f"WHEN '{c}' THEN {make(c)}" for c in CONFIGS) + f" ELSE {default} END"

    rank = by_config(lambda c: f"ts_rank({TSV_COLUMN}, (SELECT websearch_to_tsquery('{c}'::regconfig, :query)), 1)", "0.0")
    side_by_side = "0"
    if adjacent:
        side_by_side = "CASE WHEN " + by_config(lambda c: f"{TSV_COLUMN} @@ (SELECT phraseto_tsquery('{c}'::regconfig, :phrase))", "false") + " THEN 1 ELSE 0 END"
    ranked = (
        f"SELECT statement_id AS id, {rank} AS rank, {side_by_side} AS adjacent FROM search_documents "
        "WHERE statement_id = ANY(CAST(:window AS integer[])) ORDER BY adjacent DESC, rank DESC, statement_id DESC LIMIT :limit OFFSET :offset"
    )
    # Each result of the page with the opening of its text and the query's words as its
    # configuration keeps them (for its passages): joined after the LIMIT, so only the
    # page's texts are read. A text of no more bytes than :chars has no more characters
    # either, and is taken whole: substr() counts a UTF-8 text's characters from its start,
    # which took about twice as long as reading the text (some 50 µs more a result).
    return (
        "SELECT page.id, page.rank, page.adjacent, "
        "CASE WHEN octet_length(d.body) <= :chars THEN d.body ELSE substr(d.body, 1, :chars) END, "
        "tsvector_to_array(to_tsvector(CAST(d.config AS regconfig), :words)) "
        f"FROM ({ranked}) AS page JOIN search_documents AS d ON d.statement_id = page.id "
        "ORDER BY page.adjacent DESC, page.rank DESC, page.id DESC"
    )


@functools.cache
def _ranked_statement(adjacent: bool) -> sa.TextClause:
    return sa.text(_ranked_sql(adjacent)).bindparams(
        sa.bindparam("window", type_=sa.Text), sa.bindparam("query", type_=sa.Text),
        sa.bindparam("words", type_=sa.Text), sa.bindparam("chars", type_=sa.Integer), *(
            [sa.bindparam("phrase", type_=sa.Text)] if adjacent else []
        )
    )


def _int_array(values: Sequence[int]) -> str:
    """A PostgreSQL array literal of integers: one string to send rather than a list that the
    driver adapts element by element."""
    return "{" + ",".join(str(int(v)) for v in values) + "}"


@contextmanager
def _planner(*columns: sa.ColumnElement[Any], params: dict[str, Any] | None = None, **settings: str) -> Iterator[tuple[Any, ...]]:
    """PostgreSQL planner settings for the statements run inside, then back as they were.
    Set for the session, not the transaction (set_config(..., false)): a public page's
    statements run without a transaction block (portal.extensions.reads_only), where a
    transaction's setting would end with the statement that made it; inside a transaction,
    a rollback undoes them as well. Gives the values of `columns` (constant expressions,
    with `params`), read in the same round trip."""
    change, restore = _planner_statements(tuple(settings), columns)
    values = {f"setting_{i}": value for i, value in enumerate(settings.values())}
    (row,) = _fetch(change, {**(params or {}), **values})
    previous = row[len(columns) :: 2]  # each setting's value before it was set
    try:
        yield tuple(row[: len(columns)])
    finally:
        _fetch(restore, {f"setting_{i}": value for i, value in enumerate(previous)})


@functools.cache
def _planner_statements(names: tuple[str, ...], columns: tuple[sa.ColumnElement[Any], ...]) -> tuple[sa.Select, sa.Select]:
    """_planner's statements: read `columns` and the settings and change them (the select list
    is evaluated in order, each setting read before it is set); change them back."""
    values = [sa.bindparam(f"setting_{i}", type_=sa.Text) for i in range(len(names))]
    change = sa.select(*columns, *itertools.chain.from_iterable(
        (sa.func.current_setting(name, type_=sa.Text), sa.func.set_config(name, value, False)) for name, value in zip(names, values)
    ))
    restore = sa.select(*(sa.func.set_config(name, value, False) for name, value in zip(names, values)))
    return change, restore


_STEMMER = snowballstemmer.stemmer("porter")  # the algorithm of FTS5's porter tokenizer
_STEMMER_LOCK = threading.Lock()  # a stemmer keeps state while it works


@functools.lru_cache(maxsize=4096)
def porter_stem(word: str) -> str:
    with _STEMMER_LOCK:
        return str(_STEMMER.stemWord(word))


_POSTGRES = _Postgres()
_SQLITE = _SQLite()


# --- the index ----------------------------------------------------------------------------


def index_statement(statement: Statement) -> SearchDocument | None:
    """Put the statement's published version into the index, or take the statement out if it
    is not approved or has no approved version. Call after any change of what is public
    (workflow.apply does). Flushes; never commits."""
    version = statement.published_version
    if statement.status is not StatementStatus.APPROVED or version is None:
        remove_statement(statement)
        return None
    values = {
        "version_id": version.id,
        "config": LANGUAGE_CONFIGS.get(statement.language, "simple"),
        "title": statement.title,
        "organisation": _organisation_text(statement),
        "body": _version_text(version),
        "indexed_at": utcnow(),  # always changes, so the triggers always run
    }
    document = db.session.get(SearchDocument, statement.id)
    if document is None:
        document = SearchDocument(statement_id=statement.id)
        db.session.add(document)
    for name, value in values.items():
        setattr(document, name, value)
    db.session.flush()
    return document


def remove_statement(statement: Statement) -> None:
    """Take the statement out of the index (if it is there). Flushes."""
    document = db.session.get(SearchDocument, statement.id)
    if document is not None:
        db.session.delete(document)
        db.session.flush()


def rebuild_index(batch_size: int = 200) -> int:
    """Index every approved statement afresh and drop every other row; return how many are
    indexed. Detaches objects from the session between batches (memory stays flat). Flushes."""
    approved = sa.select(Statement.id).where(Statement.status == StatementStatus.APPROVED)
    db.session.execute(
        sa.delete(SearchDocument).where(SearchDocument.statement_id.not_in(approved)).execution_options(
            synchronize_session=False
        )
    )
    ids = list(db.session.scalars(approved.order_by(Statement.id)))
    indexed = 0
    for start in range(0, len(ids), batch_size):
        db.session.expunge_all()
        batch = db.session.scalars(
            sa.select(Statement)
            .where(Statement.id.in_(ids[start : start + batch_size]))
            .options(
                selectinload(Statement.versions).selectinload(StatementVersion.files),
                selectinload(Statement.organisation),
                selectinload(Statement.on_behalf_of),
                selectinload(Statement.cosignatories),
            )
        )
        for statement in batch:
            indexed += index_statement(statement) is not None
    db.session.expunge_all()
    if db.engine.dialect.name == "sqlite":
        # Rebuild the FTS5 structures from search_documents, repairing any drift.
        db.session.execute(sa.text(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')"))
    return indexed


def _organisation_text(statement: Statement) -> str:
    names: list[str] = []
    for organisation in (statement.organisation, *statement.on_behalf_of, *statement.cosignatories):
        names += [organisation.name, organisation.acronym or ""]
    return "; ".join(dict.fromkeys(n for n in names if n))


def _version_text(version: StatementVersion) -> str:
    texts = dict(
        db.session.execute(
            sa.select(DocumentText.stored_file_id, DocumentText.text).where(
                DocumentText.stored_file_id.in_([f.stored_file_id for f in version.files]),
                DocumentText.status == ExtractionStatus.OK,
            )
        ).tuples().all()
    )
    body = "\n\n".join(texts[f.stored_file_id] for f in version.files if texts.get(f.stored_file_id))
    return body[:MAX_INDEXED_CHARS]

