#!/usr/bin/env python
"""Inbound messages ingested end to end: event submitted (durable inbox + enqueue, in bursts per
pump of the page, as the bridge does) -> stored and routed by 2 real RQ worker processes -> Socket.IO event emitted (seen on the
Redis message queue every web process listens to), on PostgreSQL, sustained for a while.

It runs on its own temporary PostgreSQL database and Redis namespace, removed at the end.
Producers (separate processes) offer `--rate` events per second, open loop, spread over `--chats`
customers (each chat: first message -> ticket + queue menu, second "1" -> queue chosen + greeting,
then plain messages). Printed: events/s whose Socket.IO "message" event was emitted inside the
window, the backlog left at its end, the event -> emit latency (from the moment the event was due, so the wait in the bridge counts), and the ceilings measured in the
same run: PostgreSQL commits/s of a plain one-row insert loop, pgbench TPS (2 clients), and Redis
round trips/s (redis-benchmark), with our ratio to each.

Usage: .venv/bin/python bench/ingest.py [--rate 330] [--seconds 60] [--workers 2] [--producers 2]
Needs PostgreSQL on 127.0.0.1 as user postgres (BENCH_PG_ADMIN_DSN to change) and Redis.
"""
import argparse
import multiprocessing as mp
import os
import json
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PG_ADMIN_DSN = os.environ.get("BENCH_PG_ADMIN_DSN", "host=127.0.0.1 user=postgres dbname=postgres")


def pg_url(dbname: str) -> str:
    params = dict(p.split("=", 1) for p in PG_ADMIN_DSN.split())
    host, user = params.get("host", "127.0.0.1"), params.get("user", "postgres")
    return f"postgresql+psycopg://{user}@{host}:{params.get('port', '5432')}/{dbname}"


# -- ceilings -----------------------------------------------------------------------------------
def pg_commit_loop(dbname: str, seconds: float = 5.0) -> float:
    """One-row INSERT + COMMIT per round, one connection: the database's commit rate here."""
    dsn = PG_ADMIN_DSN.replace("dbname=postgres", f"dbname={dbname}")
    with psycopg.connect(dsn) as conn:
        conn.execute("CREATE TABLE bench_ceiling (id serial primary key, body text)")
        conn.commit()
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            conn.execute("INSERT INTO bench_ceiling (body) VALUES ('mensagem de teste')")
            conn.commit()
            n += 1
        elapsed = time.perf_counter() - t0
        conn.execute("DROP TABLE bench_ceiling")
        conn.commit()
    return n / elapsed


def pgbench_tps(dbname: str, seconds: int = 10) -> float | None:
    if not shutil.which("pgbench"):
        return None
    params = dict(p.split("=", 1) for p in PG_ADMIN_DSN.split())
    base = ["-h", params.get("host", "127.0.0.1"), "-U", params.get("user", "postgres"),
            "-p", params.get("port", "5432")]
    subprocess.run(["pgbench", *base, "-i", "-s", "1", "-q", dbname], check=True, capture_output=True)
    out = subprocess.run(["pgbench", *base, "-c", "2", "-j", "2", "-N", "-T", str(seconds), dbname],
                         check=True, capture_output=True, text=True).stdout
    with psycopg.connect(PG_ADMIN_DSN.replace("dbname=postgres", f"dbname={dbname}"), autocommit=True) as conn:
        for table in ("pgbench_accounts", "pgbench_branches", "pgbench_history", "pgbench_tellers"):
            conn.execute(f"DROP TABLE IF EXISTS {table}")
    match = re.search(r"tps = ([\d.]+)", out)
    return float(match.group(1)) if match else None


def redis_round_trips(redis_url: str) -> float | None:
    """redis-benchmark SET, 2 clients, no pipelining: round trips per second."""
    if not shutil.which("redis-benchmark"):
        return None
    from redis import Redis

    kw = Redis.from_url(redis_url).connection_pool.connection_kwargs
    where = ["-s", kw["path"]] if "path" in kw else ["-h", kw.get("host", "127.0.0.1"), "-p", str(kw.get("port", 6379))]
    out = subprocess.run(["redis-benchmark", *where, "-n", "40000", "-c", "2", "-t", "set", "-q"],
                         capture_output=True, text=True).stdout
    match = re.findall(r"([\d.]+) requests per second", out)
    return float(match[-1]) if match else None


# -- the load -------------------------------------------------------------------------------------
def producer(env: dict, connection_id: int, chats: range, rate: float, seconds: float, start_at: float, out):
    """Plays one bridge: events arrive at `rate`/s (open loop) and are handed over as the bridge
    does, in bursts per pump of the page (every event due since the last hand-over, through
    app.workers.ingest.submit_many, at most PUMP_STEP apart); sends back {body token: time the
    event was due}, so the latency includes the wait in the bridge."""
    os.environ.update(env)
    from app import create_app
    from app.bridge.whatsapp_web import PUMP_STEP
    from app.workers.ingest import submit_many

    app = create_app()
    sent, seq, chat_list = {}, 0, list(chats)
    counts = dict.fromkeys(chat_list, 0)
    with app.app_context():
        while time.time() < start_at:
            time.sleep(0.001)
        t0 = time.time()
        while True:
            now = time.time()
            if now >= start_at + seconds:
                break
            burst, due_times = [], []
            while t0 + seq / rate <= now:
                chat = chat_list[seq % len(chat_list)]
                n = counts[chat]
                counts[chat] += 1
                token = f"m{chat}-{n}"
                body = "1" if n == 1 else token  # the second message answers the queue menu
                phone = f"55119{chat:08d}"
                burst.append({"v": 1, "kind": "message", "connection_id": connection_id,
                              "channel_id": uuid.uuid4().hex, "chat_id": f"{phone}@c.us", "is_group": False,
                              "sender_id": f"{phone}@c.us", "sender_phone": phone, "sender_name": f"Cliente {chat}",
                              "type": "text", "body": body, "timestamp": int(time.time())})
                due_times.append((body, token, t0 + seq / rate))
                seq += 1
            if burst:
                submit_many(burst)
                sent.update({token: due for body, token, due in due_times if body == token})
            else:
                time.sleep(min(PUMP_STEP, max(0.0, t0 + seq / rate - time.time())))
    out.put((seq, sent))


class EmitListener(threading.Thread):
    """Listens where the workers publish Socket.IO events (python-socketio's Redis manager) and
    hands each emit, with the time it was seen, to on_emit."""

    def __init__(self, redis_url: str, channel: str):
        super().__init__(daemon=True)
        from redis import Redis

        self.pubsub = Redis.from_url(redis_url).pubsub(ignore_subscribe_messages=True)
        self.pubsub.subscribe(channel)
        self.running = True

    def run(self):
        while self.running:
            item = self.pubsub.get_message(timeout=0.2)
            if not item:
                continue
            seen = time.time()
            try:
                data = json.loads(item["data"])
            except ValueError:
                continue
            if data.get("method") == "emit":
                self.on_emit(data, seen)

    @staticmethod
    def payload(data: dict) -> dict:
        """The emitted event's argument (python-socketio sends a list when there are several)."""
        return data["data"][0] if isinstance(data["data"], list) else data["data"]

    def on_emit(self, data: dict, seen: float):
        raise NotImplementedError


class EmitCounter(EmitListener):
    """Counts the emitted ticket events and times the inbound "message" events."""

    def __init__(self, redis_url: str, channel: str):
        super().__init__(redis_url, channel)
        self.messages: list[tuple[float, str]] = []  # (time seen, body) of inbound "message" events
        self.ticket_events = 0

    def on_emit(self, data, seen):
        body = self.payload(data)
        if data.get("event") == "message" and not body["message"]["from_me"]:
            self.messages.append((seen, body["message"]["body"]))
        elif data.get("event") == "ticket":
            self.ticket_events += 1


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))] if values else float("nan")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=330, help="events offered per second (all producers)")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--producers", type=int, default=2)
    parser.add_argument("--chats", type=int, default=2000)
    args = parser.parse_args()

    run_id = f"{os.getpid()}{uuid.uuid4().hex[:4]}"
    dbname, namespace = f"conecta_bench_{run_id}", f"bench-ingest-{run_id}"
    instance = tempfile.mkdtemp(prefix="conecta-bench-")
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{dbname}"')
    from app.embedded_redis import resolve_redis_url

    redis_url, embedded = resolve_redis_url(Path(instance) / "redis")
    env = {"DATABASE_URL": pg_url(dbname), "REDIS_URL": redis_url, "REDIS_NAMESPACE": namespace,
           "INSTANCE_DIR": instance, "SECRET_KEY": "bench-secret-key-" + run_id + uuid.uuid4().hex}
    os.environ.update(env)
    workers = []
    try:
        from flask_migrate import upgrade

        from app import create_app
        from app.models import Connection, InboundEvent, Message, Queue, db
        from app.services.bootstrap import bootstrap
        from app.workers import JOB_QUEUES, queue_name

        app = create_app()
        with app.app_context():
            upgrade()
        bootstrap(app, "bench@conecta.local", "Bench-senha-123")
        with app.app_context():
            queues = [Queue(name=f"Fila {n}", color="#%06x" % (n + 1), bot_order=n, greeting_message="Olá!")
                      for n in range(3)]
            connection = Connection(name="Bench", queues=queues, greeting_message="Escolha uma fila")
            db.session.add(connection)
            db.session.commit()
            connection_id = connection.id

        print("measuring ceilings...", flush=True)
        commit_rate = pg_commit_loop(dbname)
        tps = pgbench_tps(dbname)
        redis_rate = redis_round_trips(redis_url)

        rq = str(Path(sys.executable).with_name("rq"))
        worker_env = dict(os.environ, **env)
        for i in range(args.workers):
            workers.append(subprocess.Popen(
                [rq, "worker", "-w", "app.workers.worker.AppWorker", "--url", redis_url, "--name",
                 f"{namespace}-w{i}", "-q", *[queue_name(q, namespace) for q in JOB_QUEUES]],
                cwd=ROOT, env=worker_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True))
        counter = EmitCounter(redis_url, namespace + ":socketio")
        counter.start()
        time.sleep(4)  # workers up (they build the app once)

        ctx = mp.get_context("spawn")
        out = ctx.Queue()
        start_at = time.time() + 6  # producers up
        per_chat = [range(p, args.chats, args.producers) for p in range(args.producers)]
        producers = [ctx.Process(target=producer, args=(env, connection_id, per_chat[p], args.rate / args.producers,
                                                      args.seconds, start_at, out))
                     for p in range(args.producers)]
        for p in producers:
            p.start()
        load_before = os.getloadavg()
        results = [out.get(timeout=args.seconds + 120) for _ in producers]
        for p in producers:
            p.join()
        window_end = start_at + args.seconds
        submitted = sum(r[0] for r in results)
        sent = {}
        for r in results:
            sent.update(r[1])
        with app.app_context():
            backlog = db.session.query(InboundEvent).filter(InboundEvent.processed_at.is_(None)).count()
            db.session.rollback()
        # let the backlog drain (bounded) for the totals and latencies
        deadline = time.time() + 120
        with app.app_context():
            while time.time() < deadline:
                left = db.session.query(InboundEvent).filter(InboundEvent.processed_at.is_(None)).count()
                db.session.rollback()
                if left == 0:
                    break
                time.sleep(0.5)
            time.sleep(1)
            stored = db.session.query(Message).filter(Message.from_me.is_(False)).count()
            failed = db.session.query(InboundEvent).filter(InboundEvent.error.isnot(None)).count()
            db.session.rollback()
        counter.running = False
        counter.join(2)
        in_window = [seen for seen, _ in counter.messages if start_at <= seen <= window_end]
        emitted_rate = len(in_window) / args.seconds
        latencies = [1000 * (seen - sent[body]) for seen, body in counter.messages if body in sent]
        load_after = os.getloadavg()

        print(f"machine: {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
              f"PostgreSQL + Redis local; load average {load_before[0]:.2f} before, {load_after[0]:.2f} after")
        print(f"offered {args.rate:.0f} events/s for {args.seconds:.0f} s by {args.producers} producers; "
              f"{args.workers} RQ worker processes")
        print(f"submitted {submitted} ({submitted / args.seconds:.0f}/s); stored {stored}, "
              f"Socket.IO message events {len(counter.messages)}, events with an error {failed}")
        print(f"INGESTED end to end: {emitted_rate:.0f} messages/s inside the {args.seconds:.0f} s window "
              f"(target >= 300); backlog at the window's end: {backlog}")
        print(f"event due -> Socket.IO emit latency: p50 {percentile(latencies, 50):.0f} ms, "
              f"p95 {percentile(latencies, 95):.0f} ms, max {max(latencies or [0]):.0f} ms")
        print(f"ceiling PostgreSQL one-row insert+commit loop: {commit_rate:.0f}/s -> ratio "
              f"{emitted_rate / commit_rate:.2f}")
        if tps:
            print(f"ceiling pgbench -N, 2 clients: {tps:.0f} tps -> ratio {emitted_rate / tps:.2f}")
        if redis_rate:
            print(f"ceiling redis-benchmark SET, 2 clients: {redis_rate:.0f} round trips/s -> ratio "
                  f"{emitted_rate / redis_rate:.3f}")
        ok = stored == submitted and len(counter.messages) == submitted
        print(f"exactly once: {'yes' if ok else 'NO'} (stored {stored} of {submitted}, emitted {len(counter.messages)})")
    finally:
        for w in workers:
            if w.poll() is None:
                os.killpg(w.pid, signal.SIGTERM)
        for w in workers:
            try:
                w.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(w.pid, signal.SIGKILL)
        from redis import Redis

        r = Redis.from_url(redis_url)
        for pattern in (f"{namespace}*", f"rq:*{namespace}*"):
            for k in r.scan_iter(match=pattern, count=1000):
                r.delete(k)
        r.srem("rq:queues", *[f"rq:queue:{namespace}-{q}" for q in ("ingest", "outbound", "default")])
        try:
            from app.models import db as _db

            with app.app_context():
                _db.session.remove()
                _db.engine.dispose()
        except Exception:
            pass
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        if embedded:
            embedded.stop()
        shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    main()
