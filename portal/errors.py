"""Error pages: plain words and the right status code; rollback on 500."""

from __future__ import annotations

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from portal.extensions import db
from portal.storage import megabytes

MESSAGES = {
    400: ("Bad request", "The request could not be understood. Please go back and try again."),
    403: ("Not allowed", "Your account is not allowed to do this."),
    404: ("Page not found", "There is no page at this address. It may have been moved, or it is not public."),
    405: ("Method not allowed", "This address does not accept that kind of request."),
    413: ("File too large", ""),
    429: ("Too many requests", "Please wait a moment before trying again."),
    500: ("Something went wrong", "An unexpected error occurred on our side. Nothing was saved; please try again."),
}


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> tuple[str, int]:
        message = (
            "The form could not be accepted because its security token was missing or had expired "
            "(for example after a long pause). Nothing was saved. Please go back, reload the page and try again."
        )
        return render_template("error.html", code=400, title="Form expired", message=message), 400

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[str, int]:
        code = exc.code or 500
        title, message = MESSAGES.get(code, (exc.name, exc.description or ""))
        if code == 413:
            limit = megabytes(app.config["PORTAL_MAX_UPLOAD_BYTES"])
            message = (
                f"The upload was far larger than the {limit} limit and was not read. Nothing was saved. "
                "Please go back and choose a smaller file."
            )
        return render_template("error.html", code=code, title=title, message=message, path=request.path), code

    @app.errorhandler(500)
    def server_error(exc: Exception) -> tuple[str, int]:
        db.session.rollback()
        title, message = MESSAGES[500]
        return render_template("error.html", code=500, title=title, message=message), 500
