"""Typed SQLAlchemy models. Importing this package registers every table."""

from portal.models.audit import AuditEvent
from portal.models.base import Base, utcnow
from portal.models.catalogue import Area, MeetingSession, Panel
from portal.models.search import DocumentText, ExtractionStatus, SearchDocument
from portal.models.statements import (
    ReasonTemplate,
    Statement,
    StatementFile,
    StatementVersion,
    StoredFile,
    statement_areas,
    statement_cosignatories,
    statement_on_behalf_of,
)
from portal.models.users import Invitation, Organisation, RecoveryCode, User, normalise_email

__all__ = [
    "Area",
    "AuditEvent",
    "Base",
    "DocumentText",
    "ExtractionStatus",
    "Invitation",
    "MeetingSession",
    "Organisation",
    "Panel",
    "ReasonTemplate",
    "RecoveryCode",
    "SearchDocument",
    "Statement",
    "StatementFile",
    "StatementVersion",
    "StoredFile",
    "User",
    "normalise_email",
    "statement_areas",
    "statement_cosignatories",
    "statement_on_behalf_of",
    "utcnow",
]
