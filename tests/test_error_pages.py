"""Error and empty states: each says what happened in plain words, offers ways on (a search box,
the sessions) and answers with the right status code."""

from __future__ import annotations

import io
import re

import pytest
from flask import Flask, abort
from flask.testing import FlaskClient

from portal.enums import StatementStatus
from portal.extensions import db
from tests import factories

SEARCH_FORM = re.compile(
    r'<form method="get" action="/search" class="error-search" role="search"[^>]*>\s*'
    r'<label for="error-q">Search the published statements</label>\s*'
    r'<div class="inline-field">\s*<input[^>]*id="error-q"[^>]*name="q"'
)
SESSIONS_LINK = '<a href="/">Browse the meeting sessions</a>'


@pytest.fixture
def failing_app(app: Flask) -> Flask:
    """The app with two routes that fail: one with a bad request, one with a bug."""

    def bad_request() -> str:
        abort(400)

    def bug() -> str:
        raise RuntimeError("a bug")

    app.add_url_rule("/_test/bad-request", "test_bad_request", bad_request)
    app.add_url_rule("/_test/bug", "test_bug", bug)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: the 500 page, not the traceback
    return app


@pytest.mark.parametrize("url", ["/no-such-page", "/statements/ST-ZZZZ-ZZZZ", "/sessions/no-such-session", "/organisations/999999"])
def test_unknown_page_is_404_with_a_search_box_and_the_sessions(client: FlaskClient, url: str) -> None:
    response = client.get(url)

    html = response.get_data(as_text=True)
    assert response.status_code == 404
    assert "<h1>Page not found</h1>" in html
    assert "There is no page at this address. It may have been moved, or it is not public." in html
    assert "Statement references look like ST-7K3Q-F9XM." in html
    assert SEARCH_FORM.search(html)
    assert SESSIONS_LINK in html
    assert '<meta name="robots" content="noindex">' in html


def test_search_box_of_the_404_page_searches(client: FlaskClient) -> None:
    html = client.get("/no-such-page").get_data(as_text=True)
    action = re.search(r'<form method="get" action="([^"]+)" class="error-search"', html).group(1)

    response = client.get(action, query_string={"q": "detention"})

    assert response.status_code == 200
    assert "Search statements" in response.get_data(as_text=True)


def test_bad_request_is_400_with_ways_on(failing_app: Flask) -> None:
    response = failing_app.test_client().get("/_test/bad-request")

    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "<h1>Bad request</h1>" in html
    assert "Go back, reload the page and try again." in html
    assert SEARCH_FORM.search(html) and SESSIONS_LINK in html


def test_wrong_method_is_405_with_allow_header(client: FlaskClient) -> None:
    response = client.post("/")

    html = response.get_data(as_text=True)
    assert response.status_code == 405
    assert set(response.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "HEAD"}
    assert "<h1>Method not allowed</h1>" in html
    assert "If you pressed a button or sent a form, go back, reload the page and try again." in html
    assert SEARCH_FORM.search(html) and SESSIONS_LINK in html


def test_upload_far_too_large_is_413_saying_the_limit(client: FlaskClient) -> None:
    response = client.post(
        "/sign-in",
        data={"document": (io.BytesIO(b"x" * 400 * 1024), "big.pdf")},
        content_type="multipart/form-data",
    )

    html = response.get_data(as_text=True)
    assert response.status_code == 413
    assert "<h1>File too large</h1>" in html
    assert "Nothing was saved. Please go back and choose a smaller file." in html
    assert SESSIONS_LINK in html


def test_server_error_is_500_rolled_back_with_ways_on(failing_app: Flask) -> None:
    response = failing_app.test_client().get("/_test/bug")

    html = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "<h1>Something went wrong</h1>" in html
    assert "Nothing was saved; please try again." in html
    assert "Try again in a moment: the error has been recorded." in html
    assert "a bug" not in html and "Traceback" not in html
    assert SEARCH_FORM.search(html) and SESSIONS_LINK in html


def test_search_with_no_results_is_200_with_suggestions(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        author = factories.make_user("ana@mexico.example")
        factories.make_statement(author, title="Statement on detention", status=StatementStatus.APPROVED)
        db.session.commit()

    response = client.get("/search", query_string={"q": "xylophone", "language": "fr"})

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "No statements match “xylophone” with these filters." in html
    assert '<a href="/search?q=xylophone">search without filters</a>' in html
    assert "Check the spelling, or try fewer or more general words." in html
    assert "<code>detention OR custody</code>" in html
    assert f'{SESSIONS_LINK}: each lists its published statements' in html


def test_session_with_nothing_published_is_200_and_helpful(client: FlaskClient) -> None:
    response = client.get("/sessions/drivers-migration")

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "No statement has been published for this session yet." in html
    assert "Submissions closed on" in html
    assert '<a href="/search">Search the statements published so far</a>' in html
