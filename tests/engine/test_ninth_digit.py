"""A Brazilian mobile is one customer with or without its ninth digit (app.services.contacts):
WhatsApp still knows accounts made before the digit by their old id ("551187654321@c.us") while
the team types the number as it is written today ("(11) 98765-4321")."""
import pytest

from app.models import Contact, MessageStatus, TicketStatus
from app.services import contacts, outbound, tickets


@pytest.mark.parametrize("jid,twin", [
    ("5511987654321@c.us", "551187654321@c.us"),  # typed with the 9 → WhatsApp's old id
    ("551187654321@c.us", "5511987654321@c.us"),  # and back
    ("5521996543210@c.us", "552196543210@c.us"),
    ("556181234567@c.us", "5561981234567@c.us"),  # old mobiles started with 6, 7, 8 or 9
    ("551134567890@c.us", None),  # a landline (2–5) never had a ninth digit
    ("5511934567890@c.us", None),  # 9 followed by a landline's first digit: no mobile's old form
    ("551156789012@c.us", None),  # 5: landline too
    ("16502530000@c.us", None),  # abroad
    ("351912345678@c.us", None),
    ("5511987654321@g.us", None),  # a group's id is no number
    ("5511987654321@lid", None),
    ("55119876543210@c.us", None),  # too long for a Brazilian number
    ("abc@c.us", None), ("", None), (None, None),
])
def test_the_ninth_digit_twin(jid, twin):
    assert contacts.ninth_digit_twin(jid) == twin


@pytest.fixture
def world(engine, factory):
    w = type("World", (), {})()
    w.vendas = factory.queue(name="Vendas")
    w.conn = factory.connection(name="Principal", queues=[w.vendas])
    w.ana = factory.member(queues=[w.vendas], name="Ana")
    return w


def commit(engine):
    engine.db.session.commit()
    engine.db.session.expire_all()


@pytest.mark.parametrize("path", ["event by event", "batch"])
def test_the_answer_from_whatsapps_old_id_lands_in_the_conversation_started_with_the_9(engine, world, path):
    ticket, _changes, _created = tickets.start_conversation(world.ana, "(11) 98765-4321", "Dona Carla")
    commit(engine)
    answer = engine.message(world.conn, phone="551187654321", body="Oi Ana!", name="Carla WhatsApp")
    if path == "batch":
        engine.submit_and_drain(answer)
    else:
        engine.deliver(answer)
    assert [t.id for t in engine.tickets()] == [ticket.id]
    t = engine.tickets()[0]
    assert (t.status, t.user_id, t.unread_count) == (TicketStatus.OPEN, world.ana.id, 1)
    assert engine.count(Contact) == 1
    contact = engine.db.session.get(Contact, t.contact_id)
    # The contact is now the id WhatsApp uses (replies and sends go there); the name typed stays.
    assert (contact.jid, contact.phone, contact.name) == ("551187654321@c.us", "551187654321", "Dona Carla")


def test_an_unnamed_contact_reads_as_whatsapps_number_after_it(engine, world):
    tickets.start_conversation(world.ana, "(11) 98765-4321")
    commit(engine)
    engine.deliver(engine.message(world.conn, phone="551187654321", body="Oi", name=""))
    contact = engine.db.session.get(Contact, engine.tickets()[0].contact_id)
    assert (contact.phone, contact.name) == ("551187654321", "551187654321")


def test_a_number_typed_with_the_9_finds_the_customer_who_wrote_from_the_old_id(engine, world):
    engine.deliver(engine.message(world.conn, phone="551187654321", body="Quero comprar", name="Carla"))
    pending = engine.tickets()[0]
    ticket, _changes, created = tickets.start_conversation(world.ana, "(11) 98765-4321")
    assert (ticket.id, created) == (pending.id, False)
    commit(engine)
    assert engine.count(Contact) == 1
    # Found, not renamed: the id came from WhatsApp, the 9 was only typed.
    assert engine.db.session.get(Contact, pending.contact_id).jid == "551187654321@c.us"


def test_the_exact_id_wins_over_its_twin(engine, world):
    """Both ids known as contacts (made before this rule): each message goes to its own."""
    engine.deliver(engine.message(world.conn, phone="551187654321", body="antigo", name="Velho"))
    engine.db.session.add(Contact(channel="whatsapp", jid="5511987654321@c.us", phone="5511987654321", name="Novo"))
    commit(engine)
    engine.deliver(engine.message(world.conn, phone="5511987654321", body="novo", name="Novo"))
    names = {engine.db.session.get(Contact, t.contact_id).name for t in engine.tickets()}
    assert names == {"Velho", "Novo"} and len(engine.tickets()) == 2


def test_the_outbox_moves_the_contact_to_the_id_whatsapp_gave(engine, world):
    ticket, _changes, _created = tickets.start_conversation(world.ana, "(11) 98765-4321", "Dona Carla")
    message, _changes = tickets.send_message(world.ana, ticket.id, "Olá")
    commit(engine)
    changes = outbound.chat_moved(message.id, "551187654321@c.us")
    engine.db.session.expire_all()
    contact = engine.db.session.get(Contact, ticket.contact_id)
    assert (contact.jid, contact.phone, contact.name) == ("551187654321@c.us", "551187654321", "Dona Carla")
    assert list(changes.tickets) == [ticket.id]  # the screens show the new number
    assert outbound.claim(message.id).chat_id == "551187654321@c.us"


def test_the_outbox_moves_nothing_but_to_the_twin(engine, world):
    """Only the ninth-digit twin is the same customer: another id from the page changes nothing,
    and neither does a twin another contact holds already."""
    ticket, _changes, _created = tickets.start_conversation(world.ana, "(11) 98765-4321", "Dona Carla")
    message, _changes = tickets.send_message(world.ana, ticket.id, "Olá")
    commit(engine)
    assert not outbound.chat_moved(message.id, "5511912345678@c.us").tickets
    assert not outbound.chat_moved(message.id + 999, "551187654321@c.us").tickets
    engine.db.session.add(Contact(channel="whatsapp", jid="551187654321@c.us", phone="551187654321", name="Outra"))
    commit(engine)
    assert not outbound.chat_moved(message.id, "551187654321@c.us").tickets
    engine.db.session.expire_all()
    assert engine.db.session.get(Contact, ticket.contact_id).jid == "5511987654321@c.us"
    assert engine.sent(ticket)[0].status == MessageStatus.QUEUED
