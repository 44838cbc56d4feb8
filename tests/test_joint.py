"""Joint statements: "delivered on behalf of" and co-signatories, from the submission form to the
public statement, session and organisation pages, through the test client with CSRF on."""

from __future__ import annotations

import io
import re
from html import unescape
from datetime import timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from flask import Flask

from portal import workflow
from portal.enums import OrganisationKind, OrganisationStatus, StatementStatus
from portal.extensions import db
from portal.models import AuditEvent, Organisation, Statement, User, utcnow
from tests import factories
from tests.conftest import csrf_token, login

S = StatementStatus
SESSION_URL = "/sessions/human-rights-all-migrants"
SUBMITTER = "ana@mexico.example"


def _org(
    name: str, kind: OrganisationKind, status: OrganisationStatus = OrganisationStatus.APPROVED, merged_into_id: int | None = None
) -> Organisation:
    organisation = Organisation(name=name, kind=kind, status=status, merged_into_id=merged_into_id)
    db.session.add(organisation)
    db.session.flush()
    return organisation


def _statement(author: User, title: str, *, status: S = S.APPROVED, on_behalf_of=(), cosignatories=(), **kw) -> Statement:
    statement = factories.make_statement(author, title=title, status=S.SUBMITTED, **kw)
    statement.on_behalf_of = list(on_behalf_of)
    statement.cosignatories = list(cosignatories)
    db.session.flush()
    if status is S.APPROVED:
        moderator = db.session.scalar(sa.select(User).where(User.email == "mod@un.example"))
        workflow.apply(statement, "approve", actor=moderator, publish_at=kw.get("publish_at"))
    return statement


@pytest.fixture
def world(app: Flask) -> SimpleNamespace:
    """Mexico's statements: one on behalf of a group of States co-signed by Switzerland, one alone,
    one awaiting review co-signed by Switzerland, one published under embargo co-signed by Switzerland;
    and IOM's, co-signed by nobody."""
    with app.app_context():
        people = factories.make_people()
        iom_user = factories.make_user("ina@iom.example", org_code="IOM")
        group = _org("Group of Friends of Migration", OrganisationKind.OTHER)
        philippines = _org("Philippines", OrganisationKind.MEMBER_STATE)
        pending = _org("Proposed Network", OrganisationKind.NGO, OrganisationStatus.PENDING)
        mexico, switzerland, iom = factories.org("MEX"), factories.org("CHE"), factories.org("IOM")
        joint = _statement(
            people["submitter"], "Joint statement on detention", on_behalf_of=[group], cosignatories=[switzerland, philippines]
        )
        alone = _statement(people["submitter"], "Mexico alone on inclusion")
        pending_joint = _statement(people["submitter"], "Joint statement awaiting review", status=S.SUBMITTED, cosignatories=[switzerland])
        embargoed = factories.make_statement(people["submitter"], title="Embargoed joint statement")
        embargoed.cosignatories = [switzerland]
        db.session.flush()
        workflow.apply(embargoed, "approve", actor=people["moderator"], publish_at=utcnow() + timedelta(days=3))
        by_iom = _statement(iom_user, "IOM on migrants' rights")
        db.session.commit()
        return SimpleNamespace(
            mexico=mexico.id, switzerland=switzerland.id, iom=iom.id, group=group.id, philippines=philippines.id,
            pending=pending.id, joint=joint.public_id, alone=alone.public_id, pending_joint=pending_joint.public_id,
            embargoed=embargoed.public_id, by_iom=by_iom.public_id,
        )


def titles_on(html: str) -> list[str]:
    return [unescape(t) for t in re.findall(r'<a href="/statements/ST-[^"]+">([^<]+)</a>', html)]


# --- the submission form --------------------------------------------------------------------------


def test_form_offers_approved_organisations_grouped_by_kind_except_ones_own(app, client, world):
    login(client, SUBMITTER)

    html = client.get("/submit").get_data(as_text=True)

    select = re.search(r'<select[^>]*name="on_behalf_of_ids".*?</select>', html, re.S).group(0)
    groups = re.findall(r'<optgroup label="([^"]+)">(.*?)</optgroup>', select, re.S)
    assert [(label, re.findall(r">([^<]+)</option>", body)) for label, body in groups] == [
        ("Member State", ["Philippines", "Switzerland"]),
        ("UN entity", ["International Organization for Migration"]),
        ("Other stakeholder", ["Group of Friends of Migration"]),
    ]
    assert 'name="cosignatory_ids"' in html
    for label in ("Delivered on behalf of", "Co-signatories", "Title", "Session", "Area", "Kind", "Language",
                  "Date delivered", "File"):
        assert len(re.findall(rf">{label}</label>", html)) == 1, label
    assert 'value="Submit statement"' in html and 'value="Save as draft"' in html


def test_joint_statement_submitted_with_links_and_audited(app, client, world):
    with app.app_context():
        session_id = factories.session_by_number(1).id
        area_e = factories.area(1, "e").id
    login(client, SUBMITTER)
    token = csrf_token(client, "/submit")

    response = client.post(
        "/submit",
        data={
            "csrf_token": token,
            "title": "Joint statement on return",
            "session_id": str(session_id),
            "area_ids": [str(area_e)],
            "kind": "joint",
            "language": "en",
            "delivered_on": "2017-05-08",
            "document": (io.BytesIO(factories.pdf_bytes("Joint")), "joint.pdf"),
            "on_behalf_of_ids": [str(world.group)],
            "cosignatory_ids": [str(world.switzerland), str(world.philippines)],
        },
        content_type="multipart/form-data",
    )

    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        statement = db.session.scalar(sa.select(Statement).where(Statement.title == "Joint statement on return"))
        assert [o.name for o in statement.on_behalf_of] == ["Group of Friends of Migration"]
        assert [o.name for o in statement.cosignatories] == ["Philippines", "Switzerland"]
        event = db.session.scalar(
            sa.select(AuditEvent).where(AuditEvent.object_type == "statements", AuditEvent.object_id == statement.id)
        )
        assert event.action == "submit"
        assert event.data["on_behalf_of"] == ["Group of Friends of Migration"]
        assert event.data["cosignatories"] == ["Philippines", "Switzerland"]


@pytest.mark.parametrize("field", ["on_behalf_of_ids", "cosignatory_ids"])
@pytest.mark.parametrize("which", ["pending", "own", "unknown"])
def test_joint_statement_with_organisation_not_on_the_list_is_refused(app, client, world, field, which):
    with app.app_context():
        session_id = factories.session_by_number(1).id
        area_e = factories.area(1, "e").id
        before = db.session.scalar(sa.select(sa.func.count()).select_from(Statement))
    bad = {"pending": world.pending, "own": world.mexico, "unknown": 99999}[which]
    login(client, SUBMITTER)
    token = csrf_token(client, "/submit")

    response = client.post(
        "/submit",
        data={
            "csrf_token": token, "title": "Refused", "session_id": str(session_id), "area_ids": [str(area_e)],
            "kind": "written", "language": "en", "document": (io.BytesIO(factories.pdf_bytes()), "x.pdf"),
            field: [str(world.switzerland), str(bad)],
        },
        content_type="multipart/form-data",
    )

    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert re.search(rf'id="{field}-error">\s*<li>Choose organisations from the list.</li>', html)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Statement)) == before


# --- public pages ------------------------------------------------------------------------------------


def test_statement_page_shows_the_joint_links(app, client, world):
    html = client.get(f"/statements/{world.joint}").get_data(as_text=True)

    meta = html[html.index('<dl class="meta">') : html.index("</dl>")]
    assert re.search(
        rf'<dt>Delivered on behalf of</dt>\s*<dd><ul class="plain"><li><a href="/organisations/{world.group}">Group of Friends of Migration</a></li></ul></dd>',
        meta,
    )
    assert re.search(
        rf'<dt>Co-signatories</dt>\s*<dd><ul class="plain"><li><a href="/organisations/{world.philippines}">Philippines</a></li>'
        rf'<li><a href="/organisations/{world.switzerland}">Switzerland</a></li></ul></dd>',
        meta,
    )
    alone = client.get(f"/statements/{world.alone}").get_data(as_text=True)
    assert "Delivered on behalf of" not in alone and "Co-signatories" not in alone


def test_session_page_shows_joint_statements_and_filters_by_any_part(app, client, world):
    html = client.get(SESSION_URL).get_data(as_text=True)
    assert sorted(set(titles_on(html))) == sorted(
        ["Joint statement on detention", "Mexico alone on inclusion", "IOM on migrants' rights"]
    )
    assert f'on behalf of <a href="/organisations/{world.group}">Group of Friends of Migration</a>' in html
    options = re.findall(r'<option value="(\d+)"', html[html.index('name="organisation"') :])
    assert [int(o) for o in options] == [world.group, world.iom, world.mexico, world.philippines, world.switzerland]

    expected = {
        world.mexico: ["Joint statement on detention", "Mexico alone on inclusion"],  # author
        world.group: ["Joint statement on detention"],  # on behalf of
        world.switzerland: ["Joint statement on detention"],  # co-signatory (not the pending or embargoed ones)
        world.iom: ["IOM on migrants' rights"],
    }
    for organisation_id, titles in expected.items():
        filtered = client.get(f"{SESSION_URL}?organisation={organisation_id}").get_data(as_text=True)
        assert sorted(set(titles_on(filtered))) == sorted(titles), organisation_id
        assert f'<option selected value="{organisation_id}">' in filtered


def test_session_filter_empty_state_and_unknown_organisation(app, client, world):
    with app.app_context():
        nobody = _org("Nobody Yet", OrganisationKind.NGO).id
        db.session.commit()

    empty = client.get(f"{SESSION_URL}?organisation={nobody}")
    unknown = client.get(f"{SESSION_URL}?organisation=99999")
    pending = client.get(f"{SESSION_URL}?organisation={world.pending}")
    garbage = client.get(f"{SESSION_URL}?organisation=abc")

    assert empty.status_code == 200
    assert "No published statement matches these filters." in empty.get_data(as_text=True)
    assert "Organisation: <strong>Nobody Yet</strong>" in empty.get_data(as_text=True)
    assert titles_on(empty.get_data(as_text=True)) == []
    # A bad filter is the reader's mistake in an existing session: 400 with the form, not 404.
    assert [unknown.status_code, pending.status_code, garbage.status_code] == [400, 400, 400]
    for response in (unknown, pending, garbage):
        assert "Organisation: Choose an organisation from the list." in response.get_data(as_text=True)


def test_organisation_page_lists_published_statements_of_every_part(app, client, world):
    response = client.get(f"/organisations/{world.switzerland}")

    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<h1>Switzerland</h1>" in html
    assert titles_on(html) == ["Joint statement on detention"]
    assert "Co-signatory of a statement by Mexico" in html
    for hidden in ("Joint statement awaiting review", "Embargoed joint statement", world.pending_joint, world.embargoed):
        assert hidden not in html

    mexico = client.get(f"/organisations/{world.mexico}").get_data(as_text=True)
    assert sorted(titles_on(mexico)) == ["Joint statement on detention", "Mexico alone on inclusion"]
    group = client.get(f"/organisations/{world.group}").get_data(as_text=True)
    assert titles_on(group) == ["Joint statement on detention"]
    assert "Delivered on its behalf by Mexico" in group


def test_organisation_page_empty_state_pending_and_merged(app, client, world):
    with app.app_context():
        nobody = _org("Nobody Yet", OrganisationKind.NGO)
        merged = _org("Old Name Network", OrganisationKind.NGO, OrganisationStatus.MERGED, merged_into_id=nobody.id)
        db.session.commit()
        nobody_id, merged_id = nobody.id, merged.id

    empty = client.get(f"/organisations/{nobody_id}")
    moved = client.get(f"/organisations/{merged_id}")

    assert empty.status_code == 200
    assert "No statements by Nobody Yet, delivered on its behalf or co-signed by it have been published yet." in (
        empty.get_data(as_text=True)
    )
    assert moved.status_code == 301
    assert moved.headers["Location"] == f"/organisations/{nobody_id}"
    assert client.get(f"/organisations/{world.pending}").status_code == 404
    assert client.get("/organisations/99999").status_code == 404
