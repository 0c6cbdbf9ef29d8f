"""What the Socket.IO benches share: a stack of their own (temporary PostgreSQL database, Redis
namespace, the real web process `python -m app.web` on eventlet and RQ worker processes, as run.py
starts them), members logged in through /login/, and cleanup of all of it.

Not a bench itself: bench/socket_latency.py and bench/socket_fanout.py use it.
"""
import contextlib
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg
import requests

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(BENCH))

from ingest import PG_ADMIN_DSN, EmitListener, percentile, pg_url  # noqa: E402,F401  (re-exported for the benches)

PASSWORD = "Bench-senha-123"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_line() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def summary(values) -> str:
    return (f"p50 {percentile(values, 50):.1f} ms, p95 {percentile(values, 95):.1f} ms, "
            f"max {max(values or [float('nan')]):.1f} ms (n={len(values)})")


def machine_line() -> str:
    return (f"machine: {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
            f"PostgreSQL + Redis local; load average {load_line()}")


class SocketStack:
    """Use as a context manager; everything it started or made is stopped and removed at exit."""

    def __init__(self, label: str):
        self.run_id = f"{os.getpid()}{uuid.uuid4().hex[:4]}"
        self.dbname = f"conecta_bench_{self.run_id}"
        self.namespace = f"bench-{label}-{self.run_id}"
        self.instance = tempfile.mkdtemp(prefix="conecta-bench-")
        self.procs: dict[str, subprocess.Popen] = {}
        self.port = free_port()
        self.app = self.embedded = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def channel(self) -> str:
        """The Redis channel of the web processes' Socket.IO message queue."""
        return self.namespace + ":socketio"

    def __enter__(self):
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.dbname}"')
        from app.embedded_redis import resolve_redis_url

        self.redis_url, self.embedded = resolve_redis_url(Path(self.instance) / "redis")
        self.env = {"DATABASE_URL": pg_url(self.dbname), "REDIS_URL": self.redis_url,
                    "REDIS_NAMESPACE": self.namespace, "INSTANCE_DIR": self.instance,
                    "SECRET_KEY": "bench-" + self.run_id + uuid.uuid4().hex, "AUTH_RATE_LIMITED": "0"}
        os.environ.update(self.env)
        from flask_migrate import upgrade

        from app import create_app
        from app.services.bootstrap import bootstrap

        self.app = create_app()
        with self.app.app_context():
            upgrade()
        bootstrap(self.app, "bench@conecta.local", PASSWORD)
        return self

    def add_connection(self):
        """A connection with 3 queues and a queue menu; returns (connection id, queues, queue ids)."""
        from app.models import Connection, Queue, db

        with self.app.app_context():
            queues = [Queue(name=f"Fila {n}", color="#%06x" % (n + 1), bot_order=n, greeting_message="Olá!")
                      for n in range(3)]
            connection = Connection(name="Bench", queues=queues, greeting_message="Escolha uma fila")
            db.session.add(connection)
            db.session.commit()
            out = connection.id, queues, [q.id for q in queues]
            db.session.expunge_all()
        return out

    def add_members(self, count: int, queues, profile: str = "user", prefix: str = "agente") -> list[tuple[int, str]]:
        """`count` members in `queues`, each with a password hash cheap to check (the logins are
        set-up, not what is measured); returns [(id, email)]."""
        from werkzeug.security import generate_password_hash

        from app.models import db
        from app.models.team import PROFILES

        hashed = generate_password_hash(PASSWORD, method="pbkdf2:sha256:1000")
        with self.app.app_context():
            sm = self.app.appbuilder.sm
            role = sm.find_role(PROFILES[profile])
            queues = [db.session.merge(q) for q in queues]
            users = []
            for n in range(count):
                email = f"{prefix}{n}@conecta.local"
                user = sm.add_user(email, f"Agente {n}", "Bench", email, role=role, hashed_password=hashed,
                                   commit=False)
                user.queues = list(queues)
                users.append(user)
            db.session.commit()
            out = [(u.id, u.email) for u in users]
            db.session.remove()
        return out

    def start_web(self, **extra_env):
        env = dict(os.environ, **self.env, PORT=str(self.port), HOST="127.0.0.1", **extra_env)
        self.procs["web"] = subprocess.Popen([sys.executable, "-m", "app.web"], env=env, cwd=ROOT,
                                             start_new_session=True, stdout=subprocess.DEVNULL)
        from tests.conftest import wait_web_answers

        wait_web_answers(self.procs["web"], self.url, 60)
        return self.procs["web"]

    def start_workers(self, count: int):
        from app.workers import JOB_QUEUES, queue_name

        rq = str(Path(sys.executable).with_name("rq"))
        for i in range(count):
            self.procs[f"worker{i}"] = subprocess.Popen(
                [rq, "worker", "-w", "app.workers.worker.AppWorker", "--url", self.redis_url, "--name",
                 f"{self.namespace}-w{i}", "-q", *[queue_name(q, self.namespace) for q in JOB_QUEUES]],
                cwd=ROOT, env=dict(os.environ, **self.env), stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL, start_new_session=True)
        return [self.procs[f"worker{i}"] for i in range(count)]

    def start(self, name: str, argv: list[str], **extra_env):
        """Another process of the bench (a bare server, say), stopped with the stack."""
        self.procs[name] = subprocess.Popen(argv, cwd=ROOT, env=dict(os.environ, **self.env, **extra_env),
                                            start_new_session=True, stdout=subprocess.DEVNULL)
        return self.procs[name]

    def stop(self, name: str):
        proc = self.procs.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)

    def __exit__(self, *exc):
        for name in list(self.procs):
            self.stop(name)
        try:
            from redis import Redis

            r = Redis.from_url(self.redis_url)
            for pattern in (f"{self.namespace}*", f"rq:*{self.namespace}*"):
                for k in r.scan_iter(match=pattern, count=1000):
                    r.delete(k)
            r.srem("rq:queues", *[f"rq:queue:{self.namespace}-{q}" for q in ("ingest", "outbound", "default")])
        except Exception:
            pass
        if self.app is not None:
            from app.models import db

            with self.app.app_context():
                db.session.remove()
                db.engine.dispose()
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')
        if self.embedded:
            self.embedded.stop()
        shutil.rmtree(self.instance, ignore_errors=True)
        return False


def login_cookie(base_url: str, email: str, http: requests.Session | None = None) -> str:
    """Log in through /login/ as the chat page's user does; the Cookie header of that session."""
    import re

    http = http or requests.Session()
    page = http.get(base_url + "/login/").text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    r = http.post(base_url + "/login/", data={"username": email, "password": PASSWORD, "csrf_token": token},
                  allow_redirects=False)
    if r.status_code != 302:
        raise RuntimeError(f"login of {email} failed: {r.status_code}")
    return "; ".join(f"{c.name}={c.value}" for c in http.cookies)


def inbound(connection_id: int, chat: int, body: str) -> dict:
    """An inbound text message payload as the bridge hands it over (app.bridge.runner)."""
    phone = f"55119{chat:08d}"
    return {"v": 1, "kind": "message", "connection_id": connection_id, "channel_id": uuid.uuid4().hex,
            "chat_id": f"{phone}@c.us", "is_group": False, "sender_id": f"{phone}@c.us", "sender_phone": phone,
            "sender_name": f"Cliente {chat}", "type": "text", "body": body, "timestamp": int(time.time())}


def open_tickets(stack: SocketStack, connection_id: int, chats: range, queue_ids: list[int], timeout=120.0):
    """Each chat's customer writes and picks a queue from the menu (round robin over `queue_ids`'
    menu positions), through the pipeline; returns once every chat's ticket sits in a queue."""
    from app.models import Ticket, db
    from app.workers.ingest import submit_many

    with stack.app.app_context():
        submit_many([inbound(connection_id, c, f"oi {c}") for c in chats], stack.app)
        _wait(stack, lambda: db.session.query(Ticket).count() >= len(chats), timeout)
        submit_many([inbound(connection_id, c, str(1 + i % len(queue_ids))) for i, c in enumerate(chats)], stack.app)
        _wait(stack, lambda: db.session.query(Ticket).filter(Ticket.queue_id.isnot(None)).count() >= len(chats),
              timeout)


def _wait(stack, predicate, timeout):
    from app.models import db

    deadline = time.time() + timeout
    while time.time() < deadline:
        ok = predicate()
        db.session.rollback()
        if ok:
            return
        time.sleep(0.2)
    raise RuntimeError("the pipeline did not catch up during set-up")


class Profiler:
    """`py-spy record` of the given processes while the measured part runs (bench option
    --py-spy DIR): one flame graph per process in DIR, idle frames left out."""

    def __init__(self, directory: str | None, pids: dict[str, int]):
        self.directory, self.pids, self.procs = directory, pids, []

    def start(self):
        directory, pids = self.directory, self.pids
        if not directory:
            return
        py_spy = Path(sys.executable).with_name("py-spy")
        os.makedirs(directory, exist_ok=True)
        for name, pid in pids.items():
            self.procs.append(subprocess.Popen(
                [str(py_spy), "record", "--pid", str(pid), "--rate", "200",
                 "--format", "speedscope", "--output", str(Path(directory) / f"{name}.json")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))

    def stop(self):
        for proc in self.procs:
            proc.send_signal(signal.SIGINT)  # py-spy writes its file and exits
        for proc in self.procs:
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()


class ChannelWatch(EmitListener):
    """Subscribes to a Socket.IO message queue channel; records when each "message" event (by
    body) was seen on it, and the last published payload of each event name."""

    def __init__(self, redis_url: str, channel: str):
        super().__init__(redis_url, channel)
        self.seen: dict[str, float] = {}
        self.last: dict[str, dict] = {}

    def on_emit(self, data, seen):
        self.last[data["event"]] = data
        if data["event"] == "message":
            self.seen.setdefault(self.payload(data)["message"]["body"], seen)
