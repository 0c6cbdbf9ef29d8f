"""The QR code page in a real Chromium against the real web process: the code appears and is
refreshed as the bridge rotates it, with no reload."""
import contextlib

import pytest

from tests.conftest import browser_login

pytestmark = pytest.mark.browser


def set_status(app, cid, status, **kw):
    """What the bridge writes about connection `cid` (app.services.connections.set_status)."""
    from app.models import db
    from app.services import connections

    with app.app_context():
        connections.set_status(cid, status, **kw)
        db.session.remove()


@contextlib.contextmanager
def qr_page(app, stack, name, **status):
    """A new connection (with `status` set, if any) and its QR page, logged in as the admin."""
    from playwright.sync_api import sync_playwright

    from app.models import db
    from app.services import connections

    with app.app_context():
        cid = connections.create({"name": name}).id
        if status:
            connections.set_status(cid, **status)
        db.session.remove()
    stack.start_web()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        try:
            page = browser.new_page()
            browser_login(page, stack.url + "/login/")
            page.goto(f"{stack.url}/connections/qr/{cid}")
            yield cid, page
        finally:
            browser.close()


def test_qr_code_is_shown_live(app, stack):
    from app.models.connection import ConnectionStatus

    with qr_page(app, stack, "Zap") as (cid, page):
        assert page.locator("#qr-image svg").count() == 0
        set_status(app, cid, ConnectionStatus.QRCODE, qr="2@primeiro-codigo")
        page.wait_for_selector("#qr-image svg", timeout=10_000)
        page.wait_for_function("() => document.getElementById('qr-status').textContent.includes('QR Code')")
        first = page.inner_html("#qr-image")
        set_status(app, cid, ConnectionStatus.QRCODE, qr="2@segundo-codigo-rotacionado")
        page.wait_for_function("(old) => document.getElementById('qr-image').innerHTML !== old", arg=first,
                               timeout=10_000)
        set_status(app, cid, ConnectionStatus.CONNECTED, phone="5511999990000")
        page.wait_for_function("() => document.getElementById('qr-phone').textContent === '5511999990000'",
                               timeout=10_000)
        assert page.locator("#qr-image svg").count() == 0
        assert "Conectado" in page.inner_text("#qr-status")


def test_disconnect_asks_first(app, stack):
    """Desconectar unlinks the number (a new scan on the phone to come back): one click posted it
    at once. Now the browser asks; cancelled, nothing changes; confirmed, the number is unlinked."""
    from app.models import Connection, db
    from app.models.connection import ConnectionStatus

    with qr_page(app, stack, "Zap Loja", status=ConnectionStatus.CONNECTED, phone="5511999990000") as (cid, page):
        asked = []

        def answer(dialog, accept):
            asked.append(dialog.message)
            dialog.accept() if accept else dialog.dismiss()

        page.once("dialog", lambda d: answer(d, False))
        page.click("#qr-logout button[type=submit]")
        page.wait_for_timeout(1000)
        assert asked and asked[0].startswith("Desconectar Zap Loja?"), asked
        with app.app_context():
            assert db.session.get(Connection, cid).status == ConnectionStatus.CONNECTED
            db.session.remove()
        page.once("dialog", lambda d: answer(d, True))
        with page.expect_navigation():
            page.click("#qr-logout button[type=submit]")
        with app.app_context():
            connection = db.session.get(Connection, cid)
            assert (connection.status, connection.enabled) == (ConnectionStatus.DISCONNECTED, False)
            db.session.remove()


def test_connection_list_status_is_live(app, stack):
    """Conexões list: a number that disconnects (or reconnects) shows so in its row's Status
    without a reload; the cell kept "Conectado" until the page was reloaded."""
    from app.models.connection import ConnectionStatus

    with qr_page(app, stack, "Zap Lista", status=ConnectionStatus.CONNECTED, phone="5511999990000") as (cid, page):
        page.goto(f"{stack.url}/connections/list/")
        cell = f"tr[data-pk='{cid}'] .conn-status"
        assert page.inner_text(cell) == "Conectado"
        page.evaluate("() => { window.notReloaded = true; }")
        set_status(app, cid, ConnectionStatus.DISCONNECTED)
        page.wait_for_function(f"() => document.querySelector(\"{cell}\").textContent === 'Desconectado'",
                               timeout=10_000)
        assert "label-success" not in page.get_attribute(cell, "class")
        set_status(app, cid, ConnectionStatus.CONNECTED, phone="5511999990000")
        page.wait_for_function(f"() => document.querySelector(\"{cell}\").textContent === 'Conectado'",
                               timeout=10_000)
        assert "label-success" in page.get_attribute(cell, "class")
        assert page.evaluate("() => window.notReloaded") is True


def test_the_scan_instruction_is_shown_only_with_a_code(app, stack):
    """QA: once the status became Conectado the page still said "Abra o WhatsApp… escaneie o
    código", with no code left to scan. The instruction now comes and goes with the code, live
    (and as the server draws the page)."""
    from app.models.connection import ConnectionStatus

    instruction = "Abra o WhatsApp no celular"
    shown = lambda: instruction in page.inner_text("#conecta-qr")  # noqa: E731 (visible text only)
    with qr_page(app, stack, "Zap Novo", status=ConnectionStatus.QRCODE, qr="2@codigo") as (cid, page):
        assert page.locator("#qr-image svg").count() == 1 and shown()
        set_status(app, cid, ConnectionStatus.CONNECTED, phone="5511999990000")
        page.wait_for_function("() => document.getElementById('qr-status').textContent.includes('Conectado')",
                               timeout=10_000)
        assert page.locator("#qr-image svg").count() == 0
        assert not shown()
        page.reload()
        assert "Conectado" in page.inner_text("#qr-status") and not shown()
        set_status(app, cid, ConnectionStatus.QRCODE, qr="2@outro-codigo")
        page.wait_for_selector("#qr-image svg", timeout=10_000)
        assert shown()
