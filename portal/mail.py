"""Outgoing e-mail: rendered in the recipient's language, queued on the database session,
sent only after that session commits (and dropped if it rolls back).

Transport: SMTP when MAIL_SERVER is set; otherwise each message is written as an .eml
file to MAIL_FOLDER (development) and the console says where.
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from flask import current_app, render_template
from jinja2 import TemplateNotFound
from markupsafe import Markup, escape
from sqlalchemy import orm

from portal.extensions import db

log = logging.getLogger(__name__)

_OUTBOX = "portal_outbox"
_URL = re.compile(r"(https?://[^\s<>\"]+)")
LANGUAGES_WITH_TEMPLATES = ("en", "fr", "es")


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    text: str
    html: str


def render(template: str, *, to: str, lang: str | None = None, **context: Any) -> Mail:
    """Render email/<lang>/<template>.txt (English when there is none in `lang`).

    The template sets `subject`; the HTML part is the same text as paragraphs with links.
    """
    context = {"site_name": current_app.config["PORTAL_SITE_NAME"], **context}
    env = current_app.jinja_env
    candidates = [f"email/{lang}/{template}.txt"] if lang in LANGUAGES_WITH_TEMPLATES else []
    candidates.append(f"email/en/{template}.txt")
    for name in candidates:
        try:
            tmpl = env.get_template(name)
        except TemplateNotFound:
            continue
        module = tmpl.make_module(context)
        text = str(module).strip() + "\n"
        subject = " ".join(str(getattr(module, "subject", context["site_name"])).split())
        html = render_template("email/_layout.html", paragraphs=_paragraphs(text), subject=subject, lang=name.split("/")[1])
        return Mail(to=to, subject=subject, text=text, html=html)
    raise TemplateNotFound(template)


def _paragraphs(text: str) -> list[Markup]:
    out = []
    for block in re.split(r"\n\s*\n", text.strip()):
        escaped = str(escape(block))
        linked = _URL.sub(lambda m: f'<a href="{m.group(1)}">{m.group(1)}</a>', escaped)
        out.append(Markup(linked.replace("\n", "<br>\n")))
    return out


def queue(mail: Mail) -> None:
    """Send `mail` once the current database transaction commits; drop it on rollback."""
    session = db.session()
    if not session.in_transaction():
        session.begin()
    session.info.setdefault(_OUTBOX, []).append(mail)


def notify(user: Any, template: str, **context: Any) -> None:
    """Render `template` for `user` in their language and queue it (sent after commit)."""
    queue(render(template, to=user.email, lang=user.locale.value, user=user, **context))


def send_now(mail: Mail) -> None:
    """Deliver immediately through the configured transport. Raises on SMTP failure."""
    config = current_app.config
    message = EmailMessage()
    message["Subject"] = mail.subject
    message["From"] = config["MAIL_FROM"]
    message["To"] = mail.to
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=config["MAIL_FROM"].rpartition("@")[2].strip("> ") or "localhost")
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(mail.text)
    message.add_alternative(mail.html, subtype="html")

    if config["MAIL_SERVER"]:
        with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=config["MAIL_TIMEOUT"]) as smtp:
            if config["MAIL_USE_TLS"]:
                smtp.starttls(context=ssl.create_default_context())
            if config["MAIL_USERNAME"]:
                smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
            smtp.send_message(message)
        return
    folder = Path(config["MAIL_FOLDER"])
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:8]}.eml"
    path.write_bytes(bytes(message))
    print(f" * Mail to {mail.to} ({mail.subject!r}) written to {path}", file=sys.stderr, flush=True)


@sa.event.listens_for(orm.Session, "after_commit")
def _send_outbox(session: orm.Session) -> None:
    outbox = session.info.pop(_OUTBOX, [])
    for mail in outbox:
        try:
            send_now(mail)
        except Exception:  # the change is committed; a mail failure must not undo or hide it
            log.exception("Could not send mail to %s (%s)", mail.to, mail.subject)


@sa.event.listens_for(orm.Session, "after_transaction_end")
def _drop_outbox(session: orm.Session, transaction: Any) -> None:
    if transaction.parent is None and not transaction.nested:
        session.info.pop(_OUTBOX, None)
