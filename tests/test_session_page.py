"""The session page (/sessions/<slug>): counts per area, panel and kind of organisation, the
grouped or flat listing with filters and sort, keyset pages, bad arguments, empty states."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from portal import workflow
from portal.enums import Language, OrganisationKind, Role, StatementKind, StatementStatus
from portal.extensions import db
from portal.models import MeetingSession, Organisation, Panel, Statement, User, utcnow
from tests import factories

S = StatementStatus
URL = "/sessions/human-rights-all-migrants"
CLOSED_URL = "/sessions/drivers-migration"

# (organisation code, title, areas, language, panel number, kind); the first is the oldest.
PUBLISHED = [
    ("MEX", "Mexico on detention", ("d",), Language.ENGLISH, 1, StatementKind.DELIVERED),
    ("CHE", "Switzerland on labour", ("d", "e"), Language.FRENCH, None, StatementKind.WRITTEN),
    ("IOM", "IOM on smuggling", ("a",), Language.ENGLISH, 2, StatementKind.DELIVERED),
    ("MEX", "Mexico on children", ("a", "d"), Language.SPANISH, None, StatementKind.DELIVERED),
    ("VAT", "Holy See on families", ("e",), Language.ENGLISH, None, StatementKind.DELIVERED),
    ("NGO", "Caritas on returns", ("d",), Language.ENGLISH, 1, StatementKind.JOINT),
]
# Never on the page, never counted.
HIDDEN = {
    S.SUBMITTED: "Secret submitted",
    S.REJECTED: "Secret rejected",
    S.UNPUBLISHED: "Secret unpublished",
    S.CHANGES_REQUESTED: "Secret changes requested",
    S.WITHDRAWN: "Secret withdrawn",
    S.DRAFT: "Secret draft",
    S.DUPLICATE: "Secret duplicate",
}
EMBARGOED = "Secret embargoed"

# The grouped listing sorted by organisation (the default): (area code, kind, title).
GROUPED = [
    ("a", "Member States", "Mexico on children"),
    ("a", "UN system", "IOM on smuggling"),
    ("d", "Member States", "Mexico on children"),
    ("d", "Member States", "Mexico on detention"),
    ("d", "Member States", "Switzerland on labour"),
    ("d", "Civil society", "Caritas on returns"),
    ("e", "Member States", "Switzerland on labour"),
    ("e", "Observer States", "Holy See on families"),
]
NEWEST_FIRST = [row[1] for row in reversed(PUBLISHED)]


@pytest.fixture
def app_config() -> dict[str, object]:
    return {"PORTAL_PAGE_SIZE": 3}


@pytest.fixture
def corpus(app: Flask) -> dict[str, int]:
    """The six published statements of PUBLISHED, one of every unpublished kind, one under embargo."""
    with app.app_context():
        db.session.add_all(
            [
                Organisation(name="Holy See", kind=OrganisationKind.OBSERVER_STATE, code="VAT"),
                Organisation(name="Caritas Internationalis", kind=OrganisationKind.NGO, code="NGO"),
            ]
        )
        db.session.flush()
        moderator = factories.make_user("mod@un.example", role=Role.MODERATOR, org_code=None)
        users: dict[str, User] = {}
        panels = {p.number: p.id for p in db.session.scalars(sa.select(Panel))}

        def author(code: str) -> User:
            if code not in users:
                users[code] = factories.make_user(f"author@{code.lower()}.example", org_code=code)
            return users[code]

        for i, (code, title, areas, language, panel, kind) in enumerate(PUBLISHED):
            statement = factories.make_statement(author(code), title=title, area_codes=areas, language=language, status=S.APPROVED)
            statement.panel_id = panels[panel] if panel else None
            statement.kind = kind
            statement.published_at = utcnow() - timedelta(hours=len(PUBLISHED) - i)
            if title == "Caritas on returns":
                statement.cosignatories = [factories.org("CHE")]
        for status, title in HIDDEN.items():
            factories.make_statement(author("MEX"), title=title, area_codes=("a", "d", "e"), status=status, moderator=moderator)
        embargoed = factories.make_statement(author("IOM"), title=EMBARGOED, area_codes=("d",))
        workflow.apply(embargoed, "approve", actor=moderator, publish_at=utcnow() + timedelta(days=2))
        db.session.commit()
        ids = {f"area_{a.code}": a.id for a in factories.session_by_number(1).areas}
        ids.update({f"panel_{n}": i for n, i in panels.items()})
        ids.update({code: factories.org(code).id for code in ("MEX", "CHE", "IOM", "VAT", "NGO")})
        return ids


# --- reading the page --------------------------------------------------------------------------

_ROW = re.compile(
    r'<h3 id="area-(?P<area>\w+)"|<h4 id="area-\w+-\w+">(?P<kind>[^<]+?) <small>|<a href="/statements/ST-[^"]+">(?P<title>[^<]+)</a>'
)


def rows(html: str) -> list[tuple[str | None, str | None, str]]:
    """The listing's statements in order, each with the area and kind headings above it."""
    area = kind = None
    found = []
    for match in _ROW.finditer(html):
        if match["area"]:
            area, kind = match["area"], None
        elif match["kind"]:
            kind = unescape(match["kind"])
        else:
            found.append((area, kind, unescape(match["title"])))
    return found


def titles(html: str) -> list[str]:
    return [title for _, _, title in rows(html)]


def link(html: str, rel: str) -> str | None:
    match = re.search(rf'<a href="([^"]+)" rel="{rel}">', html)
    return unescape(match.group(1)) if match else None


def walk(client: FlaskClient, url: str) -> tuple[list[tuple[str | None, str | None, str]], list[str]]:
    """Every row, following "Next page"; then back with "Previous page", checking each page is the same."""
    pages: list[str] = []
    next_url: str | None = url
    while next_url:
        response = client.get(next_url)
        assert response.status_code == 200, response.get_data(as_text=True)
        html = response.get_data(as_text=True)
        pages.append(html)
        next_url = link(html, "next")
        assert len(pages) < 20
    assert link(pages[0], "prev") is None
    html = pages[-1]
    for earlier in reversed(pages[:-1]):
        previous = link(html, "prev")
        assert previous is not None
        html = client.get(previous).get_data(as_text=True)
        assert rows(html) == rows(earlier)
    return [row for page in pages for row in rows(page)], pages


def overview(html: str) -> str:
    return html[html.index('<section class="overview"') : html.index('<section class="listing"')]


def count_links(html: str) -> dict[str, str]:
    """The overview's counts: description (visually hidden text) -> "count href"."""
    return {
        unescape(description).strip(): f"{n} {unescape(href)}"
        for href, n, description in re.findall(
            r'<a href="([^"]+)">(\d+)<span class="visually-hidden">([^<]+)</span></a>', overview(html)
        )
    }


def query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query)


# --- the grouped listing and its counts ---------------------------------------------------------


def test_session_page_groups_by_area_then_organisation_kind_across_pages(client: FlaskClient, corpus: dict[str, int]) -> None:
    seen, pages = walk(client, URL)

    assert seen == GROUPED
    assert len(pages) == 3


def test_session_page_says_continued_when_a_group_spans_pages(client: FlaskClient, corpus: dict[str, int]) -> None:
    _, pages = walk(client, URL)

    # Page 2 opens in the middle of area d's Member States.
    assert re.search(r'<h3 id="area-d">d\. Human rights in migration management <small>4 statements · continued from the previous page</small></h3>', pages[1])
    assert re.search(r'<h4 id="area-d-member_state">Member States <small>3 · continued</small></h4>', pages[1])
    assert "continued" not in pages[0]
    assert re.search(r'<h4 id="area-d-ngo">Civil society <small>1</small></h4>', pages[1])
    # Page 3 starts a new area: not continued.
    assert re.search(r'<h3 id="area-e">e\. Detention <small>2 statements</small></h3>', pages[2])
    # Coming back to page 2 with "Previous page" says the same.
    back = client.get(link(pages[2], "prev")).get_data(as_text=True)
    assert "4 statements · continued from the previous page" in back and "3 · continued" in back


def test_session_page_overview_counts_each_area_and_kind_with_links(client: FlaskClient, corpus: dict[str, int]) -> None:
    html = client.get(URL).get_data(as_text=True)

    counts = count_links(html)
    area_a, area_d, area_e = "a. Overarching frameworks and principles", "d. Human rights in migration management", "e. Detention"
    assert {k: v.split()[0] for k, v in counts.items()} == {
        f"by Member States on {area_a}": "1",
        f"by UN system on {area_a}": "1",
        f"in all on {area_a}": "2",
        f"by Member States on {area_d}": "3",
        f"by Civil society on {area_d}": "1",
        f"in all on {area_d}": "4",
        f"by Member States on {area_e}": "1",
        f"by Observer States on {area_e}": "1",
        f"in all on {area_e}": "2",
        "by Member States in Panel 1: Human rights of all migrants": "1",
        "by Civil society in Panel 1: Human rights of all migrants": "1",
        "in all in Panel 1: Human rights of all migrants": "2",
        "by UN system in Panel 2: Social inclusion and cohesion": "1",
        "in all in Panel 2: Social inclusion and cohesion": "1",
    }
    assert "6 published statements in this session." in html
    # Each count lists exactly that many statements.
    for description, value in counts.items():
        n, href = value.split(" ", 1)
        listed = titles(client.get(href).get_data(as_text=True))
        assert len(listed) == int(n) or (int(n) > 3 and len(listed) == 3), description
    assert query(counts[f"by Member States on {area_d}"].split()[1]) == {"area": [str(corpus["area_d"])], "organisation_kind": ["member_state"]}


def test_session_page_counts_honour_the_other_filters(client: FlaskClient, corpus: dict[str, int]) -> None:
    html = client.get(f"{URL}?language=en").get_data(as_text=True)

    counts = {k: v.split()[0] for k, v in count_links(html).items()}
    assert counts["in all on d. Human rights in migration management"] == "2"  # detention, Caritas
    assert "by Member States on a. Overarching frameworks and principles" not in counts  # Mexico on children is Spanish
    assert "6 published statements in this session, 4 matching the filters." in html
    href = count_links(html)["in all on d. Human rights in migration management"].split()[1]
    assert query(href) == {"language": ["en"], "area": [str(corpus["area_d"])]}


def test_session_page_flat_list_sorted_by_organisation(client: FlaskClient, corpus: dict[str, int]) -> None:
    seen, _ = walk(client, f"{URL}?group=none")

    assert [title for _, _, title in seen] == [
        "Caritas on returns", "Holy See on families", "IOM on smuggling",
        "Mexico on children", "Mexico on detention", "Switzerland on labour",
    ]
    assert all(area is None and kind is None for area, kind, _ in seen)


def test_session_page_flat_list_sorted_by_date(client: FlaskClient, corpus: dict[str, int]) -> None:
    seen, _ = walk(client, f"{URL}?group=none&sort=date")

    assert [title for _, _, title in seen] == NEWEST_FIRST


def test_session_page_grouped_sorted_by_date_keeps_the_groups(client: FlaskClient, corpus: dict[str, int]) -> None:
    seen, _ = walk(client, f"{URL}?sort=date")

    assert [(area, kind) for area, kind, _ in seen] == [(area, kind) for area, kind, _ in GROUPED]
    d_member_states = [title for area, kind, title in seen if (area, kind) == ("d", "Member States")]
    assert d_member_states == ["Mexico on children", "Switzerland on labour", "Mexico on detention"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ("area={area_e}", [("e", "Member States", "Switzerland on labour"), ("e", "Observer States", "Holy See on families")]),
        ("panel={panel_1}", [("d", "Member States", "Mexico on detention"), ("d", "Civil society", "Caritas on returns")]),
        ("organisation_kind=un_entity", [("a", "UN system", "IOM on smuggling")]),
        ("organisation={MEX}", [("a", "Member States", "Mexico on children"), ("d", "Member States", "Mexico on children"), ("d", "Member States", "Mexico on detention")]),
        # A co-signatory's statements are its own too.
        ("organisation={CHE}", [("d", "Member States", "Switzerland on labour"), ("d", "Civil society", "Caritas on returns"), ("e", "Member States", "Switzerland on labour")]),
        ("language=fr", [("d", "Member States", "Switzerland on labour"), ("e", "Member States", "Switzerland on labour")]),
        ("kind=joint", [("d", "Civil society", "Caritas on returns")]),
        ("area={area_d}&organisation_kind=member_state&language=en", [("d", "Member States", "Mexico on detention")]),
    ],
)
def test_session_page_filter_narrows_the_listing(client: FlaskClient, corpus: dict[str, int], args: str, expected: list) -> None:
    url = f"{URL}?{args.format(**corpus)}"

    seen, _ = walk(client, url)
    html = client.get(url).get_data(as_text=True)

    assert seen == expected
    assert f"{len({title for _, _, title in expected})} published statement" in html
    assert "Filters: " in html
    # The form shows the choices made.
    for name, value in parse_qs(args.format(**corpus)).items():
        assert re.search(rf'<select[^>]*name="{name}">.*?<option selected value="{value[0]}">', html, re.S), name


def test_session_page_next_link_keeps_filters_sort_and_grouping(client: FlaskClient, corpus: dict[str, int]) -> None:
    html = client.get(f"{URL}?group=none&sort=date&language=en").get_data(as_text=True)

    next_url = link(html, "next")
    assert next_url is not None
    args = query(next_url)
    assert (args["group"], args["sort"], args["language"]) == (["none"], ["date"], ["en"])
    assert set(args) == {"group", "sort", "language", "after"}
    second = client.get(next_url).get_data(as_text=True)
    assert titles(second) == ["Mexico on detention"]
    assert set(query(link(second, "prev"))) == {"group", "sort", "language", "before"}


def test_session_page_never_shows_or_counts_unpublished_statements(client: FlaskClient, corpus: dict[str, int]) -> None:
    urls = [URL, f"{URL}?group=none", f"{URL}?sort=date", f"{URL}?organisation={corpus['MEX']}", f"{URL}?area={corpus['area_a']}"]
    for url in urls:
        seen, pages = walk(client, url)
        for html in pages:
            assert "Secret" not in html, url
        assert len(seen) <= len(GROUPED)
    html = client.get(URL).get_data(as_text=True)
    assert "6 published statements in this session." in html


def test_session_page_keeps_the_exports_feeds_and_metadata(client: FlaskClient, corpus: dict[str, int]) -> None:
    html = client.get(URL).get_data(as_text=True)

    assert '<link rel="alternate" type="application/atom+xml" title="Session 1: Human rights of all migrants: published statements" href="http://localhost/feeds/sessions/human-rights-all-migrants.atom">' in html
    assert 'href="http://localhost/feeds/sessions/human-rights-all-migrants/areas/d.atom"' in html
    assert f'<a href="{URL}/statements.csv">Download all statements (CSV)</a>' in html
    assert f'<a href="{URL}/documents.zip">Download all documents (ZIP)</a>' in html
    assert "8 May 2017 – 9 May 2017 · United Nations Office at Geneva" in html
    assert "Human rights of all migrants, social inclusion, cohesion, and all forms of discrimination" in html
    assert 'name="robots"' not in html  # the unfiltered first page may be indexed


def test_session_page_rows_show_joint_links_kind_language_date_and_panel(client: FlaskClient, corpus: dict[str, int]) -> None:
    html = client.get(f"{URL}?kind=joint").get_data(as_text=True)

    row = html[html.index("<tbody>", html.index('<section class="listing"')) : html.index("</tbody>", html.index('<section class="listing"'))]
    assert f'<a href="/organisations/{corpus["NGO"]}">Caritas Internationalis</a>' in row
    assert f'co-signed by <a href="/organisations/{corpus["CHE"]}">Switzerland</a>' in row
    assert "Panel 1: Human rights of all migrants" in row
    assert "<td>Joint statement</td>" in row and "<td>English</td>" in row
    assert "8 May 2017" in row


def test_session_page_form_has_labels_and_works_without_javascript(client: FlaskClient, corpus: dict[str, int]) -> None:
    html = client.get(URL).get_data(as_text=True)

    form = html[html.index('<form method="get" action="/sessions/human-rights-all-migrants"') :]
    form = form[: form.index("</form>")]
    for name in ("area", "panel", "organisation_kind", "organisation", "language", "kind", "sort", "group"):
        assert re.search(rf'<label for="{name}">[^<]+</label>', form), name
        assert f'name="{name}"' in form
    assert '<button type="submit" class="button primary">Apply filters</button>' in form
    assert f'<a href="{URL}">Clear filters</a>' in form
    assert "csrf_token" not in form and "<script" not in html and "style=" not in html
    assert '<option selected value="organisation">' in form and '<option selected value="area">' in form


# --- bad arguments --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "field", "message"),
    [
        ("area=999999&language=fr", "area", "Choose an area of this session from the list."),
        ("area=abc&language=fr", "area", "Choose an area of this session from the list."),
        ("language=klingon&kind=joint", "language", "Choose a language from the list."),
        ("organisation=999999&language=fr", "organisation", "Choose an organisation from the list."),
        ("sort=random&language=fr", "sort", "Choose an order from the list."),
        ("group=maybe&language=fr", "group", "Choose whether to group by area from the list."),
        ("panel=999999&language=fr", "panel", "Choose a panel of this session from the list."),
        ("area={area_d}&area={area_e}&language=fr", "area", "Give 'area' at most once."),
    ],
)
def test_session_page_bad_filter_is_400_with_the_message_and_inputs_kept(
    client: FlaskClient, corpus: dict[str, int], args: str, field: str, message: str
) -> None:
    response = client.get(f"{URL}?{args.format(**corpus)}")

    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "The statements could not be listed" in html
    assert f'<a href="#{field}">' in html and message in unescape(html)
    assert titles(html) == []
    other = "kind" if field == "language" else "language"
    kept = "joint" if other == "kind" else "fr"
    assert re.search(rf'<select[^>]*name="{other}">.*?<option selected value="{kept}">', html, re.S)


def test_session_page_area_of_another_session_is_refused(app: Flask, client: FlaskClient, corpus: dict[str, int]) -> None:
    with app.app_context():
        other_area = factories.area(2, "a").id

    response = client.get(f"{URL}?area={other_area}")

    assert response.status_code == 400
    assert "Choose an area of this session from the list." in response.get_data(as_text=True)


@pytest.mark.parametrize("cursor", ["abc", "%%%", "eyJzIjoiZGF0ZSIsImsiOlsiMjAxNyIsMV19", "x" * 600])
@pytest.mark.parametrize("direction", ["after", "before"])
def test_session_page_tampered_cursor_is_400_with_the_message(client: FlaskClient, corpus: dict[str, int], cursor: str, direction: str) -> None:
    response = client.get(f"{URL}?language=en&{direction}={cursor}")

    html = unescape(response.get_data(as_text=True))
    assert response.status_code == 400
    assert "This page link is not valid" in html
    assert f'<a href="{URL}?language=en">Go to the first page</a>' in html
    assert re.search(r'<select[^>]*name="language">.*?<option selected value="en">', html, re.S)
    assert titles(html) == []


def test_session_page_cursor_of_another_order_is_400(client: FlaskClient, corpus: dict[str, int]) -> None:
    next_url = link(client.get(URL).get_data(as_text=True), "next")
    cursor = query(next_url)["after"][0]

    response = client.get(f"{URL}?sort=date&after={cursor}")

    assert response.status_code == 400
    assert "This page link is not valid" in response.get_data(as_text=True)


def test_session_page_ignores_arguments_it_does_not_use(client: FlaskClient, corpus: dict[str, int]) -> None:
    response = client.get(f"{URL}?utm_source=newsletter&page=2&q=detention")

    assert response.status_code == 200
    assert titles(response.get_data(as_text=True)) == [title for _, _, title in GROUPED][:3]


def test_unknown_session_is_404(client: FlaskClient) -> None:
    response = client.get("/sessions/no-such-session?area=1")

    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


# --- empty states ---------------------------------------------------------------------------------


def test_session_page_with_nothing_published_says_so_and_when_submissions_close(app: Flask, client: FlaskClient) -> None:
    response = client.get(CLOSED_URL)

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "No statements published yet" in html
    assert re.search(r"Submissions closed on \d+ \w+ \d{4}, \d\d:\d\d UTC", html)
    assert '<a href="/feeds/sessions/drivers-migration.atom">Follow this session\'s feed</a>' in html
    assert '<a href="/search">Search the statements published so far</a>' in html
    assert "Download all statements" not in html and 'class="overview"' not in html


def test_session_page_with_nothing_published_while_open_says_until_when(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        meeting_session = factories.session_by_number(1)
        meeting_session.submissions_close_at = utcnow() + timedelta(days=10)
        db.session.commit()
        closes = meeting_session.submissions_close_at

    html = client.get(URL).get_data(as_text=True)

    assert "No statements published yet" in html
    assert f"Submissions are open until {closes.day} {closes:%B %Y, %H:%M} UTC." in html


def test_session_page_with_nothing_published_before_submissions_open(app: Flask, client: FlaskClient) -> None:
    with app.app_context():
        meeting_session = factories.session_by_number(1)
        meeting_session.submissions_open_at = utcnow() + timedelta(days=3)
        db.session.commit()

    html = client.get(URL).get_data(as_text=True)

    assert re.search(r"Submissions open on \d+ \w+ \d{4}, \d\d:\d\d UTC\.", html)


def test_session_page_only_unpublished_statements_is_still_empty(app: Flask, client: FlaskClient, corpus: dict[str, int]) -> None:
    with app.app_context():
        meeting_session = db.session.scalar(sa.select(MeetingSession).where(MeetingSession.number == 2))
        statement = factories.make_statement(factories.make_user("x@mexico.example"), title="Secret in session 2", status=S.SUBMITTED)
        statement.session_id = meeting_session.id
        db.session.commit()

    html = client.get(CLOSED_URL).get_data(as_text=True)

    assert "No statements published yet" in html and "Secret" not in html


def test_session_page_filters_matching_nothing_say_so_with_a_clear_link(client: FlaskClient, corpus: dict[str, int]) -> None:
    response = client.get(f"{URL}?language=zh&organisation_kind=igo")

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "No published statement matches these filters." in html
    assert f'<a href="{URL}">Clear the filters</a> to see all 6 published statements of this session' in html
    assert "Language: <strong>Chinese</strong>" in html and "Kind of organisation: <strong>Intergovernmental organisation</strong>" in html
    assert titles(html) == []
    assert '<meta name="robots" content="noindex, follow">' in html


def test_session_page_organisation_without_statements_here_matches_nothing(app: Flask, client: FlaskClient, corpus: dict[str, int]) -> None:
    with app.app_context():
        nobody = Organisation(name="Nobody Yet", kind=OrganisationKind.NGO)
        db.session.add(nobody)
        db.session.commit()
        nobody_id = nobody.id

    response = client.get(f"{URL}?organisation={nobody_id}")

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "No published statement matches these filters." in html
    assert "Organisation: <strong>Nobody Yet</strong>" in html


def test_index_links_every_session_with_its_count(client: FlaskClient, corpus: dict[str, int]) -> None:
    html = client.get("/").get_data(as_text=True)

    assert f'<a href="{URL}">Session 1: Human rights of all migrants</a>' in html
    assert "<p>6 published statements</p>" in html
    assert f'<a href="{CLOSED_URL}">Session 2: Drivers of migration</a>' in html
    assert "<p>0 published statements</p>" in html


def test_session_page_counts_follow_publication_and_unpublishing(app: Flask, client: FlaskClient, corpus: dict[str, int]) -> None:
    first = client.get(f"{URL}?language=en").get_data(as_text=True)  # counts are kept for the public revision
    with app.app_context():
        moderator = db.session.scalar(sa.select(User).where(User.email == "mod@un.example"))
        author = db.session.scalar(sa.select(User).where(User.email == "author@mex.example"))
        factories.make_statement(author, title="Mexico on return", area_codes=("e",), status=S.APPROVED, moderator=moderator)
        db.session.commit()

    published = client.get(f"{URL}?language=en").get_data(as_text=True)
    with app.app_context():
        statement = db.session.scalar(sa.select(Statement).where(Statement.title == "Mexico on detention"))
        moderator = db.session.scalar(sa.select(User).where(User.email == "mod@un.example"))
        workflow.apply(statement, "unpublish", actor=moderator, note="Sent by mistake.")
        db.session.commit()
    unpublished = client.get(f"{URL}?language=en").get_data(as_text=True)

    assert "6 published statements in this session, 4 matching the filters." in first
    assert "7 published statements in this session, 5 matching the filters." in published
    assert count_links(published)["by Member States on e. Detention"].split()[0] == "1"
    assert "Mexico on return" in titles(client.get(f"{URL}?language=en&area={corpus['area_e']}").get_data(as_text=True))
    assert "6 published statements in this session, 4 matching the filters." in unpublished
    assert "Mexico on detention" not in unpublished
