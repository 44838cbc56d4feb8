"""The open JSON API on a small known corpus, on both databases: each endpoint's shape and
values, filters, search, cursor pagination, every bad parameter named in a JSON error, nothing
unpublished ever served, read-only methods, CORS, and the guide linked from every page."""

from __future__ import annotations

import hashlib
import io
import re
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from portal import listing, operations, workflow
from portal.api import openapi, serialize
from portal.enums import FileRole, Language, OrganisationKind, OrganisationStatus, Role, StatementKind, StatementStatus
from portal.extensions import db
from portal.models import Organisation, Statement, utcnow
from portal.models.statements import new_public_id
from portal.storage import get_store
from tests import factories
from tests.conftest import csrf_token, login

S = StatementStatus
EN, FR = Language.ENGLISH, Language.FRENCH
API = "/api/v1"
# Every published text holds this word, so a search for it finds exactly the published statements.
COMMON = "consultation"
# Every hidden text holds this one: a search for it must never find anything.
HIDDEN = "zanzibar"

LABOUR_V2 = f"Labour migration brings benefits. We oppose the detention of workers. {COMMON}".encode()
LABOUR_V2_FR = f"La migration de main-d'oeuvre profite à tous. {COMMON}".encode()

# Published, oldest first: (key, author code, language, title, text, area codes).
PUBLISHED = [
    ("alternatives", "MEX", EN, "Alternatives to detention for migrants",
     f"Mexico supports alternatives to detention. Community programmes keep families together. {COMMON}", ("d", "e")),
    ("labour", "IOM", EN, "Labour migration and decent work",
     f"Labour migration brings benefits to all. Smuggling of migrants must be prevented. {COMMON}", ("a",)),
    ("suisse", "CHE", FR, "Déclaration de la Suisse sur la protection",
     f"La Suisse soutient les migrations régulières et la protection des travailleurs. {COMMON}", ("d",)),
    ("joint", "MEX", EN, "Joint statement on returns",
     f"Returns must respect the rights of migrants; no detention of children. {COMMON}", ("e",)),
    ("drivers", "CHE", EN, "Drivers of migration and climate",
     f"Climate change drives migration; adaptation keeps communities at home. {COMMON}", ("d",)),
]
HIDDEN_STATUSES = (S.DRAFT, S.SUBMITTED, S.CHANGES_REQUESTED, S.REJECTED, S.WITHDRAWN, S.UNPUBLISHED, S.DUPLICATE)


def build_corpus() -> SimpleNamespace:
    """Five published statements (a corrected one with a translation, a joint one, a written one in
    French, one in session 2, one in a panel), each hidden status, an embargoed one and a pending
    correction, the hidden ones all holding HIDDEN. Call inside an app context; commits."""
    moderator = factories.make_user("mod@un.example", role=Role.MODERATOR, org_code=None)
    authors = {
        "MEX": factories.make_user("ana@mexico.example", org_code="MEX"),
        "CHE": factories.make_user("hans@switzerland.example", org_code="CHE"),
        "IOM": factories.make_user("desk@iom.example", org_code="IOM"),
    }
    group = Organisation(name="Group of Friends of Migration", kind=OrganisationKind.OTHER)
    db.session.add(group)
    db.session.flush()
    made: dict[str, Statement] = {}
    start = utcnow().replace(microsecond=0) - timedelta(days=1)
    for i, (key, code, language, title, text, areas) in enumerate(PUBLISHED):
        statement = factories.make_statement(
            authors[code], title=title, data=text.encode(), filename="statement.txt", status=S.SUBMITTED,
            language=language, area_codes=areas,
        )
        if key == "joint":
            statement.kind = StatementKind.JOINT
            statement.on_behalf_of = [group]
            statement.cosignatories = [factories.org("CHE")]
        if key == "suisse":
            statement.kind = StatementKind.WRITTEN
        if key == "alternatives":
            statement.panel = factories.session_by_number(1).panels[0]
        if key == "drivers":
            statement.meeting_session = factories.session_by_number(2)
            statement.areas = [factories.area(2, "a")]
        db.session.flush()
        workflow.apply(statement, "approve", actor=moderator)
        statement.published_at = start + timedelta(hours=i)  # distinct, known: the first is the oldest
        made[key] = statement

    # The labour statement is corrected: version 2, a new original and a French translation.
    operations.upload_version(
        made["labour"],
        author=authors["IOM"],
        uploads=[
            operations.Upload(io.BytesIO(LABOUR_V2), "labour-v2.txt", EN, FileRole.ORIGINAL),
            operations.Upload(io.BytesIO(LABOUR_V2_FR), "labour-fr.txt", FR, FileRole.TRANSLATION),
        ],
        note="Corrected figures",
        store=get_store(),
        max_bytes=1 << 20,
    )
    workflow.apply(made["labour"], "approve_correction", actor=moderator)
    # A correction of another one waits for review: its text is not public.
    operations.upload_version(
        made["alternatives"],
        author=authors["MEX"],
        uploads=[operations.Upload(io.BytesIO(f"{HIDDEN} correction".encode()), "v2.txt", EN, FileRole.ORIGINAL)],
        note="Pending",
        store=get_store(),
        max_bytes=1 << 20,
    )

    hidden: dict[str, str] = {}
    for status in HIDDEN_STATUSES:
        statement = factories.make_statement(
            authors["MEX"], title=f"{HIDDEN.title()} {status.value}", data=f"{HIDDEN} detention {COMMON}".encode(),
            filename="statement.txt", status=status, moderator=moderator,
        )
        hidden[status.value] = statement.public_id
    embargoed = factories.make_statement(
        authors["CHE"], title=f"{HIDDEN.title()} embargoed", data=f"{HIDDEN} detention {COMMON}".encode(),
        filename="statement.txt",
    )
    workflow.apply(embargoed, "approve", actor=moderator, publish_at=utcnow() + timedelta(days=2))
    hidden["embargoed"] = embargoed.public_id
    db.session.commit()
    return SimpleNamespace(
        **{key: s.public_id for key, s in made.items()},
        hidden=hidden,
        published={s.public_id for s in made.values()},
        group_id=group.id,
    )


@pytest.fixture
def corpus(app: Flask) -> SimpleNamespace:
    with app.app_context():
        return build_corpus()


def get(client: FlaskClient, path: str, **params: Any) -> Any:
    response = client.get(path, query_string=params)
    assert response.content_type == "application/json", response.get_data(as_text=True)
    return response


def ids(body: dict[str, Any]) -> list[str]:
    return [item["id"] for item in body["data"]]


def walk(client: FlaskClient, url: str) -> tuple[list[str], list[dict[str, Any]]]:
    """Every id along links.next from `url`, and each page's body."""
    seen: list[str] = []
    pages = []
    while url:
        response = client.get(url)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        pages.append(body)
        seen += ids(body)
        url = body["links"]["next"]
        assert len(pages) < 50
    return seen, pages


def in_order(corpus: SimpleNamespace, *keys: str) -> list[str]:
    return [getattr(corpus, key) for key in keys]


def error_of(response: Any) -> dict[str, Any]:
    assert response.content_type == "application/json"
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    body = response.get_json()
    assert set(body) == {"error"}
    assert body["error"]["status"] == response.status_code
    return body["error"]


# --- sessions -----------------------------------------------------------------------------------


def test_sessions_lists_every_session_with_programme_count_and_links(app: Flask, client: FlaskClient, corpus) -> None:
    response = get(client, f"{API}/sessions")

    assert response.status_code == 200
    body = response.get_json()
    with app.app_context():
        first = factories.session_by_number(1)
        areas = [{"id": a.id, "code": a.code, "title": a.title} for a in first.areas]
        panels = [{"id": p.id, "number": p.number, "title": p.title, "held_on": "2017-05-08"} for p in first.panels]
        expected_first = {
            "id": first.id,
            "number": 1,
            "slug": "human-rights-all-migrants",
            "title": first.title,
            "short_title": "Human rights of all migrants",
            "venue": "United Nations Office at Geneva",
            "city": "Geneva",
            "start_date": "2017-05-08",
            "end_date": "2017-05-09",
            "submissions": {"opens_at": serialize.iso_datetime(first.submissions_open_at), "closes_at": None},
            "areas": areas,
            "panels": panels,
            "published_statements": 4,
            "links": {
                "html": "http://localhost/sessions/human-rights-all-migrants",
                "statements": f"http://localhost/api/v1/statements?session={first.id}",
                "feed": "http://localhost/feeds/sessions/human-rights-all-migrants.atom",
                "csv": "http://localhost/sessions/human-rights-all-migrants/statements.csv",
                "zip": "http://localhost/sessions/human-rights-all-migrants/documents.zip",
            },
        }
    assert [s["number"] for s in body["data"]] == [1, 2]
    assert body["data"][0] == expected_first
    assert body["data"][1]["published_statements"] == 1
    assert body["data"][1]["submissions"]["closes_at"] is not None
    assert body["links"] == {"self": "http://localhost/api/v1/sessions"}
    assert body["meta"] == {"count": 2}
    # Every link answers.
    for link in expected_first["links"].values():
        with client.get(link) as linked:
            assert linked.status_code == 200
            assert linked.get_data()  # read to the end: the exports are streamed


# --- one statement ------------------------------------------------------------------------------


def test_statement_has_full_metadata_and_the_files_of_its_published_version(app: Flask, client: FlaskClient, corpus) -> None:
    response = get(client, f"{API}/statements/{corpus.labour}")

    assert response.status_code == 200
    body = response.get_json()
    with app.app_context():
        statement = db.session.scalar(sa.select(Statement).where(Statement.public_id == corpus.labour))
        version = statement.published_version
        iom = factories.org("IOM")
        s1 = factories.session_by_number(1)
        area_a = factories.area(1, "a")
        files = {item.role: item.id for item in version.files}
        expected = {
            "id": corpus.labour,
            "title": "Labour migration and decent work",
            "organisation": {"id": iom.id, "name": "International Organization for Migration", "kind": "un_entity", "acronym": "IOM"},
            "on_behalf_of": [],
            "cosignatories": [],
            "session": {"id": s1.id, "number": 1, "slug": s1.slug, "title": s1.title, "short_title": s1.short_title},
            "areas": [{"id": area_a.id, "code": "a", "title": area_a.title}],
            "panel": None,
            "kind": "delivered",
            "language": "en",
            "delivered_on": "2017-05-08",
            "published_at": serialize.iso_datetime(statement.published_at),
            "corrected_at": serialize.iso_datetime(statement.corrected_at),
            "links": {
                "self": f"http://localhost/api/v1/statements/{corpus.labour}",
                "html": f"http://localhost/statements/{corpus.labour}",
            },
            "version": 2,
            "files": [
                {
                    "id": files[FileRole.ORIGINAL],
                    "role": "original",
                    "language": "en",
                    "content_type": "text/plain",
                    "size": len(LABOUR_V2),
                    "sha256": hashlib.sha256(LABOUR_V2).hexdigest(),
                    "url": f"http://localhost/statements/{corpus.labour}/files/{files[FileRole.ORIGINAL]}",
                },
                {
                    "id": files[FileRole.TRANSLATION],
                    "role": "translation",
                    "language": "fr",
                    "content_type": "text/plain",
                    "size": len(LABOUR_V2_FR),
                    "sha256": hashlib.sha256(LABOUR_V2_FR).hexdigest(),
                    "url": f"http://localhost/statements/{corpus.labour}/files/{files[FileRole.TRANSLATION]}",
                },
            ],
        }
        assert statement.corrected_at is not None
    assert body == {"data": expected, "links": {"self": f"http://localhost/api/v1/statements/{corpus.labour}"}}
    for file in body["data"]["files"]:
        with client.get(file["url"]) as download:
            assert download.status_code == 200
            assert hashlib.sha256(download.data).hexdigest() == file["sha256"]


def test_statement_with_a_pending_correction_shows_only_its_published_version(client: FlaskClient, corpus) -> None:
    body = get(client, f"{API}/statements/{corpus.alternatives}").get_json()["data"]

    assert body["version"] == 1
    assert body["corrected_at"] is None
    assert [f["role"] for f in body["files"]] == ["original"]
    with client.get(body["files"][0]["url"]) as download:
        assert HIDDEN.encode() not in download.data
    assert body["panel"]["number"] == 1
    assert [a["code"] for a in body["areas"]] == ["d", "e"]


def test_joint_statement_names_its_partners(app: Flask, client: FlaskClient, corpus) -> None:
    body = get(client, f"{API}/statements/{corpus.joint}").get_json()["data"]

    with app.app_context():
        che = factories.org("CHE")
    assert body["kind"] == "joint"
    assert body["on_behalf_of"] == [{"id": corpus.group_id, "name": "Group of Friends of Migration", "kind": "other", "acronym": None}]
    assert body["cosignatories"] == [{"id": che.id, "name": "Switzerland", "kind": "member_state", "acronym": None}]


def test_search_results_show_the_same_summaries_as_the_list(client: FlaskClient, corpus) -> None:
    """A search result's statement (areas in order, a joint statement's partners, panel,
    session) is what the list shows of it, though the two load it differently."""
    listed = {item["id"]: item for item in get(client, f"{API}/statements", limit=100).get_json()["data"]}
    searched = get(client, f"{API}/statements", q=COMMON, limit=100).get_json()["data"]

    assert {item["id"] for item in searched} == set(listed)
    assert listed[corpus.joint]["cosignatories"] and listed[corpus.joint]["on_behalf_of"]
    assert [a["code"] for a in listed[corpus.alternatives]["areas"]] == ["d", "e"]
    for item in searched:
        assert {**item, "search": None} == listed[item["id"]], item["id"]


def test_statement_that_is_not_public_is_a_json_404(client: FlaskClient, corpus) -> None:
    assert set(corpus.hidden) == {*(s.value for s in HIDDEN_STATUSES), "embargoed"}
    for key, public_id in corpus.hidden.items():
        response = client.get(f"{API}/statements/{public_id}")

        assert response.status_code == 404, key
        error = error_of(response)
        assert error["code"] == "not_found"
        assert public_id in error["message"]
        assert HIDDEN not in response.get_data(as_text=True).lower()


def test_unknown_or_malformed_statement_id_is_a_json_404(client: FlaskClient) -> None:
    for public_id in (new_public_id(), "ST-0000-000", "st-7k3q-f9xm", "ST-IIII-LLLL", "nope", "ST-7K3Q-F9XM%0A"):
        response = client.get(f"{API}/statements/{public_id}")

        assert response.status_code == 404, public_id
        assert error_of(response)["code"] == "not_found"


def test_public_id_pattern_matches_every_id_the_portal_makes() -> None:
    for _ in range(200):
        assert re.fullmatch(openapi.PUBLIC_ID_PATTERN, new_public_id())
    assert not re.fullmatch(openapi.PUBLIC_ID_PATTERN, "ST-ILOU-0000")


# --- listing --------------------------------------------------------------------------------------


def test_listing_is_newest_first_with_links_and_meta(app: Flask, client: FlaskClient, corpus) -> None:
    response = get(client, f"{API}/statements")

    assert response.status_code == 200
    body = response.get_json()
    assert ids(body) == in_order(corpus, "drivers", "joint", "suisse", "labour", "alternatives")
    assert body["links"] == {"self": "http://localhost/api/v1/statements", "next": None, "previous": None}
    assert body["meta"] == {
        "count": 5,
        "limit": listing.DEFAULT_LIMIT,
        "sort": "date",
        "q": None,
        "total": None,
        "more": None,
        "filters": dict.fromkeys(("session", "area", "panel", "organisation", "organisation_kind", "language", "kind")),
    }
    # A listing item is the statement's own data without the files, and no search part.
    detail = get(client, f"{API}/statements/{corpus.labour}").get_json()["data"]
    item = next(i for i in body["data"] if i["id"] == corpus.labour)
    assert item == {**{k: v for k, v in detail.items() if k not in ("version", "files")}, "search": None}


def test_listing_by_organisation_orders_by_name_then_newest(client: FlaskClient, corpus) -> None:
    body = get(client, f"{API}/statements", sort="organisation").get_json()

    assert ids(body) == in_order(corpus, "labour", "joint", "alternatives", "drivers", "suisse")
    assert body["meta"]["sort"] == "organisation"


def _filter_values(app: Flask, corpus: SimpleNamespace) -> dict[str, Any]:
    with app.app_context():
        return {
            "s1": factories.session_by_number(1).id,
            "s2": factories.session_by_number(2).id,
            "d": factories.area(1, "d").id,
            "e": factories.area(1, "e").id,
            "p1": factories.session_by_number(1).panels[0].id,
            "MEX": factories.org("MEX").id,
            "CHE": factories.org("CHE").id,
            "group": corpus.group_id,
        }


FILTER_CASES = [
    ({"session": "s1"}, ("joint", "suisse", "labour", "alternatives")),
    ({"session": "s2"}, ("drivers",)),
    ({"area": "d"}, ("suisse", "alternatives")),
    ({"area": "e"}, ("joint", "alternatives")),
    ({"panel": "p1"}, ("alternatives",)),
    ({"organisation": "CHE"}, ("drivers", "joint", "suisse")),  # joint: co-signed by Switzerland
    ({"organisation": "group"}, ("joint",)),  # delivered on its behalf
    ({"organisation_kind": "un_entity"}, ("labour",)),
    ({"organisation_kind": "member_state"}, ("drivers", "joint", "suisse", "alternatives")),
    ({"organisation_kind": "ngo"}, ()),
    ({"language": "fr"}, ("suisse",)),
    ({"kind": "joint"}, ("joint",)),
    ({"kind": "written"}, ("suisse",)),
    ({"session": "s1", "organisation": "MEX"}, ("joint", "alternatives")),
    ({"session": "s1", "area": "d", "language": "en"}, ("alternatives",)),
]


def test_filters_select_and_combine(app: Flask, client: FlaskClient, corpus) -> None:
    values = _filter_values(app, corpus)
    for filters, expected in FILTER_CASES:
        params = {name: values.get(value, value) for name, value in filters.items()}

        body = get(client, f"{API}/statements", **params).get_json()

        assert ids(body) == in_order(corpus, *expected), filters
        assert {k: v for k, v in body["meta"]["filters"].items() if v is not None} == params


@pytest.mark.parametrize("sort", ["date", "organisation"])
def test_following_next_sees_every_published_statement_exactly_once(client: FlaskClient, corpus, sort: str) -> None:
    whole = ids(get(client, f"{API}/statements", sort=sort, limit=100).get_json())
    for limit in (1, 2, 3):
        seen, pages = walk(client, f"{API}/statements?sort={sort}&limit={limit}")

        assert seen == whole
        assert set(seen) == corpus.published and len(seen) == len(set(seen))
        assert [len(p["data"]) for p in pages[:-1]] == [limit] * (len(pages) - 1)
        assert pages[0]["links"]["previous"] is None
        # links.previous leads back through the same pages.
        for earlier, later in zip(pages, pages[1:], strict=False):
            back = client.get(later["links"]["previous"]).get_json()
            assert ids(back) == ids(earlier)
            assert f"sort={sort}" in later["links"]["previous"] and f"limit={limit}" in later["links"]["previous"]


def test_following_next_keeps_the_filters(client: FlaskClient, corpus) -> None:
    seen, pages = walk(client, f"{API}/statements?organisation_kind=member_state&limit=1")

    assert seen == in_order(corpus, "drivers", "joint", "suisse", "alternatives")
    assert all("organisation_kind=member_state" in p["links"]["self"] for p in pages)


def test_limit_bounds_are_accepted(client: FlaskClient, corpus) -> None:
    for limit in ("1", "100"):
        body = get(client, f"{API}/statements", limit=limit).get_json()

        assert len(body["data"]) == min(int(limit), 5)
        assert body["meta"]["limit"] == int(limit)


# --- search -----------------------------------------------------------------------------------------


def test_search_phrase_finds_only_the_statement_with_the_words_side_by_side(client: FlaskClient, corpus) -> None:
    body = get(client, f"{API}/statements", q='"alternatives to detention"').get_json()

    assert ids(body) == [corpus.alternatives]
    match = body["data"][0]["search"]
    assert match["rank"] == 1
    assert "alternatives to detention" in match["snippet"].lower()
    marked = " ".join(match["snippet"][start:end].lower() for start, end in match["highlights"])
    assert marked and set(marked.split()) <= {"alternatives", "to", "detention"}
    assert "<mark>" in match["snippet_html"]
    assert body["meta"]["q"] == '"alternatives to detention"'
    assert body["meta"]["sort"] == "relevance"
    assert body["meta"]["total"] == 1


def test_search_ranks_the_title_match_first(client: FlaskClient, corpus) -> None:
    body = get(client, f"{API}/statements", q="detention").get_json()

    assert ids(body)[0] == corpus.alternatives
    assert set(ids(body)) == {corpus.alternatives, corpus.labour, corpus.joint}
    assert [item["search"]["rank"] for item in body["data"]] == [1, 2, 3]
    assert body["meta"]["total"] == 3
    assert body["meta"]["more"] is False


def test_search_combines_with_filters_and_excludes(app: Flask, client: FlaskClient, corpus) -> None:
    assert ids(get(client, f"{API}/statements", q="detention", organisation_kind="un_entity").get_json()) == [corpus.labour]
    assert set(ids(get(client, f"{API}/statements", q="detention -children").get_json())) == {corpus.alternatives, corpus.labour}


def test_search_sees_the_published_version_only(client: FlaskClient, corpus) -> None:
    # "smuggling" was in the labour statement's first version, replaced by its correction.
    assert ids(get(client, f"{API}/statements", q="smuggling").get_json()) == []
    assert ids(get(client, f"{API}/statements", q="workers").get_json()) == [corpus.labour]


def test_search_never_finds_anything_unpublished(client: FlaskClient, corpus) -> None:
    for q in (HIDDEN, f'"{HIDDEN} detention"', f"{HIDDEN} OR nothing"):
        response = get(client, f"{API}/statements", q=q)

        assert response.status_code == 200
        assert ids(response.get_json()) == [], q
    detention = ids(get(client, f"{API}/statements", q="detention", limit=100).get_json())
    assert not set(detention) & set(corpus.hidden.values())


def test_following_next_through_search_results_sees_each_once(client: FlaskClient, corpus) -> None:
    for limit in (1, 2):
        seen, pages = walk(client, f"{API}/statements?q={COMMON}&limit={limit}")

        assert set(seen) == corpus.published and len(seen) == len(set(seen))
        ranks = [item["search"]["rank"] for page in pages for item in page["data"]]
        assert ranks == list(range(1, len(seen) + 1))
        assert all(p["meta"]["total"] == 5 for p in pages)
        back = client.get(pages[1]["links"]["previous"]).get_json()
        assert ids(back) == ids(pages[0])


def test_listing_never_shows_anything_unpublished(app: Flask, client: FlaskClient, corpus) -> None:
    values = _filter_values(app, corpus)
    for params in ({}, {"session": values["s1"]}, {"organisation": values["MEX"]}, {"area": values["d"]}, {"limit": 100}):
        body = get(client, f"{API}/statements", **params).get_json()
        assert set(ids(body)) <= corpus.published
        assert HIDDEN not in str(body).lower()
    sessions = get(client, f"{API}/sessions").get_json()
    assert sum(s["published_statements"] for s in sessions["data"]) == 5


# --- errors -------------------------------------------------------------------------------------------


BAD_PARAMETERS = [
    ({"colour": "blue"}, "colour"),
    ({"limit": "0"}, "limit"),
    ({"limit": "101"}, "limit"),
    ({"limit": "abc"}, "limit"),
    ({"limit": "1.5"}, "limit"),
    ({"limit": " 5"}, "limit"),
    ({"limit": ""}, "limit"),
    ({"session": "-1"}, "session"),
    ({"session": "0"}, "session"),
    ({"area": "1e3"}, "area"),
    ({"organisation": "99999999999"}, "organisation"),
    ({"panel": "2147483648"}, "panel"),
    ({"language": "klingon"}, "language"),
    ({"language": "EN"}, "language"),
    ({"kind": "speech"}, "kind"),
    ({"organisation_kind": "state"}, "organisation_kind"),
    ({"sort": "random"}, "sort"),
    ({"sort": ""}, "sort"),
    ({"q": "x" * 501}, "q"),
    ({"q": "detention", "sort": "date"}, "sort"),
    ({"q": "", "sort": "date"}, "sort"),
    ({"after": "abc", "before": "abc"}, "before"),
    ({"after": "not a cursor!"}, "after"),
    ({"after": ""}, "after"),
    ({"before": "a" * 513}, "before"),
]


def test_bad_parameter_is_a_json_400_naming_it(client: FlaskClient) -> None:
    for params, name in BAD_PARAMETERS:
        response = client.get(f"{API}/statements", query_string=params)

        assert response.status_code == 400, params
        error = error_of(response)
        assert error["code"] == "invalid_parameter"
        assert error["parameter"] == name, params
        assert f"'{name}'" in error["message"] or "cursor" in error["message"], error


def test_repeated_parameter_is_a_json_400(client: FlaskClient) -> None:
    response = client.get(f"{API}/statements?area=1&area=2")

    assert response.status_code == 400
    assert error_of(response)["parameter"] == "area"
    assert error_of(response)["message"] == "Give 'area' at most once."


def test_endpoints_without_parameters_refuse_any(client: FlaskClient, corpus) -> None:
    for path in (f"{API}/sessions", f"{API}/openapi.json", f"{API}/statements/{corpus.labour}"):
        response = client.get(path, query_string={"limit": "5"})

        assert response.status_code == 400, path
        error = error_of(response)
        assert (error["code"], error["parameter"]) == ("invalid_parameter", "limit")


def _cursors(client: FlaskClient) -> dict[str, str]:
    by_date = get(client, f"{API}/statements", limit=1).get_json()["links"]["next"]
    ranked = get(client, f"{API}/statements", q=COMMON, limit=1).get_json()["links"]["next"]
    return {
        "date": re.search(r"after=([^&]+)", by_date).group(1),  # type: ignore[union-attr]
        "rank": re.search(r"after=([^&]+)", ranked).group(1),  # type: ignore[union-attr]
    }


def test_parameter_naming_nothing_is_a_json_404_naming_it(app: Flask, client: FlaskClient, corpus) -> None:
    cursors = _cursors(client)
    with app.app_context():
        pending = Organisation(name="Proposed Network", kind=OrganisationKind.NGO, status=OrganisationStatus.PENDING)
        db.session.add(pending)
        db.session.commit()
        pending_id = pending.id
    nul = listing.encode_cursor({"s": "organisation", "k": ["a\x00b", "2017-05-08T00:00:00+00:00", 1]})
    overflow = listing.encode_cursor({"s": "date", "k": ["0001-01-01T00:00:00+05:00", 1]})
    cases = [
        ({"area": "999999"}, "area"),
        ({"session": "999999"}, "session"),
        ({"panel": "999999"}, "panel"),
        ({"organisation": "999999"}, "organisation"),
        ({"organisation": str(pending_id)}, "organisation"),  # proposed, not public
        ({"after": "bm90IGpzb24"}, "after"),  # tampered: not a cursor
        ({"after": listing.encode_cursor({"s": "date", "k": [True, 1]})}, "after"),
        ({"before": cursors["date"], "sort": "organisation"}, "before"),  # made for another order
        ({"after": cursors["rank"]}, "after"),  # made for a search
        ({"after": cursors["date"], "q": COMMON}, "after"),  # made for a listing
        ({"after": nul, "sort": "organisation"}, "after"),
        ({"after": overflow}, "after"),
    ]
    for params, name in cases:
        response = client.get(f"{API}/statements", query_string=params)
        assert response.status_code == 404, (params, response.get_json())
        error = error_of(response)
        assert (error["code"], error["parameter"]) == ("not_found", name), params


def test_methods_that_would_change_anything_are_a_json_405(client: FlaskClient) -> None:
    for method in ("POST", "PUT", "PATCH", "DELETE", "TRACE"):
        for path in (f"{API}/statements", f"{API}/sessions", f"{API}/openapi.json", f"{API}/statements/ST-0000-0000"):
            response = client.open(path, method=method, data={"title": "x"})

            assert response.status_code == 405, (method, path)
            error = error_of(response)
            assert error["code"] == "method_not_allowed"
            assert set(response.headers["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD", "OPTIONS"}


def test_post_with_a_session_and_csrf_token_is_still_a_405(app: Flask, client: FlaskClient, corpus) -> None:
    login(client, "ana@mexico.example")
    token = csrf_token(client, "/")

    response = client.post(f"{API}/statements", data={"csrf_token": token, "title": "x"})
    no_token = client.post(f"{API}/statements", data={"title": "x"})

    assert response.status_code == 405 and no_token.status_code == 405
    assert error_of(no_token)["code"] == "method_not_allowed"  # not the HTML "form expired" page
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Statement).where(Statement.title == "x")) == 0


def test_unknown_address_under_api_is_a_json_404(client: FlaskClient) -> None:
    for path in ("/api/v1/nope", "/api/v2/statements", "/api/nope", "/api/v1/statements/", "/api/v1/sessions/1"):
        response = client.get(path)

        assert response.status_code == 404, path
        assert error_of(response) == {
            "status": 404,
            "code": "not_found",
            "parameter": None,
            "message": "There is nothing public at this address. See /api/v1/openapi.json for the API's addresses.",
        }


def test_errors_outside_the_api_stay_html(client: FlaskClient) -> None:
    missing = client.get("/no-such-page")
    wrong_method = client.put("/")

    assert missing.status_code == 404 and missing.content_type.startswith("text/html")
    assert "Page not found" in missing.get_data(as_text=True)
    assert wrong_method.status_code == 405 and wrong_method.content_type.startswith("text/html")


def test_unexpected_error_is_a_json_500(app: Flask, client: FlaskClient, corpus, monkeypatch: pytest.MonkeyPatch) -> None:
    app.config["PROPAGATE_EXCEPTIONS"] = False

    def broken() -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("portal.queries.sessions_with_counts", broken)
    response = client.get(f"{API}/sessions")

    assert response.status_code == 500
    error = error_of(response)
    assert error["code"] == "internal_error" and "boom" not in error["message"]


# --- HTTP --------------------------------------------------------------------------------------------


def test_every_answer_may_be_read_by_any_origin(client: FlaskClient, corpus) -> None:
    for path in (f"{API}/sessions", f"{API}/statements", f"{API}/statements/{corpus.joint}", f"{API}/openapi.json",
                 f"{API}/statements?limit=0", "/api/v1/nope"):
        response = client.get(path, headers={"Origin": "https://example.org"})

        assert response.headers["Access-Control-Allow-Origin"] == "*", path


def test_preflight_allows_the_conditional_headers(client: FlaskClient) -> None:
    response = client.options(
        f"{API}/statements?limit=0",  # a preflight is answered whatever the query
        headers={"Origin": "https://example.org", "Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "if-none-match"},
    )

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "If-None-Match" in response.headers["Access-Control-Allow-Headers"]
    assert set(response.headers["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD", "OPTIONS"}


def test_head_answers_like_get_without_a_body(client: FlaskClient, corpus) -> None:
    response = client.head(f"{API}/statements")

    assert response.status_code == 200 and response.data == b""
    assert response.content_type == "application/json"


def test_listing_answers_304_to_its_own_etag(client: FlaskClient, corpus) -> None:
    first = client.get(f"{API}/statements?limit=2")
    etag = first.headers["ETag"]

    again = client.get(f"{API}/statements?limit=2", headers={"If-None-Match": etag})
    other_page = client.get(f"{API}/statements?limit=3", headers={"If-None-Match": etag})
    # A request in error is refused before any cache can call it current.
    bad = client.get(f"{API}/statements?limit=0", headers={"If-None-Match": "*"})

    assert first.status_code == 200 and first.headers["Cache-Control"].startswith("public")
    assert again.status_code == 304 and again.data == b""
    assert again.headers["ETag"] == etag
    assert again.headers["Access-Control-Allow-Origin"] == "*"
    assert other_page.status_code == 200
    assert bad.status_code == 400 and error_of(bad)["parameter"] == "limit"


def test_api_sets_no_cookie(client: FlaskClient, corpus) -> None:
    for path in (f"{API}/sessions", f"{API}/statements", f"{API}/statements/{corpus.labour}", f"{API}/statements?limit=0"):
        assert "Set-Cookie" not in client.get(path).headers


# --- the document and the guide ----------------------------------------------------------------------


def test_openapi_document_is_served_with_this_server(client: FlaskClient) -> None:
    response = get(client, f"{API}/openapi.json")

    document = response.get_json()
    assert response.status_code == 200
    assert document["openapi"] == "3.1.0"
    assert document["servers"] == [{"url": "/", "description": "This portal."}]
    assert set(document["paths"]) == {f"{API}/sessions", f"{API}/statements", f"{API}/statements/{{public_id}}", f"{API}/openapi.json"}


def test_documented_query_parameters_are_exactly_what_the_listing_reads() -> None:
    assert openapi.STATEMENTS_QUERY == (
        "session", "area", "panel", "organisation", "organisation_kind", "language", "kind", "q", "sort", "after", "before", "limit",
    )
    # listing.parse_args accepts every documented parameter (and no other).
    listing.parse_args({name: "" for name in openapi.STATEMENTS_QUERY}, allowed=openapi.STATEMENTS_QUERY)


def test_guide_is_linked_from_the_footer_of_the_home_page(client: FlaskClient) -> None:
    home = client.get("/").get_data(as_text=True)

    footer = home[home.index('<footer class="site-footer">'):]
    assert '<a href="/api">Open data API</a>' in footer


def test_guide_lists_every_endpoint_and_parameter_of_the_document(client: FlaskClient, corpus) -> None:
    response = client.get("/api")
    document = client.get(f"{API}/openapi.json").get_json()

    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for path, item in document["paths"].items():
        for method in item:
            assert f"{method.upper()} {path}" in html
    for name in openapi.STATEMENTS_QUERY:
        assert f"<code>{name}</code>" in html
    for code in (200, 304, 400, 404, 405, 500):
        assert f"<dt>{code}</dt>" in html
    assert corpus.drivers in html  # the examples use a real statement
