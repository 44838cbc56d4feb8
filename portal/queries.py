"""Read queries shared by pages, CLI and (later) the API.

`public_statements()` is the only definition of what the public may see;
`moderation_queue()` and its companions define what waits for a moderator, and
`duplicate_candidates()` what may be the same statement submitted twice.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from difflib import SequenceMatcher
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import aliased, selectinload

from portal.enums import Language, OrganisationKind, OrganisationStatus, StatementStatus, VersionStatus
from portal.extensions import db
from portal.models import (
    Area,
    MeetingSession,
    Organisation,
    Statement,
    StatementFile,
    StatementVersion,
    StoredFile,
    utcnow,
)
from portal.models.base import UTCDateTime
from portal.models.statements import statement_cosignatories, statement_on_behalf_of


def public_statements(now: datetime | sa.BindParameter[datetime] | None = None) -> sa.Select[tuple[Statement]]:
    """The only definition of publicly visible statements, newest first: approved and past any
    embargo (`now`: a time, or a bound parameter for a statement built once and reused)."""
    now = utcnow() if now is None else now
    return (
        sa.select(Statement)
        .where(
            Statement.status == StatementStatus.APPROVED,
            sa.or_(Statement.publish_at.is_(None), Statement.publish_at <= now),
        )
        .order_by(Statement.published_at.desc(), Statement.id.desc())
    )


def public_statement_by_public_id(public_id: str) -> Statement | None:
    return db.session.scalar(public_statements().where(Statement.public_id == public_id))


def sessions_with_counts(counts: dict[int, int] | None = None) -> list[tuple[MeetingSession, int]]:
    """Every meeting session with its number of published statements, by session number.

    `counts` are those of public_counts_by_session(), if the caller already has them.
    """
    counts = public_counts_by_session() if counts is None else counts
    sessions = db.session.scalars(sa.select(MeetingSession).order_by(MeetingSession.number))
    return [(s, counts.get(s.id, 0)) for s in sessions]


def public_counts_by_session() -> dict[int, int]:
    """How many statements each session has published (sessions with none are absent)."""
    public = public_statements().order_by(None).with_only_columns(Statement.session_id).subquery()
    return dict(db.session.execute(sa.select(public.c.session_id, sa.func.count()).group_by(public.c.session_id)).all())


def open_sessions(now: datetime) -> list[MeetingSession]:
    """Sessions accepting submissions at `now`, by number."""
    sessions = db.session.scalars(
        sa.select(MeetingSession).options(selectinload(MeetingSession.areas)).order_by(MeetingSession.number)
    )
    return [s for s in sessions if s.is_open(now)]


def involving(organisation_id: int | sa.BindParameter[int]) -> sa.ColumnElement[bool]:
    """Statements by the organisation, delivered on its behalf, or co-signed by it."""
    return sa.or_(
        Statement.organisation_id == organisation_id,
        Statement.id.in_(
            sa.select(statement_on_behalf_of.c.statement_id).where(
                statement_on_behalf_of.c.organisation_id == organisation_id
            )
        ),
        Statement.id.in_(
            sa.select(statement_cosignatories.c.statement_id).where(
                statement_cosignatories.c.organisation_id == organisation_id
            )
        ),
    )


_LISTING = (
    selectinload(Statement.areas),
    selectinload(Statement.organisation),
    selectinload(Statement.on_behalf_of),
    selectinload(Statement.cosignatories),
    selectinload(Statement.versions),
    selectinload(Statement.panel),
)


def session_organisations(meeting_session: MeetingSession) -> list[Organisation]:
    """Organisations involved in the session's published statements (authors, on behalf of,
    co-signatories), by name: the choices of the session page's filter.

    Three small queries rather than one UNION: the authors come from a DISTINCT that SQLite
    answers by skipping along ix_statements_organisation_id, and the joint-statement links are
    read from their own (small) tables, each checked against public_statements().
    """
    public = public_statements().where(Statement.session_id == meeting_session.id).order_by(None)
    ids = set(db.session.scalars(public.with_only_columns(Statement.organisation_id).distinct()))
    for link in (statement_on_behalf_of, statement_cosignatories):
        ids.update(
            db.session.scalars(
                sa.select(link.c.organisation_id)
                .where(public.with_only_columns(sa.literal(1)).where(Statement.id == link.c.statement_id).exists())
                .distinct()
            )
        )
    if not ids:
        return []
    return list(db.session.scalars(sa.select(Organisation).where(Organisation.id.in_(ids)).order_by(Organisation.name)))


def organisation_public_statements(organisation_id: int) -> list[Statement]:
    """Published statements involving one organisation (author, on behalf of, co-signatory),
    by session, then date delivered."""
    return list(
        db.session.scalars(
            public_statements()
            .where(involving(organisation_id))
            .join(Statement.meeting_session)
            .options(*_LISTING, selectinload(Statement.meeting_session))
            .order_by(None)
            .order_by(MeetingSession.number, Statement.delivered_on, Statement.id)
        )
    )


def public_organisation(organisation_id: int) -> Organisation | None:
    """An organisation whose page is public: approved, or deactivated (its statements stay published).

    Proposed, rejected and merged ones have no page of their own.
    """
    return db.session.scalar(
        sa.select(Organisation).where(
            Organisation.id == organisation_id,
            Organisation.status.in_([OrganisationStatus.APPROVED, OrganisationStatus.INACTIVE]),
        )
    )


def approved_organisations() -> list[Organisation]:
    """Approved organisations by kind, then name (for choosing joint-statement partners)."""
    organisations = db.session.scalars(
        sa.select(Organisation).where(Organisation.status == OrganisationStatus.APPROVED).order_by(Organisation.name)
    )
    order = {kind: i for i, kind in enumerate(OrganisationKind)}
    return sorted(organisations, key=lambda o: order[o.kind])  # stable: by name within a kind


def organisation_statements(organisation_id: int) -> list[Statement]:
    """All statements of one organisation, newest submission (or draft) first (for its members)."""
    return list(
        db.session.scalars(
            sa.select(Statement)
            .where(Statement.organisation_id == organisation_id)
            .options(
                selectinload(Statement.meeting_session),
                selectinload(Statement.submitted_by),
                selectinload(Statement.versions),  # "a correction awaits review"
            )
            # Drafts (never submitted) by when they were saved; the same order on both backends,
            # whatever each does with NULL.
            .order_by(sa.func.coalesce(Statement.submitted_at, Statement.created_at).desc(), Statement.id.desc())
        )
    )


# --- the moderation queue -------------------------------------------------------------------

# Queue status filters: the statuses themselves, plus two views of what waits for a moderator.
WAITING = "waiting"  # new submissions and corrections of published statements
CORRECTION = "correction"  # a published statement whose correction awaits review
QUEUE_STATUS_LABELS: dict[str, str] = {
    WAITING: "Waiting for review (new and corrections)",
    StatementStatus.SUBMITTED.value: StatementStatus.SUBMITTED.label,
    CORRECTION: "Correction awaiting review",
    **{
        s.value: s.label
        for s in StatementStatus
        if s not in (StatementStatus.DRAFT, StatementStatus.SUBMITTED)  # drafts are the submitters' own
    },
}


@dataclass(frozen=True)
class QueueFilter:
    """What the moderator asked the queue to show; None means any."""

    status: str = WAITING
    session_id: int | None = None
    area_id: int | None = None
    organisation_kind: OrganisationKind | None = None
    language: Language | None = None

    def waiting(self) -> QueueFilter:
        """The same selection, restricted to what waits for review."""
        return replace(self, status=WAITING)


@dataclass(frozen=True)
class QueueItem:
    statement: Statement
    is_correction: bool
    waiting_since: datetime | None  # of the correction for corrections, else of the submission


def corrections_waiting() -> sa.Subquery:
    """Statement.pending_correction in SQL: the published statements with a newer version awaiting
    review (statement_id), and when it was sent (sent_at). Few rows: the queue joins them."""
    published = aliased(Statement)
    return (
        sa.select(
            StatementVersion.statement_id.label("statement_id"),
            sa.func.max(StatementVersion.submitted_at).label("sent_at"),
        )
        .join(published, published.id == StatementVersion.statement_id)
        .where(StatementVersion.status == VersionStatus.SUBMITTED, published.status == StatementStatus.APPROVED)
        .group_by(StatementVersion.statement_id)
        .subquery("corrections")
    )


class _Queue:
    """Statements with their waiting corrections joined: what the queue, its oldest item and the
    digest select from. (A join rather than a correlated subquery per row: PostgreSQL would
    otherwise estimate the sort so costly that it JIT-compiles every queue query.)"""

    def __init__(self) -> None:
        self.corrections = corrections_waiting()
        self.is_correction = self.corrections.c.statement_id.is_not(None)
        # When the item joined the queue: a correction when it was sent, anything else when submitted.
        self.since = sa.type_coerce(sa.func.coalesce(self.corrections.c.sent_at, Statement.submitted_at), UTCDateTime())

    def select(self, *columns: Any, filters: QueueFilter) -> sa.Select[Any]:
        return (
            sa.select(*columns)
            .select_from(Statement)
            .outerjoin(self.corrections, self.corrections.c.statement_id == Statement.id)
            .where(*self.conditions(filters))
        )

    def conditions(self, filters: QueueFilter) -> list[sa.ColumnElement[bool]]:
        conditions: list[sa.ColumnElement[bool]] = []
        if filters.status == WAITING:
            conditions.append(sa.or_(Statement.status == StatementStatus.SUBMITTED, self.is_correction))
        elif filters.status == CORRECTION:
            conditions.append(self.is_correction)
        else:
            conditions.append(Statement.status == StatementStatus(filters.status))
        if filters.session_id is not None:
            conditions.append(Statement.session_id == filters.session_id)
        if filters.area_id is not None:
            conditions.append(Statement.areas.any(Area.id == filters.area_id))
        if filters.organisation_kind is not None:
            conditions.append(
                Statement.organisation_id.in_(
                    sa.select(Organisation.id).where(Organisation.kind == filters.organisation_kind)
                )
            )
        if filters.language is not None:
            conditions.append(Statement.language == filters.language)
        return conditions


def moderation_queue(
    page: int, per_page: int, filters: QueueFilter = QueueFilter()
) -> tuple[list[QueueItem], int]:
    """One page of the statements matching `filters`, oldest first, and how many match.

    Raises ValueError for a status that is neither a statement status nor WAITING or CORRECTION.
    """
    queue = _Queue()
    total = db.session.scalar(queue.select(sa.func.count(Statement.id), filters=filters)) or 0
    if filters.status == StatementStatus.SUBMITTED.value:
        # No correction can be among them: straight from the (status, submitted_at) index.
        query = sa.select(Statement, sa.false(), Statement.submitted_at).where(*queue.conditions(filters))
        since: sa.ColumnElement[Any] = Statement.submitted_at
    else:
        query, since = queue.select(Statement, queue.is_correction, queue.since, filters=filters), queue.since
    rows = db.session.execute(
        query.options(
            selectinload(Statement.organisation),
            selectinload(Statement.meeting_session),
            selectinload(Statement.areas),
            selectinload(Statement.claimed_by),
        )
        .order_by(since, Statement.id)
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    return [QueueItem(statement, bool(is_corr), waiting) for statement, is_corr, waiting in rows], total


@dataclass(frozen=True)
class QueueCounts:
    """Counts by queue status (QUEUE_STATUS_LABELS keys but WAITING), overall and per session."""

    by_status: dict[str, int]
    by_session: list[tuple[MeetingSession, dict[str, int]]]


def queue_counts() -> QueueCounts:
    """How many statements are in each status and how many corrections wait, overall and per session.

    A published statement with a correction waiting counts as published and as a correction.
    """
    keys = [k for k in QUEUE_STATUS_LABELS if k != WAITING]
    per_session: dict[int, dict[str, int]] = {}
    rows = db.session.execute(
        sa.select(Statement.session_id, Statement.status, sa.func.count())
        .where(Statement.status != StatementStatus.DRAFT)
        .group_by(Statement.session_id, Statement.status)
    )
    for session_id, status, n in rows:
        per_session.setdefault(session_id, dict.fromkeys(keys, 0))[status.value] = n
    corrections = corrections_waiting()
    rows = db.session.execute(
        sa.select(Statement.session_id, sa.func.count())
        .join(corrections, corrections.c.statement_id == Statement.id)
        .group_by(Statement.session_id)
    )
    for session_id, n in rows:
        per_session.setdefault(session_id, dict.fromkeys(keys, 0))[CORRECTION] = n
    sessions = db.session.scalars(sa.select(MeetingSession).order_by(MeetingSession.number))
    by_session = [(s, per_session.get(s.id, dict.fromkeys(keys, 0))) for s in sessions]
    by_status = {k: sum(counts[k] for _, counts in by_session) for k in keys}
    return QueueCounts(by_status=by_status, by_session=by_session)


def oldest_waiting(filters: QueueFilter = QueueFilter()) -> QueueItem | None:
    """The item that has waited longest for a moderator among `filters` (whatever their status)."""
    queue = _Queue()
    row = db.session.execute(
        queue.select(Statement, queue.is_correction, queue.since, filters=filters.waiting())
        .order_by(queue.since, Statement.id)
        .limit(1)
    ).first()
    return None if row is None else QueueItem(row[0], bool(row[1]), row[2])


def recently_submitted(since: datetime, limit: int) -> tuple[list[QueueItem], int]:
    """Items that joined the queue at or after `since` and still wait, oldest first (at most `limit`), and how many."""
    queue = _Queue()
    waiting = QueueFilter()
    total = db.session.scalar(queue.select(sa.func.count(Statement.id), filters=waiting).where(queue.since >= since)) or 0
    rows = db.session.execute(
        queue.select(Statement, queue.is_correction, queue.since, filters=waiting)
        .where(queue.since >= since)
        .options(selectinload(Statement.organisation), selectinload(Statement.meeting_session))
        .order_by(queue.since, Statement.id)
        .limit(limit)
    )
    return [QueueItem(s, bool(c), w) for s, c, w in rows], total


# --- possible duplicates ---------------------------------------------------------------------

TITLE_SIMILARITY = 0.9  # difflib ratio of the normalised titles from which two titles count as near-identical


@dataclass(frozen=True)
class DuplicateCandidate:
    """Another statement that may be the same as the one under review."""

    statement_id: int
    public_id: str
    title: str
    organisation: str
    status: StatementStatus
    reason: str  # "identical file" or "near-identical title"


@lru_cache(maxsize=65536)  # a pure function of the title, called for every title near the page's items
def normalise_title(title: str) -> str:
    """A title reduced for comparison: no accents, case, punctuation or repeated spaces."""
    decomposed = unicodedata.normalize("NFKD", title)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold()
    return " ".join(re.sub(r"[\W_]+", " ", plain).split())


def titles_near_identical(a: str, b: str) -> bool:
    x, y = normalise_title(a), normalise_title(b)
    return _similar(x, y, SequenceMatcher(None, b=x, autojunk=False))


def _similar(x: str, y: str, matcher: SequenceMatcher) -> bool:
    """Whether normalised titles `x` and `y` are near-identical; `matcher` already holds `x` as its
    second sequence (difflib caches what it learns about that one, so it is reused across `y`s)."""
    if x == y:
        return bool(x)
    if not x or not y or 2 * min(len(x), len(y)) < TITLE_SIMILARITY * (len(x) + len(y)):
        return False  # the lengths alone rule it out (difflib's real_quick_ratio)
    matcher.set_seq1(y)
    return matcher.quick_ratio() >= TITLE_SIMILARITY and matcher.ratio() >= TITLE_SIMILARITY


def duplicate_candidates(statements: Sequence[Statement]) -> dict[int, list[DuplicateCandidate]]:
    """For each of `statements` (by id), the other submitted statements it may duplicate: one with a
    file identical by SHA-256 (any version), or of the same organisation and session with a
    near-identical title. Drafts are never candidates: they have not been submitted."""
    found: dict[int, dict[int, DuplicateCandidate]] = {s.id: {} for s in statements}
    if not statements:
        return {}
    ids = list(found)
    files = (
        sa.select(StatementVersion.statement_id, StoredFile.sha256)
        .join(StatementFile, StatementFile.version_id == StatementVersion.id)
        .join(StoredFile, StoredFile.id == StatementFile.stored_file_id)
    )
    hashes: dict[str, set[int]] = {}
    for statement_id, sha256 in db.session.execute(files.where(StatementVersion.statement_id.in_(ids))):
        hashes.setdefault(sha256, set()).add(statement_id)
    if hashes:
        rows = db.session.execute(
            sa.select(StoredFile.sha256, Statement.id, Statement.public_id, Statement.title, Statement.status, Organisation.name)
            .select_from(StoredFile)
            .join(StatementFile, StatementFile.stored_file_id == StoredFile.id)
            .join(StatementVersion, StatementVersion.id == StatementFile.version_id)
            .join(Statement, Statement.id == StatementVersion.statement_id)
            .join(Organisation, Organisation.id == Statement.organisation_id)
            .where(StoredFile.sha256.in_(list(hashes)), Statement.status != StatementStatus.DRAFT)
            .order_by(Statement.submitted_at, Statement.id)
        )
        for sha256, other_id, public_id, title, status, organisation in rows:
            for statement_id in hashes[sha256]:
                if other_id != statement_id:
                    found[statement_id].setdefault(
                        other_id, DuplicateCandidate(other_id, public_id, title, organisation, status, "identical file")
                    )
    by_pair: dict[tuple[int, int], list[Statement]] = {}
    for s in statements:
        by_pair.setdefault((s.organisation_id, s.session_id), []).append(s)
    matchers = {s.id: SequenceMatcher(None, b=normalise_title(s.title), autojunk=False) for s in statements}
    rows = db.session.execute(
        sa.select(
            Statement.id, Statement.public_id, Statement.title, Statement.status,
            Statement.organisation_id, Statement.session_id, Organisation.name,
        )
        .join(Organisation, Organisation.id == Statement.organisation_id)
        .where(
            sa.tuple_(Statement.organisation_id, Statement.session_id).in_(list(by_pair)),
            Statement.status != StatementStatus.DRAFT,
        )
        .order_by(Statement.submitted_at, Statement.id)
    )
    for other_id, public_id, title, status, organisation_id, session_id, organisation in rows:
        other = normalise_title(title)
        for s in by_pair.get((organisation_id, session_id), []):
            matcher = matchers[s.id]
            if other_id == s.id or not _similar(matcher.b, other, matcher):
                continue
            known = found[s.id].get(other_id)
            found[s.id][other_id] = (
                replace(known, reason="identical file and near-identical title")
                if known is not None
                else DuplicateCandidate(other_id, public_id, title, organisation, status, "near-identical title")
            )
    return {statement_id: list(candidates.values()) for statement_id, candidates in found.items()}


def status_counts() -> dict[StatementStatus, int]:
    """How many statements are in each status (every status present, zero if none)."""
    rows = db.session.execute(sa.select(Statement.status, sa.func.count()).group_by(Statement.status))
    counts = dict.fromkeys(StatementStatus, 0)
    counts.update({status: n for status, n in rows})
    return counts
