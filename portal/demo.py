"""Loads the reference data the portal ships: the 2017 GCM thematic sessions and organisations.

Idempotent: records are matched by their natural keys (session number, area code,
panel number, organisation code) and only missing ones are created. Does not commit.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib import resources
from typing import Any

import pyotp
import sqlalchemy as sa

from portal import audit, operations
from portal.enums import OrganisationKind, Role
from portal.extensions import db
from portal.models import Area, MeetingSession, Organisation, Panel, User, utcnow

_KINDS = {
    "member_state": OrganisationKind.MEMBER_STATE,
    "observer_state": OrganisationKind.OBSERVER_STATE,
    "un_entity": OrganisationKind.UN_ENTITY,
    "ngo": OrganisationKind.NGO,
    "other": OrganisationKind.OTHER,
}
_IGO_SUBTYPES = {"regional_organization"}

DEMO_PASSWORD = "demo-password-2017"
DEMO_USERS = (
    ("submitter@mexico.example", "Demo Submitter (Mexico)", Role.SUBMITTER, "MEX"),
    ("submitter@iom.example", "Demo Submitter (IOM)", Role.SUBMITTER, "IOM"),
    ("moderator@secretariat.example", "Demo Moderator", Role.MODERATOR, None),
    ("admin@secretariat.example", "Demo Administrator", Role.ADMIN, None),
)


@dataclass
class LoadReport:
    created: dict[str, int] = field(default_factory=dict)

    def add(self, what: str) -> None:
        self.created[what] = self.created.get(what, 0) + 1

    def summary(self) -> str:
        if not self.created:
            return "nothing new (the demo data was already loaded)"
        return ", ".join(f"{n} {what}" for what, n in sorted(self.created.items()))


def read_data(name: str) -> dict[str, Any]:
    """One of the JSON files shipped in portal/data."""
    return json.loads(resources.files("portal.data").joinpath(name).read_text(encoding="utf-8"))


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:120]


def load_catalogue(*, open_submissions: bool = True) -> LoadReport:
    """Create the organisations, sessions, areas and panels that are missing. Does not commit.

    With `open_submissions`, sessions that have areas of discussion and no submission
    window yet are opened from now on, so the demo can be used at once.
    """
    report = LoadReport()
    _load_organisations(report)
    _load_sessions(report, open_submissions=open_submissions)
    return report


def load_demo_users() -> list[tuple[str, str, Role, str | None, str | None]]:
    """Create the demo accounts that are missing.

    Returns (email, password, role, organisation, two-factor key) of each. The moderator
    and administrator are enrolled in two-factor authentication (required for them) with
    a random key, printed so it can be added to an authenticator app.
    """
    shown = []
    for email, name, role, code in DEMO_USERS:
        organisation = None
        if code is not None:
            organisation = db.session.scalar(sa.select(Organisation).where(Organisation.code == code))
        user = db.session.scalar(sa.select(User).where(User.email == email))
        if user is None:
            user = operations.create_user(
                email=email, name=name, password=DEMO_PASSWORD, role=role, organisation=organisation, actor=None
            )
            if user.is_moderator:
                user.totp_secret = pyotp.random_base32()
                user.totp_enabled_at = utcnow()
                audit.record(user, actor=None, action="user.2fa_enable", data={"source": "demo data"})
        shown.append((email, DEMO_PASSWORD, role, organisation.name if organisation else None, user.totp_secret))
    return shown


def _load_organisations(report: LoadReport) -> None:
    existing = set(db.session.scalars(sa.select(Organisation.code)))
    names = {n.lower() for n in db.session.scalars(sa.select(Organisation.name))}
    for record in read_data("organisations.json")["organisations"]:
        if record["id"] in existing or record["name"].lower() in names:
            continue
        kind = _KINDS[record["type"]]
        if record.get("subtype") in _IGO_SUBTYPES:
            kind = OrganisationKind.IGO
        operations.create_organisation(
            name=record["name"], kind=kind, code=record["id"], acronym=record.get("acronym"), actor=None
        )
        report.add("organisations")


def _load_sessions(report: LoadReport, *, open_submissions: bool) -> None:
    series = read_data("gcm_sessions.json")
    detail = read_data("session1.json")
    for record in series["sessions"]:
        number = record["number"]
        meeting_session = db.session.scalar(sa.select(MeetingSession).where(MeetingSession.number == number))
        if meeting_session is None:
            meeting_session = MeetingSession(
                number=number,
                slug=record.get("slug") or slugify(record["short_title"]),
                title=record["title"],
                short_title=record["short_title"],
                venue=record.get("venue") or "",
                city=record.get("city") or "",
                start_date=date.fromisoformat(record["start_date"]),
                end_date=date.fromisoformat(record["end_date"]),
            )
            db.session.add(meeting_session)
            db.session.flush()
            audit.record(meeting_session, actor=None, action="session.create", data={"source": "demo data"})
            report.add("sessions")

        if number == 1:
            areas = [(a["letter"], a["title"]) for a in detail["areas_of_discussion"]]
            panels = [(p["number"], p["title"], p.get("date")) for p in detail["panels"]]
        else:
            areas = [(a["letter"], a["title"]) for a in record.get("areas_of_discussion") or [] if isinstance(a, dict)]
            panels = [(p["number"], p["title"], p.get("date")) for p in record.get("panels_known", [])]
        _ensure_areas(meeting_session, areas, report)
        _ensure_panels(meeting_session, panels, report)

        if open_submissions and meeting_session.areas and meeting_session.submissions_open_at is None:
            meeting_session.submissions_open_at = _start_of_today()
            audit.record(
                meeting_session,
                actor=None,
                action="session.open",
                data={"opens_at": meeting_session.submissions_open_at.isoformat(), "source": "demo data"},
            )
            report.add("submission windows opened")
    db.session.flush()


def _ensure_areas(meeting_session: MeetingSession, areas: list[tuple[str, str]], report: LoadReport) -> None:
    have = {a.code for a in meeting_session.areas}
    for position, (code, title) in enumerate(areas):
        if code not in have:
            meeting_session.areas.append(Area(code=code, title=title, position=position))
            report.add("areas")
    db.session.flush()


def _ensure_panels(
    meeting_session: MeetingSession, panels: list[tuple[int, str, str | None]], report: LoadReport
) -> None:
    have = {p.number for p in meeting_session.panels}
    for number, title, held_on in panels:
        if number not in have:
            meeting_session.panels.append(
                Panel(number=number, title=title, held_on=date.fromisoformat(held_on) if held_on else None)
            )
            report.add("panels")
    db.session.flush()


def _start_of_today() -> datetime:
    now = utcnow()
    return now.replace(hour=0, minute=0, second=0, microsecond=0)
