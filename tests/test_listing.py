"""Public listings (portal.listing): every sort and grouping pages through all published
statements exactly once, forwards and backwards, with filters; bad arguments are named."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from werkzeug.datastructures import MultiDict

from portal import listing, search
from portal.enums import Language, OrganisationKind, StatementStatus
from portal.extensions import db
from portal.models import Organisation, Statement, utcnow
from tests import factories

S = StatementStatus

# (author's organisation code, title, area codes, status)
ROWS = [
    ("MEX", "Mexico on detention", ("d",), S.APPROVED),
    ("CHE", "Switzerland on labour", ("d", "e"), S.APPROVED),
    ("IOM", "IOM on smuggling", ("a",), S.APPROVED),
    ("MEX", "Mexico on children", ("a", "d"), S.APPROVED),
    ("FRA", "France on returns", ("e",), S.APPROVED),
    ("CHE", "Switzerland draft", ("d",), S.SUBMITTED),
    ("MEX", "Mexico rejected", ("d",), S.REJECTED),
    ("IOM", "IOM unpublished", ("a",), S.UNPUBLISHED),
]


@pytest.fixture
def corpus(app: Flask) -> dict[str, Statement]:
    with app.app_context():
        db.session.add(Organisation(name="France", kind=OrganisationKind.MEMBER_STATE, code="FRA"))
        users = {}
        made = {}
        for i, (code, title, areas, status) in enumerate(ROWS):
            if code not in users:
                users[code] = factories.make_user(f"author-{code.lower()}@example.org", org_code=code)
            statement = factories.make_statement(users[code], title=title, area_codes=areas, status=status)
            if statement.published_at is not None:
                # Distinct, known publication times: the first row is the oldest.
                statement.published_at = utcnow() - timedelta(hours=len(ROWS) - i)
            made[title] = statement
        # One approved but under embargo: never listed.
        embargoed = factories.make_statement(users["FRA"], title="France embargoed", status=S.APPROVED)
        embargoed.publish_at = utcnow() + timedelta(days=2)
        db.session.commit()
        return {title: s.public_id for title, s in made.items()}  # type: ignore[misc]


def _walk(limit: int, **kwargs: object) -> list[tuple[str, str | None]]:
    """Every row of the listing, following next cursors; checks previous cursors lead back."""
    seen: list[tuple[str, str | None]] = []
    pages = []
    after = None
    while True:
        page = listing.list_public(after=after, limit=limit, **kwargs)  # type: ignore[arg-type]
        pages.append(page)
        seen += [(item.statement.title, item.area.code if item.area else None) for item in page.items]
        if page.next_cursor is None:
            break
        after = page.next_cursor
        assert len(pages) < 50
    # Backwards from the last page reproduces each earlier page.
    for earlier, later in zip(reversed(pages[:-1]), reversed(pages[1:]), strict=True):
        assert later.previous_cursor is not None
        back = listing.list_public(before=later.previous_cursor, limit=limit, **kwargs)  # type: ignore[arg-type]
        assert [i.statement.id for i in back.items] == [i.statement.id for i in earlier.items]
    assert pages[0].previous_cursor is None
    return seen


@pytest.mark.parametrize("limit", [1, 2, 3, 100])
def test_listing_by_date_pages_every_published_statement_once(app: Flask, corpus: dict[str, str], limit: int) -> None:
    with app.app_context():
        titles = [t for t, _ in _walk(limit)]
    assert titles == ["France on returns", "Mexico on children", "IOM on smuggling", "Switzerland on labour", "Mexico on detention"]


def test_listing_by_organisation_orders_by_name_then_newest(app: Flask, corpus: dict[str, str]) -> None:
    with app.app_context():
        titles = [t for t, _ in _walk(2, sort=listing.Sort.ORGANISATION)]
    assert titles == ["France on returns", "IOM on smuggling", "Mexico on children", "Mexico on detention", "Switzerland on labour"]


def test_listing_grouped_lists_a_statement_under_each_of_its_areas(app: Flask, corpus: dict[str, str]) -> None:
    with app.app_context():
        rows = _walk(2, sort=listing.Sort.ORGANISATION, grouped=True)
    assert rows == [
        # area a: UN system after Member States
        ("Mexico on children", "a"),
        ("IOM on smuggling", "a"),
        ("Mexico on children", "d"),
        ("Mexico on detention", "d"),
        ("Switzerland on labour", "d"),
        ("France on returns", "e"),
        ("Switzerland on labour", "e"),
    ]


def test_listing_grouped_items_carry_their_group(app: Flask, corpus: dict[str, str]) -> None:
    with app.app_context():
        page = listing.list_public(grouped=True, limit=100)
        kinds = {(i.statement.title, i.area.code): i.kind for i in page.items}  # type: ignore[union-attr]
    assert kinds[("IOM on smuggling", "a")] is OrganisationKind.UN_ENTITY
    assert kinds[("Mexico on children", "a")] is OrganisationKind.MEMBER_STATE


def test_listing_filters_combine(app: Flask, corpus: dict[str, str]) -> None:
    with app.app_context():
        d = factories.area(1, "d").id
        mex = factories.org("MEX").id
        by_area = [t for t, _ in _walk(2, filters=search.SearchFilters(area_id=d))]
        by_both = [t for t, _ in _walk(2, filters=search.SearchFilters(area_id=d, organisation_id=mex))]
        member_states = [t for t, _ in _walk(10, filters=search.SearchFilters(organisation_kind=OrganisationKind.MEMBER_STATE))]
        french = listing.list_public(search.SearchFilters(language=Language.FRENCH))
        grouped_d = _walk(1, filters=search.SearchFilters(area_id=d), grouped=True)
    assert by_area == ["Mexico on children", "Switzerland on labour", "Mexico on detention"]
    assert by_both == ["Mexico on children", "Mexico on detention"]
    assert "IOM on smuggling" not in member_states and len(member_states) == 4
    assert french.items == [] and french.next_cursor is None and french.previous_cursor is None
    assert {area for _, area in grouped_d} == {"d"}


def test_listing_cursor_of_another_sort_is_refused(app: Flask, corpus: dict[str, str]) -> None:
    with app.app_context():
        cursor = listing.list_public(limit=1).next_cursor
        with pytest.raises(listing.InvalidParameter) as caught:
            listing.list_public(sort=listing.Sort.ORGANISATION, after=cursor, limit=1)
    assert caught.value.name == "after"
    assert "another sort" in caught.value.message


@pytest.mark.parametrize(
    "cursor",
    [
        listing.encode_cursor({"s": "date", "k": ["0001-01-01T00:00:00+05:00", 1]}),
        listing.encode_cursor({"s": "organisation", "k": ["Mexico\ud800", "2017-05-08T00:00:00", 1]}),
        listing.encode_cursor({"s": "organisation", "k": ["Mex\x00ico", "2017-05-08T00:00:00", 1]}),
        listing.encode_cursor({"s": "date", "k": ["2017-05-08T00:00:00", 2**40]}),
        "", "%%%", "bm90IGpzb24", "W10", "eyJzIjoiZGF0ZSIsImsiOlsiMjAxNyIsMV19", "eyJzIjoiZGF0ZSIsImsiOlt0cnVlLDFdfQ", "a" * 600],
)
def test_listing_tampered_cursor_is_an_invalid_parameter(app: Flask, corpus: dict[str, str], cursor: str) -> None:
    with app.app_context():
        if cursor == "":
            assert listing.list_public(after=None, limit=1).items
            return
        with pytest.raises(listing.InvalidParameter) as caught:
            listing.list_public(after=cursor, limit=1)
    assert caught.value.name == "after"


@pytest.mark.parametrize(
    ("args", "name"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"session": "-1"}, "session"),
        ({"area": "1.5"}, "area"),
        ({"organisation": "99999999999"}, "organisation"),
        ({"language": "klingon"}, "language"),
        ({"kind": "speech"}, "kind"),
        ({"organisation_kind": "state"}, "organisation_kind"),
        ({"sort": "random"}, "sort"),
        ({"q": "x" * 501}, "q"),
        ({"q": "detention", "sort": "date"}, "sort"),
        ({"after": "a", "before": "b"}, "before"),
        ({"colour": "blue"}, "colour"),
    ],
)
def test_parse_args_bad_value_names_the_parameter(args: dict[str, str], name: str) -> None:
    with pytest.raises(listing.InvalidParameter) as caught:
        listing.parse_args(args)
    assert caught.value.name == name
    assert name in caught.value.message


def test_parse_args_repeated_parameter_is_refused() -> None:
    with pytest.raises(listing.InvalidParameter) as caught:
        listing.parse_args(MultiDict([("area", "1"), ("area", "2")]))
    assert caught.value.name == "area"


def test_parse_args_reads_every_filter() -> None:
    params = listing.parse_args(
        {"session": "1", "area": "2", "panel": "3", "organisation": "4", "organisation_kind": "ngo", "language": "fr",
         "kind": "joint", "sort": "organisation", "limit": "100", "after": "abc", "q": ""}
    )
    assert params.filters == search.SearchFilters(
        session_id=1, area_id=2, panel_id=3, organisation_id=4, organisation_kind=OrganisationKind.NGO,
        language=Language.FRENCH, kind=search.StatementKind.JOINT,
    )
    assert (params.sort, params.limit, params.after, params.before, params.q) == (listing.Sort.ORGANISATION, 100, "abc", None, "")


def test_check_filters_exist_refuses_unknown_ids(app: Flask, corpus: dict[str, str]) -> None:
    with app.app_context():
        listing.check_filters_exist(search.SearchFilters(session_id=factories.session_by_number(1).id))
        for filters, name in [
            (search.SearchFilters(session_id=999999), "session"),
            (search.SearchFilters(area_id=999999), "area"),
            (search.SearchFilters(panel_id=999999), "panel"),
            (search.SearchFilters(organisation_id=999999), "organisation"),
        ]:
            with pytest.raises(listing.InvalidParameter) as caught:
                listing.check_filters_exist(filters)
            assert caught.value.name == name


def test_search_page_cursor_walks_ranked_results(app: Flask, corpus: dict[str, str]) -> None:
    with app.app_context():
        seen: list[str] = []
        params = listing.Params(q="Mexico OR Switzerland OR France OR IOM", limit=2)
        pages = 0
        while True:
            result, next_cursor, previous_cursor = listing.search_page(params)
            assert (previous_cursor is None) == (pages == 0)
            seen += [r.statement.title for r in result.results]
            pages += 1
            if next_cursor is None:
                break
            params = listing.Params(q=params.q, limit=2, after=next_cursor)
    assert sorted(seen) == sorted(["France on returns", "Mexico on children", "IOM on smuggling", "Switzerland on labour", "Mexico on detention"])
    assert pages == 3
