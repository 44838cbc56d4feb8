"""Operations that change the domain: create users and organisations, submit statements.

Each takes its actor explicitly, validates policy, changes and audits, and flushes.
None commits: the view or CLI command that called it does, once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import PurePath
from typing import BinaryIO

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from werkzeug.security import generate_password_hash

from portal import audit, extract, filetypes, notifications
from portal.enums import (
    FileRole,
    Language,
    MembershipStatus,
    OrganisationKind,
    OrganisationStatus,
    Role,
    StatementKind,
    StatementStatus,
    VersionStatus,
)
from portal.exceptions import ConflictError, PermissionDenied, UploadError, ValidationError, WorkflowError
from portal.extensions import db
from portal.models import (
    Area,
    ExtractionStatus,
    MeetingSession,
    Organisation,
    Panel,
    Statement,
    StatementFile,
    StatementVersion,
    StoredFile,
    User,
    normalise_email,
    utcnow,
)
from portal.passwords import check_password_strength
from portal.permissions import can_submit, submit_blockers
from portal.storage import FileStore

MAX_TITLE_LENGTH = 300


def hash_password(password: str) -> str:
    return generate_password_hash(password)


def check_email(email: str) -> str:
    """Return the normalised address. Raises ValidationError if it is not a valid e-mail address."""
    try:
        validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValidationError(f"{email.strip()!r} is not a valid e-mail address: {exc}", field="email") from None
    return normalise_email(email)


def create_user(
    *,
    email: str,
    name: str,
    password: str,
    role: Role,
    organisation: Organisation | None,
    actor: User | None,
) -> User:
    """Create an active account. Does not commit.

    Raises ValidationError for a malformed or already registered e-mail, an empty
    name, a short password, or a submitter without an organisation.
    """
    address = check_email(email)
    if db.session.scalar(sa.select(User.id).where(User.email == address)) is not None:
        raise ValidationError(f"An account with the e-mail address {address} already exists.", field="email")
    if not name.strip():
        raise ValidationError("A name is required.", field="name")
    check_password_strength(password, user_inputs=(address, name))
    if role is Role.SUBMITTER and organisation is None:
        raise ValidationError("A submitter must act for an organisation.", field="organisation")
    now = utcnow()
    # Accounts created by an administrator are vouched for: verified and approved.
    user = User(
        email=address,
        name=name.strip(),
        password_hash=hash_password(password),
        role=role,
        organisation=organisation,
        membership=MembershipStatus.APPROVED if role is Role.SUBMITTER else None,
        email_verified_at=now,
        password_changed_at=now,
    )
    db.session.add(user)
    db.session.flush()
    audit.record(
        user,
        actor=actor,
        action="user.create",
        data={"role": role.value, "organisation": organisation.name if organisation else None},
    )
    return user


def create_organisation(
    *, name: str, kind: OrganisationKind, code: str | None = None, acronym: str | None = None, actor: User | None
) -> Organisation:
    """Create an organisation. Does not commit. Raises ValidationError if the name is taken."""
    name = " ".join(name.split())
    if not name:
        raise ValidationError("An organisation name is required.", field="name")
    exists = db.session.scalar(sa.select(Organisation.id).where(sa.func.lower(Organisation.name) == name.lower()))
    if exists is not None:
        raise ValidationError(f"An organisation named {name!r} already exists.", field="name")
    organisation = Organisation(name=name, kind=kind, code=code, acronym=acronym)
    db.session.add(organisation)
    db.session.flush()
    audit.record(organisation, actor=actor, action="organisation.create", data={"kind": kind.value, "code": code})
    return organisation


@dataclass(frozen=True)
class Upload:
    """A file as it arrives from a form or a script."""

    stream: BinaryIO
    filename: str
    language: Language
    role: FileRole = FileRole.ORIGINAL
    field: str = "document"  # the form field an UploadError about this file is shown on


def submit_statement(
    *,
    author: User,
    title: str,
    meeting_session: MeetingSession | None,
    area_ids: list[int],
    kind: StatementKind,
    language: Language,
    delivered_on: date | None,
    panel_id: int | None,
    stream: BinaryIO,
    filename: str,
    store: FileStore,
    max_bytes: int,
    draft: bool = False,
    extra_files: Sequence[Upload] = (),
    on_behalf_of_ids: Sequence[int] = (),
    cosignatory_ids: Sequence[int] = (),
) -> Statement:
    """Store the documents and create a statement awaiting review (or a draft). Does not commit.

    The metadata is checked before any byte is written; each document is typed by its
    content. Stored files are removed again if the transaction is rolled back.
    Raises PermissionDenied if `author` may not submit, ValidationError (or its
    subclass UploadError) naming the offending field otherwise.
    """
    if not can_submit(author):
        reasons = submit_blockers(author) or ["Your account cannot submit statements."]
        raise PermissionDenied(" ".join(reasons))
    title = " ".join((title or "").split())
    if not title:
        raise ValidationError("A title is required.", field="title")
    if len(title) > MAX_TITLE_LENGTH:
        raise ValidationError(f"The title must be at most {MAX_TITLE_LENGTH} characters.", field="title")
    if meeting_session is None:
        raise ValidationError("Choose the session this statement belongs to.", field="session_id")
    now = utcnow()
    if not meeting_session.is_open(now):
        raise ValidationError(f"{meeting_session.label} is not open for submissions.", field="session_id")
    if not area_ids:
        raise ValidationError("Choose at least one area of discussion.", field="area_ids")
    areas = list(
        db.session.scalars(
            sa.select(Area).where(Area.id.in_(set(area_ids)), Area.session_id == meeting_session.id)
        )
    )
    if len(areas) != len(set(area_ids)):
        raise ValidationError(
            f"Choose areas of discussion of {meeting_session.label}; an area of another session was given.",
            field="area_ids",
        )
    panel = None
    if panel_id is not None:
        panel = db.session.get(Panel, panel_id)
        if panel is None or panel.session_id != meeting_session.id:
            raise ValidationError(f"Choose a panel of {meeting_session.label}.", field="panel_id")
    if delivered_on is not None:
        if delivered_on > now.date() + timedelta(days=1):
            raise ValidationError("The date delivered cannot be in the future.", field="delivered_on")
        if delivered_on.year < 1945:
            raise ValidationError("The date delivered is not a plausible date.", field="delivered_on")
    if kind is StatementKind.DELIVERED and delivered_on is None:
        raise ValidationError("Give the date a delivered statement was delivered.", field="delivered_on")
    on_behalf_of = _organisations(on_behalf_of_ids, field="on_behalf_of_ids")
    cosignatories = _organisations(cosignatory_ids, field="cosignatory_ids")

    uploads = [Upload(stream, filename, language, FileRole.ORIGINAL), *extra_files]
    stored = [store_upload(upload, store=store, max_bytes=max_bytes) for upload in uploads]
    status = StatementStatus.DRAFT if draft else StatementStatus.SUBMITTED
    version = StatementVersion(
        number=1,
        status=VersionStatus.DRAFT if draft else VersionStatus.SUBMITTED,
        created_by=author,
        submitted_at=None if draft else now,
        files=[
            StatementFile(stored=document, language=upload.language, role=upload.role, position=position)
            for position, (upload, document) in enumerate(zip(uploads, stored, strict=True))
        ],
    )
    statement = Statement(
        title=title,
        organisation_id=author.organisation_id,
        submitted_by=author,
        meeting_session=meeting_session,
        panel=panel,
        kind=kind,
        language=language,
        delivered_on=delivered_on,
        status=status,
        areas=sorted(areas, key=lambda a: a.position),
        on_behalf_of=on_behalf_of,
        cosignatories=cosignatories,
        submitted_at=None if draft else now,
        versions=[version],
    )
    db.session.add(statement)
    db.session.flush()
    audit.record(
        statement,
        actor=author,
        action="create_draft" if draft else "submit",
        new=statement.status.value,
        data={
            "title": title,
            "session": meeting_session.number,
            "areas": [a.code for a in statement.areas],
            "files": [_file_data(f) for f in version.files],
            "on_behalf_of": [o.name for o in on_behalf_of],
            "cosignatories": [o.name for o in cosignatories],
        },
    )
    if not draft:  # the moderators who asked hear that something waits
        notifications.statement_submitted(statement)
    return statement


def store_upload(upload: Upload, *, store: FileStore, max_bytes: int) -> StoredFile:
    """Stream one upload into the store, typed by its content. Flushes; the file goes on rollback.

    Its text is extracted on the way (portal.extract) and kept in a DocumentText row.
    Raises UploadError (on `upload.field`) for an empty, oversized or unaccepted file, or a
    DOCX/ODT that would expand beyond PORTAL_MAX_DECOMPRESSED_BYTES.
    """
    original_name = _clean_filename(upload.filename)
    try:
        received = store.receive(upload.stream, max_bytes=max_bytes)
    except UploadError as exc:
        raise UploadError(exc.message, field=upload.field) from None
    try:
        content_type = filetypes.detect(received.temp_path)
    except BaseException:
        store.discard(received)
        raise
    if content_type is None:
        store.discard(received)
        raise UploadError(
            f"This file is not a {filetypes.ACCEPTED_DESCRIPTION} document, whatever its name says. "
            "Please upload the statement in one of those formats.",
            field=upload.field,
        )
    # Synchronous: the text is there for review and search as soon as the file is. Failures
    # are recorded on the file, never raised; only a zip bomb refuses the upload.
    extraction = extract.extract(received.temp_path, content_type)
    if extraction.status is ExtractionStatus.REFUSED:
        store.discard(received)
        raise UploadError(extraction.message, field=upload.field)
    key = store.place(received, db.session())
    document = StoredFile(
        storage_key=key,
        original_name=original_name,
        content_type=content_type,
        size=received.size,
        sha256=received.sha256,
    )
    db.session.add(document)
    db.session.add(extract.record(document, extraction))
    return document


def accepts_new_version(statement: Statement) -> bool:
    """Whether upload_version() takes a new version now: a draft, a statement awaiting review or
    with changes requested, or a published one without a correction already awaiting review."""
    if statement.status is StatementStatus.APPROVED:
        return statement.pending_correction is None
    return statement.status in (
        StatementStatus.DRAFT,
        StatementStatus.SUBMITTED,
        StatementStatus.CHANGES_REQUESTED,
    )


def upload_version(
    statement: Statement,
    *,
    author: User,
    uploads: Sequence[Upload],
    note: str,
    store: FileStore,
    max_bytes: int,
    keep_other_files: bool = True,
    expected_version: int | None = None,
) -> StatementVersion:
    """Add a new version of the statement's documents. Does not commit.

    A draft gets a new draft version; a statement awaiting review gets its pending version
    replaced (it stays in the queue); after changes were requested, the new version waits
    for "resubmit"; a published statement gets a correction that goes to moderation
    while the published version stays public. Files of the previous version that are not
    replaced (translations, annexes) are carried over when `keep_other_files`: a new
    original replaces the original, a new translation the translation in its language.
    After a rejected correction, the published version is the one built on. Files are
    ordered original, translations, annexes.
    Raises PermissionDenied, ConflictError (the statement changed since `expected_version`),
    WorkflowError or UploadError.
    """
    if author.organisation_id != statement.organisation_id or not can_submit(author):
        raise PermissionDenied("Only members of the statement's organisation can upload new versions.")
    if expected_version is not None and expected_version != statement.version:
        raise ConflictError(
            "This statement changed after you opened it "
            f"(it is now {statement.status.label.lower()}). Nothing was uploaded; please look at it again."
        )
    if statement.pending_correction is not None:
        raise WorkflowError("A correction is already awaiting review; please wait for the secretariat's decision.")
    if not accepts_new_version(statement):
        raise WorkflowError(f"A {statement.status.label.lower()} statement cannot receive new documents.")
    if not uploads:
        raise UploadError("Choose the document to upload.", field="document")
    note = (note or "").strip()
    if len(note) > 2000:
        raise ValidationError("The note must be at most 2000 characters.", field="note")
    now = utcnow()
    previous = statement.current_version
    base = previous
    if previous is not None and previous.status is VersionStatus.REJECTED and statement.published_version is not None:
        base = statement.published_version  # a rejected correction is not built on
    stored = [store_upload(u, store=store, max_bytes=max_bytes) for u in uploads]
    files = []
    if base is not None and keep_other_files:
        replaced_translations = {u.language for u in uploads if u.role is FileRole.TRANSLATION}
        new_roles = {u.role for u in uploads}
        files += [
            StatementFile(stored=f.stored, language=f.language, role=f.role)
            for f in base.files
            if not (f.role is FileRole.ORIGINAL and FileRole.ORIGINAL in new_roles)
            and not (f.role is FileRole.TRANSLATION and f.language in replaced_translations)
        ]
    files += [
        StatementFile(stored=document, language=u.language, role=u.role)
        for u, document in zip(uploads, stored, strict=True)
    ]
    # Originals first (the public "Download the document" is the original), then translations,
    # then annexes; within a role, earlier files first. sorted() is stable.
    files = sorted(files, key=lambda f: _ROLE_ORDER[f.role])
    for position, f in enumerate(files):
        f.position = position
    if statement.status in (StatementStatus.DRAFT, StatementStatus.CHANGES_REQUESTED):
        status, action = VersionStatus.DRAFT, "version.upload"
    elif statement.status is StatementStatus.SUBMITTED:
        status, action = VersionStatus.SUBMITTED, "version.replace"
    else:
        status, action = VersionStatus.SUBMITTED, "submit_correction"
    if previous is not None and previous.status in (VersionStatus.DRAFT, VersionStatus.SUBMITTED):
        previous.status = VersionStatus.SUPERSEDED
    version = StatementVersion(
        number=(previous.number + 1) if previous else 1,
        status=status,
        note=note,
        created_by=author,
        submitted_at=now if status is VersionStatus.SUBMITTED else None,
        files=files,
    )
    statement.versions.append(version)
    if action == "version.replace":
        statement.submitted_at = statement.submitted_at or now
    statement.updated_at = now  # bumps the version counter: an open review form goes stale
    db.session.flush()
    audit.record(
        statement,
        actor=author,
        action=action,
        old=statement.status.value,
        new=statement.status.value,
        note=note,
        data={"version": version.number, "files": [_file_data(f) for f in version.files]},
    )
    if action == "submit_correction":  # the moderators who asked hear that a correction waits
        notifications.statement_submitted(statement, correction=True)
    return version


_ROLE_ORDER = {FileRole.ORIGINAL: 0, FileRole.TRANSLATION: 1, FileRole.ANNEX: 2}


def _organisations(ids: Sequence[int], *, field: str) -> list[Organisation]:
    if not ids:
        return []
    found = list(
        db.session.scalars(
            sa.select(Organisation).where(
                Organisation.id.in_(set(ids)), Organisation.status == OrganisationStatus.APPROVED
            )
        )
    )
    if len(found) != len(set(ids)):
        raise ValidationError("Choose organisations from the list.", field=field)
    return sorted(found, key=lambda o: o.name)


def _file_data(f: StatementFile) -> dict[str, object]:
    return {
        "name": f.stored.original_name,
        "type": f.stored.content_type,
        "size": f.stored.size,
        "sha256": f.stored.sha256,
        "language": f.language.value,
        "role": f.role.value,
    }


def _clean_filename(filename: str) -> str:
    """A display name for the file: its last path component, printable, at most 255 characters."""
    name = PurePath((filename or "").replace("\\", "/")).name
    name = "".join(ch for ch in name if ch.isprintable()).strip()
    return name[:255] or "document"
