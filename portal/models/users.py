"""Organisations and the people who act for them."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.enums import MODERATORS, OrganisationKind, Role
from portal.models.base import Base, str_enum, utcnow


def normalise_email(email: str) -> str:
    """The one canonical form of an e-mail address: trimmed and lower-cased."""
    return email.strip().lower()


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(200), unique=True)
    kind: Mapped[OrganisationKind] = mapped_column(str_enum(OrganisationKind, "organisation_kind"))
    # Stable reference from the source data: ISO 3166 alpha-3 for States, acronym or slug otherwise.
    code: Mapped[str | None] = mapped_column(sa.String(40), unique=True)
    acronym: Mapped[str | None] = mapped_column(sa.String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    members: Mapped[list[User]] = relationship(back_populates="organisation")

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
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]

    organisation: Mapped[Organisation | None] = relationship(back_populates="members")

    __table_args__ = (
        sa.CheckConstraint("email = lower(email)", name="email_normalised"),
        sa.CheckConstraint(
            "role <> 'submitter' OR organisation_id IS NOT NULL", name="submitter_has_organisation"
        ),
    )

    @property
    def is_active(self) -> bool:  # Flask-Login refuses to sign in inactive users
        return self.active

    @property
    def is_moderator(self) -> bool:
        return self.role in MODERATORS

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN

    def __repr__(self) -> str:
        return f"<User {self.email!r} {self.role.value}>"
