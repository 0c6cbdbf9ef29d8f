"""Pieces shared by the message-stream fault tests: the agent answering over REST, waiting, and
the checks that run.py's children are back."""
import collections
import random
import time

import psutil
import requests

from tests.conftest import ADMIN_EMAIL, PASSWORD

AGENT_INTERVAL = 0.4


def retrying(fn, stop, pause=0.2):
    """Run fn until it answers (the database or Redis may be down for a while)."""
    while True:
        try:
            return fn()
        except Exception:
            if stop.is_set():
                raise
            time.sleep(pause)


def wait_for(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.5)
    raise AssertionError(f"not recovered within {timeout}s: {what}")


def steady_workers(product, count=2, min_age=10.0):
    """run.py's job workers are all back for good: a worker killed -9 leaves its name registered in
    Redis, and a new one under the same name would exit at once, again and again."""
    def check():
        now = time.time()
        return len([c for c in product.children("rq", "worker")
                    if c.is_running() and c.status() != psutil.STATUS_ZOMBIE and now - c.create_time() > min_age]) == count
    return check


class Api:
    """The REST API of the web process, logged in as the first Admin (again after a restart)."""

    def __init__(self, base_url):
        self.base_url = base_url
        self.token = None

    def call(self, method, path, **kw):
        if self.token is None:
            r = requests.post(self.base_url + "/api/v1/security/login", timeout=5,
                              json={"username": ADMIN_EMAIL, "password": PASSWORD, "provider": "db"})
            r.raise_for_status()
            self.token = r.json()["access_token"]
        return requests.request(method, self.base_url + path, timeout=5,
                                headers={"Authorization": f"Bearer {self.token}"}, **kw)


class Agent:
    """An agent answering random tickets through the REST API, every AGENT_INTERVAL s until stopped
    (run it in a thread: `threading.Thread(target=agent.run)`)."""

    def __init__(self, base_url, stop):
        self.api, self.stop = Api(base_url), stop
        self.queued: list[int] = []  # message ids answered 201
        self.errors = collections.Counter()

    def run(self):
        n = 0
        while not self.stop.is_set():
            time.sleep(AGENT_INTERVAL)
            try:
                listing = self.api.call("GET", "/api/v1/ticket/?page_size=100")
                if listing.status_code != 200:
                    self.errors[f"list {listing.status_code}"] += 1
                    continue
                tickets = listing.json()["result"]
                if not tickets:
                    continue
                ticket = random.choice(tickets)
                if ticket["status"] == "pending":  # answered once accepted, as on the screen
                    accepted = self.api.call("POST", f"/api/v1/ticket/{ticket['id']}/accept")
                    if accepted.status_code != 200:
                        self.errors[f"accept {accepted.status_code}"] += 1
                        continue
                n += 1
                r = self.api.call("POST", f"/api/v1/ticket/{ticket['id']}/messages", json={"body": f"resposta {n}"})
                if r.status_code == 201:
                    self.queued.append(r.json()["result"]["id"])
                else:
                    self.errors[f"send {r.status_code}"] += 1
            except requests.RequestException as exc:
                self.errors[exc.__class__.__name__] += 1


class Faults:
    """The faults run.py must survive, injected one at a time; `done` lists them for the report."""

    def __init__(self, product, pg, redis):
        self.product, self.pg, self.redis = product, pg, redis
        self.done: list[str] = []

    def kill_rq_worker(self):
        killed = self.product.kill_child("rq", "worker")
        self.done.append("kill -9 RQ worker")
        self.product.wait_child("rq", "worker", other_than=killed)

    def restart_redis(self):
        self.redis.restart()
        self.done.append("Redis restarted (contents lost)")

    def crash_postgres(self):
        self.pg.crash_and_restart()
        self.done.append("PostgreSQL crashed and restarted")

    def kill_web(self, what="kill -9 web process"):
        killed = self.product.kill_child("app.web")
        self.done.append(what)
        self.product.wait_child("app.web", other_than=killed)
        self.product.wait_web()


def scalar_now(app, statement):
    """One value read from the database now (in a fresh session: it may have restarted)."""
    from app.models import db

    with app.app_context():
        try:
            return db.session.scalar(statement)
        finally:
            db.session.remove()


def customers_done(workers_running, customers, join_timeout, stop, agent_thread):
    """After the last fault: run.py's job workers back for good, every customer's message sent,
    then the agent stopped (its last answers queued)."""
    wait_for(workers_running, 60, "two RQ workers running steadily after all faults")
    customers.join(timeout=join_timeout)
    assert not customers.is_alive(), "customers could not send"
    assert customers.error is None, customers.error
    time.sleep(2)
    stop.set()
    agent_thread.join(10)


def wait_stream_recovered(app, expected, timeout):
    """The end of every message stream under faults: each customer message sent (channel ids in
    expected) stored once, then the outbox sent."""
    from sqlalchemy import func, select

    from app.models import Message, MessageStatus

    stored_now = select(func.count(func.distinct(Message.channel_id))).where(
        Message.from_me.is_(False), Message.channel_id.in_(list(expected)))
    wait_for(lambda: scalar_now(app, stored_now) == len(expected), timeout, "customer messages stored")

    queued_now = select(func.count()).where(Message.from_me.is_(True), Message.status == MessageStatus.QUEUED)
    wait_for(lambda: not scalar_now(app, queued_now), timeout, "outbox sent")


def installation():
    """A migrated database with the first Admin, one queue and one default connection with a
    greeting (each new ticket gets an automatic message). Returns (app, connection id)."""
    from flask_migrate import upgrade

    from app import create_app
    from app.models import Connection, Queue, db
    from app.services.bootstrap import bootstrap

    app = create_app()
    with app.app_context():
        upgrade()
    bootstrap(app, ADMIN_EMAIL, PASSWORD)
    with app.app_context():
        queue = Queue(name="Suporte", color="#112233", bot_order=1)
        connection = Connection(name="Principal", is_default=True, queues=[queue],
                                greeting_message="Olá {{nome}}, já vamos atender.")
        db.session.add_all([queue, connection])
        db.session.commit()
        return app, connection.id
