"""Inbound routing: contact, ticket, message, unread count, last message, idempotency, groups."""
import pytest
from sqlalchemy.exc import IntegrityError

from app.models import Contact, InboundEvent, Message, Ticket, TicketStatus


def test_first_message_creates_contact_pending_ticket_and_message(engine, factory):
    q = factory.queue()
    c = factory.connection(queues=[q])
    assert engine.deliver(engine.message(c, body="Preciso de ajuda", name="Maria")) == "created"
    contact = engine.db.session.query(Contact).one()
    assert (contact.phone, contact.jid, contact.name, contact.is_group) == (
        "5511988887777", "5511988887777@c.us", "Maria", False)
    ticket = engine.db.session.query(Ticket).one()
    assert ticket.status == TicketStatus.PENDING and ticket.contact_id == contact.id
    assert ticket.unread_count == 1 and ticket.last_message == "Preciso de ajuda"
    assert ticket.last_message_at is not None
    inbound = engine.db.session.query(Message).filter_by(from_me=False).one()
    assert inbound.body == "Preciso de ajuda" and inbound.ticket_id == ticket.id


def test_next_messages_reuse_the_pending_ticket_and_count_unread(engine, factory):
    c = factory.connection(queues=[factory.queue()])
    engine.deliver(engine.message(c, body="um"))
    assert engine.deliver(engine.message(c, body="dois")) == "appended"
    ticket = engine.tickets()[0]
    assert len(engine.tickets()) == 1
    assert ticket.unread_count == 2 and ticket.last_message == "dois"


def test_open_ticket_is_reused_and_stays_open(engine, factory):
    from app.services import tickets

    q = factory.queue()
    c = factory.connection(queues=[q])
    agent = factory.member(queues=[q])
    engine.deliver(engine.message(c))
    t = engine.tickets()[0]
    tickets.accept(agent, t.id)
    engine.db.session.commit()
    engine.deliver(engine.message(c, body="de novo"))
    t = engine.tickets()
    assert len(t) == 1 and t[0].status == TicketStatus.OPEN and t[0].user_id == agent.id


def test_closed_ticket_is_never_reopened_a_new_one_is_created(engine, factory):
    from app.services import tickets

    q = factory.queue()
    c = factory.connection(queues=[q])
    agent = factory.member(queues=[q])
    engine.deliver(engine.message(c))
    first = engine.tickets()[0]
    tickets.accept(agent, first.id)
    tickets.close(agent, first.id)
    engine.db.session.commit()
    engine.deliver(engine.message(c, body="voltei"))
    all_tickets = engine.tickets()
    assert [t.status for t in all_tickets] == [TicketStatus.CLOSED, TicketStatus.PENDING]
    assert all_tickets[1].user_id is None and all_tickets[1].unread_count == 1


def test_one_ticket_per_contact_and_connection(engine, factory):
    q = factory.queue()
    c1, c2 = factory.connection(queues=[q]), factory.connection(queues=[q])
    engine.deliver(engine.message(c1))
    engine.deliver(engine.message(c2))
    assert engine.count(Contact) == 1
    assert sorted(t.connection_id for t in engine.tickets()) == sorted([c1.id, c2.id])


def test_same_event_twice_is_stored_once(engine, factory):
    c = factory.connection(queues=[factory.queue()])
    payload = engine.message(c)
    engine.deliver(payload)
    assert engine.deliver(payload) == "done"  # the inbox ignores the duplicate, already processed
    assert engine.count(Message, from_me=False) == 1 and engine.count(InboundEvent) == 1
    assert engine.tickets()[0].unread_count == 1


def test_routing_is_idempotent_on_the_channel_id_without_the_inbox(engine, factory):
    from app.services import routing
    from app.services.events import Changes

    c = factory.connection(queues=[factory.queue()])
    payload = engine.message(c)
    assert routing.route_inbound(payload, Changes()) == "created"
    engine.db.session.commit()
    assert routing.route_inbound(payload, Changes()) == "duplicate"
    engine.db.session.commit()
    assert engine.count(Message, from_me=False) == 1


def test_the_unique_constraint_refuses_a_second_message_with_the_same_channel_id(engine, factory):
    """The guarantee under the race is the database's, not a check in Python."""
    c = factory.connection()
    engine.deliver(engine.message(c, channel_id="ABC"))
    t = engine.tickets()[0]
    engine.db.session.add(Message(ticket_id=t.id, connection_id=c.id, channel_id="ABC", body="x"))
    with pytest.raises(IntegrityError):
        engine.db.session.flush()
    engine.db.session.rollback()


def test_the_database_refuses_two_active_tickets_for_one_contact(engine, factory):
    c = factory.connection()
    engine.deliver(engine.message(c))
    t = engine.tickets()[0]
    engine.db.session.add(Ticket(contact_id=t.contact_id, connection_id=c.id, status=TicketStatus.PENDING))
    with pytest.raises(IntegrityError):
        engine.db.session.flush()
    engine.db.session.rollback()


def test_group_messages_are_ignored_when_the_option_is_on(engine, factory):
    engine.settings(ignore_group_messages=True)
    c = factory.connection(queues=[factory.queue()])
    assert engine.deliver(engine.group_message(c)) == "ignored"
    assert engine.count(Contact) == 0 and engine.count(Ticket) == 0 and engine.count(Message) == 0
    assert engine.db.session.query(InboundEvent).one().processed_at is not None


def test_a_group_is_a_ticket_of_its_own_with_the_sender_per_message(engine, factory):
    engine.settings(ignore_group_messages=False)
    q1, q2 = factory.queue(greeting_message="oi"), factory.queue()
    c = factory.connection(queues=[q1, q2], greeting_message="Bem-vindo")
    engine.deliver(engine.group_message(c, phone="5511911111111", name="Ana", body="primeira"))
    engine.deliver(engine.group_message(c, phone="5511922222222", name="Bruno", body="segunda"))
    group = engine.db.session.query(Contact).one()
    assert group.is_group and group.jid.endswith("@g.us") and group.name == "Grupo Vendas" and group.phone is None
    ticket = engine.db.session.query(Ticket).one()
    assert ticket.is_group and ticket.unread_count == 2
    msgs = engine.db.session.query(Message).filter_by(from_me=False).order_by(Message.id).all()
    assert [(m.sender_name, m.sender_jid) for m in msgs] == [
        ("Ana", "5511911111111@c.us"), ("Bruno", "5511922222222@c.us")]
    # no chatbot menu is sent to a group
    assert engine.sent(ticket) == []


def test_media_message_is_stored_with_its_file(engine, factory):
    c = factory.connection()
    engine.deliver(engine.message(c, type="image", body="",
                                  media={"path": "1/foto.jpg", "mime": "image/jpeg", "name": "foto.jpg"}))
    m = engine.db.session.query(Message).filter_by(from_me=False).one()
    assert (m.type, m.media_path, m.media_mime, m.media_name) == ("image", "1/foto.jpg", "image/jpeg", "foto.jpg")
    assert engine.tickets()[0].last_message == "[foto.jpg]"


@pytest.mark.parametrize("change", [
    {"v": 2}, {"kind": "nope"}, {"connection_id": "1"}, {"channel_id": ""}, {"channel_id": "x" * 101},
    {"chat_id": None}, {"type": "html"}, {"body": 5},
    {"media": {"path": "../../etc/passwd"}}, {"media": {"path": "/etc/passwd"}}, {"connection_id": 999},
])
def test_invalid_events_are_refused_and_store_nothing(engine, factory, change):
    from app.services import DomainError, inbox

    c = factory.connection()
    payload = dict(engine.message(c), **change)
    with pytest.raises(DomainError):
        inbox.receive(payload)
    engine.db.session.rollback()
    assert engine.count(InboundEvent) == 0


def test_very_long_bodies_are_cut(engine, factory):
    from app.services.routing import MAX_INBOUND_BODY

    c = factory.connection()
    engine.deliver(engine.message(c, body="a" * (MAX_INBOUND_BODY + 50)))
    assert len(engine.db.session.query(Message).one().body) == MAX_INBOUND_BODY


def test_routing_ignores_a_message_for_a_connection_that_no_longer_exists(engine, factory):
    """The inbox refuses unknown connections; a connection deleted before its event is routed
    (SQLite keeps the event: no cascade there) is ignored by routing, nothing stored."""
    from app.models import Ticket
    from app.services import routing
    from app.services.events import Changes

    c = factory.connection()
    payload = engine.message(c)
    engine.db.session.delete(c)
    engine.db.session.commit()
    assert routing.route_inbound(payload, Changes()) == "ignored"
    engine.db.session.commit()
    assert engine.count(Ticket) == 0 and engine.count(Message) == 0
