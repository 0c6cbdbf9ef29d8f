"""Shared fixtures. Real servers: PostgreSQL (a fresh database per run) or SQLite (a temp file),
and Redis (the local server, or an embedded one) under a key prefix unique to this run.

TEST_DATABASE=postgresql|sqlite chooses the engine (scripts/test.sh runs both).
"""
import os
import re
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import psycopg
import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RUN_ID = uuid.uuid4().hex[:10]
PG_ADMIN_DSN = "host=127.0.0.1 user=postgres dbname=postgres"
ADMIN_EMAIL = "admin@teste.com.br"
PASSWORD = "Senha-forte-123"


def _pg_available() -> bool:
    try:
        psycopg.connect(PG_ADMIN_DSN, connect_timeout=2).close()
        return True
    except Exception:
        return False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def database_engine() -> str:
    return os.environ.get("TEST_DATABASE") or ("postgresql" if _pg_available() else "sqlite")


def pytest_collection_modifyitems(config, items):
    """Tests of behaviour SQLite cannot have (it locks the whole database for a writer) are left
    out of a SQLite run, as deselected: they run in the PostgreSQL run of scripts/test.sh."""
    if not any(item.get_closest_marker("postgresql_only") for item in items) or database_engine() != "sqlite":
        return
    kept = [item for item in items if not item.get_closest_marker("postgresql_only")]
    config.hook.pytest_deselected(items=[item for item in items if item.get_closest_marker("postgresql_only")])
    items[:] = kept


@pytest.fixture(scope="session")
def test_env(tmp_path_factory):
    """Environment shared by the in-process app and every process a test starts."""
    instance = tmp_path_factory.mktemp("instance")
    from app.i18n import compile_catalog

    compile_catalog()  # tests always see the current pt_BR parts
    engine = database_engine()
    created_db = None
    if engine == "postgresql":
        created_db = f"conecta_test_{RUN_ID}"
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{created_db}"')
        db_url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{created_db}"
    else:
        db_url = "sqlite:///" + str(instance / "test.db")

    from app.embedded_redis import resolve_redis_url

    os.environ.pop("REDIS_URL", None) if os.environ.get("REDIS_URL") == "" else None
    redis_url, embedded = resolve_redis_url(instance / "redis")
    env = {
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "REDIS_NAMESPACE": f"conecta-test-{RUN_ID}",
        "INSTANCE_DIR": str(instance),
        "SECRET_KEY": "test-secret-" + RUN_ID + uuid.uuid4().hex,
        "AUTH_RATE_LIMITED": "0",
        "TZ_NAME": "America/Sao_Paulo",
    }
    os.environ.update(env)
    yield env
    from redis import Redis

    r = Redis.from_url(redis_url)
    for k in r.scan_iter(match=env["REDIS_NAMESPACE"] + "*", count=1000):
        r.delete(k)
    for k in r.scan_iter(match="rq:*" + env["REDIS_NAMESPACE"] + "*", count=1000):
        r.delete(k)
    if embedded:
        embedded.stop()
    if created_db:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{created_db}" WITH (FORCE)')


@pytest.fixture(scope="session")
def app(test_env):
    from flask_migrate import upgrade

    from app import create_app
    from app.services.bootstrap import bootstrap

    application = create_app({"TESTING": True, "AUTH_RATE_LIMITED": False})
    with application.app_context():
        upgrade()
    bootstrap(application, ADMIN_EMAIL, PASSWORD)
    return application


_KEEP_TABLES = {"alembic_version", "ab_role", "ab_permission", "ab_view_menu", "ab_permission_view",
                "ab_permission_view_role"}


def _wipe(app):
    """Empty every table but the roles, then bootstrap again (settings row, first Admin)."""
    from app.models import db
    from app.services.bootstrap import bootstrap

    with app.app_context():
        db.session.remove()
        tables = [t for t in db.metadata.sorted_tables if t.name not in _KEEP_TABLES]
        with db.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                names = ", ".join(f'"{t.name}"' for t in tables)
                conn.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
            else:
                for t in reversed(tables):
                    conn.execute(t.delete())
    bootstrap(app, ADMIN_EMAIL, PASSWORD)


@pytest.fixture(autouse=True)
def clean_db(request):
    """Every test starts from an empty database (roles, settings and the first Admin only)."""
    yield
    if "app" in request.fixturenames:
        _wipe(request.getfixturevalue("app"))


@pytest.fixture
def db(app):
    from app.models import db as _db

    with app.app_context():
        yield _db
        _db.session.remove()


# ---------------------------------------------------------------------------------------------
# Factories (run inside an app context)
# ---------------------------------------------------------------------------------------------

@pytest.fixture
def factory(app, db):
    return Factory(app, db)


class Factory:
    _n = 0

    def __init__(self, app, db):
        self.app, self.db = app, db

    def _next(self):
        Factory._n += 1
        return Factory._n

    def queue(self, name=None, color=None, bot_order=None, **kw):
        from app.models import Queue

        n = self._next()
        q = Queue(name=name or f"Fila {n}", color=color or "#%06x" % (n * 7919 % 0xFFFFFF),
                  bot_order=bot_order if bot_order is not None else n, **kw)
        self.db.session.add(q)
        self.db.session.commit()
        return q

    def connection(self, name=None, queues=(), is_default=None, **kw):
        from app.models import Connection

        n = self._next()
        c = Connection(name=name or f"Conexão {n}", queues=list(queues), **kw)
        if is_default is not None:
            c.is_default = is_default
        else:
            c.is_default = self.db.session.query(Connection).count() == 0
        self.db.session.add(c)
        self.db.session.commit()
        return c

    def member(self, profile="user", queues=(), email=None, name=None, password=PASSWORD, **kw):
        from app.models import PROFILES

        n = self._next()
        sm = self.app.appbuilder.sm
        email = email or f"membro{n}@teste.com.br"
        user = sm.add_user(username=email, first_name=name or f"Membro {n}", last_name="", email=email,
                           role=sm.find_role(PROFILES[profile]), password=password)
        assert user, "could not create member"
        user.queues = list(queues)
        for k, v in kw.items():
            setattr(user, k, v)
        self.db.session.commit()
        return user

    def admin(self):
        return self.app.appbuilder.sm.find_user(email=ADMIN_EMAIL)


# ---------------------------------------------------------------------------------------------
# Clients
# ---------------------------------------------------------------------------------------------

CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(html: str) -> str:
    m = CSRF_RE.search(html)
    assert m, "no csrf_token in page"
    return m.group(1)


def login(client, email, password=PASSWORD):
    page = client.get("/login/")
    token = csrf_token(page.get_data(as_text=True))
    return client.post("/login/", data={"username": email, "password": password, "csrf_token": token},
                       follow_redirects=False)


def browser_login(page, login_url, email=ADMIN_EMAIL, password=PASSWORD):
    """Log in through the login page in a real browser (Playwright page); returns once the page
    has left it. `login_url` may carry a ?next=."""
    page.goto(login_url)
    page.fill("input[name=username]", email)
    page.fill("input[name=password]", password)
    page.click("input[type=submit], button[type=submit]")
    page.wait_for_url(lambda url: "/login" not in url)


def session_cookie(base_url, email, password=PASSWORD) -> str:
    """Log in to a running web process through /login/, as the chat page's member does; the Cookie
    header of that session (what a Socket.IO client sends)."""
    http = requests.Session()
    token = csrf_token(http.get(base_url + "/login/", timeout=10).text)
    r = http.post(base_url + "/login/", data={"username": email, "password": password, "csrf_token": token},
                  allow_redirects=False, timeout=10)
    assert r.status_code == 302, r.text
    return "; ".join(f"{c.name}={c.value}" for c in http.cookies)


class SocketRecorder:
    """A real python-socketio client (websocket, no reconnection) recording every event it receives.
    Connecting raises socketio.exceptions.ConnectionError when the server refuses it."""

    def __init__(self, base_url, cookie=None):
        import socketio

        self.events, self.lock = [], threading.Lock()
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("*", self._record)
        self.sio.connect(base_url, headers={"Cookie": cookie} if cookie else {}, transports=["websocket"],
                         wait_timeout=10)

    def _record(self, event, data=None):
        with self.lock:
            self.events.append((event, data))

    def every_ticket_id(self):
        """Every ticket id any event told this client about, whatever the event (a leak shows here)."""
        ids = set()
        with self.lock:
            for _event, data in self.events:
                if isinstance(data, dict):
                    ids.add((data.get("ticket") or {}).get("id"))
                    ids.add(data.get("ticket_id"))
                    ids.add(data.get("id"))
        return ids - {None}

    def close(self):
        if self.sio.connected:
            self.sio.disconnect()


@pytest.fixture
def client(app):
    return app.test_client()


class Api:
    """A REST client with a bearer token, over Flask's test client or a live server.

    On the test client each request runs in an app context of its own, as in a real server: the
    tests hold one open (the db fixture), and Flask would otherwise share its `g` between requests,
    flask-login's cached member included. The APIs take the session cookie too (allow_browser_login),
    and FAB asks flask-login before the token: a member cached by an earlier request of another
    Api on the same client answered in place of this token's."""

    def __init__(self, client, token):
        self.client, self.token = client, token

    def _h(self):
        return {"Authorization": f"Bearer {self.token}"}

    def _call(self, method, url, **kw):
        app = getattr(self.client, "application", None)
        if app is None:
            return getattr(self.client, method)(url, **kw)
        with app.app_context():
            return getattr(self.client, method)(url, **kw)

    def get(self, url, **kw):
        return self._call("get", url, headers=self._h(), **kw)

    def post(self, url, json=None, **kw):
        return self._call("post", url, json=json, headers=self._h(), **kw)

    def put(self, url, json=None, **kw):
        return self._call("put", url, json=json, headers=self._h(), **kw)

    def delete(self, url, **kw):
        return self._call("delete", url, headers=self._h(), **kw)


def api_login(client, email, password=PASSWORD) -> Api:
    r = client.post("/api/v1/security/login", json={"username": email, "password": password, "provider": "db"})
    assert r.status_code == 200, r.get_data(as_text=True)
    return Api(client, r.get_json()["access_token"])


@pytest.fixture
def admin_api(app, client):
    return api_login(client, ADMIN_EMAIL)


# ---------------------------------------------------------------------------------------------
# Real processes: the web server (eventlet) and RQ workers, against the same database and Redis
# ---------------------------------------------------------------------------------------------

def wait_until(predicate, timeout: float, step: float = 0.2):
    """Poll `predicate` until it returns something true, and return that; after `timeout` s, its
    last answer (falsy: the caller's assert fails)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    return predicate()


def wait_web_answers(process: subprocess.Popen, url: str, timeout: float):
    """Until the web process just started (`python -m app.web`) serves its login page; it may not
    listen yet. RuntimeError when it dies first or does not answer within `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(url + "/login/", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        if process.poll() is not None:
            raise RuntimeError("web process died at start")
        time.sleep(0.1)
    raise RuntimeError("web process did not answer")


class Stack:
    def __init__(self, env):
        self.env = dict(os.environ, **env)
        self.procs: dict[str, subprocess.Popen] = {}
        self.port = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start_web(self, stderr=None, name="web", **extra_env):
        """`stderr`: a file to keep the web process's stderr in (tests that look for tracebacks).
        Another `name` starts one more web process, on a port of its own; its address is returned
        (`url` stays the first one's)."""
        if name == "web":
            self.port = self.port or free_port()
            port = self.port
        else:
            port = free_port()
        url = f"http://127.0.0.1:{port}"
        env = dict(self.env, PORT=str(port), HOST="127.0.0.1", **extra_env)
        self.procs[name] = subprocess.Popen([sys.executable, "-m", "app.web"], env=env, cwd=str(ROOT),
                                            start_new_session=True, stderr=stderr)
        wait_web_answers(self.procs[name], url, 30)
        return url

    def start_worker(self, name="worker", queues=None):
        from app.workers import JOB_QUEUES, queue_name

        ns = self.env["REDIS_NAMESPACE"]
        qs = [queue_name(q, ns) for q in (queues or JOB_QUEUES)]
        rq = str(Path(sys.executable).with_name("rq"))
        self.procs[name] = subprocess.Popen(
            [rq, "worker", "-w", "app.workers.worker.AppWorker", "--url", self.env["REDIS_URL"],
             "--name", f"{ns}-{name}-{uuid.uuid4().hex[:6]}", *qs],
            env=self.env, cwd=str(ROOT), start_new_session=True,
        )
        return self.procs[name]

    def start_bridge(self, name="bridge", **extra_env):
        """The bridge supervisor (it starts the bridge workers), against the simulator of the web
        process started with start_web(SIMULATOR="1")."""
        env = dict(self.env, WHATSAPP_WEB_URL=self.url + "/simulator/web/")
        env.update(extra_env)
        self.procs[name] = subprocess.Popen([sys.executable, "-m", "app.bridge.supervisor"], env=env,
                                            cwd=str(ROOT), start_new_session=True)
        return self.procs[name]

    def kill(self, name, sig=9):
        p = self.procs.pop(name, None)
        if p and p.poll() is None:
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                pass
            p.wait(10)

    def stop(self):
        for name in list(self.procs):
            self.kill(name, 15)


CHROMIUM = "/usr/bin/chromium"


@pytest.fixture
def browser():
    """A headless Chromium (Playwright); the browser tests open their contexts in it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                      args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"])
        yield chromium
        chromium.close()


@pytest.fixture
def stack(app, test_env):
    """Start processes with stack.start_web() / stack.start_worker(); all are stopped after."""
    s = Stack(test_env)
    yield s
    s.stop()
