"""Test data and page helpers for the moderator-side tests (queue, claims, bulk decisions,
duplicates, embargo, notifications). Data helpers add and flush, never commit."""

from __future__ import annotations

import html as html_lib
import io
import re
from datetime import date
from typing import Any

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.security import generate_password_hash

from portal import operations
from portal.enums import Language, Role, StatementKind, StatementStatus
from portal.extensions import db
from portal.models import AuditEvent, Statement, User
from portal.storage import get_store
from tests import factories
from tests.conftest import csrf_from, login

S = StatementStatus
# One PBKDF2 round: sign-ins still go through the real forms and check, but fast.
FAST_PASSWORD_HASH = generate_password_hash(factories.PASSWORD, method="pbkdf2:sha256:1")
MODERATOR = "mod@un.example"
MODERATOR_2 = "mod2@un.example"
ADMIN = "admin@un.example"
SUBMITTER = "ana@mexico.example"
REASON = "Not a statement to this session: please submit it to the session on detention."


def make_people() -> dict[str, User]:
    """factories.make_people plus a second moderator and a submitter for IOM (a UN entity), all with fast password checks."""
    people = factories.make_people()
    people["moderator_2"] = factories.make_user(MODERATOR_2, role=Role.MODERATOR, org_code=None, name="Second Moderator")
    people["iom"] = factories.make_user("ines@iom.example", org_code="IOM")
    for user in people.values():
        user.password_hash = FAST_PASSWORD_HASH
    db.session.flush()
    return people


def submit(
    author: User,
    title: str,
    *,
    session_number: int = 1,
    area_code: str = "d",
    language: Language = Language.ENGLISH,
    data: bytes | None = None,
) -> Statement:
    """A statement awaiting review, submitted through the real operation to any session (a
    closed session is opened for the moment)."""
    meeting_session = factories.session_by_number(session_number)
    window = meeting_session.submissions_close_at
    meeting_session.submissions_close_at = None
    statement = operations.submit_statement(
        author=author,
        title=title,
        meeting_session=meeting_session,
        area_ids=[factories.area(session_number, area_code).id],
        kind=StatementKind.WRITTEN,
        language=language,
        delivered_on=date(2017, 5, 8),
        panel_id=None,
        stream=io.BytesIO(data if data is not None else factories.pdf_bytes(title)),
        filename="statement.pdf",
        store=get_store(),
        max_bytes=10 * 1024 * 1024,
    )
    meeting_session.submissions_close_at = window
    db.session.flush()
    return statement


def correct(statement: Statement, author: User, text: str = "corrected") -> None:
    """Send a correction of a published statement (it waits for review)."""
    operations.upload_version(
        statement,
        author=author,
        uploads=[operations.Upload(io.BytesIO(factories.pdf_bytes(f"{statement.title}, {text}")), "fixed.pdf", Language.ENGLISH)],
        note="Corrected the figures in paragraph 3.",
        store=get_store(),
        max_bytes=10 * 1024 * 1024,
    )
    assert statement.pending_correction is not None


def signed_in(app: Flask, email: str) -> FlaskClient:
    client = app.test_client()
    login(client, email)
    return client


def statement(public_id: str) -> Statement:
    return db.session.scalar(sa.select(Statement).where(Statement.public_id == public_id))


def row(public_id: str) -> dict[str, Any]:
    """The statement's row as stored (a fresh query, not the identity map)."""
    table = Statement.__table__
    return dict(db.session.execute(sa.select(table).where(table.c.public_id == public_id)).mappings().one())


def events(public_id: str | None = None, actions: tuple[str, ...] | None = None) -> list[AuditEvent]:
    query = sa.select(AuditEvent).order_by(AuditEvent.id)
    if public_id is not None:
        query = query.where(AuditEvent.object_ref == public_id)
    if actions is not None:
        query = query.where(AuditEvent.action.in_(actions))
    return list(db.session.scalars(query))


def user(email: str) -> User:
    return db.session.scalar(sa.select(User).where(User.email == email))


def hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{re.escape(name)}" type="hidden" value="([^"]*)"', page)
    assert match, f"no hidden field {name!r} in the page"
    return match.group(1)


def csrf(page: str) -> str:
    """The token of the page's unprefixed forms (claim, bulk, settings, sign out...)."""
    return csrf_from(page)


def decision_data(page: str, action: str, **fields: str) -> dict[str, str]:
    """What the browser posts for `action` from the review `page`."""
    data = {
        f"{action}-csrf_token": hidden(page, f"{action}-csrf_token"),
        f"{action}-version": hidden(page, f"{action}-version"),
    }
    data.update({f"{action}-{name}": value for name, value in fields.items()})
    return data


def checkbox_values(page: str) -> dict[str, str]:
    """The queue's checkboxes: reference -> the value the browser would send."""
    return dict(re.findall(r'<input type="checkbox" name="items" id="select-([\w-]+)" value="([^"]+)"', page))


def bulk(client: FlaskClient, queue_page: str, references: list[str], action: str, note: str = "", template_id: str = "") -> Any:
    """Tick `references` on `queue_page` and press "Approve selected" or "Reject selected"."""
    values = checkbox_values(queue_page)
    data: dict[str, Any] = {
        "csrf_token": csrf(queue_page),
        "items": [values[r] for r in references],
        "note": note,
        "template_id": template_id,
        action: "Approve selected" if action == "approve" else "Reject selected",
    }
    return client.post("/moderation/bulk", data=data)


def flashes(page: str, category: str) -> list[str]:
    return [
        html_lib.unescape(m)
        for m in re.findall(rf'<p class="flash flash-{category}" role="\w+">(.*?)</p>', page, flags=re.S)
    ]


def text(page: str) -> str:
    """The page's visible text, tags removed and whitespace collapsed."""
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", page)).split())


def queue_titles(page: str) -> list[str]:
    """Titles of the queue's items in the order shown."""
    return [
        html_lib.unescape(t)
        for t in re.findall(r'<a href="/moderation/ST-[\w-]+">([^<]+)</a>\s*<br><small>ST-', page)
    ]


def result_rows(page: str, table_id: str) -> list[tuple[str, str]]:
    """(reference, last cell) of each row of a table of the bulk result page."""
    match = re.search(rf'<table class="table" id="{table_id}">(.*?)</table>', page, flags=re.S)
    if not match:
        return []
    rows = re.findall(r"<tr><td><a [^>]+>([\w-]+)</a></td><td>[^<]*</td><td>([^<]*)</td></tr>", match.group(1))
    return [(ref, html_lib.unescape(why)) for ref, why in rows]
