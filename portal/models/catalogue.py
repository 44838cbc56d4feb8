"""What statements are about: meeting sessions, their areas of discussion and panels."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.models.base import Base, utcnow


class MeetingSession(Base):
    """A meeting session of an intergovernmental process (not a database or web session)."""

    __tablename__ = "meeting_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[int] = mapped_column(unique=True)
    slug: Mapped[str] = mapped_column(sa.String(120), unique=True)
    title: Mapped[str] = mapped_column(sa.String(400))
    short_title: Mapped[str] = mapped_column(sa.String(200))
    venue: Mapped[str] = mapped_column(sa.String(300), default="")
    city: Mapped[str] = mapped_column(sa.String(100), default="")
    start_date: Mapped[date]
    end_date: Mapped[date]
    # Submission window in UTC; an open end means "until the secretariat closes it".
    submissions_open_at: Mapped[datetime | None]
    submissions_close_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    areas: Mapped[list[Area]] = relationship(
        back_populates="meeting_session", order_by="Area.position", cascade="all, delete-orphan"
    )
    panels: Mapped[list[Panel]] = relationship(
        back_populates="meeting_session", order_by="Panel.number", cascade="all, delete-orphan"
    )

    __table_args__ = (
        sa.CheckConstraint("end_date >= start_date", name="dates_ordered"),
        sa.CheckConstraint(
            "submissions_open_at IS NULL OR submissions_close_at IS NULL "
            "OR submissions_close_at > submissions_open_at",
            name="window_ordered",
        ),
    )

    @property
    def label(self) -> str:
        return f"Session {self.number}: {self.short_title}"

    def is_open(self, now: datetime) -> bool:
        """Whether submissions are accepted at `now`."""
        if self.submissions_open_at is None or now < self.submissions_open_at:
            return False
        return self.submissions_close_at is None or now < self.submissions_close_at

    def __repr__(self) -> str:
        return f"<MeetingSession {self.number} {self.slug!r}>"


class Area(Base):
    """An area of discussion of one session, e.g. "d. Human rights in migration management"."""

    __tablename__ = "areas"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("meeting_sessions.id", ondelete="CASCADE"))
    code: Mapped[str] = mapped_column(sa.String(8))
    title: Mapped[str] = mapped_column(sa.String(300))
    position: Mapped[int] = mapped_column(default=0)

    meeting_session: Mapped[MeetingSession] = relationship(back_populates="areas")

    __table_args__ = (sa.UniqueConstraint("session_id", "code", name="uq_areas_session_code"),)

    @property
    def label(self) -> str:
        return f"{self.code}. {self.title}"

    def __repr__(self) -> str:
        return f"<Area {self.label!r}>"


class Panel(Base):
    __tablename__ = "panels"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("meeting_sessions.id", ondelete="CASCADE"))
    number: Mapped[int]
    title: Mapped[str] = mapped_column(sa.String(300))
    held_on: Mapped[date | None]
    description: Mapped[str] = mapped_column(sa.Text, default="")

    meeting_session: Mapped[MeetingSession] = relationship(back_populates="panels")

    __table_args__ = (sa.UniqueConstraint("session_id", "number", name="uq_panels_session_number"),)

    @property
    def label(self) -> str:
        return f"Panel {self.number}: {self.title}"
