"""Writes the audit trail: the only creator of AuditEvent rows.

`record()` adds and flushes, so the row shares the fate of the change it records:
committed together or rolled back together. Never commits. Every committed change a
public page could show writes a row here, which is what lets portal/cache.py tell
when cached public pages are out of date.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import orm

from portal.extensions import db
from portal.models import AuditEvent, User

_SECRET_KEYS = ("password", "token", "secret", "otp", "code_hash")
# The object type of events about the portal as a whole (record_site).
SITE = "site"


def mask(data: dict[str, Any]) -> dict[str, Any]:
    """Copy of `data` with secret-looking values replaced."""
    return {
        key: "***" if any(word in key.lower() for word in _SECRET_KEYS) else value
        for key, value in data.items()
    }


def record(
    obj: Any,
    *,
    actor: User | None,
    action: str,
    old: str | None = None,
    new: str | None = None,
    note: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append an audit row about `obj` (which must have an id). Flushes; never commits."""
    if obj.id is None:
        db.session.flush()
    event = AuditEvent(
        object_type=obj.__tablename__,
        object_id=obj.id,
        object_ref=_reference(obj),
        old_status=None if old is None else str(old),
        new_status=None if new is None else str(new),
    )
    return _append(event, actor=actor, action=action, note=note, data=data)


def record_site(*, actor: User | None, action: str, note: str = "", data: dict[str, Any] | None = None) -> AuditEvent:
    """Append an audit row about the portal as a whole, for a change no single object owns
    (a rebuilt search index, reference data loaded): object type SITE, id 0.
    Flushes; never commits."""
    event = AuditEvent(object_type=SITE, object_id=0, object_ref="")
    return _append(event, actor=actor, action=action, note=note, data=data)


def _append(event: AuditEvent, *, actor: User | None, action: str, note: str, data: dict[str, Any] | None) -> AuditEvent:
    event.actor = actor
    event.actor_label = actor.email if actor is not None else "system"
    event.action = action
    event.note = note
    event.data = mask(data or {})
    db.session.add(event)
    db.session.flush()
    return event


def events_for(obj: Any) -> sa.Select[tuple[AuditEvent]]:
    """Audit rows about `obj`, oldest first."""
    return (
        sa.select(AuditEvent)
        .where(AuditEvent.object_type == obj.__tablename__, AuditEvent.object_id == obj.id)
        .order_by(AuditEvent.id)
    )


def _reference(obj: Any) -> str:
    for attr in ("public_id", "email", "slug", "name", "storage_key"):
        value = getattr(obj, attr, None)
        if value:
            return str(value)[:300]
    return ""


@sa.event.listens_for(orm.Session, "before_flush")
def _refuse_audit_changes(session: orm.Session, flush_context: Any, instances: Any) -> None:
    """Append-only: audit rows are never updated or deleted through the ORM."""
    for obj in list(session.dirty) + list(session.deleted):
        if isinstance(obj, AuditEvent) and (obj in session.deleted or session.is_modified(obj)):
            raise RuntimeError("Audit events are append-only.")
