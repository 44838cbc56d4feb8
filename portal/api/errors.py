"""JSON errors for every answer under /api/: one shape, `{"error": {status, code, parameter, message}}`.

Errors raised by the API's views go to the blueprint's handlers. Routing errors (an unknown
address under /api/, a method the API does not answer) are raised before any blueprint is
chosen, so app-level handlers for 404 and 405 answer those in JSON for paths under /api/
and hand every other path to the app's own HTML error handler (portal/errors.py) unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, current_app, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed
from werkzeug.wrappers import Response

from portal import listing
from portal.extensions import db

PREFIX = "/api/"

_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 500: "internal_error"}
_MESSAGES = {
    400: "The request could not be understood.",
    404: "There is nothing public at this address. See /api/v1/openapi.json for the API's addresses.",
    405: "The API is read-only: it answers GET, HEAD and OPTIONS only.",
    500: "An unexpected error occurred on our side. Please try again later.",
}


def add_cors(response: Response) -> Response:
    """Open data: any web page may read the API (no credentials are involved)."""
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = "ETag"
    if request.method == "OPTIONS":
        response.headers["Access-Control-Allow-Methods"] = "GET, HEAD, OPTIONS"
        response.headers["Access-Control-Allow-Headers"] = "If-None-Match, If-Modified-Since"
        response.headers["Access-Control-Max-Age"] = "86400"
    return response


def error_response(status: int, message: str, *, code: str | None = None, parameter: str | None = None) -> Response:
    body = {
        "error": {
            "status": status,
            "code": code or _CODES.get(status, "http_error"),
            "parameter": parameter,
            "message": message,
        }
    }
    response = current_app.json.response(body)
    response.status_code = status
    return add_cors(response)


class UnknownReference(listing.InvalidParameter):
    """A well-formed query parameter that names nothing: an id of no session, area, panel or
    organisation, or a cursor this API did not make (or made for another order). A 404: the
    document cannot tell such values from good ones, so they are not a malformed request."""


def invalid_parameter(exc: listing.InvalidParameter) -> Response:
    return error_response(400, exc.message, code="invalid_parameter", parameter=exc.name)


def unknown_reference(exc: UnknownReference) -> Response:
    return error_response(404, exc.message, code="not_found", parameter=exc.name)


def http_error(exc: HTTPException) -> Response:
    status = exc.code or 500
    if status >= 500:
        return server_error(exc)
    given = exc.description if exc.description != type(exc).description else None
    response = error_response(status, given or _MESSAGES.get(status) or exc.description or exc.name)
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


def server_error(exc: Exception) -> Response:
    db.session.rollback()
    return error_response(500, _MESSAGES[500])


def _is_api_path() -> bool:
    return request.path.startswith(PREFIX)


def _routing_errors(app: Flask, code: int) -> Callable[[HTTPException], Any]:
    """An app-level handler for `code`: JSON under /api/, and elsewhere whatever handled `code`
    before (portal/errors.py's HTML page, registered for the code or for HTTPException)."""
    earlier = dict(app.error_handler_spec[None][code])

    def handle(exc: HTTPException) -> Any:
        if _is_api_path():
            return http_error(exc)
        for cls in type(exc).__mro__:
            if cls in earlier:
                return earlier[cls](exc)
        html_handler = current_app.error_handler_spec[None][None].get(HTTPException)
        return html_handler(exc) if html_handler is not None else exc

    return handle


def register(bp: Blueprint) -> None:
    """Install the JSON error handlers on the API blueprint (and the routing ones on the app)."""
    bp.register_error_handler(listing.InvalidParameter, invalid_parameter)
    bp.register_error_handler(UnknownReference, unknown_reference)
    for code in (400, 404, 405):
        bp.register_error_handler(code, http_error)
    bp.register_error_handler(HTTPException, http_error)
    # A code-specific app handler (portal/errors.py's 500 page) would otherwise win over a
    # blueprint handler registered for HTTPException.
    bp.register_error_handler(500, server_error)

    @bp.record_once
    def _on_app(state: Any) -> None:
        # An unknown address or method is found before any blueprint is chosen.
        for code in (404, 405):
            state.app.register_error_handler(code, _routing_errors(state.app, code))
