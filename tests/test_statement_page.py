"""A published statement's page: permalink, citation, its files with sizes and SHA-256, and the
<meta> tags for sharing and citation managers; none of those for a statement that is not public."""

from __future__ import annotations

import hashlib
import re
from datetime import date, timedelta
from html import unescape
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient

from portal import workflow
from portal.enums import FileRole, Language, OrganisationKind, Role, StatementKind, StatementStatus
from portal.extensions import db
from portal.models import Organisation, Statement, User, utcnow
from tests import factories
from tests.conftest import login

S = StatementStatus
TRICKY = 'Mexico\'s "Alternatives" & <detention>: 100% of cases'
JOINT = "Joint statement on children"
MEMBER = "ana@mexico.example"
MODERATOR = "mod@un.example"


class Head(HTMLParser):
    """The <meta> and <link> tags of a page, with their attribute values unescaped."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.meta: dict[str, list[str]] = {}
        self.links: dict[str, list[str]] = {}
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "meta" and (a.get("name") or a.get("property")):
            self.meta.setdefault(a.get("name") or a.get("property") or "", []).append(a.get("content") or "")
        if tag == "link" and a.get("rel"):
            self.links.setdefault(a["rel"] or "", []).append(a.get("href") or "")


def day(value: date) -> str:
    return f"{value.day} {value:%B %Y}"


@pytest.fixture
def world(app: Flask) -> SimpleNamespace:
    """A published statement with a tricky title (PDF), a joint one corrected to version 2 with a
    translation and an annex (DOCX original), one awaiting review, one under embargo."""
    with app.app_context():
        moderator = factories.make_user(MODERATOR, role=Role.MODERATOR, org_code=None)
        member = factories.make_user(MEMBER, org_code="MEX")
        group = Organisation(name="Group of Friends & Allies", kind=OrganisationKind.OTHER)
        peru = Organisation(name="Peru", kind=OrganisationKind.MEMBER_STATE)
        db.session.add_all([group, peru])
        db.session.flush()

        tricky = factories.make_statement(member, title=TRICKY, status=S.APPROVED, area_codes=("a", "d"))

        joint = factories.make_statement(
            member, title=JOINT, data=factories.docx_bytes("Joint"), filename="joint.docx", status=S.SUBMITTED, area_codes=("e",)
        )
        joint.kind = StatementKind.JOINT
        joint.on_behalf_of = [group]
        joint.cosignatories = [peru, factories.org("CHE")]
        workflow.apply(joint, "approve", actor=moderator)
        translation, annex, corrected = b"Traduccion del texto", b"Annex with figures " * 100, factories.docx_bytes("Corrected")
        factories.add_version(joint, member, corrected, "joint-v2.docx", Language.ENGLISH, FileRole.ORIGINAL)
        workflow.apply(joint, "approve_correction", actor=moderator)
        factories.add_version(joint, member, translation, "es.txt", Language.SPANISH, FileRole.TRANSLATION)
        workflow.apply(joint, "approve_correction", actor=moderator)
        factories.add_version(joint, member, annex, "annex.txt", Language.ENGLISH, FileRole.ANNEX)
        workflow.apply(joint, "approve_correction", actor=moderator)

        pending = factories.make_statement(member, title="Pending & \"quoted\"", status=S.SUBMITTED)
        embargoed = factories.make_statement(member, title="Under embargo", status=S.SUBMITTED)
        workflow.apply(embargoed, "approve", actor=moderator, publish_at=utcnow() + timedelta(days=2))
        db.session.commit()
        return SimpleNamespace(
            tricky=tricky.public_id,
            tricky_published=tricky.published_at,
            joint=joint.public_id,
            joint_published=joint.published_at,
            joint_corrected=joint.corrected_at,
            joint_files=[(f.role, f.language, f.stored.size, f.stored.sha256, f.id) for f in joint.published_version.files],
            joint_version=joint.published_version.number,
            corrected_sha=hashlib.sha256(corrected).hexdigest(),
            pending=pending.public_id,
            embargoed=embargoed.public_id,
        )


def test_statement_page_has_sharing_and_citation_meta_tags(client: FlaskClient, world: SimpleNamespace) -> None:
    response = client.get(f"/statements/{world.tricky}")

    head = Head(response.get_data(as_text=True))
    permalink = f"http://localhost/statements/{world.tricky}"
    assert response.status_code == 200
    assert head.links["canonical"] == [permalink]
    assert head.meta["og:type"] == ["article"]
    assert head.meta["og:title"] == [TRICKY]
    assert head.meta["og:url"] == [permalink]
    assert head.meta["og:site_name"] == ["Stakeholder Inputs Portal"]
    assert head.meta["twitter:card"] == ["summary"]
    assert head.meta["citation_title"] == [TRICKY]
    assert head.meta["citation_author"] == ["Mexico"]
    assert head.meta["citation_publication_date"] == [world.tricky_published.strftime("%Y/%m/%d")]
    assert head.meta["citation_pdf_url"] == [f"{permalink}/document"]
    description = (
        "Delivered statement by Mexico, Session 1: Human rights of all migrants (Geneva, 8 May 2017). English. "
        "Areas: a. Overarching frameworks and principles; d. Human rights in migration management."
    )
    assert head.meta["description"] == head.meta["og:description"] == [description]
    assert "robots" not in head.meta


def test_statement_page_escapes_the_title_in_meta_tags_and_citation(client: FlaskClient, world: SimpleNamespace) -> None:
    html = client.get(f"/statements/{world.tricky}").get_data(as_text=True)

    escaped = "Mexico&#39;s &#34;Alternatives&#34; &amp; &lt;detention&gt;: 100% of cases"
    assert f'<meta property="og:title" content="{escaped}">' in html
    assert f'<meta name="citation_title" content="{escaped}">' in html
    assert TRICKY not in html  # never raw, anywhere
    assert "<detention>" not in html
    citation = re.search(r'<p class="citation" id="citation">(.*?)</p>', html, re.S).group(1)
    assert f"“{TRICKY}”" in unescape(citation) and "<" not in citation


def test_statement_page_citation_names_every_part_and_the_version(client: FlaskClient, world: SimpleNamespace) -> None:
    html = client.get(f"/statements/{world.joint}").get_data(as_text=True)

    citation = unescape(re.search(r'<p class="citation" id="citation">(.*?)</p>', html, re.S).group(1))
    permalink = f"http://localhost/statements/{world.joint}"
    assert citation == (
        "Mexico, on behalf of Group of Friends & Allies, co-signed by Peru and Switzerland, "
        f"“{JOINT}”, joint statement delivered at Session 1: Human rights of all migrants, Geneva, 8 May 2017. "
        f"Published {day(world.joint_published)}; version {world.joint_version}, corrected {day(world.joint_corrected)}. "
        f"Stakeholder Inputs Portal, {world.joint}. {permalink} (accessed {day(utcnow().date())})."
    )
    assert f'Permanent link: <a href="{permalink}">{permalink}</a>' in html
    head = Head(html)
    assert head.meta["citation_author"] == ["Mexico", "Peru", "Switzerland"]
    assert "citation_pdf_url" not in head.meta  # the original is a DOCX
    assert head.meta["article:modified_time"] == [world.joint_corrected.replace(microsecond=0).isoformat()]
    assert "Joint statement by Mexico on behalf of Group of Friends & Allies, Session 1" in head.meta["description"][0]
    assert '<meta name="description" content="Joint statement by Mexico on behalf of Group of Friends &amp; Allies,' in html


def test_statement_page_lists_every_file_of_the_current_version_with_size_and_sha256(
    client: FlaskClient, world: SimpleNamespace
) -> None:
    html = client.get(f"/statements/{world.joint}").get_data(as_text=True)

    document = html[html.index('<section class="document"') : html.index("</section>", html.index('<section class="document"'))]
    assert [role for role, *_ in world.joint_files] == [FileRole.ORIGINAL, FileRole.TRANSLATION, FileRole.ANNEX]
    assert len(re.findall(r"<tr>", document)) == 1 + len(world.joint_files)
    for role, language, size, sha256, file_id in world.joint_files:
        assert f"<code>{sha256}</code>" in document
        assert f"<td>{language.label}</td>" in document
        if size >= 1024:
            assert f"{size:,} bytes" in document
        else:
            assert f"{size} bytes" in document
        if role is not FileRole.ORIGINAL:
            assert f'href="/statements/{world.joint}/files/{file_id}"' in document
    assert world.corrected_sha in document
    assert f"Version {world.joint_version}, correction published on" in document


@pytest.mark.parametrize("who", ["member", "moderator"])
@pytest.mark.parametrize("which", ["pending", "embargoed"])
def test_statement_page_not_public_has_no_sharing_tags_and_noindex(
    app: Flask, client: FlaskClient, world: SimpleNamespace, who: str, which: str
) -> None:
    login(client, MEMBER if who == "member" else MODERATOR)

    response = client.get(f"/statements/{getattr(world, which)}")

    html = response.get_data(as_text=True)
    head = Head(html)
    assert response.status_code == 200
    assert head.meta["robots"] == ["noindex, nofollow"]
    assert "canonical" not in head.links
    assert not [name for name in head.meta if name.startswith(("og:", "twitter:", "citation_"))]
    assert "description" not in head.meta
    assert 'id="citation"' not in html and "Cite this statement" not in html


@pytest.mark.parametrize("which", ["pending", "embargoed"])
def test_statement_page_not_public_is_404_for_the_public(client: FlaskClient, world: SimpleNamespace, which: str) -> None:
    response = client.get(f"/statements/{getattr(world, which)}")

    assert response.status_code == 404
    assert "Page not found" in response.get_data(as_text=True)


def test_statement_page_member_of_a_public_statement_sees_the_same_citation(
    client: FlaskClient, world: SimpleNamespace
) -> None:
    public = client.get(f"/statements/{world.joint}").get_data(as_text=True)
    login(client, MEMBER)

    own = client.get(f"/statements/{world.joint}").get_data(as_text=True)

    assert Head(own).meta["citation_title"] == [JOINT]
    pattern = r'<p class="citation" id="citation">(.*?)</p>'
    assert re.search(pattern, own, re.S).group(1) == re.search(pattern, public, re.S).group(1)


def test_statement_permalink_is_stable_across_corrections(app: Flask, client: FlaskClient, world: SimpleNamespace) -> None:
    before = Head(client.get(f"/statements/{world.tricky}").get_data(as_text=True)).links["canonical"]
    with app.app_context():
        statement = db.session.scalar(sa.select(Statement).where(Statement.public_id == world.tricky))
        member = db.session.scalar(sa.select(User).where(User.email == MEMBER))
        moderator = db.session.scalar(sa.select(User).where(User.email == MODERATOR))
        factories.add_version(statement, member, factories.pdf_bytes("Corrected"), "v2.pdf", Language.ENGLISH, FileRole.ORIGINAL)
        workflow.apply(statement, "approve_correction", actor=moderator)
        db.session.commit()

    html = client.get(f"/statements/{world.tricky}").get_data(as_text=True)

    assert Head(html).links["canonical"] == before
    assert "; version 2, corrected " in unescape(html)
