#!/usr/bin/env python
"""The chat screen's ticket list with many tickets: time of each list request the screen makes.

Builds a throw-away PostgreSQL database (or uses BENCH_DATABASE_URL) with N tickets (default
100 000: 90 % resolved, 7 % waiting, 3 % in service) over 5 queues, 3 messages each, then times
the JSON endpoints (through the real view, Flask test client, session login) for a User and a
Supervisor, and prints the query plan of the heaviest list.
Usage: .venv/bin/python bench/chat_list.py [tickets] [runs]
"""
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_ADMIN = "host=127.0.0.1 user=postgres dbname=postgres"
PASSWORD = "Bench-senha-123"


def build(app, n_tickets):
    from sqlalchemy import insert

    from app.models import Contact, Message, Ticket, db

    sm = app.appbuilder.sm
    from tests.conftest import Factory

    factory = Factory(app, db)
    queues = [factory.queue(name=f"Fila {i}", color=f"#{i:02d}{i:02d}AA") for i in range(5)]
    connection = factory.connection(name="Principal")
    agents = [factory.member("user", queues=[queues[i % 5]], email=f"agente{i}@bench.local", password=PASSWORD)
              for i in range(20)]
    factory.member("supervisor", email="supervisor@bench.local", password=PASSWORD)
    rnd = random.Random(42)
    start = dt.datetime(2026, 1, 1)
    words = ["boleto", "entrega", "pedido", "troca", "plano", "fatura", "senha", "cancelamento", "pix", "nota"]
    batch = 10000
    for first in range(0, n_tickets, batch):
        ids = range(first + 1, min(first + batch, n_tickets) + 1)
        db.session.execute(insert(Contact), [
            {"id": i, "channel": "whatsapp", "jid": f"55119{i:08d}@c.us", "phone": f"55119{i:08d}",
             "name": f"Cliente {i} {rnd.choice(['Silva', 'Souza', 'Lima', 'Costa'])}", "is_group": False,
             "created_at": start} for i in ids])
        tickets = []
        for i in ids:
            roll = rnd.random()
            status = "closed" if roll < 0.90 else ("pending" if roll < 0.97 else "open")
            queue = rnd.choice(queues)
            agent = rnd.choice([a for a in agents if queue in a.queues]) if status != "pending" else None
            when = start + dt.timedelta(minutes=i)
            tickets.append({"id": i, "contact_id": i, "connection_id": connection.id, "queue_id": queue.id,
                            "user_id": agent.id if agent else None, "status": status, "is_group": False,
                            "awaiting_menu": False, "awaiting_rating": False, "unread_count": 0,
                            "last_message": "última mensagem", "last_message_at": when, "created_at": when,
                            "updated_at": when})
        db.session.execute(insert(Ticket), tickets)
        db.session.execute(insert(Message), [
            {"ticket_id": i, "connection_id": connection.id, "channel_id": f"m{i}-{k}", "from_me": k == 1,
             "type": "text", "body": f"mensagem {k} sobre {rnd.choice(words)} do cliente {i}",
             "status": "received" if k != 1 else "read", "attempts": 0,
             "created_at": start + dt.timedelta(minutes=i, seconds=k)} for i in ids for k in range(3)])
        db.session.commit()
    db.session.execute(db.text("SELECT setval('ticket_id_seq', :n)"), {"n": n_tickets})
    db.session.execute(db.text("SELECT setval('contact_id_seq', :n)"), {"n": n_tickets})
    db.session.execute(db.text("ANALYZE"))
    db.session.commit()


def login(app, email):
    from tests.conftest import login as form_login

    client = app.test_client()
    with app.app_context():
        assert form_login(client, email, PASSWORD).status_code == 302
    return client


def timed(app, client, url, runs):
    times = []
    for _ in range(runs):
        with app.app_context():
            t0 = time.perf_counter()
            r = client.get(url)
            times.append((time.perf_counter() - t0) * 1000)
        assert r.status_code == 200, (url, r.status_code, r.get_data(as_text=True)[:200])
    return statistics.median(times), max(times), r.get_json()


def main():
    n_tickets = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    instance = tempfile.mkdtemp(prefix="bench-chat-")
    created = None
    url = os.environ.get("BENCH_DATABASE_URL")
    if not url:
        import psycopg

        created = f"bench_chat_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{created}"')
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{created}"
    os.environ.update(DATABASE_URL=url, INSTANCE_DIR=instance, AUTH_RATE_LIMITED="0",
                      REDIS_NAMESPACE=f"bench-chat-{uuid.uuid4().hex[:6]}")
    from app.embedded_redis import resolve_redis_url

    redis_url, embedded = resolve_redis_url(Path(instance) / "redis")
    os.environ["REDIS_URL"] = redis_url
    try:
        from flask_migrate import upgrade

        from app import create_app
        from app.services.bootstrap import bootstrap

        app = create_app({"TESTING": True})
        with app.app_context():
            upgrade()
        bootstrap(app, "admin@bench.local", PASSWORD)
        t0 = time.perf_counter()
        with app.app_context():
            build(app, n_tickets)
        print(f"built {n_tickets} tickets, {3 * n_tickets} messages in {time.perf_counter() - t0:.1f} s")
        agent, supervisor = login(app, "agente0@bench.local"), login(app, "supervisor@bench.local")
        cases = [
            ("agent    Atendendo", agent, "/chat/api/tickets?tab=open"),
            ("agent    Aguardando", agent, "/chat/api/tickets?tab=pending"),
            ("agent    Resolvidos", agent, "/chat/api/tickets?tab=closed"),
            ("agent    Resolvidos p.2", agent, None),
            ("agent    busca nome", agent, "/chat/api/tickets?tab=closed&q=Cliente%2012345"),
            ("agent    busca número", agent, "/chat/api/tickets?tab=closed&q=551190001234"),
            ("agent    busca texto", agent, "/chat/api/tickets?tab=closed&q=cancelamento"),
            ("super    Todos", supervisor, "/chat/api/tickets?tab=all"),
            ("super    Todos, uma fila", supervisor, "/chat/api/tickets?tab=all&queue=3"),
            ("super    busca texto", supervisor, "/chat/api/tickets?tab=all&q=cancelamento"),
            ("super    busca rara", supervisor, "/chat/api/tickets?tab=all&q=nada-assim"),
            ("agent    contadores", agent, "/chat/api/counts"),
        ]
        print(f"{'request':28} {'median ms':>10} {'max ms':>8}  rows")
        cursor = None
        for name, client, path in cases:
            if path is None:
                path = "/chat/api/tickets?tab=closed&cursor=" + cursor
            median, worst, data = timed(app, client, path, runs)
            if name.endswith("Resolvidos"):
                cursor = data["cursor"]
            print(f"{name:28} {median:10.1f} {worst:8.1f}  {len(data.get('tickets', [])) if 'tickets' in data else '-'}")
        with app.app_context():
            from sqlalchemy import select

            from app.models import Member, Ticket, TicketStatus, db
            from app.services.visibility import visible_tickets

            user = db.session.scalars(select(Member).where(Member.email == "agente0@bench.local")).one()
            stmt = (visible_tickets(user).where(Ticket.status == TicketStatus.CLOSED)
                    .order_by(Ticket.updated_at.desc(), Ticket.id.desc()).limit(31))
            sql = str(stmt.compile(db.engine, compile_kwargs={"literal_binds": True}))
            print("\nplan of agent Resolvidos:")
            for (line,) in db.session.execute(db.text("EXPLAIN ANALYZE " + sql)):
                print("  " + line)
            db.session.remove()
            db.engine.dispose()
    finally:
        if embedded:
            embedded.stop()
        if created:
            import psycopg

            with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{created}" WITH (FORCE)')


if __name__ == "__main__":
    main()
