"""Domain exceptions. Their messages are written for the person who caused them."""

from __future__ import annotations


class PortalError(Exception):
    """Base class: a refusal the user can read."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return self.message


class ValidationError(PortalError):
    """Input that breaks a rule of the domain (closed session, area of another session...)."""


class UploadError(ValidationError):
    """A file that cannot be accepted (empty, too large, wrong type)."""


class WorkflowError(PortalError):
    """A status change that is not allowed from the current state."""


class PermissionDenied(PortalError):
    """The actor may not do this."""


class ConflictError(PortalError):
    """Someone else changed the object first."""
