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

