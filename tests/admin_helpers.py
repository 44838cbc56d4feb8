"""Test data and helpers for the administration tests: plain functions that add and flush, never commit."""

from __future__ import annotations

import html as html_lib
import re
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash

from portal.enums import Language, MembershipStatus, OrganisationKind, OrganisationStatus, Role
from portal.extensions import db
from portal.models import AuditEvent, Organisation, User, utcnow
from tests import factories
from tests.conftest import login

# One PBKDF2 round: sign-ins still go through the real form and check, but fast.
FAST_PASSWORD_HASH = generate_password_hash(factories.PASSWORD, method="pbkdf2:sha256:1")


def make_people() -> dict[str, User]:
    """factories.make_people with fast password checks. Moderators and administrators have 2FA on."""
    people = factories.make_people()
    for user in people.values():
        user.password_hash = FAST_PASSWORD_HASH
    db.session.flush()
    return people


def make_pending(
    name: str,
    *,
    proposer: str | None = None,
    locale: Language = Language.ENGLISH,
    verified: bool = True,
    kind: OrganisationKind = OrganisationKind.NGO,
) -> tuple[Organisation, User | None]:
    """A proposed organisation, as registration leaves it, and the person who proposed it (membership pending)."""
    organisation = Organisation(name=name, kind=kind, status=OrganisationStatus.PENDING, website="https://example.org")
    db.session.add(organisation)
    user = None
    if proposer:
        user = User(
            email=proposer,
            name=proposer.split("@")[0].replace(".", " ").title(),
            password_hash=FAST_PASSWORD_HASH,
            role=Role.SUBMITTER,
            organisation=organisation,
            membership=MembershipStatus.PENDING,
            locale=locale,
            email_verified_at=utcnow() if verified else None,
        )
        db.session.add(user)
    db.session.flush()
    return organisation, user


def make_organisation(name: str, status: OrganisationStatus = OrganisationStatus.APPROVED, **fields: Any) -> Organisation:
    organisation = Organisation(name=name, kind=fields.pop("kind", OrganisationKind.NGO), status=status, **fields)
    if status is OrganisationStatus.MERGED:
        organisation.merged_into = factories.org("IOM")
    db.session.add(organisation)
    db.session.flush()
    return organisation


def user_by_email(email: str) -> User:
    return db.session.scalar(sa.select(User).where(User.email == email))


def org_by_name(name: str) -> Organisation:
    return db.session.scalar(sa.select(Organisation).where(Organisation.name == name))


def events(object_type: str | None = None, object_id: int | None = None, *, after: int = 0) -> list[AuditEvent]:
    """Audit rows with id > `after`, oldest first, optionally about one object."""
    query = sa.select(AuditEvent).where(AuditEvent.id > after).order_by(AuditEvent.id)
    if object_type:
        query = query.where(AuditEvent.object_type == object_type)
    if object_id is not None:
        query = query.where(AuditEvent.object_id == object_id)
    return list(db.session.scalars(query))


def last_event_id() -> int:
    return db.session.scalar(sa.select(sa.func.max(AuditEvent.id))) or 0


def table_rows() -> dict[str, list[dict[str, Any]]]:
    """Every row of the tables the admin pages change, read fresh, to prove a refusal changed nothing."""
    out = {}
    for table in ("users", "organisations", "statements", "invitations", "recovery_codes", "audit_events"):
        t = db.metadata.tables[table]
        out[table] = [dict(r) for r in db.session.execute(sa.select(t).order_by(t.c.id)).mappings()]
    return out


def signed_in(app: Flask, email: str) -> FlaskClient:
    client = app.test_client()
    login(client, email)
    return client


def flashes(page: str, category: str) -> list[str]:
    return [
        html_lib.unescape(m)
        for m in re.findall(rf'<p class="flash flash-{category}" role="\w+">(.*?)</p>', page, flags=re.S)
    ]


def field_errors(page: str, field_id: str) -> list[str]:
    match = re.search(rf'<ul class="errors" id="{re.escape(field_id)}-error">(.*?)</ul>', page, flags=re.S)
    return [html_lib.unescape(e) for e in re.findall(r"<li>(.*?)</li>", match.group(1))] if match else []


def form_actions(page: str) -> list[str]:
    """The POST forms on a page, by action URL."""
    return re.findall(r'<form method="post" action="(/admin/[^"]+)"', page)


def buttons(page: str) -> list[str]:
    return re.findall(r'<input class="button [^"]*" id="[\w-]+" name="[\w-]+" type="submit" value="([^"]+)">', page)
