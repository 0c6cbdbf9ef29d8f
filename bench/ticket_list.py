#!/usr/bin/env python
"""Ticket list API for a User in 3 queues, with 100 000 tickets and 1 000 000 messages stored.

Bulk-loads its own temporary PostgreSQL database with COPY (6 queues, 100 000 contacts and tickets,
10 messages each), logs in through the REST API (JWT) as a User member of 3 queues and times
GET /api/v1/ticket/ (first page of the open tickets, first page of everything, a later page, and
searches: name, number, message text common and rare, nothing found, two letters) through the whole
Flask stack in this process. Ceiling, measured in the same run: the same page and count as
hand-written SQL (psycopg, no ORM, no JSON; each case checks that the ids agree), and our ratio.
bench/chat_list.py reuses this database set-up for the chat screen's list.

Usage: .venv/bin/python bench/ticket_list.py [--tickets 100000] [--messages-per-ticket 10] [--runs 200]
Needs PostgreSQL on 127.0.0.1 as user postgres (BENCH_PG_ADMIN_DSN to change).
"""
import argparse
import contextlib
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
from urllib.parse import quote

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from app.services.search import COUNT_CAP  # noqa: E402  (after the path is set)
from config import PG_CONNECT_OPTIONS  # noqa: E402

PG_ADMIN_DSN = os.environ.get("BENCH_PG_ADMIN_DSN", "host=127.0.0.1 user=postgres dbname=postgres")
PASSWORD = "Bench-senha-123"


def pg_url(dbname: str) -> str:
    params = dict(p.split("=", 1) for p in PG_ADMIN_DSN.split())
    return (f"postgresql+psycopg://{params.get('user', 'postgres')}@{params.get('host', '127.0.0.1')}:"
            f"{params.get('port', '5432')}/{dbname}")


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


WORDS = ["boleto", "entrega", "pedido", "troca", "plano", "fatura", "senha", "cancelamento", "pix", "devolução"]
SURNAMES = ["Silva", "Souza", "Lima", "Costa"]
RARE_WORD, RARE_EVERY = "estorno", 10_007  # one message in RARE_EVERY mentions it (about 100 in 1 000 000)


def bulk_load(dsn: str, connection_id: int, queue_ids: list, user_id: int, tickets: int, per_ticket: int):
    """COPY `tickets` contacts and tickets (10 % waiting, 20 % in service, 70 % resolved, over the
    queues at random, 5 % of the rest assigned to `user_id`) and `per_ticket` messages each, whose
    text names a subject from WORDS (and RARE_WORD now and then), then VACUUM ANALYZE."""
    rnd = random.Random(7)
    base = dt.datetime(2026, 1, 1)
    with psycopg.connect(dsn) as conn:
        with conn.cursor() as cur:
            with cur.copy("COPY contact (id, channel, jid, phone, name, is_group, created_at) FROM STDIN") as copy:
                for i in range(1, tickets + 1):
                    phone = f"55119{i:08d}"
                    copy.write_row((i, "whatsapp", f"{phone}@c.us", phone, f"Cliente {i} {SURNAMES[i % 4]}", False, base))
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
                n = 0
                for i in range(1, tickets + 1):
                    at = base + dt.timedelta(seconds=i * 30)
                    for m in range(per_ticket):
                        n += 1
                        from_me = m % 2 == 1
                        word = RARE_WORD if n % RARE_EVERY == 0 else WORDS[rnd.randrange(len(WORDS))]
                        copy.write_row((i, connection_id, f"b{i}x{m}", from_me, "text",
                                        f"mensagem {m} sobre {word} do atendimento {i}",
                                        "read" if from_me else "received", 0, at))
            for table in ("contact", "ticket", "message"):
                cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        conn.commit()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


class Bench:
    """What bench_stack made: the app, the database, the User and her queues."""

    app = dsn = dbname = user_id = mine = load_seconds = None
    email = "agente@conecta.local"


@contextlib.contextmanager
def bench_stack(tickets: int, per_ticket: int, keep: bool = False):
    """A temporary PostgreSQL database migrated and bulk-loaded, with 6 queues on one connection
    and a User ("agente", Bench.email) in the first 3, and the app on it; all removed at the end
    (unless `keep`)."""
    bench = Bench()
    run_id = f"{os.getpid()}{uuid.uuid4().hex[:4]}"
    bench.dbname = dbname = f"conecta_bench_{run_id}"
    bench.dsn = dsn = PG_ADMIN_DSN.replace("dbname=postgres", f"dbname={dbname}")
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

        bench.app = app = create_app()
        with app.app_context():
            upgrade()
        bootstrap(app, "bench@conecta.local", PASSWORD)
        with app.app_context():
            queues = [Queue(name=f"Fila {n}", color="#%06x" % (n + 1), bot_order=n) for n in range(6)]
            connection = Connection(name="Bench", queues=queues)
            db.session.add(connection)
            db.session.commit()
            sm = app.appbuilder.sm
            user = sm.add_user("agente", "Agente", "Bench", bench.email,
                               role=sm.find_role(PROFILES["user"]), password=PASSWORD)
            user.queues = queues[:3]
            db.session.commit()
            connection_id, queue_ids, bench.user_id = connection.id, [q.id for q in queues], user.id
            bench.mine = queue_ids[:3]
            db.session.remove()

        t0 = time.perf_counter()
        bulk_load(dsn, connection_id, queue_ids, bench.user_id, tickets, per_ticket)
        bench.load_seconds = time.perf_counter() - t0
        yield bench
    finally:
        if app is not None:
            from app.models import db as _db

            with app.app_context():
                _db.session.remove()
                _db.engine.dispose()
        if not keep:
            with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        if embedded:
            embedded.stop()
        shutil.rmtree(instance, ignore_errors=True)


def timed(fn, runs: int, warmup: int = 5):
    """Milliseconds of each of `runs` calls of fn() after `warmup` untimed ones, and the last result."""
    out, result = [], None
    for i in range(runs + warmup):
        t = time.perf_counter()
        result = fn()
        if i >= warmup:
            out.append(1000 * (time.perf_counter() - t))
    return out, result


def search_cases(dsn: str, mine: list, user_id: int) -> list:
    """The searches timed, each as (label, text, raw contact condition, raw message condition or
    None): the conditions are what the ceiling's hand-written SQL uses. The name and the number
    are those of a ticket the User sees."""
    with psycopg.connect(dsn) as conn:
        some = conn.execute("SELECT t.id FROM ticket t WHERE t.status = 'closed' AND t.queue_id = ANY(%s) "
                            "AND t.id > (SELECT max(id) / 2 FROM ticket) ORDER BY t.id LIMIT 1", (mine,)).fetchone()[0]
    name, digits = f"Cliente {some}", f"{some:08d}"

    def like(column, pattern):  # the product's comparison, written out: the folded copy the
        # database stores (contact.name_folded, message.body_folded) against the folded pattern
        return f"{column} LIKE conecta_fold('{pattern}')"

    def anywhere(text):
        return like("name_folded", f"%{text}%"), like("m.body_folded", f"%{text}%")

    return [
        ("name", name, f"{anywhere(name)[0]} OR phone LIKE '%{some}%'", anywhere(name)[1]),
        ("number", digits, f"{anywhere(digits)[0]} OR phone LIKE '%{digits}%'", anywhere(digits)[1]),
        ("common surname", "Souza", *anywhere("Souza")),
        ("text, common (10 % of messages)", "cancelamento", *anywhere("cancelamento")),
        ("text typed without its accent (devolução: 10 %)", "devolucao", *anywhere("devolucao")),
        (f"text, rare ({RARE_WORD}: 1 message in {RARE_EVERY})", RARE_WORD, *anywhere(RARE_WORD)),
        ("text found nowhere", "nada-assim", *anywhere("nada-assim")),
        ("2 letters (name word starts)", "Cl", f"{like('name_folded', 'Cl%')} OR {like('name_folded', '% Cl%')}", None),
    ]


RAW_COLUMNS = ("SELECT t.id, t.status, t.unread_count, t.last_message, t.updated_at, c.name, c.phone, q.name "
               "FROM ticket t JOIN contact c ON c.id = t.contact_id LEFT JOIN queue q ON q.id = t.queue_id ")
RAW_ORDER = " ORDER BY t.updated_at DESC, t.id DESC"


def raw_sources(where: str, contact: str, message) -> list:
    """Hand-written SQL, one ticket-id query per searched source (the shape app.services.search
    produces, written without the ORM)."""
    sources = [f"SELECT t.id FROM ticket t WHERE {where} AND t.contact_id IN (SELECT id FROM contact WHERE {contact})"]
    if message:
        sources.append(f"SELECT t.id FROM ticket t WHERE {where} AND EXISTS "
                       f"(SELECT 1 FROM message m WHERE m.ticket_id = t.id AND {message})")
    return sources


def raw_page(where: str, limit: int, offset: int = 0, contact: str = None, message=None) -> str:
    """The ceiling: one raw SQL query for a list page (with a search when `contact` is given)."""
    if contact:
        union = " UNION ALL ".join(f"SELECT id FROM ({s}{RAW_ORDER} LIMIT {limit + offset}) s{i}"
                                   for i, s in enumerate(raw_sources(where, contact, message)))
        where = f"{where} AND t.id IN ({union})"
    return f"{RAW_COLUMNS}WHERE {where}{RAW_ORDER} LIMIT {limit} OFFSET {offset}"


def raw_count(where: str, contact: str = None, message=None) -> str:
    """The count as the API asks it: exact for a list, for a search each source stops after
    COUNT_CAP + 1 tickets (app.services.search.count with its cap)."""
    if not contact:
        return f"SELECT count(*) FROM ticket t WHERE {where}"
    sources = (f"SELECT id FROM ({s}{RAW_ORDER} LIMIT {COUNT_CAP + 1}) s{i}"
               for i, s in enumerate(raw_sources(where, contact, message)))
    return f"SELECT count(*) FROM ({' UNION '.join(sources)}) s"


def raw_ceiling(dsn: str, runs: int, page_sql: str, *count_sqls: str):
    """Times of the raw page query plus the raw counts, and the page's ids (on a connection with
    the application's own session settings, config.PG_CONNECT_OPTIONS)."""
    with psycopg.connect(dsn, options=PG_CONNECT_OPTIONS) as conn:
        def run():
            rows = conn.execute(page_sql).fetchall()
            for sql in count_sqls:
                conn.execute(sql).fetchone()
            return [r[0] for r in rows]

        return timed(run, runs)


def report(label: str, times: list, raw: list, extra: str = ""):
    p95, raw_p95 = percentile(times, 95), percentile(raw, 95)
    print(f"{label}{extra}: p50 {percentile(times, 50):.1f} ms, p95 {p95:.1f} ms (target <= 50) {'met' if p95 <= 50 else 'NOT MET'}; "
          f"ceiling (the same result as raw SQL) p50 {percentile(raw, 50):.2f} ms, p95 {raw_p95:.2f} ms -> "
          f"ratio {p95 / raw_p95:.1f}x")


def machine_line(runs: int, load_seconds: float, dsn: str):
    with psycopg.connect(dsn) as conn:
        counts = conn.execute("SELECT (SELECT count(*) FROM ticket), (SELECT count(*) FROM message)").fetchone()
    print(f"machine: {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"PostgreSQL local; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"data: {counts[0]} tickets, {counts[1]} messages (COPY + indexes in {load_seconds:.1f} s); "
          f"a User in 3 of 6 queues; {runs} requests per case")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--messages-per-ticket", type=int, default=10)
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()

    with bench_stack(args.tickets, args.messages_per_ticket) as bench:
        app, dsn, runs = bench.app, bench.dsn, args.runs
        client = app.test_client()
        token = client.post("/api/v1/security/login", json={"username": "agente", "password": PASSWORD,
                                                            "provider": "db"}).get_json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}

        def get(url):
            def call():
                response = client.get(url, headers=headers)
                assert response.status_code == 200, response.get_data(as_text=True)
                return response.get_json()
            return call

        visible = f"(t.queue_id = ANY(ARRAY{bench.mine}) OR t.user_id = {bench.user_id})"
        open_ = f"t.status = 'open' AND {visible}"
        cases = [  # label, url, raw page, raw count
            ("first page, open", "/api/v1/ticket/?status=open&page_size=25", raw_page(open_, 25), raw_count(open_)),
            ("first page, all", "/api/v1/ticket/?page_size=25", raw_page(visible, 25), raw_count(visible)),
            ("page 20, open", "/api/v1/ticket/?status=open&page_size=25&page=20", raw_page(open_, 25, 500),
             raw_count(open_)),
        ]
        for label, text, contact, message in search_cases(dsn, bench.mine, bench.user_id):
            cases.append((f"search {label}", f"/api/v1/ticket/?page_size=25&q={quote(text)}",
                          raw_page(visible, 25, 0, contact, message), raw_count(visible, contact, message)))
        measured = []
        for label, url, page_sql, count_sql in cases:
            times, body = timed(get(url), runs)
            raw, raw_ids = raw_ceiling(dsn, runs, page_sql, count_sql)
            assert [t["id"] for t in body["result"]] == raw_ids, (label, "the API and the raw SQL disagree")
            measured.append((label, url, times, raw, body))

        machine_line(runs, bench.load_seconds, dsn)
        for label, url, times, raw, body in measured:
            report(f"GET {url} ({label}: {body['count']} found, {len(body['result'])} on the page)", times, raw)
        print("(ceiling: the same page and count (a search counting up to COUNT_CAP + 1 per source, as the API does) as two hand-written SQL queries, psycopg, no ORM or JSON)")


if __name__ == "__main__":
    main()
