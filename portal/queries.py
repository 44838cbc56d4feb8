"""Read queries shared by pages, CLI and (later) the API.

`public_statements()` is the only definition of what the public may see.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from portal.enums import StatementStatus
from portal.extensions import db
from portal.models import MeetingSession, Organisation, Statement, utcnow


def public_statements(now: datetime | None = None) -> sa.Select[tuple[Statement]]:
    """The only definition of publicly visible statements, newest first: approved and past any embargo."""
    now = now or utcnow()
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


def sessions_with_counts() -> list[tuple[MeetingSession, int]]:
    """Every meeting session with its number of published statements, by session number."""
    public = public_statements().subquery()
    published = (
        sa.select(public.c.session_id, sa.func.count().label("n")).group_by(public.c.session_id).subquery()
    )
    rows = db.session.execute(
        sa.select(MeetingSession, sa.func.coalesce(published.c.n, 0))
        .outerjoin(published, published.c.session_id == MeetingSession.id)
        .order_by(MeetingSession.number)
    )
    return [(s, n) for s, n in rows]


def open_sessions(now: datetime) -> list[MeetingSession]:
    """Sessions accepting submissions at `now`, by number."""
    sessions = db.session.scalars(
        sa.select(MeetingSession).options(selectinload(MeetingSession.areas)).order_by(MeetingSession.number)
    )
    return [s for s in sessions if s.is_open(now)]


def session_public_statements(meeting_session: MeetingSession) -> list[Statement]:
    """Published statements of one session, with what the session page shows, by organisation."""
    return list(
        db.session.scalars(
            public_statements()
            .where(Statement.session_id == meeting_session.id)
            .join(Statement.organisation)
            .options(
                selectinload(Statement.areas),
                selectinload(Statement.organisation),
                selectinload(Statement.versions),
                selectinload(Statement.panel),
            )
            .order_by(None)
            .order_by(Organisation.name, Statement.delivered_on, Statement.id)
        )
    )


def organisation_statements(organisation_id: int) -> list[Statement]:
    """All statements of one organisation, newest submission first (for its members)."""
    return list(
        db.session.scalars(
            sa.select(Statement)
            .where(Statement.organisation_id == organisation_id)
            .options(selectinload(Statement.meeting_session), selectinload(Statement.submitted_by))
            .order_by(Statement.submitted_at.desc(), Statement.id.desc())
        )
    )


def moderation_queue(page: int, per_page: int) -> tuple[list[Statement], int]:
    """Statements awaiting review, oldest first, one page of them, and how many there are."""
    base = sa.select(Statement).where(Statement.status == StatementStatus.SUBMITTED)
    total = db.session.scalar(sa.select(sa.func.count()).select_from(base.subquery())) or 0
    items = list(
        db.session.scalars(
            base.options(
                selectinload(Statement.organisation),
                selectinload(Statement.meeting_session),
                selectinload(Statement.areas),
            )
            .order_by(Statement.submitted_at, Statement.id)
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    )
    return items, total


def status_counts() -> dict[StatementStatus, int]:
    """How many statements are in each status (every status present, zero if none)."""
    rows = db.session.execute(sa.select(Statement.status, sa.func.count()).group_by(Statement.status))
    counts = dict.fromkeys(StatementStatus, 0)
    counts.update({status: n for status, n in rows})
    return counts
