"""Administration pages: accounts, organisations and the audit log.

Administrators see everything. Moderators see the organisation pages, where they
approve, reject or merge proposed organisations; the rest answers them 403.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from flask_wtf import FlaskForm
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response

from portal import admin_accounts, audit, organisations, queries
from portal.admin.forms import (
    ORGANISATION_FORMS,
    ROLE_LABELS,
    AuditFilterForm,
    DeactivateUserForm,
    MergeOrganisationForm,
    OrganisationActionForm,
    OrganisationFilterForm,
    ReactivateUserForm,
    ResetTwoFactorForm,
    RoleForm,
    UserFilterForm,
)
from portal.enums import MODERATORS, OrganisationKind, OrganisationStatus, Role
from portal.exceptions import PermissionDenied, PortalError
from portal.extensions import db
from portal.models import AuditEvent, Organisation, RecoveryCode, Statement, User
from portal.permissions import role_required

bp = Blueprint("admin", __name__, url_prefix="/admin")


# --- helpers --------------------------------------------------------------------------------


def _page_arg() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < int(raw) < 100_000 else 1


def _contains(column: Any, text: str) -> Any:
    """Case-insensitive substring match on both backends, with LIKE's wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"%{escaped}%", escape="\\")


def _paginate(query: sa.Select[Any]) -> Any:
    return db.paginate(query, page=_page_arg(), per_page=current_app.config["PORTAL_PAGE_SIZE"], error_out=False)


def _show_error(form: FlaskForm, exc: PortalError) -> None:
    """Put a domain error on the field it names; one about the whole action goes at the top of the page.

    (A refusal because of the object's state may come with the form no longer shown,
    e.g. a stale "Reject" on an organisation approved meanwhile, so it cannot sit on the form.)
    """
    field = getattr(form, exc.field, None) if exc.field else None
    if field is not None and hasattr(field, "errors"):
        field.errors = [*field.errors, exc.message]
    else:
        flash(exc.message, "error")


def _lock(query: sa.Select[Any]) -> sa.Select[Any]:
    # Loaded FOR UPDATE and refreshed, so a second moderator acting on the same object
    # waits for the first to commit and then sees what was decided (PostgreSQL).
    return query.with_for_update().execution_options(populate_existing=True)


# --- index ----------------------------------------------------------------------------------


@bp.get("/")
@role_required(Role.ADMIN)
def index() -> str:
    """Where the administration pages are, with what awaits attention."""
    users_by_role = dict(
        db.session.execute(sa.select(User.role, sa.func.count()).where(User.active.is_(True)).group_by(User.role)).all()
    )
    pending = db.session.scalar(
        sa.select(sa.func.count()).select_from(Organisation).where(Organisation.status == OrganisationStatus.PENDING)
    )
    return render_template(
        "admin/index.html",
        users_by_role=[(ROLE_LABELS[r], users_by_role.get(r, 0)) for r in Role],
        pending=pending or 0,
        audit_total=db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) or 0,
    )


# --- accounts -------------------------------------------------------------------------------


@bp.get("/users")
@role_required(Role.ADMIN)
def users() -> tuple[str, int]:
    """Accounts, filtered by role, state, organisation and a text search, by name."""
    with_members = db.session.scalars(
        sa.select(Organisation).where(Organisation.id.in_(sa.select(User.organisation_id))).order_by(Organisation.name)
    ).all()
    form = UserFilterForm(request.args, organisations=with_members)
    query = sa.select(User).options(selectinload(User.organisation)).order_by(sa.func.lower(User.name), User.id)
    valid = form.validate()
    if valid:
        if form.q.data and form.q.data.strip():
            text = form.q.data.strip()
            query = query.where(sa.or_(_contains(User.name, text), _contains(User.email, text)))
        if form.role.data:
            query = query.where(User.role == Role(form.role.data))
        if form.active.data:
            query = query.where(User.active.is_(form.active.data == "yes"))
        if form.organisation.data == "none":
            query = query.where(User.organisation_id.is_(None))
        elif form.organisation.data:
            query = query.where(User.organisation_id == int(form.organisation.data))
    page = _paginate(query) if valid else None
    return (
        render_template("admin/users.html", form=form, page=page, filters=form.active_filters(), role_labels=ROLE_LABELS),
        200 if valid else 400,
    )


def _user_or_404(user_id: int, *, for_update: bool = False) -> User:
    query = sa.select(User).where(User.id == user_id)
    user = db.session.scalar(_lock(query) if for_update else query)
    if user is None:
        abort(404)
    return user



def _render_user(user: User, forms: dict[str, FlaskForm] | None = None, status: int = 200) -> tuple[str, int]:
    forms = dict(forms or {})
    if "role" not in forms:
        role_form = RoleForm(organisations=queries.approved_organisations(), formdata=None)
        role_form.role.data = user.role.value
        forms["role"] = role_form
    forms.setdefault("deactivate", DeactivateUserForm(formdata=None))
    forms.setdefault("reactivate", ReactivateUserForm(formdata=None))
    forms.setdefault("reset_2fa", ResetTwoFactorForm(formdata=None))
    recovery_codes = db.session.scalar(
        sa.select(sa.func.count()).select_from(RecoveryCode).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    )
    history = db.session.scalars(audit.events_for(user).order_by(None).order_by(AuditEvent.id.desc())).all()
    return (
        render_template(
            "admin/user.html",
            user=user,
            forms=forms,
            recovery_codes=recovery_codes or 0,
            history=history,
            role_labels=ROLE_LABELS,
            is_self=user.id == current_user.id,
        ),
        status,
    )


@bp.get("/users/<int:user_id>")
@role_required(Role.ADMIN)
def user(user_id: int) -> tuple[str, int]:
    """One account: its details, the actions on it and its history."""
    return _render_user(_user_or_404(user_id))


def _account_action(user_id: int, name: str, form: FlaskForm, act: Any, done: str) -> Response | tuple[str, int]:
    """Load, validate, act, commit, redirect; on a refusal, the page again with the message on the form."""
    user = _user_or_404(user_id, for_update=True)
    if not form.validate():
        db.session.rollback()
        return _render_user(_user_or_404(user_id), {name: form}, 400)
    try:
        act(user)
    except PermissionDenied:
        db.session.rollback()
        abort(403)
    except PortalError as exc:
        db.session.rollback()
        _show_error(form, exc)
        return _render_user(_user_or_404(user_id), {name: form}, 400)
    db.session.commit()
    flash(done.format(name=user.name, email=user.email), "success")
    if not (current_user.is_authenticated and current_user.is_admin):  # demoted themself
        return redirect(url_for("public.index"))
    return redirect(url_for("admin.user", user_id=user_id))


@bp.post("/users/<int:user_id>/role")
@role_required(Role.ADMIN)
def change_role(user_id: int) -> Response | tuple[str, int]:
    """Give an account another role."""
    form = RoleForm(organisations=queries.approved_organisations())

    def act(user: User) -> None:
        organisation = db.session.get(Organisation, form.organisation_id.data) if form.organisation_id.data else None
        admin_accounts.change_role(user, Role(form.role.data), actor=current_user, organisation=organisation)

    label = {r.value: text.lower() for r, text in ROLE_LABELS.items()}.get(form.role.data or "", "")
    return _account_action(user_id, "role", form, act, f"{{name}} ({{email}}) is now {label}.")


@bp.post("/users/<int:user_id>/deactivate")
@role_required(Role.ADMIN)
def deactivate_user(user_id: int) -> Response | tuple[str, int]:
    """Deactivate an account; its sessions end."""
    form = DeactivateUserForm()
    return _account_action(
        user_id,
        "deactivate",
        form,
        lambda user: admin_accounts.deactivate_user(user, actor=current_user, note=form.note.data or ""),
        "The account of {name} ({email}) was deactivated and signed out everywhere.",
    )


@bp.post("/users/<int:user_id>/reactivate")
@role_required(Role.ADMIN)
def reactivate_user(user_id: int) -> Response | tuple[str, int]:
    """Let a deactivated account sign in again."""
    form = ReactivateUserForm()
    return _account_action(
        user_id,
        "reactivate",
        form,
        lambda user: admin_accounts.reactivate_user(user, actor=current_user, note=form.note.data or ""),
        "The account of {name} ({email}) was reactivated.",
    )


@bp.post("/users/<int:user_id>/reset-two-factor")
@role_required(Role.ADMIN)
def reset_two_factor(user_id: int) -> Response | tuple[str, int]:
    """Remove an account's second factor, so its owner can set up a new one."""
    form = ResetTwoFactorForm()
    return _account_action(
        user_id,
        "reset_2fa",
        form,
        lambda user: admin_accounts.reset_two_factor(user, actor=current_user),
        "The two-factor authentication of {name} ({email}) was reset; they set up a new one at their next sign-in.",
    )


# --- organisations --------------------------------------------------------------------------


@bp.get("/organisations")
@role_required(*MODERATORS)
def organisations_list() -> tuple[str, int]:
    """Organisations, those awaiting approval first, filtered by status, kind and a text search."""
    form = OrganisationFilterForm(request.args)
    members = (
        sa.select(User.organisation_id, sa.func.count().label("n")).group_by(User.organisation_id).subquery()
    )
    query = (
        sa.select(Organisation, sa.func.coalesce(members.c.n, 0))
        .outerjoin(members, members.c.organisation_id == Organisation.id)
        .order_by(
            sa.case((Organisation.status == OrganisationStatus.PENDING, 0), else_=1),
            sa.func.lower(Organisation.name),
            Organisation.id,
        )
    )
    valid = form.validate()
    if valid:
        if form.q.data and form.q.data.strip():
            text = form.q.data.strip()
            query = query.where(
                sa.or_(_contains(Organisation.name, text), _contains(Organisation.acronym, text), _contains(Organisation.code, text))
            )
        if form.status.data:
            query = query.where(Organisation.status == OrganisationStatus(form.status.data))
        if form.kind.data:
            query = query.where(Organisation.kind == OrganisationKind(form.kind.data))
    counts = dict.fromkeys(OrganisationStatus, 0)
    counts.update(
        dict(db.session.execute(sa.select(Organisation.status, sa.func.count()).group_by(Organisation.status)).all())
    )
    page = None
    if valid:
        # db.paginate returns only the first column of a multi-column select; count and slice by hand.
        total = db.session.scalar(sa.select(sa.func.count()).select_from(query.order_by(None).subquery())) or 0
        per_page = current_app.config["PORTAL_PAGE_SIZE"]
        number = _page_arg()
        rows = db.session.execute(query.limit(per_page).offset((number - 1) * per_page)).all()
        page = {"rows": rows, "total": total, "page": number, "pages": max(1, -(-total // per_page))}
    return (
        render_template(
            "admin/organisations.html",
            form=form,
            page=page,
            counts=counts,
            filters=form.active_filters(),
            current_status=form.status.data if valid else "",
        ),
        200 if valid else 400,
    )


def _organisation_or_404(organisation_id: int, *, for_update: bool = False) -> Organisation:
    query = sa.select(Organisation).where(Organisation.id == organisation_id)
    organisation = db.session.scalar(_lock(query) if for_update else query)
    if organisation is None:
        abort(404)
    return organisation


def _organisation_form(action: str, organisation: Organisation, **kwargs: Any) -> OrganisationActionForm:
    form_class = ORGANISATION_FORMS[action]
    if form_class is MergeOrganisationForm:
        targets = db.session.scalars(organisations.merge_targets(organisation)).all()
        return MergeOrganisationForm(action, targets=targets, **kwargs)
    return form_class(action, **kwargs)


def _render_organisation(
    organisation: Organisation, submitted: OrganisationActionForm | None = None, status: int = 200
) -> tuple[str, int]:
    forms = []
    for action in organisations.allowed_actions(organisation, current_user):
        if submitted is not None and submitted.action == action:
            forms.append(submitted)
            continue
        form = _organisation_form(action, organisation, formdata=None)
        if action == "rename":
            form.name.data = organisation.name  # type: ignore[attr-defined]  # a RenameOrganisationForm
        forms.append(form)
    members = db.session.scalars(
        sa.select(User).where(User.organisation_id == organisation.id).order_by(sa.func.lower(User.name), User.id)
    ).all()
    statements = db.session.scalar(
        sa.select(sa.func.count()).select_from(Statement).where(Statement.organisation_id == organisation.id)
    )
    merged_here = db.session.scalars(
        sa.select(Organisation).where(Organisation.merged_into_id == organisation.id).order_by(Organisation.name)
    ).all()
    history = db.session.scalars(audit.events_for(organisation).order_by(None).order_by(AuditEvent.id.desc())).all()
    return (
        render_template(
            "admin/organisation.html",
            organisation=organisation,
            forms=forms,
            members=members,
            statements=statements or 0,
            merged_here=merged_here,
            history=history,
            role_labels=ROLE_LABELS,
        ),
        status,
    )


@bp.get("/organisations/<int:organisation_id>")
@role_required(*MODERATORS)
def organisation(organisation_id: int) -> tuple[str, int]:
    """One organisation: details, members, the actions open to the viewer, history."""
    return _render_organisation(_organisation_or_404(organisation_id))


@bp.post("/organisations/<int:organisation_id>/<action>")
@role_required(*MODERATORS)
def organisation_action(organisation_id: int, action: str) -> Response | tuple[str, int]:
    """Approve, reject, merge, rename, deactivate or reactivate an organisation."""
    spec = organisations.ACTIONS.get(action)
    if spec is None:
        abort(404)
    if current_user.role not in spec.roles:
        abort(403)
    # A merge locks both organisations below, in id order, so two opposite merges cannot deadlock.
    organisation = _organisation_or_404(organisation_id, for_update=action != "merge")
    form: Any = _organisation_form(action, organisation)  # the form class of `action`: its fields vary
    if not form.validate():
        db.session.rollback()
        return _render_organisation(_organisation_or_404(organisation_id), form, 400)
    target: Organisation | None = None
    try:
        if action == "approve":
            organisations.approve_organisation(organisation, actor=current_user)
        elif action == "reject":
            organisations.reject_organisation(organisation, actor=current_user, reason=form.reason.data or "")
        elif action == "rename":
            organisations.rename_organisation(organisation, actor=current_user, name=form.name.data or "")
        elif action == "merge":
            ids = sorted({organisation.id, form.target_id.data})
            query = sa.select(Organisation).where(Organisation.id.in_(ids)).order_by(Organisation.id)
            locked = {o.id: o for o in db.session.scalars(_lock(query))}
            target = locked.get(form.target_id.data)
            organisations.merge_organisation(organisation, target, actor=current_user)
        elif action == "deactivate":
            organisations.deactivate_organisation(organisation, actor=current_user, note=form.note.data or "")
        else:
            organisations.reactivate_organisation(organisation, actor=current_user, note=form.note.data or "")
    except PermissionDenied:
        db.session.rollback()
        abort(403)
    except PortalError as exc:
        db.session.rollback()
        _show_error(form, exc)
        return _render_organisation(_organisation_or_404(organisation_id), form, 400)
    db.session.commit()
    if target is not None:
        flash(f"“{organisation.name}” was merged into “{target.name}”; its members and statements now belong there.", "success")
        return redirect(url_for("admin.organisation", organisation_id=target.id))
    flash(f"“{organisation.name}” was {spec.past}.", "success")
    return redirect(url_for("admin.organisation", organisation_id=organisation.id))


# --- audit log ------------------------------------------------------------------------------


@bp.get("/audit")
@role_required(Role.ADMIN)
def audit_log() -> tuple[str, int]:
    """The audit trail, newest first, filtered by actor, object, action and dates."""
    actions = db.session.scalars(sa.select(AuditEvent.action).distinct().order_by(AuditEvent.action)).all()
    object_types = db.session.scalars(sa.select(AuditEvent.object_type).distinct().order_by(AuditEvent.object_type)).all()
    form = AuditFilterForm(request.args, actions=actions, object_types=object_types)
    query = sa.select(AuditEvent).order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
    valid = form.validate()
    if valid:
        if form.actor.data and form.actor.data.strip():
            query = query.where(_contains(AuditEvent.actor_label, form.actor.data.strip()))
        if form.object_type.data:
            query = query.where(AuditEvent.object_type == form.object_type.data)
        if form.object.data and form.object.data.strip():
            text = form.object.data.strip()
            match = _contains(AuditEvent.object_ref, text)
            if text.isdigit() and len(text) < 10:
                match = sa.or_(AuditEvent.object_id == int(text), match)
            query = query.where(match)
        if form.action.data:
            query = query.where(AuditEvent.action == form.action.data)
        if form.since.data:
            query = query.where(AuditEvent.created_at >= datetime.combine(form.since.data, time.min, tzinfo=UTC))
        if form.until.data:
            query = query.where(AuditEvent.created_at < datetime.combine(form.until.data + timedelta(days=1), time.min, tzinfo=UTC))
    page = _paginate(query) if valid else None
    rows = [(e, json.dumps(e.data, ensure_ascii=False, sort_keys=True) if e.data else "") for e in (page.items if page else [])]
    return (
        render_template("admin/audit.html", form=form, page=page, rows=rows, filters=form.active_filters()),
        200 if valid else 400,
    )
