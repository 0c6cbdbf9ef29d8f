"""Bad input (issue 6, part 3): oversized, malformed, wrong-type and unicode-edge input gets a
clear error ({"message": ...}) and changes nothing; what is accepted is stored exactly."""
import json

import pytest
from sqlalchemy import func, select

from tests.conftest import api_login

EMOJI_RTL = "Olá 👋🏽 مرحبا بالعالم ‮evil‬ 👨‍👩‍👧 ﷽ e\u0301"
MEGABYTE = "x" * (1024 * 1024)


@pytest.fixture
def ticket(factory, db):
    from app.models import Contact, Ticket

    connection = factory.connection(queues=[factory.queue()])
    contact = Contact(channel="whatsapp", jid="5511988887777@c.us", phone="5511988887777", name="Maria")
    db.session.add(contact)
    db.session.flush()
    t = Ticket(contact_id=contact.id, connection_id=connection.id, status="pending",
               queue_id=connection.queues[0].id, last_message="antes", unread_count=3)
    db.session.add(t)
    db.session.commit()
    return t


def _state(db, ticket_id):
    from app.models import Message, Ticket

    db.session.expire_all()
    t = db.session.get(Ticket, ticket_id)
    return (db.session.scalar(select(func.count()).select_from(Message)), t.status, t.queue_id, t.user_id,
            t.last_message, t.unread_count)


BAD_MESSAGE_BODIES = [
    ("missing body", {}, 422),
    ("empty", {"body": ""}, 422),
    ("blank", {"body": " \n\t "}, 422),
    ("NUL only", {"body": " \x00\n\x00"}, 422),  # NULs are dropped: it went out empty
    ("zero-width only", {"body": "\u200b\u2060"}, 422),
    ("number", {"body": 123}, 422),
    ("list", {"body": ["a"]}, 422),
    ("object", {"body": {"a": 1}}, 422),
    ("null", {"body": None}, 422),
    ("true", {"body": True}, 422),
    ("one megabyte", {"body": MEGABYTE}, 422),
    ("one character too long", {"body": "a" * 4097}, 422),
]


@pytest.mark.parametrize("name,payload,status", BAD_MESSAGE_BODIES, ids=[c[0] for c in BAD_MESSAGE_BODIES])
def test_bad_message_bodies_are_refused_and_change_nothing(app, client, db, ticket, name, payload, status):
    api = api_login(client, "admin@teste.com.br")
    before = _state(db, ticket.id)
    r = api.post(f"/api/v1/ticket/{ticket.id}/messages", json=payload)
    assert r.status_code == status, r.get_data(as_text=True)[:300]
    assert isinstance(r.get_json()["message"], str) and r.get_json()["message"]
    assert _state(db, ticket.id) == before


@pytest.mark.parametrize("body", [123, 1.5, ["oi"], {"text": "oi"}, True])
def test_a_message_body_that_is_no_text_says_so(app, client, db, ticket, body):
    """{"body": 123} was refused as "A mensagem está vazia."."""
    api = api_login(client, "admin@teste.com.br")
    before = _state(db, ticket.id)
    r = api.post(f"/api/v1/ticket/{ticket.id}/messages", json={"body": body})
    assert (r.status_code, r.get_json()) == (422, {"message": "A mensagem precisa ser um texto."})
    assert _state(db, ticket.id) == before


@pytest.fixture
def targets(app, db, factory, ticket):
    """A second queue, an agent in it and a rating template (ratings on): what a fractional id would
    be cut down to."""
    from app.services import rating_templates, settings

    queue = factory.queue()
    agent = factory.member("user", queues=[queue])
    template = rating_templates.create({"name": "Nota", "message": "Nota?", "options": [
        {"value": 1, "label": "Ruim"}, {"value": 2, "label": "Bom"}]})
    settings.update_settings({"send_ratings": True})
    db.session.commit()
    return {"queue": queue.id, "user": agent.id, "rating": template.id}


@pytest.mark.parametrize("path,field,label,wrong", [
    ("transfer", "queue", "Fila", lambda i: i + 0.9), ("transfer", "queue", "Fila", float),
    ("transfer", "queue", "Fila", lambda i: f"{i}.9"), ("transfer", "queue", "Fila", lambda i: f" {i}"),
    ("transfer", "queue", "Fila", lambda i: True), ("transfer", "user", "Atendente", lambda i: i + 0.99),
    ("transfer", "user", "Atendente", lambda i: "abc"), ("close", "rating", "Avaliação", lambda i: i + 0.7),
    ("close", "rating", "Avaliação", lambda i: f"{i}e0")])
def test_fractional_and_other_non_integer_ids_are_refused_not_truncated(app, client, db, ticket, targets, path,
                                                                       field, label, wrong):
    """visibility.parse_id did int(value): {"queue": 2.9} moved the ticket to queue 2, {"user": 3.99}
    gave it to member 3, {"rating": 1.7} closed it with template 1. Refused as the team, connection
    and settings APIs refuse such ids: 422 "<field>: identificador inválido.", nothing changed."""
    api = api_login(client, "admin@teste.com.br")
    before = _state(db, ticket.id)
    r = api.post(f"/api/v1/ticket/{ticket.id}/{path}", json={field: wrong(targets[field])})
    assert (r.status_code, r.get_json()) == (422, {"message": f"{label}: identificador inválido."})
    assert _state(db, ticket.id) == before
    # The id itself (also as its digits, which the ticket actions always took) still works.
    r = api.post(f"/api/v1/ticket/{ticket.id}/{path}", json={field: str(targets[field])})
    assert r.status_code == 200, r.get_data(as_text=True)


def test_a_new_conversation_refuses_a_fractional_queue(app, client, db, ticket, targets):
    """POST /api/v1/ticket/ {"queue": 2.6} started the conversation in queue 2."""
    from app.models import Contact, Ticket

    api = api_login(client, "admin@teste.com.br")
    counts = (db.session.query(Ticket).count(), db.session.query(Contact).count())
    for queue in (targets["queue"] + 0.6, float(targets["queue"]), False, "2.6"):
        r = api.post("/api/v1/ticket/", json={"phone": "11955550001", "queue": queue})
        assert (r.status_code, r.get_json()) == (422, {"message": "Fila: identificador inválido."}), queue
        db.session.expire_all()
        assert (db.session.query(Ticket).count(), db.session.query(Contact).count()) == counts
    r = api.post("/api/v1/ticket/", json={"phone": "11955550001", "queue": targets["queue"]})
    assert r.status_code == 201 and r.get_json()["result"]["queue"]["id"] == targets["queue"], r.get_json()


MALFORMED = [
    ("not JSON", b"{body: oi", "application/json"),
    ("JSON array", b'["oi"]', "application/json"),
    ("JSON string", b'"oi"', "application/json"),
    ("invalid UTF-8", b'{"body": "\xff\xfe"}', "application/json"),
    ("form data", b"body=oi", "application/x-www-form-urlencoded"),
    ("one megabyte of garbage", b"\x00\x01" * (512 * 1024), "application/json"),
    # Past Python's recursion limit: RecursionError, no ValueError (a 500 everywhere, login included)
    ("arrays nested 50 000 deep", b"[" * 50000 + b"]" * 50000, "application/json"),
    ("objects nested 30 000 deep", b'{"a":' * 30000 + b"1" + b"}" * 30000, "application/json"),
]
DEEP = [c for c in MALFORMED if "nested" in c[0]]


@pytest.mark.parametrize("path", ["messages", "transfer", "close", "accept"])
@pytest.mark.parametrize("name,raw,content_type", MALFORMED, ids=[c[0] for c in MALFORMED])
def test_malformed_request_bodies_get_a_clear_error(app, client, db, ticket, name, raw, content_type, path):
    api = api_login(client, "admin@teste.com.br")
    before = _state(db, ticket.id)
    r = client.post(f"/api/v1/ticket/{ticket.id}/{path}", data=raw, headers={**api._h(), "Content-Type": content_type})
    if path == "accept":  # takes no body: whatever is sent is ignored
        assert r.status_code == 200
        return
    assert r.status_code in (400, 422), r.get_data(as_text=True)[:300]
    assert r.get_json()["message"]
    assert _state(db, ticket.id) == before


@pytest.mark.parametrize("method,path", [("POST", "/api/v1/security/login"), ("PUT", "/api/v1/settings/"),
                                         ("POST", "/api/v1/queue/"), ("PUT", "/api/v1/team/1")])
@pytest.mark.parametrize("name,raw,content_type", DEEP, ids=[c[0] for c in DEEP])
def test_json_nested_too_deeply_is_malformed_everywhere(app, client, ticket, method, path, name, raw, content_type):
    """The anonymous login and the model and settings APIs too: 400 with a message, not a 500."""
    headers = {"Content-Type": content_type}
    if "/security/" not in path:
        headers.update(api_login(client, "admin@teste.com.br")._h())
    r = client.open(path, method=method, data=raw, headers=headers)
    assert r.status_code == 400, r.get_data(as_text=True)[:300]
    assert r.get_json()["message"]


@pytest.mark.parametrize("payload", [{"queue": "1; DROP TABLE ticket"}, {"queue": -1}, {"queue": 2**63},
                                     {"queue": 1.5}, {"queue": [1]}, {"user": {"id": 1}}, {"queue": None, "user": None},
                                     {"queue": 99999}, {"user": 99999}])
def test_bad_transfer_targets_change_nothing(app, client, db, ticket, payload):
    api = api_login(client, "admin@teste.com.br")
    before = _state(db, ticket.id)
    r = api.post(f"/api/v1/ticket/{ticket.id}/transfer", json=payload)
    assert r.status_code in (400, 404, 422), r.get_data(as_text=True)[:300]
    assert r.get_json()["message"]
    assert _state(db, ticket.id) == before


@pytest.mark.parametrize("query", ["status=aberto", "queue=abc", "queue=-1", "page=-1", "page_size=0",
                                   "page_size=101", "page=99999999999999999999999", "queue=1e3", "status=%00", "q=" + "a" * 101])
def test_bad_list_filters_get_400(app, client, ticket, query):
    api = api_login(client, "admin@teste.com.br")
    r = api.get(f"/api/v1/ticket/?{query}")
    assert r.status_code == 400, r.get_data(as_text=True)[:300]
    assert r.get_json()["message"]


@pytest.mark.parametrize("path", ["/api/v1/connection/_info", "/api/v1/connection/", "/api/v1/queue/1",
                                  "/api/v1/team/_info"])
@pytest.mark.parametrize("q", ["-2.55755531291838e%2B16", "1e", "(a:1e-)", "!(1.5e)"])
def test_unreadable_rison_gets_400_not_500(app, client, ticket, path, q):
    """prison fails on some malformed numbers with a bare ValueError, which FAB turned into a 500
    (found by the schemathesis run)."""
    api = api_login(client, "admin@teste.com.br")
    r = api.get(f"{path}?q={q}")
    assert r.status_code == 400, r.get_data(as_text=True)[:300]
    assert r.get_json()["message"]


@pytest.mark.parametrize("path", ["/api/v1/connection/", "/api/v1/queue/", "/api/v1/team/", "/api/v1/rating/",
                                  "/api/v1/quick_reply/"])
@pytest.mark.parametrize("page", ["-1", "-16365", "99999999999999999999999"])
def test_a_page_out_of_range_of_a_model_list_gets_400_not_500(app, client, ticket, path, page):
    """FAB caps the page size but took any page: a negative one was a negative OFFSET, which
    PostgreSQL refuses (a 500; found by the schemathesis run). Page 0 is the first."""
    api = api_login(client, "admin@teste.com.br")
    r = api.get(f"{path}?q=(page:{page})")
    assert r.status_code == 400, r.get_data(as_text=True)[:300]
    assert r.get_json()["message"] == "Página inválida."
    assert api.get(f"{path}?q=(page:0,page_size:5)").status_code == 200


def test_ticket_search_text_is_not_read_as_rison(app, client, ticket):
    api = api_login(client, "admin@teste.com.br")
    r = api.get("/api/v1/ticket/?q=-2.55755531291838e%2B16")
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    assert r.get_json()["count"] == 0


def test_unicode_edges_are_stored_and_returned_exactly(app, client, db, ticket):
    api = api_login(client, "admin@teste.com.br")
    assert api.post(f"/api/v1/ticket/{ticket.id}/accept").status_code == 200  # answered once accepted
    r = api.post(f"/api/v1/ticket/{ticket.id}/messages", json={"body": EMOJI_RTL})
    assert r.status_code == 201
    messages = api.get(f"/api/v1/ticket/{ticket.id}/messages").get_json()["result"]
    assert messages[-1]["body"] == EMOJI_RTL


def test_nul_in_an_agent_message_is_refused_or_dropped_never_a_500(app, client, db, ticket):
    api = api_login(client, "admin@teste.com.br")
    assert api.post(f"/api/v1/ticket/{ticket.id}/accept").status_code == 200  # answered once accepted
    r = api.post(f"/api/v1/ticket/{ticket.id}/messages", json={"body": "antes\x00depois"})
    assert r.status_code in (201, 422), r.get_data(as_text=True)[:300]
    if r.status_code == 201:
        assert "\x00" not in r.get_json()["result"]["body"]


def test_inbound_message_with_nul_and_edges_is_stored_not_lost(app, db, factory):
    """A customer's text may hold anything (NUL included, which PostgreSQL text refuses): it is
    stored, never retried until dropped."""
    from app.models import Message
    from app.services import inbox

    connection = factory.connection(queues=[factory.queue()])
    payload = {"v": 1, "kind": "message", "connection_id": connection.id, "channel_id": "wamid-nul",
               "chat_id": "5511988887777@c.us", "is_group": False, "sender_id": "5511988887777@c.us\x00",
               "sender_phone": "5511988887777", "sender_name": "Ma\x00ria ‮", "type": "text",
               "body": "oi\x00 " + EMOJI_RTL, "timestamp": 1764000000}
    event_id = inbox.receive(payload)
    result, _ = inbox.process(event_id)
    assert result == "created"
    message = db.session.scalars(select(Message).where(Message.channel_id == "wamid-nul")).one()
    assert message.body == "oi " + EMOJI_RTL
    assert message.sender_name == "Maria ‮"


@pytest.mark.parametrize("payload", [None, [], "x", {"v": 2}, {"v": 1, "kind": "message"},
                                     {"v": 1, "kind": "message", "connection_id": "1", "channel_id": "a", "chat_id": "b"},
                                     {"v": 1, "kind": "message", "connection_id": 1, "channel_id": "a" * 101, "chat_id": "b"},
                                     {"v": 1, "kind": "message", "connection_id": 1, "channel_id": "a", "chat_id": "b",
                                      "media": {"path": "../../etc/passwd"}},
                                     {"v": 1, "kind": "message", "connection_id": 1, "channel_id": "a", "chat_id": "b",
                                      "body": {"x": 1}},
                                     {"v": 1, "kind": "message", "connection_id": 1, "channel_id": "a\x00", "chat_id": "b"},
                                     {"v": 1, "kind": "message", "connection_id": 1, "channel_id": "a", "chat_id": "b\x00"}])
def test_malformed_inbound_events_are_refused_before_storing(app, db, factory, payload):
    from app.models import InboundEvent
    from app.services import DomainError, inbox

    factory.connection()
    with pytest.raises(DomainError):
        inbox.receive(payload)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(InboundEvent)) == 0


def test_a_body_over_the_upload_limit_gets_413_json(app, client, ticket):
    api = api_login(client, "admin@teste.com.br")
    limit = app.config["MAX_CONTENT_LENGTH"]
    r = client.post(f"/api/v1/ticket/{ticket.id}/messages", data=b"{" + b" " * (limit + 1) + b"}",
                    headers={**api._h(), "Content-Type": "application/json"})
    assert r.status_code == 413
    assert json.loads(r.get_data(as_text=True))["message"]

