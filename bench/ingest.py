#!/usr/bin/env python
"""Inbound throughput of the ticket engine: events per second through the durable inbox and the
routing transaction (receive + process, one process, no RQ hop), on a fresh temporary instance.

Half of the events open a new conversation (contact, ticket, chatbot menu), half append to one.
Usage: .venv/bin/python bench/ingest.py [events] (DATABASE_URL to use PostgreSQL; a temp SQLite otherwise)
"""
import os
import platform
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main():
    events = int(sys.argv[1]) if len(sys.argv) > 1 else 500
    with tempfile.TemporaryDirectory() as instance:
        os.environ.setdefault("INSTANCE_DIR", instance)
        os.environ["REDIS_NAMESPACE"] = f"bench-ingest-{os.getpid()}"
        from app.embedded_redis import resolve_redis_url

        redis_url, embedded = resolve_redis_url(Path(instance) / "redis")
        os.environ["REDIS_URL"] = redis_url
        from flask_migrate import upgrade

        from app import create_app
        from app.models import Connection, Queue, db
        from app.services import inbox
        from app.services.bootstrap import bootstrap

        app = create_app()
        try:
            with app.app_context():
                upgrade()
            bootstrap(app, "bench@conecta.local", "Bench-senha-123")
            with app.app_context():
                queues = [Queue(name=f"Bench {n} {uuid.uuid4().hex[:6]}", color="#%06x" % (n + 1), bot_order=n)
                          for n in range(3)]
                conn = Connection(name=f"Bench {uuid.uuid4().hex[:6]}", queues=queues, greeting_message="Olá!")
                db.session.add(conn)
                db.session.commit()
                payloads = []
                for i in range(events):
                    phone = f"55119{(i if i % 2 else 0):08d}"
                    payloads.append({"v": 1, "kind": "message", "connection_id": conn.id,
                                     "channel_id": uuid.uuid4().hex, "chat_id": f"{phone}@c.us", "is_group": False,
                                     "sender_phone": phone, "sender_name": "Bench", "type": "text",
                                     "body": "mensagem de teste", "timestamp": 1764000000 + i})
                t0 = time.perf_counter()
                for payload in payloads:
                    inbox.process(inbox.receive(payload))
                elapsed = time.perf_counter() - t0
                db.session.remove()
            print(f"machine: {platform.node()} {os.cpu_count()} cores, Python {platform.python_version()}, "
                  f"database {app.config['SQLALCHEMY_DATABASE_URI'].split(':', 1)[0]}")
            print(f"{events} inbound events (receive + route) in {elapsed:.2f} s: "
                  f"{events / elapsed:.0f} events/s, {1000 * elapsed / events:.1f} ms each")
        finally:
            if embedded:
                embedded.stop()


if __name__ == "__main__":
    main()
