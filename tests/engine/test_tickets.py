"""Ticket actions: transitions, permission checks (incl. Ações em Grupo), automatic messages."""
import re

import pytest

from app.models import Message, TicketStatus
from app.services import DomainError, Forbidden, NotFound, tickets


@pytest.fixture
def world(engine, factory):
    """Two queues, a connection with the first one, agents, a supervisor, and a pending ticket."""
    q1 = factory.queue(name="Suporte")
    q2 = factory.queue(name="Financeiro")
    c = factory.connection(queues=[q1], completion_message="Conexão agradece, {{nome}}")
    w = type("World", (), {})()
    w.q1, w.q2, w.c = q1, q2, c
    w.ana = factory.member(queues=[q1], name="Ana")
    w.bia = factory.member(queues=[q1], name="Bia")
    w.caio = factory.member(queues=[q2], name="Caio")
    w.sup = factory.member(profile="supervisor", name="Sueli")
    engine.deliver(engine.message(c, name="Maria"))
    w.ticket = engine.tickets()[0]
    return w


def commit(engine):
    engine.db.session.commit()
    engine.db.session.expire_all()


def test_accept_opens_with_the_agent_and_clears_unread(engine, world):
    tickets.accept(world.ana, world.ticket.id)
    commit(engine)
    t = engine.tickets()[0]
    assert (t.status, t.user_id, t.unread_count) == (TicketStatus.OPEN, world.ana.id, 0)


def test_accepting_or_answering_marks_the_customers_messages_read_on_whatsapp(engine, world):
    """Confirmação de Leitura on: a member who accepts or answers a ticket with unread messages has
    read them, and WhatsApp is told (mark_read), as when she opens the conversation. Before, both
    set the count to zero silently: answered from a hidden browser tab or through the API, the
    customer's messages stayed unread on their phone, and with the count at zero opening the
    conversation afterwards told WhatsApp nothing either. Nothing unread: nothing to tell. Off: never."""
    world.c.read_receipts = True
    commit(engine)
    chat = {"op": "mark_read", "chat_id": world.ticket.contact.jid}

    def told(changes):
        return [command for _, command in changes.commands if command["op"] == "mark_read"]

    assert engine.tickets()[0].unread_count == 1
    changes = tickets.accept(world.ana, world.ticket.id)
    assert told(changes) == [chat]
    commit(engine)
    engine.deliver(engine.message(world.c, name="Maria", body="Ainda está aí?"))
    assert engine.tickets()[0].unread_count == 1
    _, changes = tickets.send_message(world.ana, world.ticket.id, "Estou sim!")
    assert told(changes) == [chat]
    commit(engine)
    assert engine.tickets()[0].unread_count == 0
    _, changes = tickets.send_message(world.ana, world.ticket.id, "Posso ajudar em algo mais?")
    assert told(changes) == []
    commit(engine)
    world.c.read_receipts = False
    commit(engine)
    engine.deliver(engine.message(world.c, name="Maria", body="Sim, mais uma coisa"))
    _, changes = tickets.send_message(world.ana, world.ticket.id, "Diga!")
    assert told(changes) == []
    commit(engine)
    assert engine.tickets()[0].unread_count == 0


def test_accept_twice_is_refused_with_a_clear_message(engine, world):
    tickets.accept(world.ana, world.ticket.id)
    commit(engine)
    with pytest.raises(DomainError) as err:
        tickets.accept(world.bia, world.ticket.id)
    assert err.value.message == "Este ticket já está em atendimento."
    engine.db.session.rollback()
    assert engine.tickets()[0].user_id == world.ana.id


def test_operator_greeting_on_accept_only_when_on(engine, world):
    engine.settings(operator_greeting=False, operator_greeting_text="Olá {{nome}}, sou {{atendente}}")
    tickets.accept(world.ana, world.ticket.id)
    commit(engine)
    before = len(engine.sent(world.ticket))
    tickets.return_to_pending(world.ana, world.ticket.id)
    engine.settings(operator_greeting=True)
    tickets.accept(world.bia, world.ticket.id)
    commit(engine)
    sent = engine.sent(world.ticket)
    assert len(sent) == before + 1
    assert sent[-1].body == "Olá Maria, sou Bia" and sent[-1].user_id == world.bia.id


def test_an_invisible_ticket_is_not_found(engine, world):
    with pytest.raises(NotFound):
        tickets.accept(world.caio, world.ticket.id)
    with pytest.raises(NotFound):
        tickets.close(world.caio, world.ticket.id)
    with pytest.raises(NotFound):
        tickets.accept(world.ana, 999999)


def test_transfer_to_a_queue_goes_back_to_pending_there(engine, world):
    engine.settings(transfer_message=True, transfer_message_text="Transferido para {{fila}}, {{nome}}")
    tickets.accept(world.ana, world.ticket.id)
    changes = tickets.transfer(world.ana, world.ticket.id, queue_id=world.q2.id)
    commit(engine)
    t = engine.tickets()[0]
    assert (t.status, t.queue_id, t.user_id) == (TicketStatus.PENDING, world.q2.id, None)
    assert engine.sent(t)[-1].body == "Transferido para Financeiro, Maria"
    # Ana no longer sees it; Caio (Financeiro) does
    with pytest.raises(NotFound):
        tickets.accept(world.ana, t.id)
    tickets.accept(world.caio, t.id)
    events = {e.name: e.rooms for e in changes.events()}
    assert f"queue:{world.q1.id}" in events["ticket:removed"] and f"user:{world.ana.id}" in events["ticket:removed"]


def test_transfer_to_an_agent_opens_with_that_agent(engine, world):
    engine.settings(transfer_message=True, transfer_message_text="Agora com {{atendente}}")
    tickets.accept(world.ana, world.ticket.id)
    tickets.transfer(world.ana, world.ticket.id, user_id=world.caio.id)
    commit(engine)
    t = engine.tickets()[0]
    assert (t.status, t.queue_id, t.user_id) == (TicketStatus.OPEN, world.q1.id, world.caio.id)
    assert engine.sent(t)[-1].body == "Agora com Caio"
    tickets.transfer(world.caio, t.id, queue_id=world.q2.id, user_id=world.ana.id)  # both
    commit(engine)
    t = engine.tickets()[0]
    assert (t.status, t.queue_id, t.user_id) == (TicketStatus.OPEN, world.q2.id, world.ana.id)


def test_no_transfer_message_when_off(engine, world):
    engine.settings(transfer_message=False, transfer_message_text="Transferido")
    n = len(engine.sent(world.ticket))
    tickets.transfer(world.ana, world.ticket.id, queue_id=world.q2.id)
    commit(engine)
    assert len(engine.sent(world.ticket)) == n


@pytest.mark.parametrize("target", [{}, {"queue_id": 9999}, {"user_id": 9999}, {"queue_id": "abc"}])
def test_transfer_to_nowhere_is_refused_and_changes_nothing(engine, world, target):
    with pytest.raises(DomainError) as err:
        tickets.transfer(world.ana, world.ticket.id, **target)
    assert err.value.status == 422
    engine.db.session.rollback()
    assert engine.tickets()[0].queue_id == world.q1.id


def test_transfer_to_a_deactivated_agent_is_refused(engine, world):
    world.caio.active = False
    commit(engine)
    with pytest.raises(DomainError) as err:
        tickets.transfer(world.ana, world.ticket.id, user_id=world.caio.id)
    assert err.value.status == 422
    engine.db.session.rollback()
    t = engine.tickets()[0]
    assert (t.status, t.user_id) == (TicketStatus.PENDING, None)


def test_a_user_cannot_take_over_another_agents_open_ticket(engine, world):
    tickets.accept(world.ana, world.ticket.id)
    commit(engine)
    for action in (lambda: tickets.transfer(world.bia, world.ticket.id, queue_id=world.q2.id),
                   lambda: tickets.close(world.bia, world.ticket.id),
                   lambda: tickets.return_to_pending(world.bia, world.ticket.id),
                   lambda: tickets.send_message(world.bia, world.ticket.id, "oi")):
        with pytest.raises(Forbidden):
            action()
        engine.db.session.rollback()
    tickets.transfer(world.sup, world.ticket.id, user_id=world.bia.id)  # a Supervisor may
    commit(engine)
    assert engine.tickets()[0].user_id == world.bia.id


def test_close_sends_the_connection_completion_message_when_operator_farewell_is_off(engine, world):
    engine.settings(operator_farewell=False, operator_farewell_text="Tchau do operador")
    tickets.accept(world.ana, world.ticket.id)
    tickets.close(world.ana, world.ticket.id)
    commit(engine)
    t = engine.tickets()[0]
    assert t.status == TicketStatus.CLOSED and t.closed_at is not None and not t.awaiting_rating
    assert engine.sent(t)[-1].body == "Conexão agradece, Maria"


def test_close_sends_the_operator_farewell_when_on(engine, world):
    engine.settings(operator_farewell=True, operator_farewell_text="{{atendente}} se despede, protocolo {{protocolo}}")
    tickets.accept(world.ana, world.ticket.id)
    tickets.close(world.ana, world.ticket.id)
    commit(engine)
    t = engine.tickets()[0]
    assert engine.sent(t)[-1].body == f"Ana se despede, protocolo {t.id}"


def test_close_twice_reopen_and_return(engine, world):
    tickets.accept(world.ana, world.ticket.id)
    tickets.close(world.ana, world.ticket.id)
    commit(engine)
    with pytest.raises(DomainError, match="já está resolvido"):
        tickets.close(world.ana, world.ticket.id)
    with pytest.raises(DomainError, match="Só um ticket aguardando"):
        tickets.accept(world.ana, world.ticket.id)
    with pytest.raises(DomainError, match="resolvido não pode ser transferido"):
        tickets.transfer(world.ana, world.ticket.id, queue_id=world.q2.id)
    with pytest.raises(Forbidden):
        tickets.reopen(world.bia, world.ticket.id)  # not hers
    tickets.reopen(world.ana, world.ticket.id)
    commit(engine)
    t = engine.tickets()[0]
    assert (t.status, t.user_id, t.closed_at) == (TicketStatus.OPEN, world.ana.id, None)
    with pytest.raises(DomainError, match="Só um ticket resolvido"):
        tickets.reopen(world.ana, t.id)
    tickets.return_to_pending(world.ana, t.id)
    commit(engine)
    t = engine.tickets()[0]
    assert (t.status, t.user_id) == (TicketStatus.PENDING, None)
    with pytest.raises(DomainError, match="Só um ticket em atendimento"):
        tickets.return_to_pending(world.ana, t.id)


def test_reopen_is_refused_when_the_contact_has_another_active_ticket(engine, world):
    tickets.close(world.sup, world.ticket.id)
    commit(engine)
    engine.deliver(engine.message(world.c, body="novo assunto"))
    with pytest.raises(DomainError, match="já tem um ticket em andamento"):
        tickets.reopen(world.sup, world.ticket.id)


def test_a_refused_reopen_names_no_ticket_the_member_may_not_see(engine, world):
    """Ana reopens her resolved ticket while the customer is in a conversation in Financeiro,
    which she does not see: she is refused without its number (nor that it exists beyond what a
    Nova conversa tells: the number is with another team); a Supervisor is told which ticket."""
    tickets.accept(world.ana, world.ticket.id)
    tickets.close(world.ana, world.ticket.id)
    commit(engine)
    engine.deliver(engine.message(world.c, body="outro assunto"))
    other = engine.tickets()[-1]
    tickets.transfer(world.sup, other.id, queue_id=world.q2.id)
    commit(engine)
    with pytest.raises(DomainError) as err:
        tickets.reopen(world.ana, world.ticket.id)
    engine.db.session.rollback()
    assert str(other.id) not in err.value.message and "Financeiro" not in err.value.message
    assert err.value.message == ("Este número já está em uma conversa com outra equipe. Peça a um supervisor "
                                 "que a transfira para você.")
    with pytest.raises(DomainError, match=f"#{other.id}"):
        tickets.reopen(world.sup, world.ticket.id)
    engine.db.session.rollback()


def test_group_actions_off_reserves_group_tickets_to_admins_and_supervisors(engine, factory, world):
    engine.settings(ignore_group_messages=False, group_actions=False)
    engine.deliver(engine.group_message(world.c))
    group = [t for t in engine.tickets() if t.is_group][0]
    for action in (tickets.accept, tickets.close):
        with pytest.raises(Forbidden, match="Admins e Supervisores"):
            action(world.ana, group.id)
        engine.db.session.rollback()
    with pytest.raises(Forbidden):
        tickets.transfer(world.ana, group.id, queue_id=world.q2.id)
    engine.db.session.rollback()
    tickets.accept(world.sup, group.id)
    commit(engine)
    assert engine.tickets(id=group.id)[0].user_id == world.sup.id


def test_with_group_actions_off_a_user_does_not_reopen_a_group_ticket_she_could_not_close(engine, world):
    """Ana resolved a group conversation while Ações em Grupo was on; it is now off. Reopening it
    is taking it again: refused to her as accepting is, and no Reabrir button (before, she reopened
    it and was left with a group conversation she could neither resolve, transfer nor return)."""
    engine.settings(ignore_group_messages=False, group_actions=True)
    engine.deliver(engine.group_message(world.c))
    group = [t for t in engine.tickets() if t.is_group][0]
    tickets.accept(world.ana, group.id)
    tickets.close(world.ana, group.id)
    commit(engine)
    engine.settings(group_actions=False)
    group = engine.tickets(id=group.id)[0]
    assert "reopen" not in tickets.allowed_actions(world.ana, group)
    with pytest.raises(Forbidden, match="Admins e Supervisores"):
        tickets.reopen(world.ana, group.id)
    engine.db.session.rollback()
    assert engine.tickets(id=group.id)[0].status == TicketStatus.CLOSED
    assert "reopen" in tickets.allowed_actions(world.sup, engine.tickets(id=group.id)[0])
    tickets.reopen(world.sup, group.id)
    commit(engine)
    assert engine.tickets(id=group.id)[0].status == TicketStatus.OPEN


def test_group_actions_on_lets_every_profile_act(engine, world):
    engine.settings(ignore_group_messages=False, group_actions=True)
    engine.deliver(engine.group_message(world.c))
    group = [t for t in engine.tickets() if t.is_group][0]
    tickets.accept(world.ana, group.id)
    tickets.close(world.ana, group.id)
    commit(engine)
    assert engine.tickets(id=group.id)[0].status == TicketStatus.CLOSED


def test_send_message_is_queued_with_a_preassigned_channel_id(engine, world):
    tickets.accept(world.ana, world.ticket.id)
    message, changes = tickets.send_message(world.ana, world.ticket.id, "Como posso ajudar?")
    commit(engine)
    assert message.status == "queued" and re.fullmatch(r"3EB0[0-9A-F]{20}", message.channel_id) and message.user_id == world.ana.id
    assert (world.c.id, {"op": "send", "message_id": message.id}) in changes.commands


@pytest.mark.parametrize("body", ["", "   ", None, 5, "x" * 4097,
                                  # QA: NULs are dropped when stored, so these went out empty
                                  "\x00", " \x00 ", "\x00\x00\n", "\u200b", "\u200b\ufeff "])
def test_bad_message_bodies_are_refused(engine, world, body):
    tickets.accept(world.ana, world.ticket.id)  # else refused as not accepted, whatever the body
    commit(engine)
    n = engine.count(Message)
    with pytest.raises(DomainError) as refused:
        tickets.send_message(world.ana, world.ticket.id, body)
    assert refused.value.status == 422
    engine.db.session.rollback()
    assert engine.count(Message) == n


def test_a_waiting_ticket_is_accepted_before_it_is_answered(engine, world):
    """Aguardando: no profile answers before accepting (the API let a queue member answer while
    the ticket stayed waiting with no agent and no operator greeting; the screen asked to accept)."""
    from app.models import Message

    for member in (world.ana, world.sup):
        with pytest.raises(DomainError, match="Aceite o atendimento para responder."):
            tickets.send_message(member, world.ticket.id, "oi")
        engine.db.session.rollback()
    assert engine.db.session.query(Message).filter_by(from_me=True).count() == 0
    assert engine.tickets()[0].status == TicketStatus.PENDING
    tickets.accept(world.ana, world.ticket.id)
    commit(engine)
    tickets.send_message(world.ana, world.ticket.id, "oi")


def test_no_messages_on_a_closed_ticket(engine, world):
    tickets.close(world.ana, world.ticket.id)
    commit(engine)
    with pytest.raises(DomainError, match="reabra"):
        tickets.send_message(world.ana, world.ticket.id, "oi")



def test_a_ticket_taken_out_of_the_menu_no_longer_answers_to_the_menu(engine, factory):
    """Accepting or transferring a ticket still waiting for the menu choice ends the menu: the
    customer's next "1" is a message, not a queue choice that would move the ticket."""
    a, b = factory.queue(name="Vendas", bot_order=1), factory.queue(name="Suporte", bot_order=2)
    c = factory.connection(queues=[a, b], greeting_message="Escolha")
    sup = factory.member(profile="supervisor", name="Sueli")
    engine.deliver(engine.message(c))
    t = engine.tickets()[0]
    assert t.awaiting_menu and t.queue_id is None
    tickets.transfer(sup, t.id, queue_id=b.id)
    commit(engine)
    n = len(engine.sent(t))
    engine.deliver(engine.message(c, body="1"))
    t = engine.tickets()[0]
    assert (t.queue_id, t.status, t.awaiting_menu, len(engine.sent(t))) == (b.id, TicketStatus.PENDING, False, n)

    engine.deliver(engine.message(c, phone="5511900003333"))
    other = engine.tickets()[-1]
    tickets.accept(sup, other.id)
    tickets.return_to_pending(sup, other.id)
    commit(engine)
    engine.deliver(engine.message(c, phone="5511900003333", body="2"))
    other = engine.tickets()[-1]
    assert other.queue_id is None and not other.awaiting_menu

    engine.deliver(engine.message(c, phone="5511900005555"))
    third = engine.tickets()[-1]
    tickets.close(sup, third.id)
    tickets.reopen(sup, third.id)
    tickets.return_to_pending(sup, third.id)
    commit(engine)
    engine.deliver(engine.message(c, phone="5511900005555", body="2"))
    third = engine.tickets()[-1]
    assert third.queue_id is None and not third.awaiting_menu


def test_a_ticket_handed_to_an_agent_out_of_the_menu_no_longer_answers_to_it(engine, factory):
    """A Supervisor hands a ticket still waiting for the menu choice straight to an agent; the agent
    later sends it back to Aguardando: the customer's next message is a message, not a menu reply
    (before, "obrigado" got "Opção inválida" and the menu again, and a "2" moved the ticket)."""
    a, b = factory.queue(name="Vendas", bot_order=1), factory.queue(name="Suporte", bot_order=2)
    c = factory.connection(queues=[a, b], greeting_message="Escolha")
    sup = factory.member(profile="supervisor", name="Sueli")
    ana = factory.member(queues=[a], name="Ana")
    engine.deliver(engine.message(c))
    t = engine.tickets()[0]
    assert t.awaiting_menu and t.queue_id is None
    tickets.transfer(sup, t.id, user_id=ana.id)
    commit(engine)
    t = engine.tickets()[0]
    assert (t.status, t.user_id, t.awaiting_menu) == (TicketStatus.OPEN, ana.id, False)
    tickets.return_to_pending(ana, t.id)
    commit(engine)
    n = len(engine.sent(t))
    engine.deliver(engine.message(c, body="obrigado"))
    engine.deliver(engine.message(c, body="2"))
    t = engine.tickets()[0]
    assert (t.queue_id, t.status, t.awaiting_menu, len(engine.sent(t))) == (None, TicketStatus.PENDING, False, n)


def test_transfer_to_where_the_ticket_already_is_is_refused(engine, world):
    engine.settings(transfer_message=True, transfer_message_text="Transferido")

    def refused(**target):
        with pytest.raises(DomainError) as err:
            tickets.transfer(world.ana, world.ticket.id, **target)
        assert err.value.status == 422 and err.value.message == "O ticket já está nesse destino."
        engine.db.session.rollback()

    refused(queue_id=world.q1.id)  # pending in Suporte already
    tickets.accept(world.ana, world.ticket.id)
    commit(engine)
    n = len(engine.sent(world.ticket))
    refused(user_id=world.ana.id)
    refused(queue_id=world.q1.id, user_id=world.ana.id)
    t = engine.tickets()[0]
    assert (t.status, t.queue_id, t.user_id, len(engine.sent(t))) == (TicketStatus.OPEN, world.q1.id, world.ana.id, n)


def test_closing_keeps_the_agent_or_records_who_closed(engine, world):
    """The agent a rating is stored against: the ticket's own agent even when a Supervisor closes
    it; the closing member when nobody had accepted it."""
    tickets.accept(world.ana, world.ticket.id)
    tickets.close(world.sup, world.ticket.id)
    commit(engine)
    assert engine.tickets()[0].user_id == world.ana.id
    engine.deliver(engine.message(world.c, phone="5511900004444"))
    pending = engine.tickets()[-1]
    assert pending.unread_count == 1
    tickets.close(world.bia, pending.id)
    commit(engine)
    t = engine.tickets(id=pending.id)[0]
    assert (t.status, t.user_id, t.unread_count) == (TicketStatus.CLOSED, world.bia.id, 0)  # nothing left unread


def test_the_buttons_each_member_gets(engine, world):
    """allowed_actions: the chat screen's buttons follow the same rules as the actions."""
    def actions(member):
        engine.db.session.expire_all()
        return tickets.allowed_actions(member, engine.tickets()[0])

    assert actions(world.ana) == actions(world.sup) == {"accept", "transfer", "close"}
    tickets.accept(world.ana, world.ticket.id)
    commit(engine)
    assert actions(world.ana) == actions(world.sup) == {"transfer", "close", "return", "send"}
    assert actions(world.bia) == set()  # another agent's conversation
    tickets.close(world.ana, world.ticket.id)
    commit(engine)
    assert actions(world.ana) == actions(world.sup) == {"reopen"}
    assert actions(world.bia) == set()


def test_reopening_a_ticket_closed_without_agent_gives_it_to_the_reopening_member(engine, world):
    """Closed with nobody (e.g. by the out-of-hours rule): Atendendo always has an agent."""
    from app.models import utcnow

    world.ticket.status, world.ticket.closed_at = TicketStatus.CLOSED, utcnow()
    commit(engine)
    tickets.reopen(world.sup, world.ticket.id)
    commit(engine)
    t = engine.tickets()[0]
    assert (t.status, t.user_id, t.closed_at) == (TicketStatus.OPEN, world.sup.id, None)
