"""Error pages: plain words, ways on (a search box, the sessions) and the right status code; rollback on 500."""

from __future__ import annotations

from flask import Flask, render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from portal.extensions import db
from portal.storage import megabytes

MESSAGES = {
    400: ("Bad request", "The request could not be understood: a link or a form may have been changed or cut short."),
    403: ("Not allowed", "Your account is not allowed to do this."),
    404: ("Page not found", "There is no page at this address. It may have been moved, or it is not public."),
    405: ("Method not allowed", "This address does not accept that kind of request."),
    413: ("File too large", ""),
    429: ("Too many requests", "Please wait a moment before trying again."),
    500: ("Something went wrong", "An unexpected error occurred on our side. Nothing was saved; please try again."),
}

# What to try next, per status code.
HINTS = {
    400: [
        "Go back, reload the page and try again.",
        "If you followed a link from another site or an e-mail, it may have been cut short: copy the whole address.",
    ],
    404: [
        "If you typed the address, check it for mistakes. Statement references look like ST-7K3Q-F9XM.",
        "A statement that has not been published, or that was withdrawn from publication, has no public page.",
    ],
    405: [
        "If you pressed a button or sent a form, go back, reload the page and try again.",
        "To read a page, follow a link to it.",
    ],
    413: ["Documents can be PDF, DOCX, ODT or plain text; a scanned document can often be saved smaller."],
    500: [
        "Try again in a moment: the error has been recorded.",
        "If it keeps happening, tell the secretariat what you were doing.",
    ],
}

# Pages on which a search box helps the reader on their way.
SEARCH_BOX = frozenset({400, 404, 405, 500})


def render_error(code: int, title: str, message: str) -> str:
    return render_template(
        "error.html", code=code, title=title, message=message, hints=HINTS.get(code, []), search_box=code in SEARCH_BOX
    )


def init_app(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> tuple[str, int]:
        message = (
            "The form could not be accepted because its security token was missing or had expired "
            "(for example after a long pause). Nothing was saved. Please go back, reload the page and try again."
        )
        return render_template("error.html", code=400, title="Form expired", message=message, hints=[], search_box=False), 400

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[str, int, dict[str, str]]:
        code = exc.code or 500
        title, message = MESSAGES.get(code, (exc.name, exc.description or ""))
        if code == 413:
            limit = megabytes(app.config["PORTAL_MAX_UPLOAD_BYTES"])
            message = (
                f"The upload was far larger than the {limit} limit and was not read. Nothing was saved. "
                "Please go back and choose a smaller file."
            )
        # A 405 must say which methods the address accepts.
        headers = {k: v for k, v in exc.get_headers() if k.lower() == "allow"}
        return render_error(code, title, message), code, headers

    @app.errorhandler(500)
    def server_error(exc: Exception) -> tuple[str, int]:
        db.session.rollback()
        title, message = MESSAGES[500]
        return render_error(500, title, message), 500

