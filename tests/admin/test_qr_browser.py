"""The QR code page in a real Chromium against the real web process: the code appears and is
refreshed as the bridge rotates it, with no reload."""
import pytest

from tests.conftest import browser_login

pytestmark = pytest.mark.browser


def test_qr_code_is_shown_live(app, stack):
    from playwright.sync_api import sync_playwright

    from app.models import db
    from app.models.connection import ConnectionStatus
    from app.services import connections

    with app.app_context():
        cid = connections.create({"name": "Zap"}).id
        db.session.remove()
    stack.start_web()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        try:
            page = browser.new_page()
            browser_login(page, stack.url + "/login/")
            page.goto(f"{stack.url}/connections/qr/{cid}")
            assert page.locator("#qr-image svg").count() == 0
            with app.app_context():
                connections.set_status(cid, ConnectionStatus.QRCODE, qr="2@primeiro-codigo")
                db.session.remove()
            page.wait_for_selector("#qr-image svg", timeout=10_000)
            page.wait_for_function("() => document.getElementById('qr-status').textContent.includes('QR Code')")
            first = page.inner_html("#qr-image")
            with app.app_context():
                connections.set_status(cid, ConnectionStatus.QRCODE, qr="2@segundo-codigo-rotacionado")
                db.session.remove()
            page.wait_for_function("(old) => document.getElementById('qr-image').innerHTML !== old", arg=first,
                                   timeout=10_000)
            with app.app_context():
                connections.set_status(cid, ConnectionStatus.CONNECTED, phone="5511999990000")
                db.session.remove()
            page.wait_for_function("() => document.getElementById('qr-phone').textContent === '5511999990000'",
                                   timeout=10_000)
            assert page.locator("#qr-image svg").count() == 0
            assert "Conectado" in page.inner_text("#qr-status")
        finally:
            browser.close()
