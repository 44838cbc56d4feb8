"""The core loop through the web pages: submit, moderate, publish, download."""

from __future__ import annotations

import hashlib
import io
import re

import sqlalchemy as sa

from portal.enums import StatementStatus
from portal.extensions import db
from portal.models import AuditEvent, Statement
from tests import factories
from tests.conftest import csrf_token, login, logout


def test_full_loop_submit_approve_publish_download(app, client):
    with app.app_context():
        factories.make_people()
        area_d = factories.area(1, "d").id
        area_e = factories.area(1, "e").id
        session_id = factories.session_by_number(1).id
        db.session.commit()
    pdf = factories.pdf_bytes("Mexico on detention")

    login(client, "ana@mexico.example")
    token = csrf_token(client, "/submit")
    response = client.post(
        "/submit",
        data={
            "csrf_token": token,
            "title": "Statement of Mexico on detention",
            "session_id": str(session_id),
            "area_ids": [str(area_d), str(area_e)],
            "kind": "delivered",
            "language": "es",
            "delivered_on": "2017-05-08",
            "document": (io.BytesIO(pdf), "mexico.pdf"),
        },
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/my/submissions"
    mine = client.get("/my/submissions").get_data(as_text=True)
    assert "Statement of Mexico on detention" in mine
    assert "Awaiting review" in mine

    with app.app_context():
        statement = db.session.scalar(sa.select(Statement))
        public_id = statement.public_id
        assert statement.status is StatementStatus.SUBMITTED
        assert statement.document.sha256 == hashlib.sha256(pdf).hexdigest()
        assert statement.document.content_type == "application/pdf"
        assert [a.code for a in statement.areas] == ["d", "e"]

    # Not public before approval.
    logout(client)
    assert client.get(f"/statements/{public_id}").status_code == 404
    assert client.get(f"/statements/{public_id}/document").status_code == 404
    assert "Statement of Mexico on detention" not in client.get("/sessions/human-rights-all-migrants").get_data(as_text=True)

    login(client, "mod@un.example")
    queue = client.get("/moderation/").get_data(as_text=True)
    assert "Statement of Mexico on detention" in queue
    review = client.get(f"/moderation/{public_id}").get_data(as_text=True)
    token = re.search(r'name="approve-csrf_token" type="hidden" value="([^"]+)"', review).group(1)
    version = re.search(r'name="approve-version" type="hidden" value="(\d+)"', review).group(1)
    response = client.post(
        f"/moderation/{public_id}/approve", data={"approve-csrf_token": token, "approve-version": version}
    )
    assert response.status_code == 302
    assert response.headers["Location"] == "/moderation/"

    logout(client)
    page = client.get("/sessions/human-rights-all-migrants").get_data(as_text=True)
    assert "Statement of Mexico on detention" in page
    assert "Mexico" in page
    with client.get(f"/statements/{public_id}/document") as download:
        assert download.status_code == 200
        assert download.data == pdf
        assert download.headers["Content-Type"] == "application/pdf"
        assert download.headers["Content-Disposition"].startswith("attachment;")
        assert download.headers["X-Content-Type-Options"] == "nosniff"

    with app.app_context():
        actions = db.session.scalars(
            sa.select(AuditEvent.action).where(AuditEvent.object_type == "statements").order_by(AuditEvent.id)
        ).all()
        assert actions == ["submit", "approve"]
