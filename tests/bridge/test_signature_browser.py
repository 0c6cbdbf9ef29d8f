"""Message signatures end to end: an agent in a real Chromium turns the composer's "Assinar" switch
off and on, and the customer's phone (the simulator's log) gets what the switch said, through the
web process, the outbox, the bridge worker and WhatsApp Web (the simulator)."""
import pytest
from playwright.sync_api import expect

from tests.bridge.helpers import wait_for
from tests.bridge.test_end_to_end import FAST, messages
from tests.bridge.test_lifecycle import scan_connection
from tests.chat.conftest import Desk
from tests.chat.test_browser import Agent

pytestmark = [pytest.mark.browser, pytest.mark.slow]
CUSTOMER = "5511955551234"


def received_texts(sim):
    return [e["body"] for e in sim.log(CUSTOMER) if e["type"] == "text"]


def test_the_agent_turns_the_signature_off_and_on_and_the_customer_reads_it(app, db, factory, sim_stack, sim,
                                                                             browser):
    from app.models import Member

    desk = Desk(app, db, factory)
    desk.connection.queues = [desk.vendas]
    desk.connection.enabled = True
    db.session.commit()
    sim_stack.start_worker()
    sim_stack.start_bridge(**FAST)
    scan_connection(app, db, sim, desk.connection.id, desk.connection.phone)
    sim.message(desk.connection.phone, CUSTOMER, "Oi, cadê meu pedido?", name="Maria Cliente")

    ana = Agent(browser, sim_stack.url, "ana@teste.com.br")
    try:
        page = ana.page
        ana.tab("pending")
        ana.accept("Maria Cliente")
        switch = page.locator("#chat-sign")
        expect(switch).not_to_be_checked()  # off until the member turns it on

        def send(text):
            page.fill("#chat-input", text)
            page.press("#chat-input", "Enter")
            page.locator(".chat-msg.out", has_text=text).wait_for()

        def toggle():
            page.click("label.chat-sign")
            # The box is disabled while the server keeps the choice, and shows the server's answer.
            page.wait_for_function("() => !document.getElementById('chat-sign').disabled")

        toggle()
        expect(switch).to_be_checked()
        send("Seu pedido saiu hoje.")
        wait_for(lambda: "*Ana:*\nSeu pedido saiu hoje." in received_texts(sim), message="the signed message")

        toggle()
        expect(switch).not_to_be_checked()
        send("Chega amanhã.")
        ana.shot("assinar-desligado")
        wait_for(lambda: "Chega amanhã." in received_texts(sim), message="the unsigned message")

        # Remembered on her profile: the page opened again (another device alike) keeps it off.
        page.reload()
        ana.connected()
        expect(switch).not_to_be_checked()
        ana.row("Maria Cliente").click()
        page.locator("#chat-composer:not([hidden])").wait_for()
        toggle()
        expect(switch).to_be_checked()
        send("Qualquer dúvida, estou aqui.")
        wait_for(lambda: "*Ana:*\nQualquer dúvida, estou aqui." in received_texts(sim), message="signed again")

        assert received_texts(sim) == ["*Ana:*\nSeu pedido saiu hoje.", "Chega amanhã.",
                                       "*Ana:*\nQualquer dúvida, estou aqui."]
        # The conversation keeps what she typed; her name is shown above her messages, not in them.
        for bubble in page.locator(".chat-msg.out .chat-msg-body").all():
            assert "*Ana:*" not in bubble.inner_text()
        expect(page.locator(".chat-msg.out .chat-msg-sender").first).to_have_text("Ana")
        db.session.expire_all()
        assert db.session.get(Member, desk.ana.id).sign_messages is True
        bodies = [m.body for m in messages(db, from_me=True)]
        assert bodies == ["Seu pedido saiu hoje.", "Chega amanhã.", "Qualquer dúvida, estou aqui."]
        assert ana.dialogs == [] and ana.errors == []
    finally:
        ana.close()
