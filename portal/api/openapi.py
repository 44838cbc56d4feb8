"""The OpenAPI 3.1 document of the JSON API, and the checking of requests against it.

The query schemas below are both published in the document and enforced by `check_query()`
(before anything else answers the request), so what the document calls valid is exactly
what the API accepts: a request the document refuses is a 400 naming the parameter. The
statements listing takes its query as one object (`style: form, explode: true`: each
property is its own query parameter) so that the document can state the two combinations
that are refused: `q` with `sort`, and `after` with `before`.

What no schema can express, an id that names nothing or a cursor this API did not make (or
made for another order), is a 404 naming the parameter: nothing exists at that address.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, Sequence
from typing import Any

from portal import listing, search
from portal.enums import FileRole, Language, OrganisationKind, StatementKind

TITLE = "Stakeholder Inputs Portal: open data API"
VERSION = "1.0.0"

# Crockford base 32 without I, L, O, U (portal.models.statements.new_public_id).
PUBLIC_ID_PATTERN = "^ST-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$"
CURSOR_PATTERN = "^[A-Za-z0-9_-]+$"

ERROR_CODES = ("invalid_parameter", "not_found", "method_not_allowed", "bad_request", "internal_error", "http_error")

# Pairs of statements-listing parameters that cannot be given together.
CONFLICTS: tuple[tuple[str, str, str], ...] = (
    ("q", "sort", "Search results ('q') are ranked by relevance; 'sort' cannot be combined with 'q'."),
    ("after", "before", "Give 'after' or 'before', not both."),
)


def _values(enum_type: Any) -> list[str]:
    return [member.value for member in enum_type]


def _id(what: str) -> dict[str, Any]:
    return {"type": "integer", "minimum": 1, "maximum": listing.MAX_ID, "description": what}


# --- the query of the statements listing: published in the document, enforced by check_query() -

_CURSOR = {"type": "string", "minLength": 1, "maxLength": listing.MAX_CURSOR_LENGTH, "pattern": CURSOR_PATTERN}

_QUERY: dict[str, tuple[dict[str, Any], str]] = {
    "session": (
        {"type": "integer", "minimum": 1, "maximum": listing.MAX_ID},
        "Only statements to this meeting session (its `id` in `/api/v1/sessions`). "
        "An id that names no session is a 404.",
    ),
    "area": (
        {"type": "integer", "minimum": 1, "maximum": listing.MAX_ID},
        "Only statements about this area of discussion (an area `id`). An id that names no area is a 404.",
    ),
    "panel": (
        {"type": "integer", "minimum": 1, "maximum": listing.MAX_ID},
        "Only statements delivered in this panel (a panel `id`). An id that names no panel is a 404.",
    ),
    "organisation": (
        {"type": "integer", "minimum": 1, "maximum": listing.MAX_ID},
        "Only statements by this organisation, delivered on its behalf, or co-signed by it "
        "(an organisation `id`). An id that names no public organisation is a 404.",
    ),
    "organisation_kind": (
        {"type": "string", "enum": _values(OrganisationKind)},
        "Only statements whose author is of this kind: "
        + "; ".join(f"`{k.value}` ({k.label})" for k in OrganisationKind)
        + ".",
    ),
    "language": (
        {"type": "string", "enum": _values(Language)},
        "Only statements in this language (ISO 639-1 code of a UN official language).",
    ),
    "kind": (
        {"type": "string", "enum": _values(StatementKind)},
        "Only statements of this kind: " + "; ".join(f"`{k.value}` ({k.label})" for k in StatementKind) + ".",
    ),
    "q": (
        {"type": "string", "maxLength": search.MAX_QUERY_LENGTH},
        "Full-text search of titles, organisations and document text, in web-search syntax: "
        'words must all match, `"a phrase"` must match as written, `OR` between two terms offers a '
        "choice, `-word` excludes. Results are ranked by relevance (best first) and each carries a "
        "`search` object with its rank and a snippet. Leading and trailing spaces are ignored; "
        "a blank `q` is no search. Cannot be combined with `sort` (a 400).",
    ),
    "sort": (
        {"type": "string", "enum": _values(listing.Sort), "default": listing.Sort.DATE.value},
        "Order of a listing without `q`: `date` (newest publication first) or `organisation` "
        "(organisation name A to Z, then newest first). Giving it together with `q` is a 400.",
    ),
    "after": (
        dict(_CURSOR),
        "The page after the one whose `links.next` gave this cursor. Use cursors unchanged, with the "
        "`sort` and `q` they were made for: a cursor this API did not make, or made for another order "
        "or search, is a 404. Not with `before` (a 400).",
    ),
    "before": (
        dict(_CURSOR),
        "The page before the one whose `links.previous` gave this cursor (same rules as `after`). "
        "Not with `after` (a 400).",
    ),
    "limit": (
        {"type": "integer", "minimum": 1, "maximum": listing.MAX_LIMIT, "default": listing.DEFAULT_LIMIT},
        f"How many statements per page, 1 to {listing.MAX_LIMIT}.",
    ),
}
QUERY_PARAMETERS: dict[str, dict[str, Any]] = {
    name: {**schema, "description": description} for name, (schema, description) in _QUERY.items()
}
STATEMENTS_QUERY = tuple(QUERY_PARAMETERS)
STATEMENTS_QUERY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": QUERY_PARAMETERS,
    "additionalProperties": False,
    "not": {"anyOf": [{"required": [a, b]} for a, b, _ in CONFLICTS]},
    "description": "The query parameters of the listing, each optional: "
    + ", ".join(f"`{name}`" for name in QUERY_PARAMETERS)
    + ". Any other parameter is a 400, as is a parameter given twice, `q` with `sort`, or `after` with `before`.",
}

_HEADER_PARAMETERS = {
    "IfNoneMatch": {
        "name": "If-None-Match",
        "in": "header",
        "required": False,
        "description": "An `ETag` from an earlier answer to the same URL: the answer is a 304 with no "
        "body while nothing public has changed since.",
        "schema": {"type": "string"},
    },
    "IfModifiedSince": {
        "name": "If-Modified-Since",
        "in": "header",
        "required": False,
        "description": "A `Last-Modified` from an earlier answer (an HTTP date): the answer is a 304 "
        "with no body while nothing public has changed since. Ignored when not a valid HTTP date, "
        "and when `If-None-Match` is given.",
        "schema": {"type": "string"},
    },
}


def _is_whole_number(raw: str) -> bool:
    return raw.isascii() and raw.isdigit()


def check_value(name: str, schema: Mapping[str, Any], raw: str) -> None:
    """InvalidParameter unless `raw`, as sent in the query string, is valid for `schema` (the
    subset of JSON Schema the query parameters use)."""
    shown = repr(raw[:40])
    if schema["type"] == "integer":
        low, high = schema["minimum"], schema["maximum"]
        if not _is_whole_number(raw) or len(raw) > len(str(high)) or not low <= int(raw) <= high:
            if high == listing.MAX_ID:
                raise listing.InvalidParameter(name, f"'{name}' must be a positive whole number (an id), not {shown}.")
            raise listing.InvalidParameter(name, f"'{name}' must be a whole number from {low} to {high}, not {shown}.")
        return
    if "enum" in schema and raw not in schema["enum"]:
        raise listing.InvalidParameter(name, f"'{name}' must be one of: {', '.join(schema['enum'])}; not {shown}.")
    if len(raw) > schema.get("maxLength", len(raw)):
        raise listing.InvalidParameter(name, f"'{name}' is too long: at most {schema['maxLength']} characters.")
    if len(raw) < schema.get("minLength", 0) or ("pattern" in schema and not re.fullmatch(schema["pattern"], raw)):
        if name in ("after", "before"):
            raise listing.InvalidParameter(name, "The cursor is not valid: use the cursor from a previous response unchanged.")
        raise listing.InvalidParameter(name, f"'{name}' is not valid: {shown}.")


def check_query(args: Any, allowed: Sequence[str] = ()) -> None:
    """InvalidParameter for an argument not in `allowed`, given more than once, whose value
    its schema in QUERY_PARAMETERS refuses, or given with one it conflicts with (CONFLICTS).
    `args` is a werkzeug MultiDict."""
    for name in args:
        if name not in allowed:
            known = f" Allowed: {', '.join(allowed)}." if allowed else " This address takes no parameters."
            raise listing.InvalidParameter(name, f"Unknown parameter '{name}'.{known}")
        values = args.getlist(name)
        if len(values) > 1:
            raise listing.InvalidParameter(name, f"Give '{name}' at most once.")
        check_value(name, QUERY_PARAMETERS[name], values[0])
    for first, second, message in CONFLICTS:
        if first in args and second in args:
            raise listing.InvalidParameter(second, message)


# --- the document ------------------------------------------------------------------------------


def _ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"#/components/{kind}/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    """`schema` or null (OpenAPI 3.1: a type list, or oneOf for a reference)."""
    if "$ref" in schema:
        return {"oneOf": [schema, {"type": "null"}]}
    out = dict(schema)
    out["type"] = [schema["type"], "null"]
    if "enum" in out:
        out["enum"] = [*out["enum"], None]
    return out


def _object(properties: dict[str, Any], description: str = "") -> dict[str, Any]:
    """A closed object whose properties are all present (absent values are null)."""
    schema: dict[str, Any] = {
        "type": "object",
        "required": list(properties),
        "properties": properties,
        "additionalProperties": False,
    }
    if description:
        schema["description"] = description
    return schema


_STRING = {"type": "string"}
_URL = {"type": "string", "format": "uri"}
_DATE = {"type": "string", "format": "date"}
_DATETIME = {"type": "string", "format": "date-time"}


def _schemas() -> dict[str, Any]:
    organisation = _object(
        {
            "id": _id("The organisation's id (the `organisation` filter)."),
            "name": _STRING,
            "kind": {"type": "string", "enum": _values(OrganisationKind)},
            "acronym": _nullable(_STRING),
        }
    )
    area = _object(
        {
            "id": _id("The area's id (the `area` filter)."),
            "code": {"type": "string", "description": "Its letter in the session's programme, e.g. `d`."},
            "title": _STRING,
        }
    )
    panel = _object(
        {
            "id": _id("The panel's id (the `panel` filter)."),
            "number": {"type": "integer"},
            "title": _STRING,
            "held_on": _nullable(_DATE),
        }
    )
    session_ref = _object(
        {
            "id": _id("The session's id (the `session` filter)."),
            "number": {"type": "integer"},
            "slug": _STRING,
            "title": _STRING,
            "short_title": _STRING,
        }
    )
    session = _object(
        {
            "id": _id("The session's id (the `session` filter)."),
            "number": {"type": "integer"},
            "slug": _STRING,
            "title": _STRING,
            "short_title": _STRING,
            "venue": _STRING,
            "city": _STRING,
            "start_date": _DATE,
            "end_date": _DATE,
            "submissions": _object(
                {"opens_at": _nullable(_DATETIME), "closes_at": _nullable(_DATETIME)},
                "When the session accepts submissions (UTC); null `opens_at`: not opened; null `closes_at`: "
                "until the secretariat closes it.",
            ),
            "areas": {"type": "array", "items": _ref("schemas", "Area"), "description": "In the programme's order."},
            "panels": {"type": "array", "items": _ref("schemas", "Panel"), "description": "By number."},
            "published_statements": {"type": "integer", "minimum": 0},
            "links": _object(
                {
                    "html": {**_URL, "description": "The session's page."},
                    "statements": {**_URL, "description": "Its published statements in this API."},
                    "feed": {**_URL, "description": "Atom feed of its published statements."},
                    "csv": {**_URL, "description": "CSV of its published statements, one row per file."},
                    "zip": {**_URL, "description": "ZIP of the files of its published statements, with manifest.csv."},
                }
            ),
        }
    )
    search_match = _object(
        {
            "rank": {"type": "integer", "minimum": 1, "description": "Position in the ranked results (1 is the best match)."},
            "snippet": {"type": "string", "description": "Plain text from the documents around the matches (may be empty)."},
            "highlights": {
                "type": "array",
                "items": {
                    "type": "array",
                    "items": {"type": "integer", "minimum": 0},
                    "minItems": 2,
                    "maxItems": 2,
                },
                "description": "The matched words in `snippet`: [start, end) offsets in Unicode code points.",
            },
            "snippet_html": {
                "type": "string",
                "description": "`snippet` as escaped HTML with each match in `<mark>`…`</mark>`.",
            },
        },
        "Present with `q` (null otherwise).",
    )
    summary_properties: dict[str, Any] = {
        "id": {"type": "string", "pattern": PUBLIC_ID_PATTERN, "description": "The stable public reference."},
        "title": _STRING,
        "organisation": _ref("schemas", "Organisation"),
        "on_behalf_of": {"type": "array", "items": _ref("schemas", "Organisation"), "description": "Delivered on behalf of these (by name)."},
        "cosignatories": {"type": "array", "items": _ref("schemas", "Organisation"), "description": "Co-signed by these (by name)."},
        "session": _ref("schemas", "SessionRef"),
        "areas": {"type": "array", "items": _ref("schemas", "Area")},
        "panel": _nullable(_ref("schemas", "Panel")),
        "kind": {"type": "string", "enum": _values(StatementKind)},
        "language": {"type": "string", "enum": _values(Language)},
        "delivered_on": _nullable(_DATE),
        "published_at": {**_DATETIME, "description": "When it was first published (UTC)."},
        "corrected_at": _nullable({**_DATETIME, "description": "When a correction was last published (UTC)."}),
        "links": _object(
            {
                "self": {**_URL, "description": "This statement in the API."},
                "html": {**_URL, "description": "Its permanent public page."},
            }
        ),
    }
    file = _object(
        {
            "id": {"type": "integer", "minimum": 1},
            "role": {"type": "string", "enum": _values(FileRole)},
            "language": {"type": "string", "enum": _values(Language)},
            "content_type": _STRING,
            "size": {"type": "integer", "minimum": 1, "description": "In bytes."},
            "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
            "url": {**_URL, "description": "Download (as an attachment)."},
        }
    )
    filters = _object(
        {
            name: _nullable({k: v for k, v in QUERY_PARAMETERS[name].items() if k not in ("default", "description")})
            for name in ("session", "area", "panel", "organisation", "organisation_kind", "language", "kind")
        },
        "The filters applied (null: not filtered on).",
    )
    return {
        "StatementsQuery": copy.deepcopy(STATEMENTS_QUERY_SCHEMA),
        "Error": _object(
            {
                "error": _object(
                    {
                        "status": {"type": "integer", "minimum": 400, "maximum": 599, "description": "The HTTP status."},
                        "code": {"type": "string", "enum": list(ERROR_CODES)},
                        "parameter": _nullable({"type": "string", "description": "The query parameter at fault."}),
                        "message": {"type": "string", "description": "What is wrong, in plain words."},
                    }
                )
            }
        ),
        "Organisation": organisation,
        "Area": area,
        "Panel": panel,
        "SessionRef": session_ref,
        "Session": session,
        "SearchMatch": search_match,
        "StatementSummary": _object({**summary_properties, "search": _nullable(_ref("schemas", "SearchMatch"))}),
        "Statement": _object(
            {
                **summary_properties,
                "version": {"type": "integer", "minimum": 1, "description": "Number of the published version of its documents."},
                "files": {"type": "array", "items": _ref("schemas", "File"), "description": "The files of the published version."},
            }
        ),
        "File": file,
        "SessionList": _object(
            {
                "data": {"type": "array", "items": _ref("schemas", "Session")},
                "links": _object({"self": _URL}),
                "meta": _object({"count": {"type": "integer", "minimum": 0}}),
            }
        ),
        "StatementList": _object(
            {
                "data": {"type": "array", "items": _ref("schemas", "StatementSummary")},
                "links": _object(
                    {
                        "self": _URL,
                        "next": _nullable({**_URL, "description": "The next page; null on the last."}),
                        "previous": _nullable({**_URL, "description": "The previous page; null on the first."}),
                    }
                ),
                "meta": _object(
                    {
                        "count": {"type": "integer", "minimum": 0, "description": "Items on this page."},
                        "limit": {"type": "integer", "minimum": 1, "maximum": listing.MAX_LIMIT},
                        "sort": {"type": "string", "enum": [*_values(listing.Sort), "relevance"]},
                        "q": _nullable({"type": "string", "description": "The search, trimmed; null without one."}),
                        "total": _nullable(
                            {
                                "type": "integer",
                                "minimum": 0,
                                "description": "With `q`: how many statements match, counted up to "
                                f"{search.MATCH_WINDOW} (see `more`); the first {listing.MAX_SEARCH_RESULTS} can "
                                "be paged through. Null without `q`.",
                            }
                        ),
                        "more": _nullable(
                            {
                                "type": "boolean",
                                "description": f"With `q`: true when more than {search.MATCH_WINDOW} statements "
                                f"match; then the {search.MATCH_WINDOW} newest of them are ranked and listed, and "
                                "more words, a phrase or a filter narrow the search. Null without `q`.",
                            }
                        ),
                        "filters": filters,
                    }
                ),
            }
        ),
        "StatementResponse": _object({"data": _ref("schemas", "Statement"), "links": _object({"self": _URL})}),
    }


def _error_response(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {"Access-Control-Allow-Origin": _ref("headers", "AccessControlAllowOrigin")},
        "content": {"application/json": {"schema": _ref("schemas", "Error")}},
    }


def _responses() -> dict[str, Any]:
    return {
        "NotModified": {
            "description": "Not modified: the `If-None-Match` or `If-Modified-Since` given still holds. No body.",
            "headers": {
                "ETag": _ref("headers", "ETag"),
                "Cache-Control": _ref("headers", "CacheControl"),
            },
        },
        "BadRequest": _error_response(
            "A query parameter is not valid (`error.code` is `invalid_parameter` and `error.parameter` "
            "names it): unknown, given twice, of the wrong type or out of range, `q` with `sort`, or "
            "`after` with `before`."
        ),
        "NotFound": _error_response(
            "Nothing public at this address: no published statement has this id, or a query parameter "
            "names nothing (`error.parameter` names it): a session, area, panel or organisation id that "
            "does not exist, or a cursor this API did not make or made for another order or search."
        ),
        "MethodNotAllowed": {
            **_error_response("Only GET, HEAD and OPTIONS are answered: the API changes nothing."),
            "headers": {
                "Allow": {"description": "The methods allowed.", "schema": {"type": "string"}},
                "Access-Control-Allow-Origin": _ref("headers", "AccessControlAllowOrigin"),
            },
        },
        "ServerError": _error_response("An unexpected error on the server's side."),
    }


def _headers() -> dict[str, Any]:
    return {
        "ETag": {
            "description": "Validator of this answer: send it back in `If-None-Match`.",
            "schema": {"type": "string"},
        },
        "LastModified": {
            "description": "When something public last changed (an HTTP date): send it back in "
            "`If-Modified-Since`. Left out for a few seconds after a change.",
            "schema": {"type": "string"},
        },
        "CacheControl": {
            "description": "`public, max-age=…` for anonymous requests (a shared cache may keep the "
            "answer that many seconds); `private, no-store` when signed in.",
            "schema": {"type": "string"},
        },
        "AccessControlAllowOrigin": {
            "description": "`*`: any web page may read the API.",
            "schema": {"type": "string", "const": "*"},
        },
    }


def _ok(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": description,
        "headers": {
            "ETag": _ref("headers", "ETag"),
            "Last-Modified": _ref("headers", "LastModified"),
            "Cache-Control": _ref("headers", "CacheControl"),
            "Access-Control-Allow-Origin": _ref("headers", "AccessControlAllowOrigin"),
        },
        "content": {"application/json": {"schema": schema}},
    }


def _errors(*codes: str) -> dict[str, Any]:
    names = {"304": "NotModified", "400": "BadRequest", "404": "NotFound", "405": "MethodNotAllowed", "500": "ServerError"}
    return {code: _ref("responses", names[code]) for code in codes}


_CONDITIONAL = [_ref("parameters", "IfNoneMatch"), _ref("parameters", "IfModifiedSince")]


def _paths() -> dict[str, Any]:
    return {
        "/api/v1/sessions": {
            "get": {
                "operationId": "listSessions",
                "summary": "Every meeting session",
                "description": "All meeting sessions, by number (not paginated), with their areas of "
                "discussion, panels, submission window, number of published statements and links to "
                "their page, feed and exports. Takes no query parameters.",
                "parameters": list(_CONDITIONAL),
                "responses": {"200": _ok("The sessions.", _ref("schemas", "SessionList")), **_errors("304", "400", "405", "500")},
            }
        },
        "/api/v1/statements": {
            "get": {
                "operationId": "listStatements",
                "summary": "Published statements, filtered, sorted or searched, a page at a time",
                "description": "Published statements only: nothing submitted, rejected, unpublished or "
                "under embargo is ever listed. Filters combine (all must hold). Without `q`, pages "
                "follow `sort`; with `q`, results are ranked by relevance. Follow `links.next` until "
                "it is null to see every match exactly once.",
                "parameters": [
                    {
                        "name": "query",
                        "in": "query",
                        "style": "form",
                        "explode": True,
                        "required": False,
                        "description": "Filters, search, order and paging, each its own query parameter "
                        "(e.g. `?session=1&language=en&limit=50`); all optional.",
                        "schema": _ref("schemas", "StatementsQuery"),
                    },
                    *_CONDITIONAL,
                ],
                "responses": {
                    "200": _ok("One page of statements.", _ref("schemas", "StatementList")),
                    **_errors("304", "400", "404", "405", "500"),
                },
            }
        },
        "/api/v1/statements/{public_id}": {
            "get": {
                "operationId": "getStatement",
                "summary": "One published statement",
                "description": "Its metadata and the files of its published version. A statement that "
                "is not published (or does not exist) is a 404. Takes no query parameters.",
                "parameters": [
                    {
                        "name": "public_id",
                        "in": "path",
                        "required": True,
                        "description": "The statement's public reference, e.g. `ST-7K3Q-F9XM`.",
                        "schema": {"type": "string", "pattern": PUBLIC_ID_PATTERN},
                    },
                    *_CONDITIONAL,
                ],
                "responses": {
                    "200": _ok("The statement.", _ref("schemas", "StatementResponse")),
                    **_errors("304", "400", "404", "405", "500"),
                },
            }
        },
        "/api/v1/openapi.json": {
            "get": {
                "operationId": "getOpenAPIDocument",
                "summary": "This document",
                "description": "The OpenAPI 3.1 description of the API. Takes no query parameters.",
                "parameters": list(_CONDITIONAL),
                "responses": {
                    "200": _ok(
                        "The OpenAPI document.",
                        {"type": "object", "required": ["openapi", "info", "paths"], "properties": {"openapi": {"const": "3.1.0"}}},
                    ),
                    **_errors("304", "400", "405", "500"),
                },
            }
        },
    }


def document(server_url: str = "/") -> dict[str, Any]:
    """The OpenAPI 3.1 document, with `server_url` (where the app is mounted) as its server."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": TITLE,
            "version": VERSION,
            "summary": "Read-only access to the published statements and written inputs, without a key.",
            "description": "Published statements only. Every answer is JSON; every error is "
            '`{"error": {"status", "code", "parameter", "message"}}`. Lists are paged with opaque '
            "cursors: follow `links.next`. Answers carry `ETag` and `Last-Modified` and honour "
            "conditional requests with 304. Any origin may read it (`Access-Control-Allow-Origin: *`). "
            "A human-readable guide is at `/api`.",
        },
        "servers": [{"url": server_url, "description": "This portal."}],
        "paths": _paths(),
        "components": {
            "schemas": _schemas(),
            "parameters": copy.deepcopy(_HEADER_PARAMETERS),
            "responses": _responses(),
            "headers": _headers(),
        },
        "security": [],
    }
