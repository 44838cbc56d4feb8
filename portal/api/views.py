"""Routes of the open JSON API (GET only) and its human-readable guide at /api.

Thin adapters: arguments are checked against the OpenAPI document's parameter schemas,
read by portal.listing.parse_args(), and answered from portal.listing and portal.queries,
which start from queries.public_statements(): nothing unpublished ever reaches the API.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, render_template, request, url_for
from markupsafe import Markup, escape
from sqlalchemy.orm import selectinload
from werkzeug.wrappers import Response

from portal import listing, queries, search
from portal.api import errors, openapi, serialize
from portal.extensions import db
from portal.models import MeetingSession, Statement, StatementFile, StatementVersion

bp = Blueprint("api", __name__)
errors.register(bp)
bp.after_request(errors.add_cors)

# The query parameters each endpoint takes (the guide at /api takes any and ignores them).
ARGUMENTS: dict[str, tuple[str, ...]] = {
    "api.sessions": (),
    "api.statements": openapi.STATEMENTS_QUERY,
    "api.statement": (),
    "api.openapi": (),
}


@bp.url_value_preprocessor
def check_request(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """Refuse a request that the OpenAPI document calls invalid (400; 404 for a malformed
    statement id), before anything else answers it.

    URL value preprocessors run before every before_request hook, so no cache in front of the
    views can answer 304 to a request that is in error. Checks the request only: what needs
    the database (does this id exist?) is left to the views. OPTIONS (CORS preflight) is
    answered whatever the query.
    """
    if endpoint not in ARGUMENTS or request.method == "OPTIONS":
        return
    openapi.check_query(request.args, allowed=ARGUMENTS[endpoint])
    public_id = (values or {}).get("public_id")
    if public_id is not None and not _looks_like_public_id(public_id):
        abort(404, description=_no_statement(public_id))


def _json(body: dict[str, Any]) -> Response:
    return current_app.json.response(body)


# --- sessions ------------------------------------------------------------------------------------


@bp.get("/api/v1/sessions")
def sessions() -> Response:
    """Every meeting session, with its programme, count of published statements and links."""
    rows = queries.sessions_with_counts()
    _load_programmes([s for s, _ in rows])
    data = [serialize.session(s, n) for s, n in rows]
    return _json({"data": data, "links": {"self": url_for("api.sessions", _external=True)}, "meta": {"count": len(data)}})


def _load_programmes(sessions: list[MeetingSession]) -> None:
    """Load the areas and panels of `sessions` in two queries (not two per session)."""
    if sessions:
        db.session.scalars(
            sa.select(MeetingSession)
            .where(MeetingSession.id.in_([s.id for s in sessions]))
            .options(selectinload(MeetingSession.areas), selectinload(MeetingSession.panels))
        ).all()


# --- statements ----------------------------------------------------------------------------------

_FILTER_NAMES = {
    "session": "session_id",
    "area": "area_id",
    "panel": "panel_id",
    "organisation": "organisation_id",
    "organisation_kind": "organisation_kind",
    "language": "language",
    "kind": "kind",
}


@bp.get("/api/v1/statements")
def statements() -> Response:
    """One page of published statements: filtered and sorted, or searched with `q`."""
    params = listing.parse_args(request.args, allowed=openapi.STATEMENTS_QUERY)  # checked by check_request
    with _unknown_references():
        listing.check_filters_exist(params.filters)
        for name, cursor in (("after", params.after), ("before", params.before)):
            if cursor:
                _check_cursor(name, cursor)
        page = _searched(params) if params.q else _listed(params)

    given = {name: value for name, value in request.args.items() if name not in ("after", "before")}
    return _json(
        {
            "data": page.data,
            "links": {
                "self": url_for("api.statements", **request.args, _external=True),
                "next": url_for("api.statements", **given, after=page.next, _external=True) if page.next else None,
                "previous": url_for("api.statements", **given, before=page.previous, _external=True)
                if page.previous
                else None,
            },
            "meta": {
                "count": len(page.data),
                "limit": params.limit,
                "sort": page.sort,
                "q": params.q or None,
                "total": page.total,
                "more": page.more,
                "filters": _filters(params.filters),
            },
        }
    )


@dataclass
class _Page:
    data: list[dict[str, Any]]
    next: str | None
    previous: str | None
    sort: str
    total: int | None = None
    more: bool | None = None


def _listed(params: listing.Params) -> _Page:
    page = listing.list_public(params.filters, sort=params.sort, after=params.after, before=params.before, limit=params.limit)
    data = [serialize.statement_summary(s) for s in page.statements]
    return _Page(data, page.next_cursor, page.previous_cursor, params.sort.value)


def _searched(params: listing.Params) -> _Page:
    result, next_cursor, previous_cursor = listing.search_page(params, options=listing.SEARCH_LISTING_OPTIONS)
    listing.load_details([hit.statement for hit in result.results])
    start = (result.page - 1) * result.per_page
    data = []
    for position, hit in enumerate(result.results, start=start + 1):
        item = serialize.statement_summary(hit.statement)
        item["search"] = serialize.search_match(position, hit.snippet)
        data.append(item)
    return _Page(data, next_cursor, previous_cursor, "relevance", result.total, result.more)


@contextmanager
def _unknown_references() -> Iterator[None]:
    """The arguments passed check_request(), so what listing refuses now names nothing: a 404."""
    try:
        yield
    except listing.InvalidParameter as exc:
        raise errors.UnknownReference(exc.name, exc.message) from None


def _filters(filters: search.SearchFilters) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, attribute in _FILTER_NAMES.items():
        value = getattr(filters, attribute)
        out[name] = value.value if hasattr(value, "value") else value
    return out


def _check_cursor(name: str, cursor: str) -> None:
    """InvalidParameter for a cursor whose values could not reach the database intact: text
    with NUL or lone surrogates (PostgreSQL and the drivers refuse them), or a time that
    overflows when turned to UTC. listing checks the rest (shape, types, ranges)."""
    payload = listing.decode_cursor(cursor, name)
    pending: list[Any] = [payload]
    while pending:
        value = pending.pop()
        if isinstance(value, dict):
            pending += list(value.keys()) + list(value.values())
        elif isinstance(value, list):
            pending += value
        elif isinstance(value, str) and not _storable(value):
            raise listing.InvalidParameter(name, "The cursor is not valid: use the cursor from a previous response unchanged.")


def _storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return True
    try:
        (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    except (OverflowError, ValueError):
        return False
    return True


@bp.get("/api/v1/statements/<public_id>")
def statement(public_id: str) -> Response:
    """One published statement with the files of its published version; 404 for anything else."""
    found = queries.public_statement_by_public_id(public_id)
    if found is not None:
        _load_versions(found)
    if found is None or found.published_version is None:  # approved statements always have one
        abort(404, description=_no_statement(public_id))
    self_url = url_for("api.statement", public_id=found.public_id, _external=True)
    return _json({"data": serialize.statement(found), "links": {"self": self_url}})


_PUBLIC_ID = re.compile(openapi.PUBLIC_ID_PATTERN)


def _looks_like_public_id(text: str) -> bool:
    return _PUBLIC_ID.fullmatch(text) is not None  # fullmatch: Python's $ would allow a final newline


def _no_statement(public_id: str) -> str:
    return f"No published statement has the id {public_id[:40]!r}."


def _load_versions(found: Statement) -> None:
    db.session.scalars(
        sa.select(Statement)
        .where(Statement.id == found.id)
        .options(
            *listing.LISTING_OPTIONS,
            selectinload(Statement.versions).selectinload(StatementVersion.files).selectinload(StatementFile.stored),
        )
    ).all()


# --- the document and the guide ------------------------------------------------------------------


@bp.get("/api/v1/openapi.json", endpoint="openapi")
def openapi_document() -> Response:
    """The OpenAPI 3.1 document of this API."""
    return _json(openapi.document(server_url=request.script_root or "/"))


@bp.get("/api", strict_slashes=False)
def docs() -> str:
    """The human-readable guide to the API, its reference part drawn from the OpenAPI document."""
    document = openapi.document(server_url=request.script_root or "/")
    return render_template(
        "api/index.html",
        document=document,
        parameters=_parameters,
        values=_values_text,
        inline=_inline_code,
        example=_example_ids(),
        limits={"default": listing.DEFAULT_LIMIT, "max": listing.MAX_LIMIT, "search": listing.MAX_SEARCH_RESULTS},
    )


def _resolve(document: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in item:
        _, _, kind, name = item["$ref"].split("/")
        item = document["components"][kind][name]
    return item


def _parameters(document: dict[str, Any], operation: dict[str, Any]) -> list[dict[str, Any]]:
    """The operation's parameters as the guide lists them: references resolved, and an exploded
    object (the statements query) as one parameter per property."""
    out = []
    for parameter in operation.get("parameters", []):
        parameter = _resolve(document, parameter)
        schema = _resolve(document, parameter["schema"])
        if parameter.get("explode") and schema.get("type") == "object":
            for name, property_schema in schema["properties"].items():
                out.append({"name": name, "in": parameter["in"], "required": False,
                            "description": property_schema.get("description", ""), "schema": property_schema})
        else:
            out.append({**parameter, "schema": schema})
    return out


def _values_text(schema: dict[str, Any]) -> Markup:
    """What values a parameter schema allows, in words."""
    if "enum" in schema:
        text = Markup("one of ") + Markup(", ").join(Markup("<code>{}</code>").format(v) for v in schema["enum"])
    elif schema.get("type") == "integer":
        text = Markup("whole number, {} to {}").format(schema["minimum"], schema["maximum"])
    elif "pattern" in schema and "minLength" in schema:
        text = Markup("cursor (letters, digits, <code>-</code>, <code>_</code>; at most {} characters)").format(schema["maxLength"])
    elif "pattern" in schema:
        text = Markup("text matching <code>{}</code>").format(schema["pattern"])
    elif "maxLength" in schema:
        text = Markup("text, at most {} characters").format(schema["maxLength"])
    else:
        text = Markup("text")
    if "default" in schema:
        text += Markup("; default <code>{}</code>").format(schema["default"])
    return text


_BACKTICKS = re.compile(r"`([^`]+)`")


def _inline_code(text: str) -> Markup:
    """`text` escaped, with `backticked` parts as <code>."""
    return Markup(_BACKTICKS.sub(lambda m: f"<code>{m.group(1)}</code>", str(escape(text))))


def _example_ids() -> dict[str, Any]:
    """A real session id and statement id for the guide's examples, when there are any."""
    first = db.session.scalars(queries.public_statements().limit(1)).first()
    return {"public_id": first.public_id if first else "ST-7K3Q-F9XM", "session_id": first.session_id if first else 1}
