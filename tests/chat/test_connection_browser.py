"""The guide: a Conexão's name "is shown on the tickets of your conversations"."""
import uuid

import pytest
from playwright.sync_api import expect

from tests.chat.test_browser import agents, desk_live  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_each_ticket_names_the_number_the_customer_wrote_to(desk_live, agents, db, factory):
    """Two WhatsApp numbers (Principal and Vendas Loja): a ticket shows which one the customer
    wrote to, in the list and in the conversation's header (before, nowhere: the agent could not
    tell a store customer from a support one)."""
    from app.workers.ingest import submit

    desk = desk_live
    loja = factory.connection(name="Vendas Loja", phone="5511900000099", queues=[desk.vendas])
    desk.connection.queues = [desk.vendas]
    db.session.commit()
    for connection, name in ((desk.connection, "Cliente Principal"), (loja, "Cliente Loja")):
        submit(desk.engine.message(connection, phone="55119" + str(uuid.uuid4().int)[:8], name=name, body="Oi"))
    ana = agents("ana@teste.com.br")
    ana.tab("pending")
    expect(ana.row("Cliente Loja").locator(".chat-connection-tag")).to_have_text("Vendas Loja")
    expect(ana.row("Cliente Principal").locator(".chat-connection-tag")).to_have_text("Principal")
    ana.row("Cliente Loja").click()
    expect(ana.page.locator("#chat-contact-name")).to_have_text("Cliente Loja")
    expect(ana.page.locator("#chat-ticket-connection")).to_have_text("Vendas Loja")
    expect(ana.page.locator("#chat-ticket-connection")).to_be_visible()
    ana.row("Cliente Principal").click()
    expect(ana.page.locator("#chat-ticket-connection")).to_have_text("Principal")
    ana.shot("conexao-no-ticket")
