"""Organisations, the people who act for them, invitations and second factors."""

from __future__ import annotations

import secrets
from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.enums import MODERATORS, Language, MembershipStatus, OrganisationKind, OrganisationStatus, Role
from portal.models.base import Base, str_enum, utcnow


def normalise_email(email: str) -> str:
    """The one canonical form of an e-mail address: trimmed and lower-cased."""
    return email.strip().lower()


def new_session_token() -> str:
    return secrets.token_hex(16)


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    kind: Mapped[OrganisationKind] = mapped_column(str_enum(OrganisationKind, "organisation_kind"))
    # Stable reference from the source data: ISO 3166 alpha-3 for States, acronym or slug otherwise.
    code: Mapped[str | None] = mapped_column(sa.String(40), unique=True)
    acronym: Mapped[str | None] = mapped_column(sa.String(40))
    status: Mapped[OrganisationStatus] = mapped_column(
        str_enum(OrganisationStatus, "organisation_status"), default=OrganisationStatus.APPROVED, index=True
    )
    website: Mapped[str] = mapped_column(sa.String(300), default="")
    country: Mapped[str] = mapped_column(sa.String(100), default="")
    merged_into_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisations.id"))
    status_note: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    members: Mapped[list[User]] = relationship(back_populates="organisation")
    merged_into: Mapped[Organisation | None] = relationship(remote_side=[id])

    __table_args__ = (
        sa.CheckConstraint("status <> 'merged' OR merged_into_id IS NOT NULL", name="merged_has_target"),
        sa.CheckConstraint("merged_into_id IS NULL OR merged_into_id <> id", name="not_merged_into_itself"),
    )

    @property
    def is_approved(self) -> bool:
        return self.status is OrganisationStatus.APPROVED

    def __repr__(self) -> str:
        return f"<Organisation {self.name!r}>"


class User(UserMixin, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # Stored normalised (see normalise_email) so the unique constraint is case-insensitive.
    email: Mapped[str] = mapped_column(sa.String(254), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    role: Mapped[Role] = mapped_column(str_enum(Role, "user_role"), default=Role.SUBMITTER)
    organisation_id: Mapped[int | None] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    membership: Mapped[MembershipStatus | None] = mapped_column(str_enum(MembershipStatus, "membership_status"))
    membership_note: Mapped[str] = mapped_column(sa.Text, default="")
    is_focal_point: Mapped[bool] = mapped_column(default=False)
    locale: Mapped[Language] = mapped_column(str_enum(Language, "user_locale"), default=Language.ENGLISH)
    active: Mapped[bool] = mapped_column(default=True)
    email_verified_at: Mapped[datetime | None]
    # Part of the id kept in the session cookie: a new token ends every other session.
    session_token: Mapped[str] = mapped_column(sa.String(32), default=new_session_token)
    password_changed_at: Mapped[datetime | None]
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    totp_secret: Mapped[str | None] = mapped_column(sa.String(64))
    totp_enabled_at: Mapped[datetime | None]
    totp_last_counter: Mapped[int | None] = mapped_column(sa.BigInteger)  # no code is accepted twice
    # Moderators' notification choices: an e-mail on each new submission, or a daily digest.
    notify_new_submissions: Mapped[bool] = mapped_column(default=False)
    daily_digest: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]

    organisation: Mapped[Organisation | None] = relationship(back_populates="members")
    recovery_codes: Mapped[list[RecoveryCode]] = relationship(back_populates="user", cascade="all, delete-orphan")

    __table_args__ = (
        sa.CheckConstraint("email = lower(email)", name="email_normalised"),
        sa.CheckConstraint(
            "role <> 'submitter' OR (organisation_id IS NOT NULL AND membership IS NOT NULL)",
            name="submitter_has_organisation",
        ),
        sa.CheckConstraint("NOT is_focal_point OR role = 'submitter'", name="focal_point_is_submitter"),
        sa.CheckConstraint("totp_enabled_at IS NULL OR totp_secret IS NOT NULL", name="totp_has_secret"),
    )

    def get_id(self) -> str:
        """The id Flask-Login keeps in the session: changing `session_token` signs out everywhere."""
        return f"{self.id}:{self.session_token}"

    @property
    def is_active(self) -> bool:  # Flask-Login refuses to sign in inactive users
        return self.active

    @property
    def is_moderator(self) -> bool:
        return self.role in MODERATORS

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    @property
    def is_verified(self) -> bool:
        return self.email_verified_at is not None

    @property
    def has_two_factor(self) -> bool:
        return self.totp_enabled_at is not None

    @property
    def is_approved_member(self) -> bool:
        return (
            self.membership is MembershipStatus.APPROVED
            and self.organisation is not None
            and self.organisation.is_approved
        )

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until

    def __repr__(self) -> str:
        return f"<User {self.email!r} {self.role.value}>"


class RecoveryCode(Base):
    """A one-time code that replaces the authenticator app once; only its hash is stored."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(sa.String(255))
    used_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(back_populates="recovery_codes")


class Invitation(Base):
    """A focal point's invitation of a colleague to join their organisation."""

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"), index=True)
    email: Mapped[str] = mapped_column(sa.String(254), index=True)
    invited_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    accepted_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

    organisation: Mapped[Organisation] = relationship()
    invited_by: Mapped[User] = relationship()

    __table_args__ = (sa.CheckConstraint("email = lower(email)", name="email_normalised"),)

    def is_usable(self, now: datetime) -> bool:
        return self.accepted_at is None and self.revoked_at is None and now < self.expires_at
