"""The conversation on screen leaves the member's sight: it says so, and what was typed is not lost."""
import json

import pytest
from playwright.sync_api import expect

from tests.chat.test_browser import agents, customer_writes, desk_live  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

GONE = "Esta conversa não está mais disponível para você: ela foi transferida ou as suas filas mudaram."
DRAFT = "Maria, o orçamento fica em R$ 900,00"


def drafts(agent, member_id):
    return json.loads(agent.page.evaluate(f"sessionStorage.getItem('conecta-drafts:{member_id}')") or "[]")


def handed_back(agent, member_id):
    """The note instead of the conversation, the text typed there offered to copy, and no draft
    left in sessionStorage under a ticket that will not open again."""
    empty = agent.page.locator("#chat-empty")
    expect(empty).to_contain_text(GONE)
    expect(agent.page.locator("#chat-conversation")).to_be_hidden()
    expect(empty.locator(".chat-leftover")).to_contain_text("O que você digitou nela e não enviou:")
    expect(empty.locator(".chat-leftover-text")).to_have_value(DRAFT)
    assert drafts(agent, member_id) == []
    agent.context.grant_permissions(["clipboard-read", "clipboard-write"])
    empty.locator(".chat-leftover-copy").click()
    expect(empty.locator(".chat-leftover-copy")).to_have_text("Copiado.")
    assert agent.page.evaluate("navigator.clipboard.readText()") == DRAFT


def test_a_conversation_transferred_away_says_so_and_hands_back_what_was_typed(desk_live, agents, db, admin_api):
    """Ana is writing to Maria when an Admin transfers the ticket to Suporte, which Ana cannot
    see. Before: "Ticket não encontrado." and her text kept in sessionStorage under that ticket."""
    from app.models import Ticket

    desk = desk_live
    ana = agents("ana@teste.com.br")
    ana.tab("pending")
    customer_writes(desk, desk.vendas, "Quero um orçamento", name="Maria Transferida", phone="5511966665001")
    ana.accept("Maria Transferida")
    ana.page.fill("#chat-input", DRAFT)
    ticket_id = db.session.query(Ticket.id).scalar()
    assert drafts(ana, desk.ana.id) == [[ticket_id, DRAFT]]
    r = admin_api.post(f"/api/v1/ticket/{ticket_id}/transfer", json={"queue": desk.suporte.id})
    assert r.status_code == 200, r.get_data(as_text=True)
    handed_back(ana, desk.ana.id)
    expect(ana.row("Maria Transferida")).to_have_count(0)


def test_a_conversation_of_a_queue_taken_from_the_member_says_so_after_the_page_loads_again(
        desk_live, agents, db, admin_api):
    """Ana was writing to Maria and put the ticket back in Vendas' waiting list (her text stays kept
    for it); an Admin takes Vendas from her: her page loads again by itself (the server drops
    her sockets), at the conversation's address, which the server now answers 404 for. The page
    had it open: no longer available to her, rather than "Ticket não encontrado.", and her text
    handed back."""
    from app.models import Ticket

    desk = desk_live
    ana = agents("ana@teste.com.br")
    ana.tab("pending")
    customer_writes(desk, desk.vendas, "Quero um orçamento", name="Maria Fila", phone="5511966665002")
    ana.accept("Maria Fila")
    ana.page.fill("#chat-input", DRAFT)
    ticket_id = db.session.query(Ticket.id).scalar()
    ana.page.click("[data-action=return]")  # "Devolver para Aguardando": her text stays kept for it
    expect(ana.page.locator("#chat-composer-closed")).to_have_text("Aceite o atendimento para responder.")
    assert drafts(ana, desk.ana.id) == [[ticket_id, DRAFT]]
    ana.page.evaluate("window.__same_page = true")  # gone once the page is loaded again
    r = admin_api.put(f"/api/v1/team/{desk.ana.id}", json={"queues": [desk.suporte.id]})
    assert r.status_code == 200, r.get_data(as_text=True)
    ana.page.wait_for_function("() => !window.__same_page", timeout=15000)
    ana.connected()
    handed_back(ana, desk.ana.id)
