"""A lane drained in batches (set-based lookups, one flush, one commit: inbox.process_batch) must
route exactly as the same events handled one by one (inbox.process): the same tickets, queues,
statuses, unread counts, ratings and messages in the same order. The scenario packs into ONE batch
what makes a batch's lookups go stale: a contact and ticket created by the batch and used again,
a call then a message of the same contact, a rating answer then a new conversation, a ticket
closed out of hours by one event and a new one opened by the next, a menu answered wrongly then
rightly, a group."""
import datetime as dt
import logging
import zlib

from app.models import BusinessHours, Contact, Message, Rating, RatingOption, RatingTemplate, Ticket
from app.services import inbox, tickets

# 23:00 in São Paulo: queue "Fechada" is closed (09:00-10:00), queue "Aberta" open (00:00-23:59)
NOW = dt.datetime(2026, 11, 24, 2, 0)
ROLES = ("menu", "wrong_menu", "call", "rating", "closed", "group")


def _phones_in_one_lane(connection_id):
    """One phone per role, all in the same lane of this connection (so all in one batch)."""
    want, phones, n = None, {}, 0
    while len(phones) < len(ROLES):
        n += 1
        phone = f"55{10 + connection_id}9{n:08d}"  # contacts are global: distinct per connection
        lane = zlib.crc32(f"{connection_id}:{phone}@c.us".encode()) % inbox.LANES
        want = lane if want is None else want
        if lane == want:
            phones[ROLES[len(phones)]] = phone
    return phones, want


def _setup(engine, factory, agent, template, queues):
    connection = factory.connection(queues=queues, greeting_message="Escolha uma fila")
    phones, lane = _phones_in_one_lane(connection.id)
    # the "rating" contact owes a rating on this connection before the batch
    engine.deliver(engine.message(connection, phone=phones["rating"], body="Oi"), now=NOW)
    engine.deliver(engine.message(connection, phone=phones["rating"], body="2"), now=NOW)
    ticket = engine.db.session.query(Ticket).join(Contact).filter(Contact.phone == phones["rating"],
                                                                   Ticket.connection_id == connection.id).one()
    tickets.accept(agent, ticket.id)
    engine.db.session.commit()
    tickets.close(agent, ticket.id, rating_template_id=template.id)
    engine.db.session.commit()
    return connection, phones, lane


def _scenario(engine, connection, phones):
    group = engine.group_message(connection, group=f"1203630{connection.id:011d}", phone=phones["group"],
                                 body="Oi grupo")
    m = lambda role, body: engine.message(connection, phone=phones[role], body=body, name=role)  # noqa: E731
    # the group's lane is by the group's chat: keep it in the batch only if it shares the lane
    return [
        m("menu", "Oi"), m("wrong_menu", "Olá"), engine.call(connection, phone=phones["call"], name="call"),
        m("menu", "2"), m("wrong_menu", "talvez"), m("call", "liguei"), m("rating", "2"),
        m("closed", "Oi"), m("menu", "mais um"), m("rating", "quero falar de novo"), m("closed", "1"),
        m("wrong_menu", "2"), m("closed", "ainda aí?"), group, dict(group, channel_id=group["channel_id"] + "b",
                                                                   body="segunda do grupo"),
    ]


def _outcome(engine, connection, phones):
    engine.db.session.expire_all()
    by_phone = {p: r for r, p in phones.items()}
    out = {}
    for ticket in engine.db.session.query(Ticket).filter_by(connection_id=connection.id).order_by(Ticket.id):
        role = by_phone.get(ticket.contact.phone, "group" if ticket.is_group else ticket.contact.phone)
        lines = [(m.from_me, m.type, m.body) for m in
                 engine.db.session.query(Message).filter_by(ticket_id=ticket.id).order_by(Message.id)]
        ratings = [r.value for r in engine.db.session.query(Rating).filter_by(ticket_id=ticket.id)]
        out.setdefault(role, []).append((ticket.status, ticket.queue.name if ticket.queue else None,
                                         ticket.unread_count, ticket.awaiting_rating, ticket.awaiting_menu,
                                         ratings, lines))
    return out


def test_a_batch_routes_exactly_as_one_event_at_a_time(engine, factory, caplog):
    aberta, fechada = factory.queue(name="Aberta", bot_order=2), factory.queue(name="Fechada", bot_order=1)
    for weekday in range(7):
        engine.db.session.add(BusinessHours(queue_id=aberta.id, weekday=weekday, start=dt.time(0, 0),
                                            end=dt.time(23, 59)))
        engine.db.session.add(BusinessHours(queue_id=fechada.id, weekday=weekday, start=dt.time(9, 0),
                                            end=dt.time(10, 0)))
    template = RatingTemplate(name="Padrão", message="Avalie:")
    template.options = [RatingOption(value=1, label="Ruim"), RatingOption(value=2, label="Bom")]
    engine.db.session.add(template)
    engine.db.session.commit()
    engine.settings(send_ratings=True, business_hours=True, open_tickets_out_of_hours=False,
                    timezone="America/Sao_Paulo", accept_calls=False)
    agent = factory.member(queues=[aberta, fechada], name="Ana")

    # one by one
    one, one_phones, _ = _setup(engine, factory, agent, template, [fechada, aberta])
    for payload in _scenario(engine, one, one_phones):
        inbox.process(inbox.receive(payload), now=NOW)

    # in batches: every event of the scenario but the group's in one lane
    batched, phones, lane = _setup(engine, factory, agent, template, [fechada, aberta])
    payloads = _scenario(engine, batched, phones)
    in_lane = [p for p in payloads if inbox.lane_of(p) == lane]
    assert len(in_lane) >= len(payloads) - 2
    ids = [inbox.receive(p) for p in payloads]
    last_before = engine.db.session.query(Message.id).order_by(Message.id.desc()).first()[0]
    with caplog.at_level(logging.INFO, logger="app.services.inbox"):
        taken, changes = inbox.process_batch(lane, now=NOW)
        assert taken == len(in_lane)
        # one send command per automatic reply the batch queued, in order, with its real id
        sends = [c["message_id"] for _, c in changes.commands if c["op"] == "send"]
        queued = [m.id for m in engine.db.session.query(Message).filter(
            Message.id > last_before, Message.from_me.is_(True)).order_by(Message.id)]
        assert sends == queued and len(sends) >= 5
        for other in {inbox.lane_of(p) for p in payloads} - {lane}:
            inbox.process_batch(other, now=NOW)
    assert "rolled back" not in caplog.text  # the straight, set-based run handled it all
    engine.db.session.expire_all()
    from app.models import InboundEvent

    assert all(engine.db.session.get(InboundEvent, i).error is None for i in ids)

    expected, got = _outcome(engine, one, one_phones), _outcome(engine, batched, phones)
    for role in expected:
        assert got.get(role) == expected[role], role
    assert got == expected
    # and the scenario did what it is about
    assert [t[0] for t in got["closed"]] == ["closed", "pending"]  # closed out of hours, then a new one
    assert got["rating"][0][5] == [2] and len(got["rating"]) == 2
    assert got["menu"][0][1] == "Aberta" and got["menu"][0][2] == 3
    assert any(line[1] == "call" for line in got["call"][0][6])


def test_a_batch_reads_the_tickets_queue_with_its_lock(engine, factory, db):
    """A message in a pending ticket of a queue: the batch reads the ticket's queue with the ticket
    (one locked query), not in a query of its own while presenting the ticket's event."""
    from sqlalchemy import event

    queues = [factory.queue(name="Vendas"), factory.queue(name="Suporte")]
    connection = factory.connection(queues=queues, greeting_message="Escolha uma fila")
    engine.deliver(engine.message(connection, phone="5511955550001", body="Oi"))
    engine.deliver(engine.message(connection, phone="5511955550001", body="1"))
    payload = engine.message(connection, phone="5511955550001", body="mais uma")
    inbox.receive(payload)
    db.session.expire_all()
    statements = []

    def record(conn, cursor, statement, parameters, context, executemany):
        statements.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        count, changes = inbox.process_batch(inbox.lane_of(payload))
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert count == 1
    [ticket_event] = [e for e in changes.events() if e.name == "ticket"]
    assert ticket_event.data["ticket"]["queue"]["name"] == "Vendas"
    assert not [s for s in statements if s.startswith("SELECT") and " FROM queue " in s + " "
                and " FROM ticket " not in s], statements
