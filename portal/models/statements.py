"""Statements, the stored files that carry them, and their areas."""

from __future__ import annotations

import secrets
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.enums import Language, StatementKind, StatementStatus
from portal.models.base import Base, str_enum, utcnow
from portal.models.catalogue import Area, MeetingSession, Panel
from portal.models.users import Organisation, User

# Crockford's base 32 without I, L, O, U: unambiguous when read aloud or retyped.
_PUBLIC_ID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_public_id() -> str:
    """A random, unguessable, stable public reference such as "ST-7K3Q-F9XM"."""
    chars = "".join(secrets.choice(_PUBLIC_ID_ALPHABET) for _ in range(8))
    return f"ST-{chars[:4]}-{chars[4:]}"


statement_areas = sa.Table(
    "statement_areas",
    Base.metadata,
    sa.Column("statement_id", sa.ForeignKey("statements.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("area_id", sa.ForeignKey("areas.id", ondelete="RESTRICT"), primary_key=True, index=True),
)


class StoredFile(Base):
    """A file in the file store. Its bytes live under `storage_key`, never under the user's name."""

    __tablename__ = "stored_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    storage_key: Mapped[str] = mapped_column(sa.String(64), unique=True)
    original_name: Mapped[str] = mapped_column(sa.String(255))
    content_type: Mapped[str] = mapped_column(sa.String(127))  # detected from the content
    size: Mapped[int] = mapped_column(sa.BigInteger)
    sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (
        sa.CheckConstraint("size > 0", name="not_empty"),
        sa.CheckConstraint("length(sha256) = 64", name="sha256_length"),
    )

    @property
    def extension(self) -> str:
        from portal.filetypes import EXTENSIONS

        return EXTENSIONS.get(self.content_type, "bin")


class Statement(Base):
    __tablename__ = "statements"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(sa.String(20), unique=True, default=new_public_id)
    title: Mapped[str] = mapped_column(sa.String(300))
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    submitted_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("meeting_sessions.id"), index=True)
    panel_id: Mapped[int | None] = mapped_column(sa.ForeignKey("panels.id"))
    kind: Mapped[StatementKind] = mapped_column(str_enum(StatementKind, "statement_kind"))
    language: Mapped[Language] = mapped_column(str_enum(Language, "statement_language"))
    delivered_on: Mapped[date | None]
    status: Mapped[StatementStatus] = mapped_column(
        str_enum(StatementStatus, "statement_status"), default=StatementStatus.SUBMITTED, index=True
    )
    document_id: Mapped[int] = mapped_column(sa.ForeignKey("stored_files.id"), unique=True)
    decision_note: Mapped[str | None] = mapped_column(sa.Text)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    submitted_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    published_at: Mapped[datetime | None]
    # Optimistic lock: an UPDATE that finds another version raises StaleDataError,
    # so two decisions on one statement cannot both commit, even on SQLite.
    version: Mapped[int] = mapped_column(default=1)

    organisation: Mapped[Organisation] = relationship()
    submitted_by: Mapped[User] = relationship(foreign_keys=[submitted_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    meeting_session: Mapped[MeetingSession] = relationship()
    panel: Mapped[Panel | None] = relationship()
    areas: Mapped[list[Area]] = relationship(secondary=statement_areas, order_by=Area.position)
    document: Mapped[StoredFile] = relationship()

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.CheckConstraint("status <> 'approved' OR published_at IS NOT NULL", name="published_when_approved"),
        sa.CheckConstraint(
            "status <> 'rejected' OR (decision_note IS NOT NULL AND decision_note <> '')",
            name="rejection_has_reason",
        ),
        sa.CheckConstraint(
            "status = 'submitted' OR (decided_at IS NOT NULL AND decided_by_id IS NOT NULL)",
            name="decision_recorded",
        ),
        sa.Index("ix_statements_session_status_published", "session_id", "status", "published_at"),
    )

    @property
    def is_public(self) -> bool:
        return self.status is StatementStatus.APPROVED

    def __repr__(self) -> str:
        return f"<Statement {self.public_id} {self.status.value}>"
