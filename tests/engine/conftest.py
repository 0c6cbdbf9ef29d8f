"""Helpers for the ticket engine's tests: inbound payloads, the real ingest path (inbox + RQ job on
the real Redis), the bridge command lists, settings."""
import datetime as dt
import itertools
import json
import uuid

import pytest

_seq = itertools.count(1)


class Engine:
    def __init__(self, app, db, factory):
        self.app, self.db, self.factory = app, db, factory

    # -- settings ---------------------------------------------------------------------------
    def settings(self, **values):
        from app.services.settings import get_settings

        s = get_settings()
        for k, v in values.items():
            setattr(s, k, v)
        self.db.session.commit()
        return s

    # -- inbound ----------------------------------------------------------------------------
    def message(self, connection, phone="5511988887777", body="Olá", name="Maria", **kw):
        payload = {"v": 1, "kind": "message", "connection_id": connection.id,
                   "channel_id": kw.pop("channel_id", f"wamid-{uuid.uuid4().hex}"),
                   "chat_id": f"{phone}@c.us", "is_group": False, "chat_name": None,
                   "sender_id": f"{phone}@c.us", "sender_phone": phone, "sender_name": name,
                   "type": "text", "body": body, "media": None, "timestamp": 1764000000 + next(_seq)}
        payload.update(kw)
        return payload

    def group_message(self, connection, group="120363000000000001", group_name="Grupo Vendas",
                      phone="5511977776666", name="João", body="Oi grupo", **kw):
        return self.message(connection, phone=phone, name=name, body=body, chat_id=f"{group}@g.us",
                            is_group=True, chat_name=group_name, **kw)

    def call(self, connection, phone="5511988887777", name="Maria", **kw):
        payload = {"v": 1, "kind": "call", "connection_id": connection.id,
                   "channel_id": kw.pop("channel_id", f"call-{uuid.uuid4().hex}"), "chat_id": f"{phone}@c.us",
                   "sender_phone": phone, "sender_name": name, "timestamp": 1764000000}
        payload.update(kw)
        return payload

    def ack(self, connection, channel_id, ack, error=None):
        return {"v": 1, "kind": "ack", "connection_id": connection.id, "channel_id": channel_id, "ack": ack,
                "error": error, "timestamp": 1764000000}

    def deliver(self, payload, now=None):
        """The inbox and the ingest processing, in this process (returns what routing did)."""
        from app.services import inbox
        from app.workers.publish import publish

        event_id = inbox.receive(payload)
        result, changes = inbox.process(event_id, now=now)
        publish(changes, self.app)
        self.db.session.expire_all()
        return result

    def submit_and_drain(self, payload):
        """The real path: submit() (inbox + RQ enqueue), then a burst RQ worker runs the job."""
        from app.workers.ingest import submit

        event_id = submit(payload)
        self.drain()
        return event_id

    def drain(self):
        from rq import SimpleWorker

        from app.workers import JOB_QUEUES, get_queue, redis_conn

        worker = SimpleWorker([get_queue(q) for q in JOB_QUEUES], connection=redis_conn())
        worker.work(burst=True)
        self.db.session.expire_all()

    # -- outbound -----------------------------------------------------------------------------
    def commands(self, connection):
        """Pop every command pushed for the connection's bridge."""
        from app.workers import redis_conn
        from app.workers.publish import command_key

        r = redis_conn()
        out = []
        while True:
            raw = r.lpop(command_key(connection.id))
            if raw is None:
                return out
            out.append(json.loads(raw))

    def sent(self, ticket_or_id):
        """Outbound messages of a ticket, oldest first."""
        from app.models import Message

        tid = getattr(ticket_or_id, "id", ticket_or_id)
        self.db.session.expire_all()
        return [m for m in self.db.session.query(Message).filter_by(ticket_id=tid, from_me=True).order_by(Message.id)]

    def tickets(self, **filters):
        from app.models import Ticket

        self.db.session.expire_all()
        return self.db.session.query(Ticket).filter_by(**filters).order_by(Ticket.id).all()

    def count(self, model, **filters):
        self.db.session.expire_all()
        return self.db.session.query(model).filter_by(**filters).count()


@pytest.fixture
def engine(app, db, factory):
    """The database is emptied between tests (ids start again), so the bridge command lists and
    the scheduler's marks of the previous test must go too."""
    from app.workers import redis_conn

    r = redis_conn(app)
    ns = app.config["REDIS_NAMESPACE"]
    for pattern in (f"{ns}:bridge:*", f"{ns}:scheduler:*", f"{ns}:ingest:*"):
        for k in r.scan_iter(match=pattern):
            r.delete(k)
    return Engine(app, db, factory)


def utc(*args):
    return dt.datetime(*args)
