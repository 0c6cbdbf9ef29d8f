"""Outbound (outbox, claim, acks forward only, failure and retry), calls, and event publishing."""
import json
import time

import pytest

from app.models import InboundEvent, Message
from app.services import DomainError, NotFound, outbound, tickets


@pytest.fixture
def chat(engine, factory):
    q = factory.queue()
    c = factory.connection(queues=[q])
    agent = factory.member(queues=[q], name="Ana")
    engine.deliver(engine.message(c))
    t = engine.tickets()[0]
    tickets.accept(agent, t.id)
    engine.db.session.commit()
    engine.commands(c)
    return type("C", (), {"q": q, "c": c, "agent": agent, "ticket": t})()


def _send(engine, chat, body="Olá!"):
    from app.workers.publish import publish

    message, changes = tickets.send_message(chat.agent, chat.ticket.id, body)
    engine.db.session.commit()
    publish(changes, engine.app)
    return message


def test_a_queued_message_wakes_the_bridge_after_commit(engine, chat):
    m = _send(engine, chat)
    assert engine.commands(chat.c) == [{"op": "send", "message_id": m.id}]
    assert outbound.pending_for(chat.c.id) == [m.id]


def test_claim_mark_sent_and_acks_only_move_forward(engine, chat):
    m = _send(engine, chat)
    cmd = outbound.claim(m.id)
    assert (cmd.chat_id, cmd.body, cmd.type, cmd.channel_id) == ("5511988887777@c.us", "Olá!", "text", m.channel_id)
    outbound.mark_sent(m.id, "true_5511988887777@c.us_3EB0AAA")
    assert outbound.claim(m.id) is None  # no longer queued: never sent twice
    assert outbound.pending_for(chat.c.id) == []
    for ack, expected in [("read", "read"), ("delivered", "read"), ("sent", "read")]:
        engine.deliver(engine.ack(chat.c, "true_5511988887777@c.us_3EB0AAA", ack))
        assert engine.db.session.get(Message, m.id).status == expected
    engine.deliver(engine.ack(chat.c, "true_5511988887777@c.us_3EB0AAA", "failed", "late"))
    assert engine.db.session.get(Message, m.id).status == "read"


def test_delivered_then_read(engine, chat):
    m = _send(engine, chat)
    outbound.claim(m.id)
    outbound.mark_sent(m.id, "wa-1")
    engine.deliver(engine.ack(chat.c, "wa-1", "delivered"))
    assert engine.db.session.get(Message, m.id).status == "delivered"
    engine.deliver(engine.ack(chat.c, "wa-1", "read"))
    assert engine.db.session.get(Message, m.id).status == "read"


def test_an_ack_before_mark_sent_waits_for_the_sweep(engine, chat):
    from app.services import inbox

    m = _send(engine, chat)
    assert engine.deliver(engine.ack(chat.c, "wa-early", "delivered")) == "later"
    event = engine.db.session.query(InboundEvent).filter_by(kind="ack").one()
    assert event.processed_at is None and event.attempts == 1
    outbound.mark_sent(m.id, "wa-early")
    import datetime as dt

    assert event.id in inbox.due_events(dt.timedelta(0))
    assert inbox.process(event.id)[0] == "ack"
    assert engine.db.session.get(Message, m.id).status == "delivered"


def test_a_failed_send_stays_visible_and_can_be_retried(engine, chat, factory):
    m = _send(engine, chat)
    outbound.claim(m.id)
    outbound.mark_failed(m.id, "número inexistente")
    engine.db.session.expire_all()
    failed = engine.db.session.get(Message, m.id)
    assert (failed.status, failed.error) == ("failed", "número inexistente")
    other = factory.member(queues=[factory.queue()])
    with pytest.raises(NotFound):
        outbound.retry(m.id, other)
    engine.commands(chat.c)
    from app.services.events import Changes
    from app.workers.publish import publish

    changes = Changes()
    outbound.retry(m.id, chat.agent, changes)
    engine.db.session.commit()
    publish(changes, engine.app)
    again = engine.db.session.get(Message, m.id)
    assert (again.status, again.error) == ("queued", None)
    assert engine.commands(chat.c) == [{"op": "send", "message_id": m.id}]
    with pytest.raises(DomainError):
        outbound.retry(m.id, chat.agent)  # not failed any more


def test_failed_ack_marks_a_sent_message_failed(engine, chat):
    m = _send(engine, chat)
    outbound.claim(m.id)
    outbound.mark_sent(m.id, "wa-2")
    engine.deliver(engine.ack(chat.c, "wa-2", "failed", "bloqueado"))
    msg = engine.db.session.get(Message, m.id)
    assert (msg.status, msg.error) == ("failed", "bloqueado")


def test_list_message_command_carries_sections_and_fallback(engine, factory):
    engine.settings(chatbot_type="list")
    c = factory.connection(queues=[factory.queue(name="A", bot_order=1), factory.queue(name="B", bot_order=2)])
    engine.deliver(engine.message(c))
    [menu] = engine.sent(engine.tickets()[0])
    cmd = outbound.claim(menu.id)
    assert cmd.type == "list" and [r["title"] for r in cmd.sections[0]["rows"]] == ["A", "B"]
    assert cmd.text_fallback.endswith("1 - A\n2 - B") and cmd.button_text == "Opções"


# -- calls -------------------------------------------------------------------------------------

def test_calls_are_left_alone_when_accepted(engine, factory):
    engine.settings(accept_calls=True, call_rejection_message="Não atendemos ligações")
    c = factory.connection(queues=[factory.queue()])
    assert engine.deliver(engine.call(c)) == "ignored"
    assert engine.count(Message) == 0 and engine.commands(c) == []


def test_rejected_call_message_and_missed_call_line(engine, factory):
    engine.settings(accept_calls=False, call_rejection_message="{{nome}}, não atendemos ligações. Escreva aqui.")
    q = factory.queue(greeting_message="Bem-vindo")
    c = factory.connection(queues=[q])
    payload = engine.call(c, channel_id="CALL-1", name="Maria")
    engine.deliver(payload)
    t = engine.tickets()[0]
    lines = engine.db.session.query(Message).filter_by(ticket_id=t.id).order_by(Message.id).all()
    assert [(m.type, m.from_me) for m in lines][:2] == [("call", False), ("text", True)]
    assert lines[0].body == "Chamada de voz perdida (recusada automaticamente)"
    assert lines[1].body == "Maria, não atendemos ligações. Escreva aqui."
    commands = engine.commands(c)
    assert commands[0] == {"op": "reject_call", "call_id": "CALL-1", "chat_id": "5511988887777@c.us"}
    assert {"op": "send", "message_id": lines[1].id} in commands
    assert t.unread_count == 1 and t.queue_id == q.id
    # the same call event again: nothing more
    engine.deliver(payload)
    assert engine.db.session.query(Message).filter_by(ticket_id=t.id).count() == len(lines)
    assert engine.commands(c) == []


def test_no_rejection_message_configured_still_rejects(engine, factory):
    engine.settings(accept_calls=False, call_rejection_message=None)
    c = factory.connection()
    engine.deliver(engine.call(c))
    assert [cmd["op"] for cmd in engine.commands(c)] == ["reject_call"]
    assert engine.count(Message, type="call") == 1 and engine.count(Message, from_me=True) == 0


# -- events --------------------------------------------------------------------------------------

class Listener:
    """Subscribes to the Socket.IO Redis channel and records what is published (room, event)."""

    def __init__(self, app):
        from app.workers import redis_conn

        self.pubsub = redis_conn(app).pubsub()
        self.pubsub.subscribe(app.config["REDIS_NAMESPACE"] + ":socketio")
        self.pubsub.get_message(timeout=2)  # the subscribe confirmation
        self.seen = []

    def collect(self, seconds=1.0):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            msg = self.pubsub.get_message(timeout=0.1)
            if msg and msg["type"] == "message":
                data = json.loads(msg["data"])
                self.seen.append((data["event"], data["room"], data["data"][0]))
        return self.seen

    def close(self):
        self.pubsub.close()


def test_events_go_to_the_rooms_allowed_to_see_the_ticket(engine, factory):
    q1, q2 = factory.queue(), factory.queue()
    c = factory.connection(queues=[q1])
    agent = factory.member(queues=[q1])
    listener = Listener(engine.app)
    try:
        engine.deliver(engine.message(c, body="oi"))
        t = engine.tickets()[0]
        seen = listener.collect()
        rooms = {(e, tuple(r)) for e, r, _ in seen}
        assert ("ticket", ("staff", f"queue:{q1.id}")) in rooms
        assert ("message", ("staff", f"queue:{q1.id}")) in rooms
        msg_event = [d for e, r, d in seen if e == "message" and not d["message"]["from_me"]][0]
        assert msg_event["message"]["body"] == "oi" and msg_event["ticket_id"] == t.id
        listener.seen.clear()

        from app.workers.publish import publish

        changes = tickets.accept(agent, t.id)
        engine.db.session.commit()
        publish(changes, engine.app)
        seen = listener.collect()
        assert ("ticket", ["staff", f"queue:{q1.id}", f"user:{agent.id}"]) in [(e, r) for e, r, _ in seen]
        listener.seen.clear()

        changes = tickets.transfer(agent, t.id, queue_id=q2.id)
        engine.db.session.commit()
        publish(changes, engine.app)
        seen = listener.collect()
        assert ("ticket", ["staff", f"queue:{q2.id}"]) in [(e, r) for e, r, _ in seen]
        removed = [(r, d) for e, r, d in seen if e == "ticket:removed"]
        assert removed == [([f"queue:{q1.id}", f"user:{agent.id}"], {"id": t.id})]
        # nothing about this ticket ever went to a room outside its visibility
        assert all(set(r) <= {"staff", f"queue:{q1.id}", f"queue:{q2.id}", f"user:{agent.id}"}
                   for _, r, _ in listener.seen)
    finally:
        listener.close()


def test_a_ticket_without_queue_is_announced_to_staff_only(engine, factory):
    c = factory.connection(queues=[])
    listener = Listener(engine.app)
    try:
        engine.deliver(engine.message(c))
        assert {tuple(r) for _, r, _ in listener.collect()} == {("staff",)}
    finally:
        listener.close()


def test_a_batch_of_events_is_published_in_one_pipeline_in_order(engine, factory):
    """A drained lane publishes its batch's events in one Redis round trip (realtime.Publisher.
    batch), all of them, in the order they were built; outside a batch an emit goes at once."""
    from app.realtime import publisher
    from app.services import inbox
    from app.workers.jobs import drain_lane

    c = factory.connection(queues=[factory.queue(greeting_message="Olá")])
    payloads = [engine.message(c, body=f"parte {i}") for i in range(6)]
    for p in payloads:
        inbox.receive(p)
    emitter = publisher(engine.app.config["REDIS_URL"], engine.app.config["REDIS_NAMESPACE"])
    listener = Listener(engine.app)
    try:
        emitter.emit("connection", {"id": c.id}, to=["admins"])  # not in a batch: published at once
        assert [(e, r) for e, r, _ in listener.collect(0.5)] == [("connection", ["admins"])]
        listener.seen.clear()
        rounds = []
        real_pipeline = emitter.redis.pipeline

        def counting_pipeline(*a, **kw):
            rounds.append(1)
            return real_pipeline(*a, **kw)

        emitter.redis.pipeline = counting_pipeline
        assert drain_lane(inbox.lane_of(payloads[0])) == 6
        seen = listener.collect()
        bodies = [d["message"]["body"] for e, _, d in seen if e == "message" and not d["message"]["from_me"]]
        assert bodies == [f"parte {i}" for i in range(6)]
        assert len(rounds) == 1  # one batch, one pipeline
    finally:
        emitter.redis.__dict__.pop("pipeline", None)
        listener.close()
