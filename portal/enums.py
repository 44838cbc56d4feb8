"""Closed vocabularies of the domain. A leaf module: imports nothing from the portal."""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    SUBMITTER = "submitter"
    MODERATOR = "moderator"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return self.value.capitalize()


MODERATORS = frozenset({Role.MODERATOR, Role.ADMIN})


class OrganisationKind(enum.StrEnum):
    MEMBER_STATE = "member_state"
    OBSERVER_STATE = "observer_state"
    UN_ENTITY = "un_entity"
    IGO = "igo"
    NGO = "ngo"
    OTHER = "other"

    @property
    def label(self) -> str:
        return _ORG_KIND_LABELS[self]


_ORG_KIND_LABELS = {
    OrganisationKind.MEMBER_STATE: "Member State",
    OrganisationKind.OBSERVER_STATE: "Observer State",
    OrganisationKind.UN_ENTITY: "UN entity",
    OrganisationKind.IGO: "Intergovernmental organisation",
    OrganisationKind.NGO: "NGO / civil society",
    OrganisationKind.OTHER: "Other stakeholder",
}


class OrganisationStatus(enum.StrEnum):
    """Known organisations are approved; ones proposed at registration wait for a moderator."""

    APPROVED = "approved"
    PENDING = "pending"
    REJECTED = "rejected"
    MERGED = "merged"
    INACTIVE = "inactive"

    @property
    def label(self) -> str:
        return {
            "approved": "Approved",
            "pending": "Awaiting approval",
            "rejected": "Rejected",
            "merged": "Merged into another organisation",
            "inactive": "Deactivated",
        }[self.value]


class MembershipStatus(enum.StrEnum):
    """Whether a submitter may act for their organisation."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    REMOVED = "removed"

    @property
    def label(self) -> str:
        return {
            "pending": "Awaiting approval",
            "approved": "Approved",
            "rejected": "Rejected",
            "removed": "Removed",
        }[self.value]


class StatementKind(enum.StrEnum):
    DELIVERED = "delivered"
    WRITTEN = "written"
    JOINT = "joint"

    @property
    def label(self) -> str:
        return _KIND_LABELS[self]


_KIND_LABELS = {
    StatementKind.DELIVERED: "Delivered statement",
    StatementKind.WRITTEN: "Written input",
    StatementKind.JOINT: "Joint statement",
}


class Language(enum.StrEnum):
    """The six official languages of the United Nations (ISO 639-1 codes)."""

    ARABIC = "ar"
    CHINESE = "zh"
    ENGLISH = "en"
    FRENCH = "fr"
    RUSSIAN = "ru"
    SPANISH = "es"

    @property
    def label(self) -> str:
        return _LANGUAGE_LABELS[self]


_LANGUAGE_LABELS = {
    Language.ARABIC: "Arabic",
    Language.CHINESE: "Chinese",
    Language.ENGLISH: "English",
    Language.FRENCH: "French",
    Language.RUSSIAN: "Russian",
    Language.SPANISH: "Spanish",
}


class StatementStatus(enum.StrEnum):
    """Where a statement stands. Only `approved` is public (and only after its embargo)."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    CHANGES_REQUESTED = "changes_requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"
    UNPUBLISHED = "unpublished"
    DUPLICATE = "duplicate"

    @property
    def label(self) -> str:
        return _STATUS_LABELS[self]


_STATUS_LABELS = {
    StatementStatus.DRAFT: "Draft",
    StatementStatus.SUBMITTED: "Awaiting review",
    StatementStatus.CHANGES_REQUESTED: "Changes requested",
    StatementStatus.APPROVED: "Published",
    StatementStatus.REJECTED: "Rejected",
    StatementStatus.WITHDRAWN: "Withdrawn",
    StatementStatus.UNPUBLISHED: "Unpublished",
    StatementStatus.DUPLICATE: "Duplicate",
}


class VersionStatus(enum.StrEnum):
    """A version of a statement's documents: prepared, awaiting review, decided, or replaced."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"


class FileRole(enum.StrEnum):
    ORIGINAL = "original"
    TRANSLATION = "translation"
    ANNEX = "annex"

    @property
    def label(self) -> str:
        return self.value.capitalize()
