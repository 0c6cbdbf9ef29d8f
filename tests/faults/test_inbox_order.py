"""A chat's messages are stored in the order they arrived, even when their jobs run out of order
(one lost with Redis or a killed worker and run again by the sweep, or two workers at once)."""
from sqlalchemy import select


def _payload(connection, n, phone="5511988887777"):
    return {"v": 1, "kind": "message", "connection_id": connection.id, "channel_id": f"wamid-order-{phone}-{n}",
            "chat_id": f"{phone}@c.us", "is_group": False, "sender_id": f"{phone}@c.us", "sender_phone": phone,
            "sender_name": "Maria", "type": "text", "body": f"mensagem {n}", "timestamp": 1764000000 + n}


def test_a_later_event_processed_first_stores_the_earlier_ones_first(app, db, factory):
    from app.models import InboundEvent, Message
    from app.services import inbox

    connection = factory.connection(queues=[factory.queue()])
    first, second, third = (inbox.receive(_payload(connection, n)) for n in (1, 2, 3))
    other_chat = inbox.receive(_payload(connection, 1, phone="5511977776666"))

    result, changes = inbox.process(third)  # the jobs of 1 and 2 were lost
    assert result == "appended"
    bodies = list(db.session.scalars(select(Message.body).where(Message.from_me.is_(False)).order_by(Message.id)))
    assert bodies == ["mensagem 1", "mensagem 2", "mensagem 3"]
    assert len([m for m in changes.messages if not m.from_me]) == 3  # all three are published
    # another chat is not held up nor processed along
    assert db.session.get(InboundEvent, other_chat).processed_at is None
    assert inbox.process(first)[0] == "done" and inbox.process(second)[0] == "done"


def test_an_earlier_event_that_keeps_failing_does_not_block_the_chat_forever(app, db, factory):
    from app.models import InboundEvent, Message
    from app.services import inbox

    connection = factory.connection(queues=[factory.queue()])
    stuck = inbox.receive(_payload(connection, 1))
    later = inbox.receive(_payload(connection, 2))
    db.session.get(InboundEvent, stuck).attempts = inbox.MAX_ATTEMPTS
    db.session.commit()

    assert inbox.process(later)[0] == "created"
    assert list(db.session.scalars(select(Message.body).where(Message.from_me.is_(False)))) == ["mensagem 2"]
