"""The core loop in a real browser, using only the visible labels and buttons.

Runs headless Chromium through Playwright against a live server on loopback. Skipped
(with the reason) where Playwright or Chromium is not installed; `.ci/run` installs both.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from portal.enums import StatementStatus
from portal.extensions import db
from portal.models import Base, Statement
from tests import factories
from tests.conftest import make_app, totp_code_for

playwright_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed")
CHROMIUM = os.environ.get("PORTAL_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install chromium)")


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[tuple[str, object]]:
    app = make_app(f"sqlite:///{tmp_path / 'browser.db'}", tmp_path, PORTAL_MAX_UPLOAD_BYTES=5 * 1024 * 1024)
    with app.app_context():
        Base.metadata.create_all(db.engine)
        factories.seed_catalogue()
        factories.make_people()
        db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", app
    finally:
        server.shutdown()
        thread.join(timeout=10)
        with app.app_context():
            db.engine.dispose()


@pytest.fixture
def page() -> Iterator[object]:
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"],
        )
        context = browser.new_context(accept_downloads=True)
        yield context.new_page()
        context.close()
        browser.close()


def _sign_in(page, base: str, email: str, app=None) -> None:
    """Sign in with the password and, given the app to read the secret from, an authentication code."""
    page.goto(base + "/")
    page.get_by_role("link", name="Sign in").click()
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    if app is not None:
        page.get_by_label("Authentication code").fill(totp_code_for(app, email))
        page.get_by_role("button", name="Verify").click()


def test_browser_submit_approve_download_same_bytes(live_server, page, tmp_path):
    base, app = live_server
    pdf = factories.pdf_bytes("Statement of Mexico on detention")
    document = tmp_path / "statement.pdf"
    document.write_bytes(pdf)

    _sign_in(page, base, "ana@mexico.example")
    page.get_by_role("link", name="Submit a statement").first.click()
    page.get_by_label("Title").fill("Statement of Mexico on detention")
    page.get_by_label("Session").select_option(label="Session 1: Human rights of all migrants")
    page.get_by_label("Area").select_option(label=["e. Detention"])
    page.get_by_label("Kind").select_option(label="Delivered statement")
    page.get_by_label("Language").select_option(label="Spanish")
    page.get_by_label("Date delivered").fill("2017-05-08")
    page.get_by_label("File").set_input_files(str(document))
    page.get_by_role("button", name="Submit statement").click()
    assert "awaits review" in page.content()
    assert page.get_by_text("Awaiting review").count() == 1

    page.get_by_role("button", name="Sign out").click()
    _sign_in(page, base, "mod@un.example", app)  # moderators have two-factor authentication
    page.get_by_role("link", name="Statement of Mexico on detention").click()
    page.get_by_role("button", name="Approve").click()
    assert "approved and published" in page.content()

    page.get_by_role("button", name="Sign out").click()
    page.get_by_role("link", name="Session 1: Human rights of all migrants").click()
    page.get_by_role("link", name="Statement of Mexico on detention").click()
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download the document").click()
    assert Path(download_info.value.path()).read_bytes() == pdf

    with app.app_context():
        statement = db.session.scalar(sa.select(Statement))
        assert statement.status is StatementStatus.APPROVED
        assert download_info.value.suggested_filename == f"{statement.public_id}.pdf"


def test_browser_bad_file_keeps_other_fields(live_server, page, tmp_path):
    base, app = live_server
    renamed = tmp_path / "statement.pdf"
    renamed.write_bytes(factories.exe_bytes())

    _sign_in(page, base, "ana@mexico.example")
    page.goto(base + "/submit")
    page.get_by_label("Title").fill("Our statement")
    page.get_by_label("Session").select_option(label="Session 1: Human rights of all migrants")
    page.get_by_label("Area").select_option(label=["d. Human rights in migration management"])
    page.get_by_label("Date delivered").fill("2017-05-09")
    page.get_by_label("File").set_input_files(str(renamed))
    page.get_by_role("button", name="Submit statement").click()

    assert "whatever its name says" in page.content()
    assert page.get_by_label("Title").input_value() == "Our statement"
    assert page.get_by_label("Date delivered").input_value() == "2017-05-09"
    assert page.get_by_label("Area").evaluate("s => [...s.selectedOptions].map(o => o.text)") == [
        "d. Human rights in migration management"
    ]
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Statement)) == 0
