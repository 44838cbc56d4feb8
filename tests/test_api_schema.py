"""The API checked against its own OpenAPI document, on both databases: the document is valid
OpenAPI 3.1, and schemathesis fuzzes every operation with data the document allows and data it
forbids, over a corpus of published and unpublished statements, running all its checks.

The checks are those an independent client runs by default: no server error, status codes,
content types, response headers and bodies as documented, schema-valid requests accepted and
schema-invalid ones rejected, undeclared methods answered 405 with `Allow`, and more. Examples
are bounded (and the seed fixed) so that each backend takes a few seconds; Hypothesis keeps no
example database, so nothing is written into the repository.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import schemathesis
from flask import Flask
from hypothesis import configuration
from openapi_spec_validator import validate

from portal import queries
from portal.api import openapi
from portal.extensions import db
from tests.test_api import COMMON, build_corpus

# Hypothesis keeps caches (constants of the code under test, Unicode tables) in a folder, written
# as soon as the tests below are collected: outside the work tree. It keeps no example database.
configuration.set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "portal-tests-hypothesis")

CONFIG = """
seed = 20170508

[generation]
max-examples = 60
database = "none"
"""


@pytest.fixture
def api_schema(app: Flask) -> Any:
    """The document as the app serves it, loaded over WSGI, with the corpus in the database."""
    with app.app_context():
        build_corpus()
        db.session.remove()
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app, config=schemathesis.Config.from_str(CONFIG))


schema = schemathesis.pytest.from_fixture("api_schema")


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    # schemathesis 4.32 renames the test node through Node._nodeid, which pytest 9.2 no longer has.
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


@schema.parametrize()
def test_api_answers_as_its_openapi_document_says(case: Any) -> None:
    case.call_and_validate()


def test_document_is_valid_openapi_3_1() -> None:
    validate(openapi.document())
    validate(openapi.document(server_url="/portal"))


def test_known_requests_answer_as_documented(app: Flask, api_schema: Any) -> None:
    """Answers the fuzzing rarely reaches, checked against the document with every check: each
    published statement in full (drawn ids almost never exist), search results with their
    snippets, and pages reached through cursors."""
    with app.app_context():
        public_ids = [s.public_id for s in db.session.scalars(queries.public_statements())]
    statement = api_schema["/api/v1/statements/{public_id}"]["GET"]
    listing = api_schema["/api/v1/statements"]["GET"]
    assert len(public_ids) == 5

    for public_id in public_ids:
        assert statement.Case(path_parameters={"public_id": public_id}).call_and_validate().status_code == 200
    for query in ({"q": COMMON, "limit": 2}, {"q": '"alternatives to detention"'}, {"sort": "organisation", "limit": 2}):
        response = listing.Case(query=query).call_and_validate()
        body = response.json()
        assert response.status_code == 200 and body["data"]
        after = parse_qs(urlsplit(body["links"]["next"]).query)["after"][0] if body["links"]["next"] else None
        if after:
            following = listing.Case(query={**query, "after": after}).call_and_validate()
            assert following.status_code == 200 and following.json()["links"]["previous"]
