"""A lone UTF-16 surrogate in a JSON body ("\\ud800" escaped in the JSON text: Python decodes it
into a str that no database can store) is refused with 400 and a message in Portuguese on every
JSON write endpoint, and nothing changes. It was a 500 (the database's encoding error), FAB's
English {"message": "Fatal error"} on the model APIs."""
import json

import pytest
from sqlalchemy import select

from tests.chat.conftest import ChatClient
from tests.conftest import ADMIN_EMAIL, api_login

REFUSAL = "O texto enviado contém caracteres inválidos (um substituto UTF-16 sem par)."
LONE = "\\ud800 lone"  # as JSON text: the escape of a lone high surrogate
# What each endpoint would store, with the lone surrogate in a text it takes ({"body": ...} where
# none is named).
BODIES = {
    "/api/v1/connection/": {"name": LONE}, "/api/v1/connection/<pk>": {"name": LONE},
    "/api/v1/queue/": {"name": LONE, "color": "#123456", "bot_order": 9}, "/api/v1/queue/<pk>": {"name": LONE},
    "/api/v1/quick_reply/": {"shortcut": "/novo", "message": LONE}, "/api/v1/quick_reply/<pk>": {"message": LONE},
    "/api/v1/rating/": {"name": LONE, "message": "Nota?", "options": [{"value": 1, "label": "Ruim"}]},
    "/api/v1/rating/<pk>": {"name": LONE},
    "/api/v1/security/login": {"username": LONE, "password": "x"},
    "/api/v1/settings/": {"call_rejection_message": LONE},
    "/api/v1/team/": {"name": LONE, "email": "novo@teste.com.br", "password": "Senha-forte-123", "profile": "admin"},
    "/api/v1/team/<pk>": {"name": LONE},
    "/api/v1/ticket/": {"phone": "11987654321", "name": LONE},
    "/api/v1/ticket/<ticket_id>/contact": {"name": LONE},
    "/chat/api/conversations": {"phone": "11987654321", "name": LONE},
    "/chat/api/tickets/<int:ticket_id>/<action>": {"name": LONE},
}


def _body(rule) -> bytes:
    """JSON text with the escape as it is (json.dumps would double its backslash)."""
    fields = BODIES.get(rule, {"body": LONE})
    return ("{" + ", ".join(f'"{k}": ' + (f'"{v}"' if v is LONE else json.dumps(v)) for k, v in fields.items())
            + "}").encode()

# (method, rule) of every JSON write endpoint: test_every_json_write_endpoint_is_listed keeps it whole.
WRITES = [
    ("POST", "/api/v1/connection/"), ("PUT", "/api/v1/connection/<pk>"), ("DELETE", "/api/v1/connection/<pk>"),
    ("POST", "/api/v1/connection/<pk>/logout"), ("POST", "/api/v1/connection/<pk>/start"),
    ("POST", "/api/v1/queue/"), ("PUT", "/api/v1/queue/<pk>"), ("DELETE", "/api/v1/queue/<pk>"),
    ("POST", "/api/v1/quick_reply/"), ("PUT", "/api/v1/quick_reply/<pk>"), ("DELETE", "/api/v1/quick_reply/<pk>"),
    ("POST", "/api/v1/rating/"), ("PUT", "/api/v1/rating/<pk>"), ("DELETE", "/api/v1/rating/<pk>"),
    ("POST", "/api/v1/security/login"), ("POST", "/api/v1/security/refresh"),
    ("PUT", "/api/v1/settings/"),
    ("POST", "/api/v1/team/"), ("PUT", "/api/v1/team/<pk>"), ("DELETE", "/api/v1/team/<pk>"),
    ("POST", "/api/v1/ticket/"), ("POST", "/api/v1/ticket/<ticket_id>/accept"),
    ("POST", "/api/v1/ticket/<ticket_id>/close"), ("POST", "/api/v1/ticket/<ticket_id>/contact"),
    ("POST", "/api/v1/ticket/<ticket_id>/messages"), ("POST", "/api/v1/ticket/<ticket_id>/messages/<message_id>/retry"),
    ("POST", "/api/v1/ticket/<ticket_id>/reopen"), ("POST", "/api/v1/ticket/<ticket_id>/return"),
    ("POST", "/api/v1/ticket/<ticket_id>/transfer"),
    ("POST", "/chat/api/conversations"), ("POST", "/chat/api/messages/<int:message_id>/retry"),
    ("POST", "/chat/api/signature"), ("POST", "/chat/api/tickets/<int:ticket_id>/<action>"),
    ("POST", "/chat/api/tickets/<int:ticket_id>/messages"),
]


@pytest.fixture
def world(app, db, factory):
    """One row of every resource (the <pk> of its URLs), an open ticket of the Admin's with a
    failed message, a quick reply and a rating."""
    from app.models import Contact, Message, MessageStatus, QuickReply, RatingTemplate, Ticket

    queue = factory.queue(name="Vendas")
    connection = factory.connection(name="Principal", queues=[queue])
    member = factory.member("user", queues=[queue], email="ana@teste.com.br", name="Ana")
    contact = Contact(channel="whatsapp", jid="5511988887777@c.us", phone="5511988887777", name="Maria")
    db.session.add(contact)
    db.session.flush()
    ticket = Ticket(contact_id=contact.id, connection_id=connection.id, status="open", queue_id=queue.id,
                    user_id=factory.admin().id)
    db.session.add(ticket)
    db.session.flush()
    message = Message(ticket_id=ticket.id, connection_id=connection.id, channel_id="conecta-falhou", from_me=True,
                      type="text", body="não foi", status=MessageStatus.FAILED, error="offline")
    reply = QuickReply(shortcut="/oi", message="Olá!")
    rating = RatingTemplate(name="Nota", message="Dê uma nota")
    db.session.add_all([message, reply, rating])
    db.session.commit()
    return {"connection": connection.id, "queue": queue.id, "team": member.id, "quick_reply": reply.id,
            "rating": rating.id, "ticket_id": ticket.id, "message_id": message.id}


def _url(rule, world):
    resource = rule.split("/")[3] if rule.startswith("/api/v1/") else None
    return (rule.replace("<pk>", str(world.get(resource, 0)))
            .replace("<ticket_id>", str(world["ticket_id"])).replace("<int:ticket_id>", str(world["ticket_id"]))
            .replace("<message_id>", str(world["message_id"])).replace("<int:message_id>", str(world["message_id"]))
            .replace("<action>", "rename"))


def _state(db):
    """Every row a write endpoint could add, change or remove."""
    from app.models import (Connection, Contact, Member, Message, Queue, QuickReply, RatingTemplate, Settings,
                            Ticket)

    db.session.expire_all()
    rows = lambda model, *cols: sorted(db.session.execute(select(*cols)).all())  # noqa: E731
    return (rows(Connection, Connection.id, Connection.name, Connection.status),
            rows(Queue, Queue.id, Queue.name), rows(Member, Member.id, Member.first_name, Member.email),
            rows(QuickReply, QuickReply.id, QuickReply.shortcut, QuickReply.message),
            rows(RatingTemplate, RatingTemplate.id, RatingTemplate.name),
            rows(Ticket, Ticket.id, Ticket.status, Ticket.queue_id, Ticket.user_id),
            rows(Contact, Contact.id, Contact.name), rows(Message, Message.id, Message.body, Message.status),
            [tuple(getattr(s, c.key) for c in Settings.__table__.columns) for s in db.session.query(Settings)])


@pytest.mark.parametrize("method,rule", WRITES, ids=[f"{m} {r}" for m, r in WRITES])
def test_a_lone_surrogate_is_refused_everywhere_and_changes_nothing(app, client, db, world, method, rule):
    url = _url(rule, world)
    headers = {"Content-Type": "application/json"}
    if rule.startswith("/chat/"):
        chat = ChatClient(app, ADMIN_EMAIL)
        http = chat.http
        headers["X-CSRFToken"] = chat.csrf
    else:
        http = client
        if "/security/" not in rule:
            headers.update(api_login(client, ADMIN_EMAIL)._h())
    before = _state(db)
    with app.app_context():
        r = http.open(url, method=method, data=_body(rule), headers=headers)
    assert r.status_code == 400, r.get_data(as_text=True)[:300]
    assert r.get_json() == {"message": REFUSAL}
    assert _state(db) == before


def test_every_json_write_endpoint_is_listed(app):
    """A new endpoint that takes a body under /api/ or /chat/api/ joins WRITES (and is tested)."""
    found = {(method, rule.rule) for rule in app.url_map.iter_rules()
             if rule.rule.startswith(("/api/", "/chat/api/"))
             for method in rule.methods - {"GET", "HEAD", "OPTIONS"}}
    assert found == set(WRITES)


def test_a_paired_surrogate_escape_is_the_character_it_encodes(app, client, db, world):
    """"\\ud83d\\ude00" in JSON text is 😀, a whole character: stored as sent."""
    api = api_login(client, ADMIN_EMAIL)
    r = client.post(f"/api/v1/ticket/{world['ticket_id']}/contact", data=b'{"name": "Maria \\ud83d\\ude00"}',
                    headers={**api._h(), "Content-Type": "application/json"})
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    assert api.get(f"/api/v1/ticket/{world['ticket_id']}").get_json()["result"]["contact"]["name"] == "Maria 😀"


@pytest.mark.parametrize("value", ["\ud800", "a\udfffb", "\udc00 lone"])
def test_inputs_text_refuses_surrogates(app, value):
    """Defence in depth: text reaching a service by another road (Socket.IO, a form, a script)."""
    from app.services import DomainError, inputs

    with app.test_request_context(), pytest.raises(DomainError) as refused:
        inputs.text(value, "Nome")
    assert refused.value.message == "Nome contém caracteres inválidos."
