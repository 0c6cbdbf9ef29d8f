"""Nova conversa: a member starts a conversation with a WhatsApp number (DESIGN §4: a user's
Conexão Padrão is used for the conversations that user starts; otherwise the default connection)."""
import threading

import pytest

from app.models import Contact, Ticket, TicketStatus
from app.services import DomainError, tickets


@pytest.mark.parametrize("typed,number", [
    ("(11) 98765-4321", "5511987654321"),
    ("11987654321", "5511987654321"),
    ("+55 11 98765-4321", "5511987654321"),
    ("5511987654321", "5511987654321"),  # as the team's numbers are written: 55 + DDD + number
    ("0055 11 98765 4321", "5511987654321"),
    ("(21) 3456-7890", "552134567890"),  # a landline (WhatsApp Business)
    ("+1 650-253-0000", "16502530000"),  # a customer abroad
    ("+351 912 345 678", "351912345678"),
])
def test_numbers_are_read_as_typed_in_brazil(typed, number):
    assert tickets.whatsapp_number(typed) == number


@pytest.mark.parametrize("typed", ["", "   ", "123", "abc", "(00) 98765-4321", "98765-4321", "+55 11 1234",
                                   "1" * 41, None, 5511987654321, ["5511987654321"]])
def test_what_is_no_number_is_refused_in_portuguese(db, typed):
    with pytest.raises(DomainError) as err:
        tickets.whatsapp_number(typed)
    assert err.value.status == 422 and "Digite um número de WhatsApp válido, com DDD" in err.value.message


@pytest.fixture
def world(engine, factory):
    w = type("World", (), {})()
    w.vendas, w.suporte = factory.queue(name="Vendas"), factory.queue(name="Suporte")
    w.default = factory.connection(name="Principal", queues=[w.vendas])
    w.loja = factory.connection(name="Loja", queues=[w.vendas])
    w.ana = factory.member(queues=[w.vendas], name="Ana")
    w.bia = factory.member(queues=[w.vendas, w.suporte], name="Bia")
    w.caio = factory.member(queues=[w.suporte], name="Caio")
    w.sup = factory.member(profile="supervisor", name="Sueli")
    assert w.default.is_default and not w.loja.is_default
    return w


def commit(engine):
    engine.db.session.commit()
    engine.db.session.expire_all()


def test_the_conversation_opens_with_the_agent_and_the_customer_answers_in_it(engine, world):
    ticket, changes, created = tickets.start_conversation(world.ana, "(11) 98765-4321", "Dona Maria")
    commit(engine)
    assert created and changes
    t = engine.tickets()[0]
    assert (t.status, t.user_id, t.queue_id, t.connection_id) == (TicketStatus.OPEN, world.ana.id,
                                                                   world.vendas.id, world.default.id)
    contact = engine.db.session.get(Contact, t.contact_id)
    assert (contact.jid, contact.phone, contact.name) == ("5511987654321@c.us", "5511987654321", "Dona Maria")
    # The agent writes first; the message goes to that number through that connection.
    message, _changes = tickets.send_message(world.ana, t.id, "Olá, aqui é a Ana da loja.")
    commit(engine)
    assert message.connection_id == world.default.id and message.ticket_id == t.id
    # The customer's answer arrives in the same conversation, still with Ana (no chatbot menu).
    engine.deliver(engine.message(world.default, phone="5511987654321", body="Oi Ana!"))
    assert [x.id for x in engine.tickets()] == [t.id]
    t = engine.tickets()[0]
    assert (t.status, t.user_id, t.unread_count, t.awaiting_menu) == (TicketStatus.OPEN, world.ana.id, 1, False)


def test_the_members_default_connection_is_used_else_the_companys(engine, world):
    world.bia.default_connection = world.loja
    commit(engine)
    ticket, _c, _created = tickets.start_conversation(world.bia, "11 98765-0001", queue_id=world.suporte.id)
    assert ticket.connection_id == world.loja.id and ticket.queue_id == world.suporte.id
    ticket, _c, _created = tickets.start_conversation(world.ana, "11 98765-0002")
    assert ticket.connection_id == world.default.id


def test_no_connection_at_all_is_a_clear_refusal(engine, factory):
    q = factory.queue(name="Vendas")
    ana = factory.member(queues=[q])
    with pytest.raises(DomainError) as err:
        tickets.start_conversation(ana, "11 98765-0001")
    assert err.value.status == 422 and "um administrador precisa cadastrar uma" in err.value.message


def test_the_queue_is_one_of_the_members(engine, world):
    # Several queues: the member chooses; a queue not theirs is refused; nothing is created.
    for queue_id, message in ((None, "Escolha a fila da conversa."), (world.suporte.id + 999, "Escolha uma das suas filas."),
                              ("x", None)):
        with pytest.raises(DomainError) as err:
            tickets.start_conversation(world.bia, "11 98765-0003", queue_id=queue_id)
        assert message is None or err.value.message == message
        engine.db.session.rollback()
    with pytest.raises(DomainError) as err:
        tickets.start_conversation(world.ana, "11 98765-0003", queue_id=world.suporte.id)
    assert err.value.message == "Escolha uma das suas filas."
    engine.db.session.rollback()
    assert engine.tickets() == [] and engine.count(Contact) == 0
    # Admins and Supervisors: any queue, or none.
    ticket, _c, _created = tickets.start_conversation(world.sup, "11 98765-0003")
    assert ticket.queue_id is None and ticket.user_id == world.sup.id
    ticket, _c, _created = tickets.start_conversation(world.sup, "11 98765-0004", queue_id=world.suporte.id)
    assert ticket.queue_id == world.suporte.id


def test_a_conversation_in_progress_is_reused_when_visible_and_refused_otherwise(engine, world):
    """One conversation per contact and connection: the member who may see it gets it back; one who
    may not learns nothing of it but that the number is being served (no queue, agent or text)."""
    engine.deliver(engine.message(world.default, phone="5511988887777", body="Quero comprar", name="Maria"))
    pending = engine.tickets()[0]
    assert pending.queue_id == world.vendas.id and pending.status == TicketStatus.PENDING
    ticket, _c, created = tickets.start_conversation(world.ana, "(11) 98888-7777", "Outro nome")
    assert (ticket.id, created, ticket.status) == (pending.id, False, TicketStatus.PENDING)
    commit(engine)
    assert engine.db.session.get(Contact, pending.contact_id).name == "Maria"  # a name typed changes no contact
    with pytest.raises(DomainError) as err:
        tickets.start_conversation(world.caio, "(11) 98888-7777")
    engine.db.session.rollback()
    assert err.value.status == 409
    for secret in ("Vendas", "Quero comprar", "Maria", str(pending.id)):
        assert secret not in err.value.message
    assert [t.id for t in engine.tickets()] == [pending.id] and engine.tickets()[0].user_id is None
    # On another connection it is another conversation.
    world.caio.default_connection = world.loja
    commit(engine)
    ticket, _c, created = tickets.start_conversation(world.caio, "(11) 98888-7777")
    assert created and ticket.connection_id == world.loja.id


def test_a_resolved_conversation_is_not_reopened_and_an_awaited_rating_ends(engine, world):
    from app.models import RatingTemplate
    from app.services import rating_templates

    template = rating_templates.create({"name": "Nota", "message": "Dê uma nota", "options": [
        {"value": 1, "label": "Ruim"}, {"value": 2, "label": "Bom"}]})
    assert isinstance(template, RatingTemplate)
    engine.settings(send_ratings=True)
    engine.deliver(engine.message(world.default, phone="5511988887777", body="Oi"))
    old = engine.tickets()[0]
    tickets.accept(world.ana, old.id)
    tickets.close(world.ana, old.id, rating_template_id=template.id)
    commit(engine)
    assert engine.tickets()[0].awaiting_rating
    ticket, _c, created = tickets.start_conversation(world.ana, "11 98888-7777")
    commit(engine)
    assert created and ticket.id != old.id
    assert not engine.db.session.get(Ticket, old.id).awaiting_rating
    # "2" now answers the new conversation: a message in it, not a rating of the old one.
    engine.deliver(engine.message(world.default, phone="5511988887777", body="2"))
    new = engine.db.session.get(Ticket, ticket.id)
    assert new.status == TicketStatus.OPEN and new.unread_count == 1
    assert engine.db.session.get(Ticket, old.id).status == TicketStatus.CLOSED
    from app.models import Rating

    assert engine.count(Rating) == 0


@pytest.mark.postgresql_only
def test_two_agents_starting_the_same_number_at_once_share_one_conversation(app, engine, world):
    """Ana and Bia (both in Vendas) start the same number at the same moment, ten times over, half
    of them a customer known from before: one ticket each time, and both are given it (the loser of
    the race for the contact or the ticket reads the winner's)."""
    from app.models import db

    ana_id, bia_id = world.ana.id, world.bia.id
    for n in range(10):
        phone = f"11 97777-{n:04d}"
        if n % 2:  # a customer known from before: the race is then for the ticket, not the contact
            number = tickets.whatsapp_number(phone)
            db.session.add(Contact(channel="whatsapp", jid=f"{number}@c.us", phone=number, name="Antiga"))
            db.session.commit()
        barrier = threading.Barrier(2)
        results = {}

        def start(member_id, key):
            with app.app_context():
                from app.models import Member

                member = db.session.get(Member, member_id)
                barrier.wait()
                try:
                    ticket, _c, created = tickets.start_conversation(member, phone, queue_id=world_vendas_id)
                    db.session.commit()
                    results[key] = (ticket.id, created)
                except Exception as exc:  # noqa: BLE001 - reported below
                    db.session.rollback()
                    results[key] = exc
                finally:
                    db.session.remove()

        world_vendas_id = world.vendas.id
        threads = [threading.Thread(target=start, args=(ana_id, "ana")), threading.Thread(target=start, args=(bia_id, "bia"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert all(isinstance(r, tuple) for r in results.values()), results
        assert results["ana"][0] == results["bia"][0], results
        assert sorted(r[1] for r in results.values()) == [False, True], results
    assert len(engine.tickets()) == 10


def test_a_contact_is_renamed_by_who_sees_the_conversation_and_whatsapp_does_not_undo_it(engine, world):
    from app.models import Contact
    from app.services import NotFound

    engine.deliver(engine.message(world.default, phone="5511988887777", body="Oi", name="mari ❤"))
    ticket = engine.tickets()[0]
    changes = tickets.rename_contact(world.ana, ticket.id, "  Maria da Padaria ")
    commit(engine)
    assert changes and engine.db.session.get(Contact, ticket.contact_id).name == "Maria da Padaria"
    # Her next message carries WhatsApp's name again: the team's name stays.
    engine.deliver(engine.message(world.default, phone="5511988887777", body="Oi de novo", name="mari ❤"))
    assert engine.db.session.get(Contact, ticket.contact_id).name == "Maria da Padaria"
    # Caio (Suporte) cannot see the ticket: not found, nothing changed; bad names are refused.
    with pytest.raises(NotFound):
        tickets.rename_contact(world.caio, ticket.id, "Outra")
    for bad in ("", "   ", "a\nb", "x" * 201, None, 5):
        with pytest.raises(DomainError):
            tickets.rename_contact(world.ana, ticket.id, bad)
        engine.db.session.rollback()
    assert engine.db.session.get(Contact, ticket.contact_id).name == "Maria da Padaria"


def test_a_groups_name_is_whatsapps(engine, world):
    engine.settings(ignore_group_messages=False)
    engine.deliver(engine.group_message(world.default))
    group = engine.tickets(is_group=True)[0]
    with pytest.raises(DomainError) as err:
        tickets.rename_contact(world.sup, group.id, "Meu grupo")
    assert err.value.status == 422 and err.value.message == "O nome de um grupo vem do WhatsApp."
