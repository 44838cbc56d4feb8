"""Full-text search on a small known corpus, on SQLite (FTS5) and PostgreSQL (tsvector):
syntax, stemming, ranking, filters, snippets, and nothing unpublished ever found."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from flask import Flask

from portal import operations, search, workflow
from portal.enums import FileRole, Language, OrganisationKind, Role, StatementKind, StatementStatus
from portal.extensions import db
from portal.models import DocumentText, Organisation, SearchDocument, Statement, User, utcnow
from portal.storage import get_store
from tests import factories
from tests.test_extract import blank_pdf, encrypted_pdf

S = StatementStatus
EN, FR = Language.ENGLISH, Language.FRENCH

# key: (organisation code, language, title, document, format, area codes)
CORPUS = {
    "alternatives": (
        "MEX", EN, "Alternatives to detention for migrants",
        "Mexico supports alternatives to detention. Community programmes keep families together "
        "and respect the rights of every migrant.", "pdf", ("d",),
    ),
    "labour": (
        "IOM", EN, "Labour migration and decent work",
        "Labour migration brings benefits to all. Where alternatives are lacking, States resort to the "
        "detention of workers; we oppose that detention. Smuggling of migrants must be prevented.", "docx", ("d",),
    ),
    "children": (
        "MEX", EN, "Statement on children on the move",
        "Unaccompanied children need protection. The detention of children must end. "
        "Trafficking in persons targets children. Child labour is a concern.", "txt", ("e",),
    ),
    "integration": (
        "IOM", EN, "Remarks on <b>integration</b>",
        "Integration policies & <script>alert('x')</script> the inclusion of migrants in cities.", "txt", ("a",),
    ),
    "suisse": (
        "CHE", FR, "Déclaration de la Suisse sur la protection",
        "La Suisse soutient les migrations régulières et la protection des travailleurs.", "odt", ("d",),
    ),
    "travail": (
        "CHE", FR, "Intervention sur le travail décent",
        "Le travail décent pour tous les migrants. Nous parlons aussi de la mobilité de la main-d'œuvre.", "txt", ("a",),
    ),
}


def document(text: str, fmt: str) -> tuple[bytes, str]:
    if fmt == "pdf":
        return factories.pdf_bytes(text), "statement.pdf"
    if fmt == "docx":
        return factories.docx_bytes(text), "statement.docx"
    if fmt == "odt":
        return factories.odt_bytes(text), "statement.odt"
    return text.encode("utf-8"), "statement.txt"


def authors() -> dict[str, User]:
    factories.make_user("mod@un.example", role=Role.MODERATOR, org_code=None)
    return {
        "MEX": factories.make_user("ana@mexico.example", org_code="MEX"),
        "CHE": factories.make_user("hans@switzerland.example", org_code="CHE"),
        "IOM": factories.make_user("desk@iom.example", org_code="IOM"),
    }


def add(author: User, title: str, text: str, *, status: S = S.APPROVED, language: Language = EN, fmt: str = "txt",
        area_codes: tuple[str, ...] = ("d",)) -> Statement:
    data, filename = document(text, fmt)
    return factories.make_statement(
        author, title=title, data=data, filename=filename, status=status, language=language, area_codes=area_codes
    )


@pytest.fixture
def corpus(app: Flask) -> SimpleNamespace:
    """The six published statements of CORPUS, and their public ids by key."""
    with app.app_context():
        people = authors()
        refs = {}
        for key, (code, language, title, text, fmt, areas) in CORPUS.items():
            refs[key] = add(people[code], title, text, language=language, fmt=fmt, area_codes=areas).public_id
        db.session.commit()
    return SimpleNamespace(**refs)


def found(app: Flask, q: str, filters: search.SearchFilters | None = None, **kwargs) -> list[str]:
    """Public ids of the results, in rank order."""
    with app.app_context():
        page = search.search_public(q, filters, per_page=50, **kwargs)
        return [r.statement.public_id for r in page.results]


def result_for(app: Flask, q: str, public_id: str) -> search.SearchResult:
    with app.app_context():
        page = search.search_public(q, per_page=50)
        return next(r for r in page.results if r.statement.public_id == public_id)


# --- the query language (no database) ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "websearch", "fts5"),
    [
        ("detention", "detention", '(("detention"))'),
        ("Detention  OF children", "detention of children", '(("detention") AND ("of") AND ("children"))'),
        ('"alternatives to detention"', '"alternatives to detention"', '(("alternatives to detention"))'),
        ("detention -children", "detention -children", '((("detention")) NOT "children")'),
        ('migrants -"child labour"', 'migrants -"child labour"', '((("migrants")) NOT "child labour")'),
        ("smuggling OR trafficking", "smuggling OR trafficking", '(("smuggling" OR "trafficking"))'),
        ("migrants smuggling OR trafficking OR abuse", "migrants smuggling OR trafficking OR abuse",
         '(("migrants") AND ("smuggling" OR "trafficking" OR "abuse"))'),
        ("e-mail", '"e mail"', '(("e mail"))'),
        ('say "unclosed phrase', 'say "unclosed phrase"', '(("say") AND ("unclosed phrase"))'),
        ('NEAR(a b) col:x ^y * "', '"near a" b "col x" y', '(("near a") AND ("b") AND ("col x") AND ("y"))'),
    ],
)
def test_query_syntax_is_translated_safely(text, websearch, fts5):
    parsed = search.parse_query(text)

    assert (parsed.websearch(), parsed.fts5()) == (websearch, fts5)


@pytest.mark.parametrize("text", ["", "   ", "-children", "OR", "OR OR", '""', "- -", "«»", '-"child labour"'])
def test_query_without_words_to_find_is_empty(text):
    assert search.parse_query(text).is_empty


def test_or_next_to_an_exclusion_is_an_and():
    parsed = search.parse_query("-children OR detention")

    assert (parsed.websearch(), parsed.is_empty) == ("detention -children", False)


def test_highlight_escapes_the_text_then_marks_matches():
    raw = "a <script>x</script> & \x02b\x03 \x03c \x02d"

    assert search.highlight(raw) == 'a &lt;script&gt;x&lt;/script&gt; &amp; <mark>b</mark> c <mark>d</mark>'


@pytest.mark.parametrize(
    "raw",
    ["", "plain <b>", "\x02a\x03 & \x02<b>\x03", "\x02\x03", "\x02a", "a\x03", "\x02a\x02b\x03\x03", "\x03a\x02", "x\x02\x02y\x03"],
)
def test_highlight_marks_the_same_whether_the_markers_pair_or_not(raw):
    """Paired markers (as passages() makes them) take a shortcut; its HTML is the same as the
    general way's, which balances any markers."""
    assert search.highlight(raw) == search._balanced_highlight(raw)
    assert str(search.highlight(raw)).count("<mark>") == str(search.highlight(raw)).count("</mark>")


# --- matching and ranking ------------------------------------------------------------------------


def test_single_word_ranks_the_title_match_first(app, corpus):
    results = found(app, "detention")

    assert results[0] == corpus.alternatives
    assert set(results) == {corpus.alternatives, corpus.labour, corpus.children}


def test_title_before_text_on_equal_terms(app, corpus):
    assert found(app, "labour") == [corpus.labour, corpus.children]


def test_quoted_phrase_matches_only_the_words_side_by_side(app, corpus):
    assert found(app, '"alternatives to detention"') == [corpus.alternatives]


def test_unquoted_words_side_by_side_rank_first(app, corpus):
    results = found(app, "alternatives to detention")

    assert results == [corpus.alternatives, corpus.labour]
    assert result_for(app, "alternatives to detention", corpus.alternatives).adjacent is True
    assert result_for(app, "alternatives to detention", corpus.labour).adjacent is False


def test_minus_excludes_a_word(app, corpus):
    assert set(found(app, "detention -children")) == {corpus.alternatives, corpus.labour}


def test_minus_excludes_a_phrase(app, corpus):
    assert set(found(app, 'detention -"child labour"')) == {corpus.alternatives, corpus.labour}


def test_or_offers_alternatives(app, corpus):
    assert set(found(app, "smuggling OR trafficking")) == {corpus.labour, corpus.children}


def test_or_binds_tighter_than_and(app, corpus):
    assert found(app, "unaccompanied smuggling OR trafficking") == [corpus.children]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        pytest.param("migrant", {"labour", "integration"}, id="english_singular_finds_plural"),
        pytest.param("families", {"alternatives"}, id="english_plural_ies"),
        pytest.param("protecting", {"children"}, id="english_gerund_finds_noun"),
        pytest.param("migration", {"suisse"}, id="french_singular_finds_plural"),
        pytest.param("régulière", {"suisse"}, id="french_feminine_singular_finds_plural"),
    ],
)
def test_stemming_english_and_french(app, corpus, q, expected):
    results = set(found(app, q))

    assert {getattr(corpus, key) for key in expected} <= results


def test_organisation_name_and_acronym_match(app, corpus):
    assert set(found(app, "Switzerland")) == {corpus.suisse, corpus.travail}
    assert set(found(app, "IOM")) == {corpus.labour, corpus.integration}


def test_title_words_match(app, corpus):
    assert found(app, "unaccompanied") == [corpus.children]  # only in the text
    assert found(app, "move") == [corpus.children]  # only in the title


# --- filters -----------------------------------------------------------------------------------


def test_filters_combine_with_the_words(app, corpus):
    with app.app_context():
        area_e = factories.area(1, "e").id
        session1 = factories.session_by_number(1).id
        session2 = factories.session_by_number(2).id
        iom = factories.org("IOM").id

    F = search.SearchFilters
    assert set(found(app, "migrants", F(organisation_kind=OrganisationKind.UN_ENTITY))) == {corpus.labour, corpus.integration}
    assert found(app, "migrants", F(language=FR)) == [corpus.travail]
    assert found(app, "detention", F(area_id=area_e)) == [corpus.children]
    assert found(app, "detention", F(organisation_id=iom)) == [corpus.labour]
    assert set(found(app, "detention", F(session_id=session1))) == {corpus.alternatives, corpus.labour, corpus.children}
    assert found(app, "detention", F(session_id=session2)) == []
    assert len(found(app, "detention", F(kind=StatementKind.DELIVERED))) == 3
    assert found(app, "detention", F(kind=StatementKind.WRITTEN)) == []


def test_filters_alone_list_newest_first(app, corpus):
    with app.app_context():
        che = factories.org("CHE").id

    assert found(app, "", search.SearchFilters(organisation_id=che)) == [corpus.travail, corpus.suisse]
    assert found(app, "") == []  # no words and no filters: nothing to search for


def test_pages_split_the_ranked_results(app, corpus):
    with app.app_context():
        whole = search.search_public("migrants OR migration OR detention", per_page=50)
        first = search.search_public("migrants OR migration OR detention", page=1, per_page=2)
        second = search.search_public("migrants OR migration OR detention", page=2, per_page=2)
        ids = [r.statement.public_id for r in whole.results]

    assert first.total == second.total == whole.total == len(ids) >= 4
    assert [r.statement.public_id for r in first.results + second.results] == ids[:4]
    assert first.pages == -(-whole.total // 2)


# --- snippets -------------------------------------------------------------------------------------


def test_snippet_highlights_the_matching_words_of_the_document(app, corpus):
    snippet = result_for(app, "detention", corpus.alternatives).snippet

    assert "<mark>detention</mark>" in snippet
    assert "Mexico supports alternatives" in snippet


def test_snippet_is_html_safe(app, corpus):
    snippet = str(result_for(app, "integration", corpus.integration).snippet)

    assert "<mark>Integration</mark>" in snippet
    assert "&amp;" in snippet and "alert(" in snippet
    # FTS5 keeps the tag-like text, escaped; ts_headline leaves tags out: no raw markup either way.
    assert re.sub(r"</?mark>", "", snippet).count("<") == 0


def test_snippet_comes_from_the_opening_of_the_text_counted_in_characters(app, corpus, monkeypatch):
    """Passages are taken from the first PASSAGE_SOURCE_CHARS characters of a text (not bytes:
    the French text's accents take two bytes each in UTF-8)."""
    with app.app_context():
        body = db.session.scalar(
            sa.select(SearchDocument.body).join(Statement, Statement.id == SearchDocument.statement_id)
            .where(Statement.public_id == corpus.suisse)
        )
    assert len(body.encode()) > len(body) and body.rstrip().endswith("travailleurs.")
    monkeypatch.setattr(search, "PASSAGE_SOURCE_CHARS", len(body))
    assert "<mark>travailleurs</mark>" in result_for(app, "travailleurs", corpus.suisse).snippet
    monkeypatch.setattr(search, "PASSAGE_SOURCE_CHARS", body.index("travailleurs") + 5)
    cut = str(result_for(app, "travailleurs", corpus.suisse).snippet)
    assert "<mark>" not in cut and cut.startswith("La Suisse soutient") and cut.endswith("trava")


NASTY_QUERIES = [
    '"', '"unclosed', "-", "OR", "a OR", "NEAR(a b)", "*", "col:val", "^a", "a AND b NOT c",
    "'); DROP TABLE statements; --", "été", "\\", "x" * 2000, "détention -", '"" OR ""', "a -b -c -d -e -f OR g",
    "🙂 migrants", "title:detention", "{detention}", "detention*", "\x00 detention",
]


def test_any_input_searches_without_error(app, corpus):
    with app.app_context():
        for q in NASTY_QUERIES:
            page = search.search_public(q)
            assert page.total >= len(page.results), q
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Statement)) == len(CORPUS)


# --- nothing unpublished is ever found -----------------------------------------------------------------


@pytest.fixture
def hidden(app: Flask, corpus: SimpleNamespace) -> dict[str, str]:
    """Statements the public must never find, each holding "zanzibar" and "detention"."""
    text = "Zanzibar declaration on detention."
    with app.app_context():
        author = db.session.scalar(sa.select(User).where(User.email == "ana@mexico.example"))
        moderator = db.session.scalar(sa.select(User).where(User.role == Role.MODERATOR))
        refs = {}
        for status in (S.DRAFT, S.SUBMITTED, S.CHANGES_REQUESTED, S.REJECTED, S.WITHDRAWN, S.UNPUBLISHED, S.DUPLICATE):
            refs[status.value] = add(author, f"Zanzibar {status.value} statement", text, status=status).public_id
        embargoed = add(author, "Zanzibar embargoed statement", text, status=S.SUBMITTED)
        workflow.apply(embargoed, "approve", actor=moderator, publish_at=utcnow() + timedelta(days=2))
        refs["embargoed"] = embargoed.public_id
        # A published statement whose pending correction holds the hidden words.
        corrected = db.session.scalar(sa.select(Statement).where(Statement.public_id == corpus.children))
        operations.upload_version(
            corrected,
            author=author,
            uploads=[operations.Upload(io.BytesIO(text.encode()), "correction.txt", EN, FileRole.ORIGINAL)],
            note="Corrected",
            store=get_store(),
            max_bytes=1 << 20,
        )
        db.session.commit()
    return refs


def test_nothing_unpublished_is_found(app, corpus, hidden):
    assert found(app, "zanzibar") == []
    assert not set(found(app, "detention")) & set(hidden.values())
    assert found(app, '"Zanzibar declaration"') == []
    assert found(app, "zanzibar OR statement") == [corpus.children]  # its published title, not its correction
    with app.app_context():
        listed = search.search_public("", search.SearchFilters(session_id=factories.session_by_number(1).id), per_page=100)
        assert not {r.statement.public_id for r in listed.results} & set(hidden.values())


def test_nothing_unpublished_is_found_through_the_page(app, client, corpus, hidden):
    for q in ("zanzibar", "detention", "zanzibar OR detention"):
        html = client.get("/search", query_string={"q": q}).get_data(as_text=True)
        assert "anzibar" not in html.replace(q, "")
        assert not any(ref in html for ref in hidden.values())


def test_embargoed_statement_is_found_once_the_embargo_ends(app, corpus, hidden):
    later = utcnow() + timedelta(days=3)

    assert found(app, "zanzibar", now=later) == [hidden["embargoed"]]


@pytest.mark.parametrize("probe_rows", [1000, 1])
def test_search_statements_reused_take_each_searchs_own_values(app, corpus, hidden, monkeypatch, probe_rows):
    """A search's statements are built once for each set of filters in use and then reused
    with each search's values (portal.search._Scope): no filter value or time of an earlier
    search carries over, whether the probe (PROBE_ROWS 1000) or the indexes (1) find them."""
    monkeypatch.setattr(search, "PROBE_ROWS", probe_rows)
    with app.app_context():
        session1 = factories.session_by_number(1).id
        session2 = factories.session_by_number(2).id
        iom = factories.org("IOM").id
        che = factories.org("CHE").id
    F = search.SearchFilters
    later = utcnow() + timedelta(days=3)
    for _ in range(2):
        assert found(app, "detention", F(session_id=session2)) == []
        assert set(found(app, "detention", F(session_id=session1))) == {corpus.alternatives, corpus.labour, corpus.children}
        assert found(app, "detention", F(organisation_id=iom)) == [corpus.labour]
        assert found(app, "migrants", F(organisation_id=che)) == [corpus.travail]
        assert found(app, "zanzibar", now=later) == [hidden["embargoed"]]
        assert found(app, "zanzibar") == []
        assert found(app, '"zanzibar declaration"', now=later) == [hidden["embargoed"]]
        assert found(app, '"zanzibar declaration"') == []


def decide(app: Flask, public_id: str, action: str, **kwargs) -> None:
    with app.app_context():
        moderator = db.session.scalar(sa.select(User).where(User.role == Role.MODERATOR))
        statement = db.session.scalar(sa.select(Statement).where(Statement.public_id == public_id))
        workflow.apply(statement, action, actor=moderator, **kwargs)
        db.session.commit()


def indexed(app: Flask, public_id: str) -> bool:
    with app.app_context():
        statement = db.session.scalar(sa.select(Statement).where(Statement.public_id == public_id))
        return db.session.get(SearchDocument, statement.id) is not None


def test_index_follows_corrections_unpublishing_and_republishing(app, corpus, hidden):
    decide(app, corpus.children, "approve_correction")
    assert found(app, "zanzibar") == [corpus.children]
    assert found(app, "unaccompanied") == []  # the old version's text is gone

    decide(app, corpus.children, "unpublish", note="Published by mistake.")
    assert (found(app, "zanzibar"), indexed(app, corpus.children)) == ([], False)

    decide(app, corpus.children, "republish")
    assert (found(app, "zanzibar"), indexed(app, corpus.children)) == ([corpus.children], True)


def test_rejected_correction_leaves_the_published_text_searchable(app, corpus, hidden):
    decide(app, corpus.children, "reject_correction", note="Not a correction.")

    assert found(app, "zanzibar") == []
    assert found(app, "unaccompanied") == [corpus.children]


def test_file_without_text_is_published_and_found_by_title(app, corpus):
    with app.app_context():
        author = db.session.scalar(sa.select(User).where(User.email == "ana@mexico.example"))
        locked = factories.make_statement(author, title="Locked remittances statement", data=encrypted_pdf("x", user_password="pw"))
        scanned = factories.make_statement(author, title="Scanned remittances statement", data=blank_pdf())
        moderator = db.session.scalar(sa.select(User).where(User.role == Role.MODERATOR))
        workflow.apply(locked, "approve", actor=moderator)
        workflow.apply(scanned, "approve", actor=moderator)
        refs = {locked.public_id, scanned.public_id}
        db.session.commit()

    assert set(found(app, "remittances")) == refs


# --- the page ----------------------------------------------------------------------------------------


def test_search_page_shows_ranked_results_with_snippets(app, client, corpus):
    response = client.get("/search", query_string={"q": "detention"})

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert '<label for="q">Search statements</label>' in html
    assert "3 statements match “detention”" in html
    assert html.index(corpus.alternatives) < html.index(corpus.labour)
    assert "<mark>detention</mark>" in html
    assert "<p>Mexico · Session 1: Human rights of all migrants · 8 May 2017 · Delivered statement, English</p>" in html


def test_search_page_runs_as_many_statements_for_three_results_as_for_one(app, client, corpus):
    """What a result shows is loaded with the results (only that: RESULT_OPTIONS): nothing is
    loaded per result, as an attribute left out and read by the page would be."""
    with app.app_context():
        engine = db.engine

    def statements_run(q: str) -> tuple[int, str]:
        run = []
        listener = lambda *args: run.append(args[2])  # noqa: E731
        sa.event.listen(engine, "before_cursor_execute", listener)
        try:
            html = client.get("/search", query_string={"q": q}).get_data(as_text=True)
        finally:
            sa.event.remove(engine, "before_cursor_execute", listener)
        return len(run), html

    statements_run("migrants")  # the form's choices, kept afterwards (and each page, by PageFront)
    one, html = statements_run("smuggling")
    assert "1 statement matches" in html and "<p>International Organization for Migration · Session 1: Human rights" in html
    three, html = statements_run("detention")
    assert "3 statements match" in html and html.count("· Session 1: Human rights of all migrants ·") == 3
    assert one == three


def test_search_page_escapes_titles_and_snippets(app, client, corpus):
    html = client.get("/search", query_string={"q": "integration"}).get_data(as_text=True)

    assert "Remarks on &lt;b&gt;integration&lt;/b&gt;" in html
    assert "<script" not in html
    assert "<mark>Integration</mark> policies &amp;" in html


def test_search_page_with_no_match_says_so_with_tips(app, client, corpus):
    response = client.get("/search", query_string={"q": "xylophone"})

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "No statements match “xylophone”" in html
    assert "Tips:" in html and "OR" in html


def test_search_page_paginates_with_the_filters_kept(app, client, corpus):
    with app.app_context():
        session1 = factories.session_by_number(1).id

    first = client.get("/search", query_string={"session": session1}).get_data(as_text=True)
    second = client.get("/search", query_string={"session": session1, "page": 2}).get_data(as_text=True)

    assert "6 statements with these filters, newest first" in first
    assert f'href="/search?session={session1}&amp;page=2"' in first or f'href="/search?page=2&amp;session={session1}"' in first
    assert sum(ref in first for ref in vars(corpus).values()) == 5  # PORTAL_SEARCH_PAGE_SIZE is 5 in the tests
    assert sum(ref in second for ref in vars(corpus).values()) == 1


def test_search_page_refuses_bad_filters_with_400(app, client, corpus):
    for args in ({"language": "xx"}, {"session": "abc"}, {"organisation": "99999"}, {"q": "x" * 501}):
        response = client.get("/search", query_string=args)

        assert response.status_code == 400, args
        assert "The search could not be run" in response.get_data(as_text=True)


def test_search_is_linked_from_every_page(client):
    assert '<a href="/search">Search</a>' in client.get("/").get_data(as_text=True)


# --- reindex ------------------------------------------------------------------------------------------


def test_reindex_rebuilds_texts_and_index_and_reports_counts(app, runner, corpus):
    with app.app_context():
        author = db.session.scalar(sa.select(User).where(User.email == "ana@mexico.example"))
        factories.make_statement(author, title="Locked", data=encrypted_pdf("x", user_password="pw"))
        factories.make_statement(author, title="Scanned", data=blank_pdf())
        db.session.execute(sa.delete(SearchDocument))
        db.session.execute(sa.delete(DocumentText))
        db.session.commit()
    assert found(app, "detention") == []

    result = runner.invoke(args=["reindex"])

    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "Extracted the text of 8 file(s): 6 ok, 1 empty, 1 failed, 0 refused.",
        "Indexed 6 published statement(s).",
    ]
    assert found(app, "detention")[0] == corpus.alternatives
    assert found(app, "migration") and found(app, '"alternatives to detention"') == [corpus.alternatives]


def test_reindex_index_only_keeps_texts_and_drops_stale_rows(app, runner, corpus):
    with app.app_context():
        stale = db.session.scalar(sa.select(Statement).where(Statement.public_id == corpus.labour))
        stale.status = S.REJECTED  # behind the workflow's back: the index is now stale
        stale.decision_note = "x"
        db.session.commit()
        texts = db.session.scalar(sa.select(sa.func.count()).select_from(DocumentText))

    result = runner.invoke(args=["reindex", "--index-only"])

    assert result.exit_code == 0, result.output
    assert result.output == "Indexed 5 published statement(s).\n"
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(SearchDocument)) == 5
        assert db.session.scalar(sa.select(sa.func.count()).select_from(DocumentText)) == texts
    assert corpus.labour not in found(app, "detention")


def test_reindex_records_files_missing_from_the_store(app, runner, corpus):
    with app.app_context():
        statement = db.session.scalar(sa.select(Statement).where(Statement.public_id == corpus.alternatives))
        get_store().delete(statement.document.storage_key)

    result = runner.invoke(args=["reindex"])

    assert result.exit_code == 0, result.output
    assert "5 ok, 0 empty, 1 failed" in result.output
    assert found(app, "Mexico supports") == []  # its text is gone
    assert found(app, "alternatives to detention")[0] == corpus.alternatives  # its title stays


# --- PostgreSQL: the GIN index is what answers ------------------------------------------------------------


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_postgres_search_uses_the_gin_index(app, corpus):
    """One constant tsquery per language configuration, so every branch can use the index."""
    with app.app_context():
        query = sa.select(SearchDocument.statement_id).where(search._POSTGRES.match()).params(query="detention -children")
        compiled = query.compile(db.engine, compile_kwargs={"literal_binds": True})
        with db.engine.connect() as conn:
            conn.exec_driver_sql("SET enable_seqscan = off")
            plan = "\n".join(row[0] for row in conn.exec_driver_sql(f"EXPLAIN {compiled}"))
    assert "Bitmap Index Scan on ix_search_documents_tsv_english" in plan, plan
    assert "Bitmap Index Scan on ix_search_documents_tsv_french" in plan, plan


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_postgres_phrase_candidates_use_each_configurations_pairs_index(app, corpus):
    """Each configuration's branch of a phrase's candidates is answered by that configuration's
    partial index of word pairs (migration 0009), and no row's pairs are computed as a filter."""
    with app.app_context():
        parsed = search.parse_query('"alternatives to detention"')
        pairs = search._POSTGRES.phrase_pairs(parsed)
        query = sa.select(SearchDocument.statement_id).where(search._POSTGRES._candidates(True), SearchDocument.statement_id > 0)
        query = query.params(search._POSTGRES._candidates_params(parsed, pairs))
        compiled = query.compile(db.engine, compile_kwargs={"literal_binds": True})
        with db.engine.connect() as conn:
            conn.exec_driver_sql("SET enable_seqscan = off")
            conn.exec_driver_sql("SET enable_indexscan = off")
            plan = "\n".join(row[0] for row in conn.exec_driver_sql(f"EXPLAIN {compiled}"))
    for config in search.CONFIGS:
        assert f"Bitmap Index Scan on ix_search_documents_tsv_pairs_{config} " in plan, plan
    assert not [line for line in plan.splitlines() if "Filter" in line and "search_pairs" in line], plan


def generic_plan(statement: sa.Executable, values: dict[str, str]) -> str:
    """EXPLAIN of the statement prepared and planned as a generic plan (no parameter known),
    as PostgreSQL may keep it for a prepared statement; `values`: SQL for each parameter
    that the statement leaves to its execution (the others are its own integers)."""
    compiled = statement.compile(db.engine)
    values = {**{name: str(int(value)) for name, value in compiled.params.items() if value is not None}, **values}
    sql = str(compiled)
    names = list(dict.fromkeys(re.findall(r"%\((\w+)\)s", sql)))
    sql = re.sub(r"%\((\w+)\)s", lambda m: f"${names.index(m.group(1)) + 1}", sql)
    with db.engine.connect() as conn:
        conn.exec_driver_sql("SET plan_cache_mode = force_generic_plan")
        conn.exec_driver_sql("SET enable_seqscan = off")  # the tables are tiny here
        conn.exec_driver_sql(f"PREPARE planned AS {sql}")
        return "\n".join(row[0] for row in conn.exec_driver_sql(f"EXPLAIN (VERBOSE) EXECUTE planned({', '.join(values[n] for n in names)})"))


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_postgres_probe_generic_plan_tests_rows_and_parses_each_tsquery_once(app, corpus):
    """The probe tests the newest rows one by one, never from the GIN index, and parses each
    language's tsquery once (an InitPlan), even in a generic plan, which PostgreSQL can then
    keep for the prepared statement; with @@ and the tsquery a function of the parameter, the
    generic plan scanned the GIN indexes instead."""
    with app.app_context():
        plan = generic_plan(
            search._POSTGRES._probe_statement(()),
            {"query": "'detention'", "search_now": "now()", "probe_rows": "1000", "limit": "251", "below": "2147483647"},
        )
    assert "ix_search_documents_tsv" not in plan, plan
    assert [line for line in plan.splitlines() if "Filter" in line and "ts_match_vq(search_documents.tsv, $" in line], plan
    assert plan.count("websearch_to_tsquery") == len(search.CONFIGS), plan  # once each, in its InitPlan
    assert plan.count("InitPlan") > len(search.CONFIGS), plan  # and the probe's floor


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_sqlite_fts_table_follows_the_index_rows(app, corpus):
    with app.app_context():
        rows = db.session.execute(sa.text("SELECT count(*) FROM search_fts WHERE search_fts MATCH 'detention'")).scalar()
        db.session.execute(sa.text("INSERT INTO search_fts(search_fts) VALUES ('integrity-check')"))
    assert rows == 3



def test_search_window_ranks_the_newest_matches_and_says_there_are_more(app, corpus, monkeypatch):
    """With more matches than MATCH_WINDOW, the newest MATCH_WINDOW (by statement id) are
    ranked and counted, and the page says more match."""
    q = "migrants OR migrant OR migration OR detention"
    with app.app_context():
        everything = search.search_public(q, per_page=50)
        monkeypatch.setattr(search, "MATCH_WINDOW", 2)
        windowed = search.search_public(q, per_page=50)
        second = search.search_public(q, per_page=1, page=2)
    assert everything.total > 2 and not everything.more
    newest_two = sorted((r.statement.id for r in everything.results), reverse=True)[:2]
    assert (windowed.total, windowed.more) == (2, True)
    assert sorted(r.statement.id for r in windowed.results) == sorted(newest_two)
    assert second.results[0].statement.id in newest_two and second.pages == 2


def test_search_page_says_when_more_match_than_are_ranked(app, client, corpus, monkeypatch):
    monkeypatch.setattr(search, "MATCH_WINDOW", 2)
    html = client.get("/search?q=migrants+OR+migrant+OR+migration+OR+detention").get_data(as_text=True)
    assert "More than 2 statements match" in html
    assert "The 2 most recent of them are shown" in html


# --- PostgreSQL: how the newest matches are found, and passages --------------------------------------------


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
@pytest.mark.parametrize(
    "q",
    [
        "detention", "detention -children", '"alternatives to detention"', 'migrants OR "unaccompanied children"',
        "-zzz detention", '"the detention of"', '"detention of children" "trafficking in persons"', '"rights of every migrant"',
        '"labour migration" -"child labour"', '"migrants in cities"',
    ],
)
@pytest.mark.parametrize("margin", [1.5, 0.0001])
def test_postgres_search_finds_the_same_from_the_index_as_by_testing_rows(app, corpus, monkeypatch, q, margin):
    """With PROBE_ROWS at 1 the newest matches come from the indexes (for phrases, the
    statements holding the words and the word pairs, then tested one by one), first in a
    range of older rows, then (with a tiny margin, the range falls short) in the rest: the
    results are the same as testing every row."""
    tested = found(app, q)
    monkeypatch.setattr(search, "PROBE_ROWS", 1)
    monkeypatch.setattr(search, "RANGE_MARGIN", margin)
    from_index = found(app, q)
    assert tested and from_index == tested


def executed_sql(monkeypatch) -> list[str]:
    """The SQL of each statement search._fetch runs (the driver's), as it runs."""
    statements: list[str] = []
    fetch = search._fetch

    def recording(statement, params):
        statements.append(search._Compiled.of(statement, db.engine.dialect).sql)
        return fetch(statement, params)

    monkeypatch.setattr(search, "_fetch", recording)
    return statements


def is_probe(sql: str) -> bool:
    """Whether a statement is the probe (the newest rows tested one by one)."""
    return "ts_match_vq(search_documents.tsv" in sql


def probe_runs(app: Flask, q: str, monkeypatch) -> tuple[list[str], int]:
    """found(), and how many times the probe ran."""
    with monkeypatch.context() as patch:
        statements = executed_sql(patch)
        return found(app, q), sum(map(is_probe, statements))


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
@pytest.mark.parametrize("q", ["detention", "detention -children", "migrants OR children", "-zzz detention", "detention -the"])
@pytest.mark.parametrize("margin", [1.5, 0.0001])
def test_postgres_search_skips_the_probe_for_rare_words_and_finds_the_same(app, corpus, monkeypatch, q, margin):
    """When the lexeme statistics say the newest rows hold too few matches to fill the window,
    the probe is skipped and the indexes are asked at once, in a range sized by the estimate
    (a tiny margin: too small, the rest follows): the results are the same."""
    tested, probes = probe_runs(app, q, monkeypatch)
    assert tested and probes == 1
    # The words looked for in every statement, the words excluded in none: the probe runs.
    monkeypatch.setattr(search, "lexeme_statistics", lambda: search.LexemeStatistics({"children": 0.0, "zzz": 0.0}, other=1.0))
    assert probe_runs(app, q, monkeypatch) == (tested, 1)
    monkeypatch.setattr(search, "lexeme_statistics", lambda: search.LexemeStatistics({}, other=0.001))
    assert probe_runs(app, q, monkeypatch) == (tested, 0)
    monkeypatch.setattr(search, "PROBE_ROWS", 1)
    monkeypatch.setattr(search, "RANGE_MARGIN", margin)
    assert probe_runs(app, q, monkeypatch) == (tested, 0)


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_postgres_ranges_from_the_indexes_keep_their_generic_plan(app, corpus, monkeypatch):
    """The statements asking the indexes for a range run with their plan imposed: once the
    driver has prepared one, PostgreSQL keeps its generic plan rather than planning it again
    for each range's values."""
    monkeypatch.setattr(search, "PROBE_ROWS", 1)
    with app.app_context():
        for _ in range(8):
            assert search.search_public("detention -children").results
        plans = db.session.execute(sa.text(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements "
            "WHERE statement LIKE '%search_documents.statement_id <= $%' AND statement NOT LIKE '%candidates%'"
        )).all()
        setting = db.session.scalar(sa.text("SELECT current_setting('plan_cache_mode')"))
    assert len(plans) == 1 and plans[0].generic_plans >= 1 and plans[0].custom_plans == 0, plans
    assert setting == "auto"  # as it was, for every other statement


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_postgres_match_rate_multiplies_words_adds_choices_and_takes_out_exclusions(app):
    statistics = search.LexemeStatistics({"detent": 0.5, "children": 0.2, "migrant": 0.9}, other=0.01)

    def rate(q: str) -> float | None:
        with app.app_context():
            return search.match_rate(search.parse_query(q), statistics)

    assert rate("detention children") == pytest.approx(0.1)
    assert rate("detention OR children") == pytest.approx(0.7)
    assert rate("detention OR children OR migrants") == 1.0
    assert rate("detention -children") == pytest.approx(0.4)
    assert rate("Detentions unknownword") == pytest.approx(0.005)  # stemmed as PostgreSQL does; any other word is rare
    assert rate("detention -the") == pytest.approx(0.5)  # a stop word: the tsquery leaves it out
    assert rate("the detention of children") == pytest.approx(0.1)
    assert rate('"detention of children" -"of migrants"') == pytest.approx(0.1)  # a phrase excluded: not estimated
    with app.app_context():
        assert search.match_rate(search.parse_query("detention"), None) is None


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_postgres_lexeme_statistics_are_read_after_analyze_and_kept(app, corpus, monkeypatch):
    monkeypatch.setattr(search, "_STATISTICS", {})
    with app.app_context():
        assert search.lexeme_statistics() is None  # never analyzed: the probe as always
        db.session.execute(sa.text("ANALYZE search_documents"))
        assert search.lexeme_statistics() is None  # kept for STATISTICS_SECONDS
        monkeypatch.setattr(search, "STATISTICS_SECONDS", 0)
        statistics = search.lexeme_statistics()
    assert statistics is not None
    holding = [key for key, (_, _, title, text, _, _) in CORPUS.items() if "detention" in f"{title} {text}".lower()]
    assert statistics.shares["detent"] == pytest.approx(len(holding) / len(CORPUS)) and len(holding) == 3
    assert 0 < statistics.other < min(statistics.shares.values())


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_postgres_phrase_words_without_their_pairs_find_nothing_from_the_index(app, corpus, monkeypatch):
    """"detention alternatives" has both words in two statements, never side by side: the
    word pairs' index leaves nothing to test, and nothing is found either way."""
    assert found(app, "detention alternatives")
    assert found(app, '"detention alternatives"') == []
    monkeypatch.setattr(search, "PROBE_ROWS", 1)
    assert found(app, '"detention alternatives"') == []
    with app.app_context():
        pairs = search._POSTGRES.phrase_pairs(search.parse_query('"detention alternatives" "the migrants" children'))
        count = db.session.scalar(
            sa.text("SELECT count(*) FROM search_documents WHERE search_pairs(tsv) @@ CAST(:q AS tsquery)"),
            {"q": " & ".join(f"'{t}'" for t in pairs["english"])},
        )
    # One pair each way of the two words in English ("the migrants" is one lexeme: no pair).
    assert len(pairs["english"]) == 1 and count == 0


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_postgres_word_pairs_of_a_text_hold_every_phrase_of_it(app):
    """search_pairs of a phrase's own text is contained in search_pairs of any text holding
    the phrase, stop words between or not: the index can only narrow, never lose a match."""
    text = "Member States related to discrimination against migrants, in full respect of human rights."
    phrases = ["related to discrimination", "discrimination against migrants", "respect of human rights", "in full respect"]
    with app.app_context():
        for phrase in phrases:
            holds, matches = db.session.execute(
                sa.text(
                    "SELECT tsvector_to_array(search_pairs(to_tsvector('english', :text))) "
                    "@> tsvector_to_array(search_pairs(to_tsvector('english', :phrase))), "
                    "to_tsvector('english', :text) @@ phraseto_tsquery('english', :phrase)"
                ),
                {"text": text, "phrase": phrase},
            ).one()
            assert holds and matches, phrase


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_postgres_phrase_from_the_index_stops_at_the_window(app, corpus, monkeypatch):
    q = 'detention OR "unaccompanied children"'
    everything = found(app, q)
    monkeypatch.setattr(search, "PROBE_ROWS", 1)
    monkeypatch.setattr(search, "MATCH_WINDOW", 1)
    with app.app_context():
        page = search.search_public(q, per_page=10)
        # The planner settings imposed for that statement are back as they were.
        settings = db.session.execute(sa.text("SELECT current_setting('enable_seqscan'), current_setting('enable_indexscan')")).one()
    assert len(everything) > 1
    assert page.more and page.total == 1 and len(page.results) == 1
    newest = max(everything, key=lambda public_id: statement_id(app, public_id))
    assert page.results[0].statement.public_id == newest
    assert tuple(settings) == ("on", "on")


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_postgres_phrase_asks_the_indexes_once_when_its_first_range_holds_every_row(app, corpus, monkeypatch):
    """A phrase with word pairs starts with a range PHRASE_FIRST_RANGE times PROBE_ROWS deep:
    when that holds every row, one statement asks the indexes; a shallower first range needs
    more. The results are the same."""
    q = '"detention of children"'
    tested = found(app, q)
    monkeypatch.setattr(search, "PROBE_ROWS", 1)

    def candidate_statements(first_range: int) -> tuple[list[str], int]:
        with monkeypatch.context() as patch:
            patch.setattr(search, "PHRASE_FIRST_RANGE", first_range)
            statements = executed_sql(patch)
            return found(app, q), sum("candidates" in sql for sql in statements)

    assert tested == [corpus.children]
    assert candidate_statements(1) == (tested, 2)
    assert candidate_statements(100) == (tested, 1)


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_postgres_probe_nearly_full_goes_on_below_rather_than_ask_the_indexes(app, corpus, monkeypatch):
    """"migrants" is in 4 of the 6 statements. With the window at 2 (3 matches looked for, the
    third says there are more) and a probe of the newest 3 rows, the probe finds 2 and goes on
    below for the third rather than ask the indexes; with PROBE_MORE_ROWS at 0 the indexes
    are asked, under the planner settings; when going on below falls short, the indexes are
    asked for the rest, below it. The results are the same."""
    q = "migrants"
    everything = found(app, q)
    newest_two = sorted(everything, key=lambda public_id: statement_id(app, public_id), reverse=True)[:2]
    monkeypatch.setattr(search, "PROBE_ROWS", 3)
    monkeypatch.setattr(search, "MATCH_WINDOW", 2)

    def run(more_rows: int) -> tuple[list[str], bool, int, int]:
        with monkeypatch.context() as patch:
            patch.setattr(search, "PROBE_MORE_ROWS", more_rows)
            statements = executed_sql(patch)
            with app.app_context():
                page = search.search_public(q, per_page=10)
            probes = sum(map(is_probe, statements))
            planner = sum("set_config" in sql for sql in statements)
            return sorted(r.statement.public_id for r in page.results), page.more, probes, planner

    assert len(everything) == 4
    assert run(500) == (sorted(newest_two), True, 2, 0)
    assert run(0) == (sorted(newest_two), True, 1, 2)
    # A probe of 2 rows finds 1; going on below finds 1 more, and the indexes the third.
    monkeypatch.setattr(search, "PROBE_ROWS", 2)
    assert run(500) == (sorted(newest_two), True, 2, 2)


def statement_id(app, public_id: str) -> int:
    with app.app_context():
        return db.session.scalar(sa.select(Statement.id).where(Statement.public_id == public_id))


def test_language_configurations_each_have_an_index():
    assert set(search.LANGUAGE_CONFIGS.values()) <= set(search.CONFIGS)


def test_relaxed_query_keeps_words_and_drops_phrase_exclusions():
    parsed = search.parse_query('"alternatives to detention" OR children -"border control" -camps')
    assert parsed.has_phrases
    assert parsed.relaxed_tsquery() == "(('alternatives' & 'to' & 'detention') | ('children')) & !'camps'"
    assert not search.parse_query("children -camps").has_phrases


def test_passages_mark_words_beginning_with_a_stem_around_the_best_place():
    text = ("Opening words. " * 40) + "Migrants in detention need alternatives; detained migrants wait. " + ("Closing. " * 40)
    marked = search.passages(text, ["detent", "migrant"])
    assert f"{search._START}Migrants{search._STOP} in {search._START}detention{search._STOP}" in marked
    assert "detained" in marked and f"{search._START}detained" not in marked
    assert not marked.startswith("Opening words. Opening")


def test_passages_without_a_match_give_the_opening_unmarked():
    marked = search.passages("Alpha beta gamma. " * 50, ["zeta"])
    assert marked.startswith("Alpha beta gamma.") and search._START not in marked
    assert len(marked) <= search.PASSAGE_CHARS + 20


def test_highlighted_words_leave_out_stop_words():
    assert sorted(search._highlighted(["policy", "to", "migrants"], ["polici", "migrant"])) == [
        "migrant", "migrants", "polici", "policy"
    ]


def test_search_form_selects_show_the_chosen_value_and_follow_the_published_record(app, client, corpus):
    """The selects' HTML is kept per public revision: each value still gets its own selected
    option, and an organisation published later joins the list."""
    with app.app_context():
        mexico = db.session.scalar(sa.select(Statement).where(Statement.public_id == corpus.alternatives)).organisation_id
        swiss = db.session.scalar(sa.select(Statement).where(Statement.public_id == corpus.suisse)).organisation_id

    def select_html(**args) -> str:
        html = client.get("/search", query_string=args).get_data(as_text=True)
        return re.search(r'<select[^>]*id="organisation".*?</select>', html, re.S).group(0)

    first = select_html(organisation=mexico)
    other = select_html(organisation=swiss)
    again = select_html(organisation=mexico)
    assert re.search(rf'<option selected value="{mexico}">', first) and f'<option selected value="{swiss}">' not in first
    assert re.search(rf'<option selected value="{swiss}">', other)
    assert again == first
    assert "Ghana" not in first
    with app.app_context():
        db.session.add(Organisation(name="Ghana", kind=OrganisationKind.MEMBER_STATE, code="GHA"))
        db.session.flush()
        author = factories.make_user("kofi@ghana.example", org_code="GHA")
        add(author, "Ghana on labour mobility", "Ghana supports labour mobility.")
        db.session.commit()
    assert "Ghana" in select_html(organisation=mexico)


def test_search_form_filters_show_their_errors_and_forget_them_on_a_valid_choice(app, client, corpus):
    """The filter fields' HTML is kept per public revision for each set of values and errors:
    an error shows on the field that has it, and only for as long as the value is wrong."""

    def language_field(**args) -> tuple[int, str]:
        response = client.get("/search", query_string={"q": "detention", **args})
        html = response.get_data(as_text=True)
        return response.status_code, re.search(r'<div class="field[^"]*">\s*<label for="language".*?</div>', html, re.S).group(0)

    status, wrong = language_field(language="xx")
    assert status == 400 and "Choose a language from the list." in wrong and 'aria-invalid="true"' in wrong
    status, french = language_field(language="fr")
    assert status == 200 and "Choose a language from the list." not in french and 'aria-invalid' not in french
    assert '<option selected value="fr">French' in french
    assert language_field(language="xx") == (400, wrong)
    assert language_field(language="fr", q="migrants") == (200, french)
    assert 'selected' not in language_field()[1]  # no language chosen


def test_sqlite_relaxed_expression_keeps_words_and_drops_phrase_exclusions():
    parsed = search.parse_query('"alternatives to detention" OR children -"border control" -camps')
    assert parsed.fts5_relaxed() == '(((("alternatives" AND "to" AND "detention") OR ("children"))) NOT "camps")'


def test_phrase_search_ranks_the_title_match_first(app, corpus):
    with app.app_context():
        author = db.session.scalar(sa.select(User).where(User.email == "desk@iom.example"))
        later = add(author, "Remarks", "Some words. Alternatives to detention work. Alternatives to detention help.").public_id
        db.session.commit()
    assert found(app, '"alternatives to detention"') == [corpus.alternatives, later]


def test_word_hits_find_word_beginnings_also_where_lower_casing_changes_the_length():
    text = "Migrants, immigrants and MIGRATION; İstanbul migrants."
    plain = search.word_hits(text.replace("İ", "I"), ["migra", "migrant"])
    assert [w for _, _, w in plain] == ["migrants", "migration", "migrants"]
    assert [w for _, _, w in search.word_hits(text, ["migra", "migrant"])] == ["migrants", "migration", "migrants"]
    for start, end, word in search.word_hits(text, ["migra"]):
        assert text[start:end].lower() == word


@pytest.mark.parametrize("app_config", [{"PORTAL_SEARCH_PAGE_SIZE": 2, "PORTAL_PAGE_SIZE": 50}])
def test_search_page_shows_portal_search_page_size_results(app, client, corpus):
    html = client.get("/search", query_string={"q": "detention"}).get_data(as_text=True)
    assert sum(ref in html for ref in vars(corpus).values()) == 2
    assert "page=2" in html


def test_word_hits_ignore_diacritics_and_keep_short_words_whole():
    text = "Détention and DETENTIONS; to together towards to."
    hits = search.word_hits(text, ["detent", "to"])
    assert [text[start:end] for start, end, _ in hits] == ["Détention", "DETENTIONS", "to", "to"]
    assert [word for _, _, word in hits] == ["detention", "detentions", "to", "to"]


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_sqlite_snippet_marks_words_as_the_porter_stemmer_matches_them(app, corpus):
    snippet = str(result_for(app, "migrating workers", corpus.labour).snippet)
    assert "<mark>workers</mark>" in snippet
    assert "<mark>migration</mark>" in snippet.lower()  # "migrating" and "migration" are both 'migrat'
    assert "<mark>Labour</mark>" not in snippet


def test_date_filter_writes_the_day_the_month_in_words_and_the_year(app):
    from datetime import date, datetime

    date_filter = app.jinja_env.filters["date"]
    assert date_filter(date(2017, 5, 8)) == "8 May 2017"
    assert date_filter(datetime(2018, 12, 31, 23, 59)) == "31 December 2018"
    assert [date_filter(date(2017, m, 1)).split()[1] for m in (1, 9)] == ["January", "September"]
    assert date_filter(None) == ""
