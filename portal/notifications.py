"""E-mail about statements: each moderator decision to the submitter and the organisation's
focal points; each new submission, and a daily digest, to the moderators who asked for them.

Decision and submission mails are queued with portal.mail, so they leave only after the
commit of the change they report; the digest is not a change and is sent at once.
Never commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app, has_request_context, url_for

from portal import mail, queries
from portal.enums import MODERATORS, MembershipStatus
from portal.extensions import db
from portal.models import Statement, User, utcnow

# One template per decision: email/<lang>/statement_<action>.txt.
DECISION_ACTIONS = (
    "approve",
    "reject",
    "request_changes",
    "mark_duplicate",
    "unpublish",
    "republish",
    "approve_correction",
    "reject_correction",
)
DIGEST_RECENT_LIMIT = 50  # items listed by name in the digest; the rest are counted


def external_url(endpoint: str, **values: object) -> str:
    """An absolute link for an e-mail: from the request when there is one, else from PORTAL_BASE_URL."""
    if has_request_context():
        return url_for(endpoint, _external=True, **values)
    base = urlsplit(current_app.config["PORTAL_BASE_URL"])
    adapter = current_app.url_map.bind(base.netloc, script_name=base.path or "/", url_scheme=base.scheme or "https")
    return adapter.build(endpoint, values, force_external=True)


def decision_recipients(statement: Statement) -> list[User]:
    """The submitter (while their account is active) and the approved, active focal points of the
    statement's organisation; each once."""
    people: dict[int, User] = {}
    if statement.submitted_by.is_active:
        people[statement.submitted_by.id] = statement.submitted_by
    focal_points = db.session.scalars(
        sa.select(User)
        .where(
            User.organisation_id == statement.organisation_id,
            User.is_focal_point.is_(True),
            User.membership == MembershipStatus.APPROVED,
            User.active.is_(True),
        )
        .order_by(User.id)
    )
    for user in focal_points:
        people.setdefault(user.id, user)
    return list(people.values())


def statement_decided(statement: Statement, action: str, note: str) -> list[str]:
    """Queue the e-mail about a moderator's `action` on `statement`, with its reason or message,
    to each recipient in their language; returns their addresses. Sent after the commit."""
    if action not in DECISION_ACTIONS:
        raise ValueError(f"no e-mail for {action!r}")
    now = utcnow()
    embargoed_until = statement.publish_at if statement.publish_at and statement.publish_at > now else None
    url = external_url("public.statement", public_id=statement.public_id)
    sent = []
    for user in decision_recipients(statement):
        mail.queue(
            mail.render(
                f"statement_{action}",
                to=user.email,
                lang=user.locale.value,
                user=user,
                statement=statement,
                note=(note or "").strip(),
                url=url,
                embargoed_until=embargoed_until,
                as_focal_point=user.id != statement.submitted_by_id,
                original=statement.duplicate_of,
            )
        )
        sent.append(user.email)
    return sent


def _moderators(flag: sa.ColumnElement[bool]) -> list[User]:
    return list(
        db.session.scalars(
            sa.select(User).where(User.role.in_(MODERATORS), User.active.is_(True), flag).order_by(User.id)
        )
    )


def statement_submitted(statement: Statement, *, correction: bool = False) -> list[str]:
    """Queue an e-mail about a statement (or a correction) that now awaits review to each moderator
    who asked for one on every new submission; returns their addresses. Sent after the commit."""
    moderators = _moderators(User.notify_new_submissions.is_(True))
    if not moderators:
        return []
    url = external_url("moderate.review", public_id=statement.public_id)
    for user in moderators:
        mail.queue(
            mail.render(
                "new_submission",
                to=user.email,
                lang=user.locale.value,
                user=user,
                statement=statement,
                correction=correction,
                url=url,
                settings_url=external_url("moderate.settings"),
            )
        )
    return [m.email for m in moderators]


# --- the daily digest -------------------------------------------------------------------------


@dataclass(frozen=True)
class Digest:
    counts: queries.QueueCounts
    oldest: queries.QueueItem | None
    recent: list[queries.QueueItem]
    recent_total: int
    since: datetime
    now: datetime

    @property
    def waiting(self) -> int:
        return self.counts.by_status["submitted"] + self.counts.by_status[queries.CORRECTION]

    @property
    def is_empty(self) -> bool:
        return self.waiting == 0


def digest(now: datetime | None = None, hours: int = 24) -> Digest:
    """What waits for the moderators now, and what joined the queue in the last `hours`."""
    now = now or utcnow()
    since = now - timedelta(hours=hours)
    recent, recent_total = queries.recently_submitted(since, DIGEST_RECENT_LIMIT)
    return Digest(
        counts=queries.queue_counts(),
        oldest=queries.oldest_waiting(),
        recent=recent,
        recent_total=recent_total,
        since=since,
        now=now,
    )


def digest_recipients() -> list[User]:
    """Active moderators who asked for the daily digest."""
    return _moderators(User.daily_digest.is_(True))


def digest_mail(user: User, summary: Digest) -> mail.Mail:
    return mail.render(
        "daily_digest",
        to=user.email,
        lang=user.locale.value,
        user=user,
        digest=summary,
        age=format_age(summary.now - summary.oldest.waiting_since) if summary.oldest and summary.oldest.waiting_since else "",
        queue_url=external_url("moderate.queue"),
        oldest_url=external_url("moderate.review", public_id=summary.oldest.statement.public_id) if summary.oldest else "",
        settings_url=external_url("moderate.settings"),
    )


def format_age(delta: timedelta) -> str:
    """"3 days, 4 hours", "2 hours, 5 minutes", "less than a minute"."""
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)

    def unit(n: int, word: str) -> str:
        return f"{n} {word}{'s' if n != 1 else ''}"

    if days:
        return unit(days, "day") + (f", {unit(hours, 'hour')}" if hours else "")
    if hours:
        return unit(hours, "hour") + (f", {unit(minutes, 'minute')}" if minutes else "")
    return unit(minutes, "minute") if minutes else "less than a minute"
