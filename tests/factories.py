"""Test data: plain functions that add and flush, never commit."""

from __future__ import annotations

import io
import zipfile
from datetime import date, timedelta
from functools import lru_cache

import sqlalchemy as sa

from portal import operations, workflow
from portal.enums import FileRole, Language, MembershipStatus, OrganisationKind, Role, StatementKind, StatementStatus
from portal.extensions import db
from portal.models import Area, MeetingSession, Organisation, Panel, Statement, User, utcnow
from portal.storage import get_store

PASSWORD = "correct horse battery staple"
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"  # base32; tests compute codes with pyotp


@lru_cache(maxsize=1)
def password_hash() -> str:
    return operations.hash_password(PASSWORD)


# --- documents ----------------------------------------------------------------

def pdf_bytes(text: str = "Statement by the delegation") -> bytes:
    """A small, valid one-page PDF carrying `text`."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref))
    return out.getvalue()


def docx_bytes(text: str = "Statement by the delegation") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
            "</Types>",
        )
        z.writestr(
            "_rels/.rels",
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>'
            "</Relationships>",
        )
        z.writestr(
            "word/document.xml",
            '<?xml version="1.0" encoding="UTF-8"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
            f"<w:body><w:p><w:r><w:t>{text}</w:t></w:r></w:p></w:body></w:document>",
        )
    return buffer.getvalue()


def odt_bytes(text: str = "Statement by the delegation") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text")
        z.writestr(
            "content.xml",
            '<?xml version="1.0" encoding="UTF-8"?><office:document-content '
            'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
            'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0">'
            f"<office:body><office:text><text:p>{text}</text:p></office:text></office:body></office:document-content>",
        )
        z.writestr(
            "META-INF/manifest.xml",
            '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest '
            'xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"/>',
        )
    return buffer.getvalue()


def exe_bytes() -> bytes:
    """The start of a Windows executable (MZ header, PE signature)."""
    header = bytearray(b"MZ" + b"\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 46)
    header[0x3C:0x40] = (64).to_bytes(4, "little")
    return bytes(header) + b"PE\x00\x00" + b"\x4c\x01" + b"\x00" * 400


# --- catalogue ------------------------------------------------------------------

def seed_catalogue() -> None:
    """An open session with three areas and two panels, a closed session, three organisations."""
    now = utcnow()
    open_session = MeetingSession(
        number=1,
        slug="human-rights-all-migrants",
        title="Human rights of all migrants, social inclusion, cohesion, and all forms of discrimination",
        short_title="Human rights of all migrants",
        venue="United Nations Office at Geneva",
        city="Geneva",
        start_date=date(2017, 5, 8),
        end_date=date(2017, 5, 9),
        submissions_open_at=now - timedelta(days=30),
    )
    open_session.areas = [
        Area(code="a", title="Overarching frameworks and principles", position=0),
        Area(code="d", title="Human rights in migration management", position=3),
        Area(code="e", title="Detention", position=4),
    ]
    open_session.panels = [
        Panel(number=1, title="Human rights of all migrants", held_on=date(2017, 5, 8)),
        Panel(number=2, title="Social inclusion and cohesion", held_on=date(2017, 5, 8)),
    ]
    closed_session = MeetingSession(
        number=2,
        slug="drivers-migration",
        title="Addressing drivers of migration",
        short_title="Drivers of migration",
        venue="United Nations Headquarters",
        city="New York",
        start_date=date(2017, 5, 22),
        end_date=date(2017, 5, 23),
        submissions_open_at=now - timedelta(days=60),
        submissions_close_at=now - timedelta(days=1),
    )
    closed_session.areas = [Area(code="a", title="Sustainable development and poverty eradication", position=0)]
    db.session.add_all(
        [
            open_session,
            closed_session,
            Organisation(name="Mexico", kind=OrganisationKind.MEMBER_STATE, code="MEX"),
            Organisation(name="Switzerland", kind=OrganisationKind.MEMBER_STATE, code="CHE"),
            Organisation(name="International Organization for Migration", kind=OrganisationKind.UN_ENTITY, code="IOM", acronym="IOM"),
        ]
    )
    db.session.flush()


def session_by_number(number: int) -> MeetingSession:
    return db.session.scalar(sa.select(MeetingSession).where(MeetingSession.number == number))


def org(code: str) -> Organisation:
    return db.session.scalar(sa.select(Organisation).where(Organisation.code == code))


def area(session_number: int, code: str) -> Area:
    return db.session.scalar(
        sa.select(Area).join(Area.meeting_session).where(MeetingSession.number == session_number, Area.code == code)
    )


# --- people -----------------------------------------------------------------------

def make_user(email: str, *, role: Role = Role.SUBMITTER, org_code: str | None = "MEX", name: str | None = None) -> User:
    now = utcnow()
    user = User(
        email=email.lower(),
        name=name or email.split("@")[0].replace(".", " ").title(),
        password_hash=password_hash(),
        role=role,
        organisation=org(org_code) if org_code and role is Role.SUBMITTER else None,
        membership=MembershipStatus.APPROVED if role is Role.SUBMITTER else None,
        email_verified_at=now,
        password_changed_at=now,
    )
    if role is not Role.SUBMITTER:
        # Moderators and administrators must have a second factor before they can act.
        user.totp_secret = TOTP_SECRET
        user.totp_enabled_at = now
    db.session.add(user)
    db.session.flush()
    return user


def make_people() -> dict[str, User]:
    """The cast of the access matrix."""
    return {
        "submitter": make_user("ana@mexico.example", org_code="MEX"),
        "colleague": make_user("luis@mexico.example", org_code="MEX"),
        "other_org": make_user("hans@switzerland.example", org_code="CHE"),
        "moderator": make_user("mod@un.example", role=Role.MODERATOR, org_code=None),
        "admin": make_user("admin@un.example", role=Role.ADMIN, org_code=None),
    }


# --- statements ---------------------------------------------------------------------

def make_statement(
    author: User,
    *,
    title: str = "Statement on human rights in migration management",
    status: StatementStatus = StatementStatus.SUBMITTED,
    data: bytes | None = None,
    filename: str = "statement.pdf",
    area_codes: tuple[str, ...] = ("d",),
    moderator: User | None = None,
    reason: str = "Not a statement to this session.",
    language: Language = Language.ENGLISH,
) -> Statement:
    """A statement submitted through the real operation, then moved to `status` through the workflow."""
    meeting_session = session_by_number(1)
    statement = operations.submit_statement(
        author=author,
        title=title,
        meeting_session=meeting_session,
        area_ids=[area(1, code).id for code in area_codes],
        kind=StatementKind.DELIVERED,
        language=language,
        delivered_on=date(2017, 5, 8),
        panel_id=None,
        stream=io.BytesIO(data if data is not None else pdf_bytes(title)),
        filename=filename,
        store=get_store(),
        max_bytes=10 * 1024 * 1024,
        draft=status is StatementStatus.DRAFT,
    )
    if status in (StatementStatus.SUBMITTED, StatementStatus.DRAFT):
        return statement
    if status is StatementStatus.WITHDRAWN:
        workflow.apply(statement, "withdraw", actor=author)
        return statement
    decider = moderator or db.session.scalar(sa.select(User).where(User.role == Role.MODERATOR)) or make_user(
        "factory-mod@un.example", role=Role.MODERATOR, org_code=None
    )
    steps = {
        StatementStatus.APPROVED: [("approve", "")],
        StatementStatus.REJECTED: [("reject", reason)],
        StatementStatus.CHANGES_REQUESTED: [("request_changes", reason)],
        StatementStatus.UNPUBLISHED: [("approve", ""), ("unpublish", reason)],
        StatementStatus.DUPLICATE: [("mark_duplicate", "")],
    }[status]
    for action, note in steps:
        original = None
        if action == "mark_duplicate":
            original = make_statement(author, title=f"{title} (the original)")
        workflow.apply(statement, action, actor=decider, note=note, duplicate_of=original)
    return statement


def add_version(
    statement: Statement,
    author: User,
    data: bytes,
    filename: str,
    language: Language = Language.ENGLISH,
    role: FileRole = FileRole.ORIGINAL,
    *,
    max_bytes: int = 10 * 1024 * 1024,
) -> None:
    """A new version of `statement` with one file, through the real operation (a correction
    of an approved statement goes to review)."""
    operations.upload_version(
        statement,
        author=author,
        uploads=[operations.Upload(stream=io.BytesIO(data), filename=filename, language=language, role=role)],
        note="",
        store=get_store(),
        max_bytes=max_bytes,
    )
