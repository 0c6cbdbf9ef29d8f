"""Who is told of a new waiting ticket ("Novo atendimento aguardando", a sound and a notification)."""
import pytest
from playwright.sync_api import expect

from tests.chat.test_browser import NOTIFICATION_RECORDER, agents, desk_live  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_staff_in_the_queue_are_told_when_the_chatbot_menu_puts_a_ticket_there(desk_live, agents, db):
    """A connection with two queues: the customer gets the menu and answers "1" (Vendas). Sara
    (Supervisor, in both queues) hears the ticket at the menu, with no queue, and is told once it
    waits in Vendas, as Ana (User of Vendas) is; the menu stage rings for nobody, and a new
    message on the same waiting ticket does not ring again. Before, Sara was never told: the
    ticket known "without a queue" counted as already waiting."""
    from app.workers.ingest import submit

    desk = desk_live
    desk.sara.queues = [desk.vendas, desk.suporte]
    desk.connection.queues = [desk.vendas, desk.suporte]
    db.session.commit()
    sara = agents("sara@teste.com.br", NOTIFICATION_RECORDER)
    ana = agents("ana@teste.com.br", NOTIFICATION_RECORDER)
    notes = lambda agent: agent.page.evaluate("window.__notes")  # noqa: E731
    beeps = lambda agent: agent.page.evaluate("window.__beeps")  # noqa: E731
    sara.tab("pending")
    ana.tab("pending")

    def customer(body):
        submit(desk.engine.message(desk.connection, phone="5511966663001", name="Cliente do Menu", body=body))

    customer("Olá")
    # At the menu: staff see it, without a queue (its event is handled before the row is drawn).
    expect(sara.row("Cliente do Menu").locator(".chat-queue-tag")).to_have_text("")
    assert notes(sara) == [] and beeps(sara) == 0

    customer("1")
    expected = [{"title": "Novo atendimento aguardando", "body": "Cliente do Menu"}]
    ana.page.wait_for_function("() => window.__notes.length === 1")
    sara.page.wait_for_function("() => window.__notes.length === 1")
    expect(sara.row("Cliente do Menu").locator(".chat-queue-tag")).to_have_text("Vendas")
    assert notes(sara) == expected and beeps(sara) == 1
    assert notes(ana) == expected and beeps(ana) == 1

    customer("Ainda estou aguardando")
    for agent in (sara, ana):
        expect(agent.row("Cliente do Menu").locator(".chat-ticket-preview")).to_have_text("Ainda estou aguardando")
        assert notes(agent) == expected and beeps(agent) == 1


def test_admins_and_supervisors_are_told_of_a_ticket_left_without_a_queue(desk_live, agents, db):
    """A connection with no queues: its tickets wait with no queue, seen by Admins and Supervisors
    alone. Sara (Supervisor) is told once; Ana (User), who cannot see it, is not. Before, a
    ticket with no queue rang for nobody: it looked like one still at the menu."""
    from app.workers.ingest import submit

    desk = desk_live
    desk.connection.queues = []
    db.session.commit()
    sara = agents("sara@teste.com.br", NOTIFICATION_RECORDER)
    ana = agents("ana@teste.com.br", NOTIFICATION_RECORDER)
    notes = lambda agent: agent.page.evaluate("window.__notes")  # noqa: E731
    sara.tab("pending")
    ana.tab("pending")

    def customer(body):
        submit(desk.engine.message(desk.connection, phone="5511966663002", name="Cliente Sem Fila", body=body))

    customer("Olá")
    sara.page.wait_for_function("() => window.__notes.length === 1")
    assert notes(sara) == [{"title": "Novo atendimento aguardando", "body": "Cliente Sem Fila"}]
    customer("Alguém?")
    expect(sara.row("Cliente Sem Fila").locator(".chat-ticket-preview")).to_have_text("Alguém?")
    assert len(notes(sara)) == 1
    assert notes(ana) == []
