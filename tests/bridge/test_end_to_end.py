"""The whole flow with the real engine: simulator ⇄ Playwright bridge in a bridge worker ⇄ inbox,
ingest worker, tickets and the outbox in the database."""
import time

import pytest

from tests.bridge.helpers import wait_for
from tests.bridge.test_lifecycle import MARIA, PHONE, scan_connection, wait_status

pytestmark = [pytest.mark.browser, pytest.mark.slow]
FAST = {"BRIDGE_LOCK_TTL": "6", "BRIDGE_SUPERVISOR_SECONDS": "1", "BRIDGE_OUTBOX_SECONDS": "1"}


def tickets(db):
    from app.models import Ticket

    db.session.expire_all()
    rows = db.session.query(Ticket).order_by(Ticket.id).all()
    db.session.commit()
    return rows


def messages(db, **filters):
    from app.models import Message

    db.session.expire_all()
    rows = db.session.query(Message).filter_by(**filters).order_by(Message.id).all()
    db.session.commit()
    return rows


def reply(app, db, ticket_id, body):
    """What an agent's reply does: a queued message in the outbox, then the wake-up command."""
    from app.models import Ticket
    from app.services import outbound
    from app.services.events import Changes
    from app.workers.publish import publish

    changes = Changes()
    message = outbound.queue_message(db.session.get(Ticket, ticket_id), body, changes=changes)
    db.session.commit()
    publish(changes, app)
    return message.id


def test_customer_message_becomes_a_ticket_and_the_reply_reaches_the_customer(app, db, factory, sim_stack, sim):
    from app.services.settings import get_settings

    settings = get_settings()
    settings.accept_calls = False
    settings.call_rejection_message = "Não atendemos ligações, {{nome}}. Escreva aqui!"
    settings.ignore_group_messages = False
    db.session.commit()
    queue = factory.queue(name="Vendas")
    conn = factory.connection(queues=[queue], enabled=True, read_receipts=True)
    sim_stack.start_worker()
    sim_stack.start_bridge(**FAST)
    scan_connection(app, db, sim, conn.id, PHONE)

    sim.message(PHONE, MARIA, "Quero comprar", name="Maria", lid=True)
    ticket = wait_for(lambda: tickets(db), message="a ticket")[0]
    assert (ticket.connection_id, ticket.queue_id, ticket.contact.phone) == (conn.id, queue.id, MARIA)
    assert [m.body for m in messages(db, ticket_id=ticket.id, from_me=False)] == ["Quero comprar"]

    message_id = reply(app, db, ticket.id, "Olá Maria! Como posso ajudar?")
    wait_for(lambda: [e for e in sim.log(MARIA) if e["body"] == "Olá Maria! Como posso ajudar?"], message="reply received")
    wait_for(lambda: messages(db, id=message_id)[0].status == "delivered", message="delivered ack")

    # Calls are not accepted: rejected on WhatsApp, the configured message sent, a line in the ticket.
    sim.call(PHONE, MARIA)
    wait_for(lambda: [e for e in sim.log(MARIA) if e["type"] == "call_rejected"], message="call rejected")
    wait_for(lambda: [e for e in sim.log(MARIA) if e["body"] == "Não atendemos ligações, Maria. Escreva aqui!"],
             message="rejection message")
    assert [m.type for m in messages(db, ticket_id=ticket.id, type="call")] == ["call"]

    # A group is a ticket of its own.
    sim.message(PHONE, "5511955554444", "oi grupo", name="Gil", group={"id": "120363999", "name": "Clientes VIP"})
    group = wait_for(lambda: [t for t in tickets(db) if t.is_group], message="group ticket")[0]
    assert group.contact.jid == "120363999@g.us"

    # Every process killed at once; the customer writes meanwhile; all come back without a scan.
    sim_stack.kill("bridge", 9)
    sim_stack.kill("worker", 9)
    sim.message(PHONE, MARIA, "Ainda estão aí?")
    reply_while_down = reply(app, db, ticket.id, "Sim, estamos!")
    sim_stack.start_worker()
    sim_stack.start_bridge(**FAST)
    wait_for(lambda: "Ainda estão aí?" in [m.body for m in messages(db, ticket_id=ticket.id, from_me=False)],
             timeout=60, message="the message sent while down")
    wait_for(lambda: [e for e in sim.log(MARIA) if e["body"] == "Sim, estamos!"], message="the reply queued while down")
    wait_status(app, db, conn.id, "CONNECTED")
    time.sleep(3)
    bodies = [m.body for m in messages(db, ticket_id=ticket.id, from_me=False) if m.type == "text"]
    assert bodies == ["Quero comprar", "Ainda estão aí?"]  # nothing lost, nothing twice
    sent = [e["body"] for e in sim.log(MARIA) if e["type"] == "text"]
    assert sent.count("Sim, estamos!") == 1 and sent.count("Olá Maria! Como posso ajudar?") == 1
    assert messages(db, id=reply_while_down)[0].status in ("sent", "delivered", "read")


def test_admin_starts_a_connection_and_scans_its_qr_through_the_api(app, db, factory, sim_stack, sim):
    """Done when (issue 4): start through the REST API, read the QR code there, scan it, CONNECTED."""
    import requests

    from tests.conftest import ADMIN_EMAIL, PASSWORD

    conn = factory.connection()
    token = requests.post(sim_stack.url + "/api/v1/security/login", json={
        "username": ADMIN_EMAIL, "password": PASSWORD, "provider": "db"}).json()["access_token"]
    auth = {"Authorization": f"Bearer {token}"}
    sim_stack.start_bridge(**FAST)
    assert requests.post(f"{sim_stack.url}/api/v1/connection/{conn.id}/start", headers=auth).status_code == 200

    def qr():
        body = requests.get(f"{sim_stack.url}/api/v1/connection/{conn.id}/qr", headers=auth).json()
        return body["qr"] if body["status"] == "QRCODE" else None

    code = wait_for(qr, timeout=60, message="QR code through the API")
    assert sim.scan(code, PHONE).status_code == 200
    wait_for(lambda: requests.get(f"{sim_stack.url}/api/v1/connection/{conn.id}/qr", headers=auth).json()
             == {"status": "CONNECTED", "qr": None}, message="CONNECTED through the API")
    assert wait_status(app, db, conn.id, "CONNECTED").phone == PHONE


def test_an_agent_starts_a_conversation_the_customer_gets_it_and_answers_in_it(app, db, factory, sim_stack, sim):
    """Nova conversa through the real bridge: the first message reaches a number that never wrote
    (WhatsApp has no chat with it yet) and the customer's answer lands in the same conversation."""
    from app.models import Member
    from app.services import tickets as ticket_actions
    from app.workers.publish import publish

    vendas, suporte = factory.queue(name="Vendas"), factory.queue(name="Suporte")
    conn = factory.connection(queues=[vendas, suporte], enabled=True)
    ana = factory.member(queues=[vendas], name="Ana")
    sim_stack.start_worker()
    sim_stack.start_bridge(**FAST)
    scan_connection(app, db, sim, conn.id, PHONE)

    customer = "5521987650001"
    ticket, changes, created = ticket_actions.start_conversation(ana, "(21) 98765-0001", "Seu Jorge")
    db.session.commit()
    publish(changes, app)
    assert created
    message, changes = ticket_actions.send_message(db.session.get(Member, ana.id), ticket.id, "Bom dia, Seu Jorge!")
    db.session.commit()
    publish(changes, app)
    wait_for(lambda: [e for e in sim.log(customer) if e["body"] == "Bom dia, Seu Jorge!"], message="first message")
    sim.message(PHONE, customer, "Bom dia! Pode falar.", name="Jorge")
    wait_for(lambda: "Bom dia! Pode falar." in [m.body for m in messages(db, ticket_id=ticket.id, from_me=False)],
             message="the answer in the same conversation")
    assert [t.id for t in tickets(db)] == [ticket.id]
    assert tickets(db)[0].user_id == ana.id and tickets(db)[0].status == "open"
    # No chatbot menu went to a customer the agent is already talking to.
    assert [e["body"] for e in sim.log(customer) if e["type"] in ("text", "list")] == ["Bom dia, Seu Jorge!"]


def test_a_mobile_registered_before_its_ninth_digit_gets_the_message_and_answers_in_the_same_conversation(
        app, db, factory, sim_stack, sim):
    """WhatsApp knows some Brazilian mobiles by their id from before the ninth digit: the agent types
    "(11) 98765-4321", WhatsApp has 551187654321. The bridge asks WhatsApp (contact.queryExists)
    and sends there (a send to the typed id reaches no one), the contact takes WhatsApp's id, and
    the customer's answer, from that id, lands in the same conversation. A number with no WhatsApp
    fails with a reason the agent can read, and nothing is sent."""
    from app.models import Contact, Member, MessageStatus
    from app.services import tickets as ticket_actions
    from app.workers.publish import publish

    vendas = factory.queue(name="Vendas")
    conn = factory.connection(queues=[vendas], enabled=True)
    ana = factory.member(queues=[vendas], name="Ana")
    sim.number("5511987654321", "551187654321")
    sim.number("5511976543210", None)
    sim_stack.start_worker()
    sim_stack.start_bridge(**FAST)
    scan_connection(app, db, sim, conn.id, PHONE)

    def start_and_write(typed, body):
        ticket, changes, _ = ticket_actions.start_conversation(ana, typed)
        db.session.commit()
        publish(changes, app)
        message, changes = ticket_actions.send_message(db.session.get(Member, ana.id), ticket.id, body)
        db.session.commit()
        publish(changes, app)
        return ticket.id, message.id

    ticket_id, message_id = start_and_write("(11) 98765-4321", "Olá, aqui é a Ana.")
    wait_for(lambda: [e for e in sim.log("551187654321") if e["body"] == "Olá, aqui é a Ana."],
             message="the message at the id WhatsApp has")
    wait_for(lambda: messages(db, id=message_id)[0].status in (MessageStatus.SENT, MessageStatus.DELIVERED),
             message="the message sent")
    assert not sim.log("5511987654321"), "nothing went to the typed id"
    contact = db.session.get(Contact, tickets(db)[0].contact_id)
    assert (contact.jid, contact.phone) == ("551187654321@c.us", "551187654321")

    sim.message(PHONE, "551187654321", "Oi Ana!", name="Carla")
    wait_for(lambda: "Oi Ana!" in [m.body for m in messages(db, ticket_id=ticket_id, from_me=False)],
             message="the answer in the same conversation")
    assert [t.id for t in tickets(db)] == [ticket_id]

    _, failed_id = start_and_write("(11) 97654-3210", "Alguém aí?")
    wait_for(lambda: messages(db, id=failed_id)[0].status == MessageStatus.FAILED, message="the send failed")
    assert messages(db, id=failed_id)[0].error == "Este número não tem WhatsApp."
    assert not sim.log("5511976543210") and not sim.log("551176543210")
