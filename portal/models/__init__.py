"""Typed SQLAlchemy models. Importing this package registers every table."""

from portal.models.audit import AuditEvent
from portal.models.base import Base, utcnow
from portal.models.catalogue import Area, MeetingSession, Panel
from portal.models.statements import Statement, StoredFile, statement_areas
from portal.models.users import Invitation, Organisation, RecoveryCode, User, normalise_email

__all__ = [
    "Area",
    "AuditEvent",
    "Base",
    "Invitation",
    "MeetingSession",
    "Organisation",
    "Panel",
    "RecoveryCode",
    "Statement",
    "StoredFile",
    "User",
    "normalise_email",
    "statement_areas",
    "utcnow",
]
