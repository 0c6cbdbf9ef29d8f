#!/usr/bin/env python
"""Ticket list API for a User in 3 queues, with 100 000 tickets and 1 000 000 messages stored.

Bulk-loads its own temporary PostgreSQL database with COPY (6 queues, 100 000 contacts and tickets,
10 messages each), logs in through the REST API (JWT) as a User member of 3 queues and times
GET /api/v1/ticket/ (first page of the open tickets, first page of everything, a later page) through
the whole Flask stack in this process. Ceiling, measured in the same run: the same first page as
one raw SQL query (psycopg, no ORM, no JSON), and our ratio to it.

Usage: .venv/bin/python bench/ticket_list.py [--tickets 100000] [--messages-per-ticket 10] [--runs 200]
Needs PostgreSQL on 127.0.0.1 as user postgres (BENCH_PG_ADMIN_DSN to change).
"""
import argparse
import datetime as dt
import os
import platform
import random
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG_ADMIN_DSN = os.environ.get("BENCH_PG_ADMIN_DSN", "host=127.0.0.1 user=postgres dbname=postgres")
PASSWORD = "Bench-senha-123"


def pg_url(dbname: str) -> str:
    params = dict(p.split("=", 1) for p in PG_ADMIN_DSN.split())
    return (f"postgresql+psycopg://{params.get('user', 'postgres')}@{params.get('host', '127.0.0.1')}:"
            f"{params.get('port', '5432')}/{dbname}")


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def bulk_load(dsn: str, connection_id: int, queue_ids: list, user_id: int, tickets: int, per_ticket: int):
    rnd = random.Random(7)
    base = dt.datetime(2026, 1, 1)
    with psycopg.connect(dsn) as conn:
        with conn.cursor() as cur:
            with cur.copy("COPY contact (id, channel, jid, phone, name, is_group, created_at) FROM STDIN") as copy:
                for i in range(1, tickets + 1):
                    phone = f"55119{i:08d}"
                    copy.write_row((i, "whatsapp", f"{phone}@c.us", phone, f"Cliente {i}", False, base))
            with cur.copy("COPY ticket (id, contact_id, connection_id, queue_id, user_id, status, is_group, "
                          "awaiting_menu, awaiting_rating, unread_count, last_message, last_message_at, "
                          "created_at, updated_at, closed_at) FROM STDIN") as copy:
                for i in range(1, tickets + 1):
                    roll = rnd.random()
                    status = "pending" if roll < 0.1 else "open" if roll < 0.3 else "closed"
                    queue_id = rnd.choice(queue_ids)
                    assigned = user_id if status != "pending" and rnd.random() < 0.05 else None
                    at = base + dt.timedelta(seconds=i * 30)
                    copy.write_row((i, i, connection_id, queue_id, assigned, status, False, False, False,
                                    rnd.randint(0, 5), "última mensagem", at, at, at,
                                    at if status == "closed" else None))
            with cur.copy("COPY message (ticket_id, connection_id, channel_id, from_me, type, body, status, "
                          "attempts, created_at) FROM STDIN") as copy:
                for i in range(1, tickets + 1):
                    at = base + dt.timedelta(seconds=i * 30)
                    for m in range(per_ticket):
                        from_me = m % 2 == 1
                        copy.write_row((i, connection_id, f"b{i}x{m}", from_me, "text",
                                        f"mensagem {m} do atendimento {i}", "read" if from_me else "received", 0, at))
            for table in ("contact", "ticket", "message"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        conn.commit()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--messages-per-ticket", type=int, default=10)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()

    run_id = f"{os.getpid()}{uuid.uuid4().hex[:4]}"
    dbname = f"conecta_bench_{run_id}"
    dsn = PG_ADMIN_DSN.replace("dbname=postgres", f"dbname={dbname}")
    instance = tempfile.mkdtemp(prefix="conecta-bench-")
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{dbname}"')
    os.environ.update({"DATABASE_URL": pg_url(dbname), "INSTANCE_DIR": instance, "REDIS_NAMESPACE": f"bench-list-{run_id}",
                       "SECRET_KEY": "bench-secret-key-" + run_id + uuid.uuid4().hex, "AUTH_RATE_LIMITED": "0"})
    from app.embedded_redis import resolve_redis_url

    redis_url, embedded = resolve_redis_url(Path(instance) / "redis")
    os.environ["REDIS_URL"] = redis_url
    app = None
    try:
        from flask_migrate import upgrade

        from app import create_app
        from app.models import Connection, Queue, db
        from app.models.team import PROFILES
        from app.services.bootstrap import bootstrap

        app = create_app()
        with app.app_context():
            upgrade()
        bootstrap(app, "bench@conecta.local", PASSWORD)
        with app.app_context():
            queues = [Queue(name=f"Fila {n}", color="#%06x" % (n + 1), bot_order=n) for n in range(6)]
            connection = Connection(name="Bench", queues=queues)
            db.session.add(connection)
            db.session.commit()
            sm = app.appbuilder.sm
            user = sm.add_user("agente", "Agente", "Bench", "agente@conecta.local",
                               role=sm.find_role(PROFILES["user"]), password=PASSWORD)
            user.queues = queues[:3]
            db.session.commit()
            connection_id, queue_ids, user_id = connection.id, [q.id for q in queues], user.id
            mine = queue_ids[:3]
            db.session.remove()

        t0 = time.perf_counter()
        bulk_load(dsn, connection_id, queue_ids, user_id, args.tickets, args.messages_per_ticket)
        load_seconds = time.perf_counter() - t0

        client = app.test_client()
        token = client.post("/api/v1/security/login", json={"username": "agente", "password": PASSWORD,
                                                            "provider": "db"}).get_json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}

        def timed(url):
            out = []
            for i in range(args.runs + 5):
                t = time.perf_counter()
                response = client.get(url, headers=headers)
                elapsed = 1000 * (time.perf_counter() - t)
                assert response.status_code == 200, response.get_data(as_text=True)
                if i >= 5:  # warm-up
                    out.append(elapsed)
            return out, response.get_json()

        cases = {
            "first page, open": "/api/v1/ticket/?status=open&page_size=25",
            "first page, all": "/api/v1/ticket/?page_size=25",
            "page 20, open": "/api/v1/ticket/?status=open&page_size=25&page=20",
        }
        results = {name: timed(url) for name, url in cases.items()}

        # ceiling: the same first page as one raw query
        raw = []
        with psycopg.connect(dsn) as conn:
            query = ("SELECT t.id, t.status, t.unread_count, t.last_message, t.updated_at, c.name, c.phone, q.name "
                     "FROM ticket t JOIN contact c ON c.id = t.contact_id LEFT JOIN queue q ON q.id = t.queue_id "
                     "WHERE t.status = 'open' AND (t.queue_id = ANY(%s) OR t.user_id = %s) "
                     "ORDER BY t.updated_at DESC, t.id DESC LIMIT 25")
            for i in range(args.runs + 5):
                t = time.perf_counter()
                rows = conn.execute(query, (mine, user_id)).fetchall()
                if i >= 5:
                    raw.append(1000 * (time.perf_counter() - t))
            assert len(rows) == 25
            counts = conn.execute("SELECT (SELECT count(*) FROM ticket), (SELECT count(*) FROM message)").fetchone()

        print(f"machine: {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
              f"PostgreSQL local; load average {os.getloadavg()[0]:.2f}")
        print(f"data: {counts[0]} tickets, {counts[1]} messages (COPY in {load_seconds:.1f} s); "
              f"a User in 3 of 6 queues; {args.runs} requests per case")
        raw_p95 = percentile(raw, 95)
        for name, (times, body) in results.items():
            p95 = percentile(times, 95)
            print(f"GET {cases[name]} ({name}: {body['count']} visible, {len(body['result'])} on the page): "
                  f"p50 {percentile(times, 50):.1f} ms, p95 {p95:.1f} ms (target <= 50) -> "
                  f"ratio to the raw query {p95 / raw_p95:.1f}x")
        print(f"ceiling: the same first page as one raw SQL query: p50 {percentile(raw, 50):.2f} ms, "
              f"p95 {raw_p95:.2f} ms")
    finally:
        if app is not None:
            from app.models import db as _db

            with app.app_context():
                _db.session.remove()
                _db.engine.dispose()
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        if embedded:
            embedded.stop()
        shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    main()
