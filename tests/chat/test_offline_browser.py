"""The chat screen across a network drop of the agent's browser (Playwright's offline mode)."""
import pytest
from playwright.sync_api import expect

from tests.chat.test_browser import agents, customer_writes, desk_live  # noqa: F401 (fixtures)
from tests.conftest import wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def go_offline(agent):
    agent.context.set_offline(True)
    agent.page.locator("#chat-banner", has_text="Sem conexão com o servidor").wait_for(timeout=60000)


def back_online(agent):
    agent.context.set_offline(False)
    agent.page.locator("#chat-banner", has_text="Conexão restabelecida.").wait_for(timeout=60000)


def test_messages_that_came_during_a_network_drop_are_read_once_back(desk_live, agents, db):
    """Ana's conversation with Maria is on screen when her browser loses the network; Maria writes
    twice meanwhile. Back online, the page fetches them and the conversation is read, as when it
    is opened: no badge, unread 0 and, with Confirmação de Leitura on, WhatsApp told (before, the
    messages showed but stayed unread: badge "2", no "seen")."""
    from app.models import Ticket

    desk = desk_live
    desk.connection.read_receipts = True
    db.session.commit()
    phone = "5511966664001"
    ana = agents("ana@teste.com.br")
    ana.tab("pending")
    customer_writes(desk, desk.vendas, "Oi", name="Maria Rede", phone=phone)
    ana.accept("Maria Rede")
    desk.engine.commands(desk.connection)  # what opening and accepting told WhatsApp

    go_offline(ana)
    customer_writes(desk, desk.vendas, "Caiu a sua internet?", name="Maria Rede", phone=phone)
    customer_writes(desk, desk.vendas, "Estou esperando", name="Maria Rede", phone=phone)

    def unread():
        db.session.expire_all()
        return db.session.query(Ticket).one().unread_count

    assert wait_until(lambda: unread() == 2, 15)
    assert desk.engine.commands(desk.connection) == []
    back_online(ana)
    ana.page.locator(".chat-msg.in", has_text="Estou esperando").wait_for()
    expect(ana.row("Maria Rede")).to_have_count(1)
    expect(ana.row("Maria Rede").locator(".chat-unread")).to_have_count(0)
    assert wait_until(lambda: unread() == 0, 15)
    assert {"op": "mark_read", "chat_id": f"{phone}@c.us"} in desk.engine.commands(desk.connection)


def test_a_send_that_failed_offline_says_it_was_not_sent_and_the_note_goes_when_back(desk_live, agents, db):
    """Offline, Ana presses Enter: the message cannot reach the server. The note says plainly it
    was not sent and its text is back in the box (before: "Sem conexão com o servidor. Tentando
    novamente...", though nothing tries again), and it goes once the connection is back (before,
    it stayed under the conversation after "Conexão restabelecida.")."""
    from app.models import Message

    desk = desk_live
    ana = agents("ana@teste.com.br")
    ana.tab("pending")
    customer_writes(desk, desk.vendas, "Oi", name="Maria Envio", phone="5511966664002")
    ana.accept("Maria Envio")

    go_offline(ana)
    ana.page.fill("#chat-input", "Seu pedido já saiu")
    ana.page.press("#chat-input", "Enter")
    error = ana.page.locator("#chat-error")
    expect(error).to_have_text("Mensagem não enviada: sem conexão com o servidor. "
                               "O que você digitou voltou para a caixa de texto.")
    expect(ana.page.locator("#chat-input")).to_have_value("Seu pedido já saiu")
    back_online(ana)
    expect(error).to_be_hidden()
    expect(error).to_have_text("")
    expect(ana.page.locator("#chat-input")).to_have_value("Seu pedido já saiu")
    db.session.expire_all()
    assert db.session.query(Message).filter_by(body="Seu pedido já saiu").count() == 0  # not sent again by itself
