"""Command-line adapters: each command calls operations, then commits once."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime

import click
import pyotp
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import AppGroup, with_appcontext

from portal import audit, demo, extract, mail, notifications, operations, search
from portal.enums import Role
from portal.exceptions import PortalError
from portal.extensions import db
from portal.models import ExtractionStatus, MeetingSession, Organisation, StoredFile, User
from portal.storage import get_store

users_cli = AppGroup("users", help="Manage user accounts.")
sessions_cli = AppGroup("sessions", help="Manage meeting sessions and their submission windows.")


def register_cli(app: Flask) -> None:
    app.cli.add_command(users_cli)
    app.cli.add_command(sessions_cli)
    app.cli.add_command(demo_command)
    app.cli.add_command(sweep_files_command)
    app.cli.add_command(digest_command)
    app.cli.add_command(demo_code_command)
    app.cli.add_command(reindex_command)


def find_organisation(name: str) -> Organisation:
    """An organisation by exact name (any case) or by code (ISO alpha-3, acronym). Raises ClickException."""
    needle = name.strip()
    organisation = db.session.scalar(
        sa.select(Organisation).where(sa.func.lower(Organisation.name) == needle.lower())
    ) or db.session.scalar(sa.select(Organisation).where(sa.func.upper(Organisation.code) == needle.upper()))
    if organisation is None:
        similar = db.session.scalars(
            sa.select(Organisation.name).where(Organisation.name.ilike(f"%{needle}%")).order_by(Organisation.name).limit(5)
        ).all()
        hint = f" Did you mean: {'; '.join(similar)}?" if similar else " Run `flask --app portal demo` to load the known organisations."
        raise click.ClickException(f"Unknown organisation {needle!r}.{hint}")
    return organisation


@users_cli.command("create")
@click.argument("email")
@click.option("--name", required=True, help="The person's full name.")
@click.option("--role", type=click.Choice([r.value for r in Role]), default=Role.SUBMITTER.value, show_default=True)
@click.option("--organisation", "organisation_name", help="Organisation name or code (required for submitters).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
def create_user_command(email: str, name: str, role: str, organisation_name: str | None, password_stdin: bool) -> None:
    """Create an active account for EMAIL."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    organisation = find_organisation(organisation_name) if organisation_name else None
    try:
        user = operations.create_user(
            email=email, name=name, password=password, role=Role(role), organisation=organisation, actor=None
        )
    except PortalError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from None
    db.session.commit()
    where = f" for {organisation.name}" if organisation else ""
    click.echo(f"Created {user.role.value} {user.email}{where}.")


@users_cli.command("list")
def list_users_command() -> None:
    """List accounts."""
    for user in db.session.scalars(sa.select(User).order_by(User.email)):
        organisation = user.organisation.name if user.organisation else "-"
        state = "active" if user.active else "inactive"
        click.echo(f"{user.email}\t{user.role.value}\t{organisation}\t{state}")


@sessions_cli.command("list")
def list_sessions_command() -> None:
    """List meeting sessions with their submission windows."""
    now = datetime.now(UTC)
    for s in db.session.scalars(sa.select(MeetingSession).order_by(MeetingSession.number)):
        window = "open" if s.is_open(now) else "closed"
        opens = s.submissions_open_at.isoformat() if s.submissions_open_at else "-"
        closes = s.submissions_close_at.isoformat() if s.submissions_close_at else "-"
        click.echo(f"{s.number}\t{s.slug}\t{len(s.areas)} areas\t{window}\topens {opens}\tcloses {closes}")


def _parse_utc(value: str | None, option: str) -> datetime | None:
    if value is None or value.lower() == "none":
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO date or date-time (e.g. 2027-05-08T09:00).", param_hint=option) from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


@sessions_cli.command("window")
@click.argument("number", type=int)
@click.option("--opens", help="Opening time, ISO format in UTC; 'now' or 'none'.")
@click.option("--closes", help="Closing time, ISO format in UTC; 'now' or 'none' (open-ended).")
def session_window_command(number: int, opens: str | None, closes: str | None) -> None:
    """Set when session NUMBER accepts submissions."""
    meeting_session = db.session.scalar(sa.select(MeetingSession).where(MeetingSession.number == number))
    if meeting_session is None:
        raise click.ClickException(f"There is no session number {number}.")
    now = datetime.now(UTC)
    before = (meeting_session.submissions_open_at, meeting_session.submissions_close_at)
    if opens is not None:
        meeting_session.submissions_open_at = now if opens == "now" else _parse_utc(opens, "--opens")
    if closes is not None:
        meeting_session.submissions_close_at = now if closes == "now" else _parse_utc(closes, "--closes")
    o, c = meeting_session.submissions_open_at, meeting_session.submissions_close_at
    if o is not None and c is not None and c <= o:
        raise click.ClickException("The closing time must be after the opening time.")
    audit.record(
        meeting_session,
        actor=None,
        action="session.window",
        data={
            "before": [v.isoformat() if v else None for v in before],
            "after": [v.isoformat() if v else None for v in (o, c)],
        },
    )
    db.session.commit()
    click.echo(f"{meeting_session.label}: {'open' if meeting_session.is_open(now) else 'closed'} for submissions.")


@click.command("demo")
@with_appcontext
@click.option("--users", "with_users", is_flag=True, help="Also create demo accounts with a known password.")
@click.option("--no-open", is_flag=True, help="Do not open submission windows.")
def demo_command(with_users: bool, no_open: bool) -> None:
    """Load the GCM 2017 sessions, areas, panels and organisations (idempotent)."""
    report = demo.load_catalogue(open_submissions=not no_open)
    if report.created:
        # Areas and panels added to an existing session have no audit row of their own, and
        # public pages show them: this one tells cached pages they are out of date.
        audit.record_site(actor=None, action="catalogue.load", data=dict(report.created))
    accounts = demo.load_demo_users() if with_users else []
    db.session.commit()
    click.echo(f"Demo data: {report.summary()}.")
    if accounts:
        click.echo("Demo accounts (sign in at /sign-in):")
        for email, password, role, organisation, totp_key in accounts:
            where = f", {organisation}" if organisation else ""
            click.echo(f"  {role.value:<10} {email}  password: {password}{where}")
            if totp_key:
                click.echo(
                    f"             two-factor key: {totp_key} (add it to an authenticator app, or get the "
                    f"current code with: PORTAL_ENV=development .venv/bin/flask --app portal demo-code {email})"
                )


@click.command("demo-code")
@with_appcontext
@click.argument("email")
def demo_code_command(email: str) -> None:
    """Print the current two-factor code of a demo account (development only)."""
    if current_app.config["PORTAL_ENV"] != "development":
        raise click.ClickException("demo-code only works with PORTAL_ENV=development.")
    user = db.session.scalar(sa.select(User).where(User.email == email.strip().lower()))
    if user is None or not user.email.endswith(".example") or not user.totp_secret:
        raise click.ClickException(f"{email} is not a demo account with two-factor authentication.")
    click.echo(pyotp.TOTP(user.totp_secret).now())


@click.command("sweep-files")
@with_appcontext
@click.option("--dry-run", is_flag=True, help="Only list what would be removed.")
@click.option(
    "--min-age",
    type=click.IntRange(min=0),
    default=60,
    show_default=True,
    help="Minutes a file must have existed, so uploads still in progress are left alone.",
)
def sweep_files_command(dry_run: bool, min_age: int) -> None:
    """Remove stored files that no database row refers to (left by a crash)."""
    store = get_store()
    cutoff = time.time() - min_age * 60
    known = set(db.session.scalars(sa.select(StoredFile.storage_key)))
    orphans = [key for key in store.keys() if key not in known and store.path(key).stat().st_mtime <= cutoff]
    for key in orphans:
        click.echo(f"{'would remove' if dry_run else 'removing'} {key}")
        if not dry_run:
            store.delete(key)
    partial = [p for p in store.incoming() if p.stat().st_mtime <= cutoff]
    for path in partial:
        click.echo(f"{'would remove' if dry_run else 'removing'} unfinished upload {path.name}")
        if not dry_run:
            path.unlink(missing_ok=True)
    verb = "found" if dry_run else "removed"
    click.echo(f"{len(orphans)} orphaned file(s) and {len(partial)} unfinished upload(s) {verb}.")


@click.command("reindex")
@with_appcontext
@click.option("--index-only", is_flag=True, help="Keep the extracted texts; only rebuild the search index.")
def reindex_command(index_only: bool) -> None:
    """Extract the text of every stored file again and rebuild the search index."""
    if not index_only:
        counts = extract.reextract_all(get_store())
        summary = ", ".join(f"{counts.get(status, 0)} {status.value}" for status in ExtractionStatus)
        click.echo(f"Extracted the text of {sum(counts.values())} file(s): {summary}.")
    indexed = search.rebuild_index()
    # Search results change without any statement changing: recorded, so cached pages are refreshed.
    audit.record_site(actor=None, action="search.reindex", data={"indexed": indexed, "texts_extracted": not index_only})
    db.session.commit()
    click.echo(f"Indexed {indexed} published statement(s).")


@click.command("digest")
@with_appcontext
@click.option("--hours", type=click.IntRange(min=1), default=24, show_default=True, help="What counts as new: joined the queue within this many hours.")
def digest_command(hours: int) -> None:
    """E-mail each moderator who asked for it a summary of what waits for review (run daily from cron)."""
    recipients = notifications.digest_recipients()
    if not recipients:
        click.echo("No moderator asked for the daily digest: nothing sent.")
        return
    summary = notifications.digest(hours=hours)
    if summary.is_empty:
        click.echo("Nothing is waiting for review: no digest sent.")
        return
    failed = []
    for user in recipients:
        try:
            mail.send_now(notifications.digest_mail(user, summary))
        except Exception as exc:  # one bad address or a busy server must not stop the others
            failed.append(f"{user.email} ({exc})")
    sent = len(recipients) - len(failed)
    click.echo(
        f"Digest sent to {sent} moderator{'s' if sent != 1 else ''}: {summary.counts.by_status['submitted']} awaiting review, "
        f"{summary.counts.by_status['correction']} correction{'s' if summary.counts.by_status['correction'] != 1 else ''}, "
        f"{summary.recent_total} new in the last {hours} hours."
    )
    if failed:
        raise click.ClickException(f"Could not send the digest to: {'; '.join(failed)}")
