"""Statements, their versions, the files of each version, and joint-statement links."""

from __future__ import annotations

import secrets
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.enums import FileRole, Language, StatementKind, StatementStatus, VersionStatus
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

# "Delivered on behalf of" a group (e.g. a group of States) and co-signatories of a joint statement.
statement_on_behalf_of = sa.Table(
    "statement_on_behalf_of",
    Base.metadata,
    sa.Column("statement_id", sa.ForeignKey("statements.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("organisation_id", sa.ForeignKey("organisations.id"), primary_key=True, index=True),
)
statement_cosignatories = sa.Table(
    "statement_cosignatories",
    Base.metadata,
    sa.Column("statement_id", sa.ForeignKey("statements.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("organisation_id", sa.ForeignKey("organisations.id"), primary_key=True, index=True),
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
    # The latest reason or message of a moderator (rejection, changes requested, unpublishing).
    decision_note: Mapped[str | None] = mapped_column(sa.Text)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    duplicate_of_id: Mapped[int | None] = mapped_column(sa.ForeignKey("statements.id"))
    # A moderator's claim on the item; it lapses at claimed_until.
    claimed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    claimed_until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(default=utcnow)
    decided_at: Mapped[datetime | None]
    published_at: Mapped[datetime | None]  # first publication
    publish_at: Mapped[datetime | None]  # embargo: invisible publicly until then
    corrected_at: Mapped[datetime | None]  # latest approved correction
    # Optimistic lock: an UPDATE that finds another version raises StaleDataError,
    # so two decisions on one statement cannot both commit, even on SQLite.
    version: Mapped[int] = mapped_column(default=1)

    organisation: Mapped[Organisation] = relationship()
    submitted_by: Mapped[User] = relationship(foreign_keys=[submitted_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    claimed_by: Mapped[User | None] = relationship(foreign_keys=[claimed_by_id])
    duplicate_of: Mapped[Statement | None] = relationship(remote_side=[id])
    meeting_session: Mapped[MeetingSession] = relationship()
    panel: Mapped[Panel | None] = relationship()
    areas: Mapped[list[Area]] = relationship(secondary=statement_areas, order_by=Area.position)
    on_behalf_of: Mapped[list[Organisation]] = relationship(secondary=statement_on_behalf_of, order_by=Organisation.name)
    cosignatories: Mapped[list[Organisation]] = relationship(secondary=statement_cosignatories, order_by=Organisation.name)
    versions: Mapped[list[StatementVersion]] = relationship(
        back_populates="statement", order_by="StatementVersion.number", cascade="all, delete-orphan"
    )

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        sa.CheckConstraint("status <> 'approved' OR published_at IS NOT NULL", name="published_when_approved"),
        sa.CheckConstraint(
            "status NOT IN ('rejected', 'changes_requested', 'unpublished') "
            "OR (decision_note IS NOT NULL AND decision_note <> '')",
            name="decision_has_note",
        ),
        sa.CheckConstraint(
            "status NOT IN ('approved', 'rejected', 'changes_requested', 'unpublished', 'duplicate') "
            "OR (decided_at IS NOT NULL AND decided_by_id IS NOT NULL)",
            name="decision_recorded",
        ),
        sa.CheckConstraint("status <> 'duplicate' OR duplicate_of_id IS NOT NULL", name="duplicate_has_original"),
        sa.CheckConstraint("duplicate_of_id IS NULL OR duplicate_of_id <> id", name="not_duplicate_of_itself"),
        sa.CheckConstraint("status = 'draft' OR submitted_at IS NOT NULL", name="submitted_when_not_draft"),
        sa.Index("ix_statements_session_status_published", "session_id", "status", "published_at"),
        sa.Index("ix_statements_status_submitted", "status", "submitted_at"),
        # The latest embargo that has ended is part of the public revision (portal/cache.py).
        sa.Index("ix_statements_publish_at", "publish_at"),
        # Public listings (portal/listing.py): every session by date, and the session page's counts.
        sa.Index("ix_statements_status_published", "status", "published_at", "id"),
        sa.Index(
            "ix_statements_session_status_organisation", "session_id", "status", "organisation_id", "panel_id", "publish_at"
        ),
    )

    @property
    def is_public(self) -> bool:
        """Approved and past any embargo (the rule portal.queries.public_statements applies in SQL)."""
        if self.status is not StatementStatus.APPROVED:
            return False
        return self.publish_at is None or self.publish_at <= utcnow()

    @property
    def current_version(self) -> StatementVersion | None:
        """The newest version (what moderators review)."""
        return self.versions[-1] if self.versions else None

    @property
    def published_version(self) -> StatementVersion | None:
        """The newest approved version (what the public sees)."""
        approved = [v for v in self.versions if v.status is VersionStatus.APPROVED]
        return approved[-1] if approved else None

    @property
    def document(self) -> StoredFile | None:
        """The original document of the newest version."""
        current = self.current_version
        original = current.original if current else None
        return original.stored if original else None

    def version_for(self, user: User | None) -> StatementVersion | None:
        """The version a viewer sees: the published one for the public, the newest for its
        organisation and moderators (the caller has checked they may see the statement)."""
        if user is None or not getattr(user, "is_authenticated", False):
            return self.published_version
        if user.is_moderator or user.organisation_id == self.organisation_id:
            return self.current_version
        return self.published_version

    @property
    def approved_versions(self) -> list[StatementVersion]:
        return [v for v in self.versions if v.status is VersionStatus.APPROVED]

    @property
    def pending_correction(self) -> StatementVersion | None:
        """A submitted version of an already published statement, awaiting review."""
        current = self.current_version
        if self.status is StatementStatus.APPROVED and current and current.status is VersionStatus.SUBMITTED:
            return current
        return None

    def is_claimed_by_other(self, user: User, now: datetime) -> bool:
        return (
            self.claimed_by_id is not None
            and self.claimed_by_id != user.id
            and self.claimed_until is not None
            and self.claimed_until > now
        )

    def __repr__(self) -> str:
        return f"<Statement {self.public_id} {self.status.value}>"


class StatementVersion(Base):
    """One set of documents of a statement: the first submission, a replacement, a correction."""

    __tablename__ = "statement_versions"

    id: Mapped[int] = mapped_column(primary_key=True)
    statement_id: Mapped[int] = mapped_column(sa.ForeignKey("statements.id", ondelete="CASCADE"), index=True)
    number: Mapped[int]
    status: Mapped[VersionStatus] = mapped_column(str_enum(VersionStatus, "version_status"), default=VersionStatus.DRAFT)
    note: Mapped[str] = mapped_column(sa.Text, default="")  # the submitter's note on what changed
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    statement: Mapped[Statement] = relationship(back_populates="versions")
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])
    files: Mapped[list[StatementFile]] = relationship(
        back_populates="version", order_by="StatementFile.position", cascade="all, delete-orphan"
    )

    __table_args__ = (
        sa.UniqueConstraint("statement_id", "number", name="uq_statement_versions_statement_number"),
        sa.CheckConstraint("number > 0", name="number_positive"),
        sa.CheckConstraint("status NOT IN ('approved', 'rejected') OR decided_at IS NOT NULL", name="decided_when_final"),
    )

    @property
    def original(self) -> StatementFile | None:
        return next((f for f in self.files if f.role is FileRole.ORIGINAL), self.files[0] if self.files else None)


class StatementFile(Base):
    """A file of a version, with its language and role (original, translation, annex)."""

    __tablename__ = "statement_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(sa.ForeignKey("statement_versions.id", ondelete="CASCADE"), index=True)
    stored_file_id: Mapped[int] = mapped_column(sa.ForeignKey("stored_files.id"), index=True)
    language: Mapped[Language] = mapped_column(str_enum(Language, "file_language"))
    role: Mapped[FileRole] = mapped_column(str_enum(FileRole, "file_role"), default=FileRole.ORIGINAL)
    position: Mapped[int] = mapped_column(default=0)

    version: Mapped[StatementVersion] = relationship(back_populates="files")
    stored: Mapped[StoredFile] = relationship()

    __table_args__ = (sa.UniqueConstraint("version_id", "stored_file_id", name="uq_statement_files_version_file"),)


class ReasonTemplate(Base):
    """A saved reason or message moderators reuse for rejections, change requests, unpublishing."""

    __tablename__ = "reason_templates"

    id: Mapped[int] = mapped_column(primary_key=True)
    action: Mapped[str] = mapped_column(sa.String(32), index=True)
    label: Mapped[str] = mapped_column(sa.String(120))
    text: Mapped[str] = mapped_column(sa.Text)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (sa.UniqueConstraint("action", "label", name="uq_reason_templates_action_label"),)
