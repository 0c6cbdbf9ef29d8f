#!/usr/bin/env python
"""The one command that starts everything: `python run.py [--demo]`.

Migrates the database and creates the first Admin while the web server builds its app (it listens
only once the database is ready), then starts and supervises the web server, the RQ job workers
and the bridge supervisor, restarting any that dies. Ctrl-C or SIGTERM stops them
all (Chromium included: every child runs in its own process group, which gets SIGTERM, or for the
bridge supervisor the supervisor alone, which closes its sessions' browsers; a group still there
10 s later is killed whole). A wrong setting stops it before anything starts (app.preflight).
"""
import argparse
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="Conecta: atendimento multiatendente para WhatsApp")
    p.add_argument("--demo", action="store_true", help="simulador do WhatsApp e dados de exemplo")
    # A string default goes through type=int: WORKERS=abc is a usage error, not a traceback.
    p.add_argument("--workers", type=int, default=os.environ.get("WORKERS", "2"),
                   help="quantos processos de tarefas (RQ) iniciar")
    return p.parse_args(argv)


class Child:
    """A supervised child process, restarted with backoff when it dies."""

    def __init__(self, name: str, argv: list[str], env: dict, stops_own_group: bool = False):
        self.name, self.argv, self.env = name, argv, env
        # SIGTERM to the child alone, which stops its own children (the bridge supervisor: its
        # workers close their browsers); SIGKILL still goes to the whole group.
        self.stops_own_group = stops_own_group
        self.process: subprocess.Popen | None = None
        self.restarts = 0
        self.next_start = 0.0

    def start(self, gate: int | None = None):
        # "{run}" becomes unique per start: an RQ worker killed with -9 leaves its name registered
        # in Redis for minutes, and a new worker under the same name refuses to start.
        argv = [arg.replace("{run}", uuid.uuid4().hex[:6]) for arg in self.argv]
        env, fds = self.env, ()
        if gate is not None:  # this start only: a restart serves at once
            env, fds = dict(self.env, CONECTA_START_GATE=str(gate)), (gate,)
        self.process = subprocess.Popen(argv, env=env, cwd=str(ROOT), start_new_session=True, pass_fds=fds)
        self.started_at = time.monotonic()

    def start_gated(self) -> int:
        """Start the web process before the database is ready: it imports the stack and builds its
        app (no query, no DDL: tests/test_run.py) while run.py migrates, and listens only once the
        returned descriptor gets a byte; end of file (closed unwritten, run.py gone) makes it exit.
        The two imports overlap on two cores instead of following each other (bench/startup.py)."""
        read_end, write_end = os.pipe()
        try:
            self.start(gate=read_end)
        finally:
            os.close(read_end)
        return write_end

    def check(self):
        if self.process is None or self.process.poll() is None:
            return
        code = self.process.returncode
        now = time.monotonic()
        if self.next_start == 0.0:
            # Quick deaths back off up to 30 s; a child that ran a while restarts at once.
            quick = now - self.started_at < 10
            self.restarts = self.restarts + 1 if quick else 0
            delay = min(30.0, 0.5 * (2 ** self.restarts)) if quick else 0.0
            print(f"[run] {self.name} terminou (código {code}); reiniciando em {delay:.1f}s", flush=True)
            self.next_start = now + delay
        if now >= self.next_start:
            self.next_start = 0.0
            self.start()

    def signal(self, sig):
        if self.process and self.process.poll() is None:
            try:
                if sig == signal.SIGTERM and self.stops_own_group:
                    self.process.send_signal(sig)
                else:
                    os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                pass

    def wait(self, timeout: float) -> bool:
        if self.process is None:
            return True
        try:
            self.process.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            return False


def preflight(env: dict) -> None:
    """The operator's settings, checked before anything starts (app.preflight): a clear message
    and a non-zero exit instead of a traceback, a hang, or a port shared with another program."""
    from app import preflight as check
    from config import MIN_SECRET_KEY_LENGTH, database_url, engine_options, instance_path

    port = check.port_number(env.get("PORT"))
    check.check_instance_dir(instance_path())
    check.check_secret_key(env.get("SECRET_KEY"), MIN_SECRET_KEY_LENGTH)
    check.check_timezone(env.get("TZ_NAME"))
    check.check_chromium_path(env.get("CHROMIUM_PATH"))
    check.check_port(env.get("HOST") or "127.0.0.1", port)
    url = database_url()
    check.check_database(url, engine_options(url))


def prepare(args, started: list) -> dict:
    """Environment for the children, settings checked, Redis found or started. An embedded Redis
    it starts is appended to `started` at once, so that the caller stops it whatever happens next."""
    env = dict(os.environ)
    if args.demo:
        env["SIMULATOR"] = "1"
    os.environ.update(env)
    preflight(env)

    from config import instance_dir
    from app.embedded_redis import resolve_redis_url, shown_url

    configured = env.get("REDIS_URL")
    redis_url, embedded = resolve_redis_url(instance_dir() / "redis")
    if embedded:
        started.append(embedded)
        if configured:
            print(f"[run] Aviso: o Redis de REDIS_URL={shown_url(configured)} não respondeu; usando um Redis "
                  "embutido (os processos desta máquina funcionam; outras máquinas não o veem).", flush=True)
        print(f"[run] Redis embutido em {redis_url}", flush=True)
    env["REDIS_URL"] = os.environ["REDIS_URL"] = redis_url
    return env


def prepare_database(args) -> None:
    """Database migrated, first Admin created (its password printed), demo data when asked."""
    from flask_migrate import upgrade
    from sqlalchemy.exc import SQLAlchemyError

    from app import create_app
    from app.i18n import compile_catalog
    from app.preflight import StartupError, describe_migration_error

    # The pt_BR catalogue is a build product (*.mo is not in git): compiled here too, so that
    # `python run.py` without scripts/setup.sh does not show an English interface.
    compile_catalog()
    from app.services.bootstrap import bootstrap

    app = create_app()
    try:
        with app.app_context():
            upgrade()
    except SQLAlchemyError as exc:
        raise StartupError(describe_migration_error(exc)) from None
    generated = bootstrap(app, os.environ.get("ADMIN_EMAIL"), os.environ.get("ADMIN_PASSWORD"))
    if generated:
        email = os.environ.get("ADMIN_EMAIL") or "admin@conecta.local"
        print(f"[run] Primeiro administrador: {email} / senha: {generated}  (anote: não será mostrada de novo)",
              flush=True)
    if args.demo:
        from app.services.demo import load_demo_data

        print("[run] Modo demonstração: usuários de exemplo (senhas só para teste):", flush=True)
        for member in load_demo_data(app):
            print(f"[run]   {member['profile']:<10} {member['email']} / {member['password']}", flush=True)


def children(args, env) -> list[Child]:
    py = sys.executable
    ns = env.get("REDIS_NAMESPACE", "conecta")
    from app.workers import JOB_QUEUES, queue_name

    rq = str(Path(py).with_name("rq"))
    queues = [queue_name(q, ns) for q in JOB_QUEUES]
    result = [Child("web", [py, "-m", "app.web"], env)]
    # RQ logs four lines per job at INFO: with the periodic jobs alone, a dozen a minute, which
    # pushed the first Admin's password (printed once) out of the terminal within minutes, and
    # one per inbound message in production. Failures are still logged (WARNING and above).
    log_level = env.get("WORKER_LOG_LEVEL") or "WARNING"
    for i in range(max(1, args.workers)):
        result.append(Child(f"rq worker {i + 1}", [rq, "worker", "-w", "app.workers.worker.AppWorker",
                                                     "--url", env["REDIS_URL"], "--name", f"{ns}-worker-{os.getpid()}-{i + 1}-{{run}}",
                                                     "--logging_level", log_level, *queues], env))
    # Periodic jobs (inbox sweep, rating expiry): RQ has no cron of its own.
    result.append(Child("scheduler", [py, "-m", "app.workers.scheduler"], env))
    bridge = ROOT / "app" / "bridge" / "supervisor.py"
    if bridge.exists():
        # Not its group: the Playwright drivers are in it, and a driver that got SIGTERM closed its
        # Chromium under the session, which logged a failure (and wrote it as the connection's
        # status) on every stop; the supervisor stops its workers, each closing its browser.
        result.append(Child("bridge supervisor", [py, "-m", "app.bridge.supervisor"], env, stops_own_group=True))
    return result


WEB_FIRST_SECONDS = 10


def open_gate(gate: int) -> None:
    """Let the gated web process listen. One that died meanwhile is restarted by the supervision."""
    try:
        os.write(gate, b"1")
    except BrokenPipeError:
        pass


def listening(host: str, port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1" if host in ("0.0.0.0", "::", "") else host, port), timeout=0.2):
            return True
    except OSError:
        return False


class Interrupted(BaseException):
    """SIGINT or SIGTERM before the children started (a BaseException, as KeyboardInterrupt: the
    libraries' `except Exception` must not swallow it)."""


def interrupted(signum, frame):
    raise Interrupted(signum)


def main(argv=None) -> int:
    args = parse_args(argv)
    from app.preflight import StartupError, port_number

    # Until the children run, a signal interrupts the preparation (migrations, demo data) like
    # Ctrl-C does, and the embedded Redis already started is stopped with the rest.
    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)
    started, web = [], None
    stopping = False

    def stop(signum, frame):
        nonlocal stopping
        stopping = True

    try:
        env = prepare(args, started)
        procs = children(args, env)
        web = procs[0]
        gate = web.start_gated()
        try:
            prepare_database(args)
            # From here on a signal stops the children the supervision loop below started.
            signal.signal(signal.SIGINT, stop)
            signal.signal(signal.SIGTERM, stop)
            open_gate(gate)
        finally:
            os.close(gate)
    except BaseException as exc:
        if web is not None:  # not left serving, or importing, after a failed preparation
            web.signal(signal.SIGKILL)
            web.wait(5)
        for server in started:
            server.stop()
        if not isinstance(exc, (StartupError, Interrupted)):
            raise
        if isinstance(exc, Interrupted):
            print("[run] parado antes de iniciar.", flush=True)
            return 128 + exc.args[0]
        print(f"[run] Erro: {exc}", file=sys.stderr, flush=True)
        return 2
    embedded = started[0] if started else None
    host, port = env.get("HOST") or "127.0.0.1", port_number(env.get("PORT"))
    # The web process first (started above), the others once it listens (or after
    # WEB_FIRST_SECONDS): on a small machine five interpreters importing at once delay the first
    # page by seconds, and nothing is lost meanwhile (inbound events wait in the inbox; the bridge
    # starts with the workers).
    deadline = time.monotonic() + WEB_FIRST_SECONDS
    while not stopping and time.monotonic() < deadline and procs[0].process.poll() is None \
            and not listening(host, port):
        time.sleep(0.05)
    for child in procs[1:]:
        child.start()
    print(f"[run] Conecta em http://{host}:{port}/  (Ctrl-C para parar)", flush=True)
    try:
        while not stopping:
            for child in procs:
                child.check()
            time.sleep(0.5)
    finally:
        print("[run] parando...", flush=True)
        for child in procs:
            child.signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for child in procs:
            if not child.wait(max(0.1, deadline - time.monotonic())):
                child.signal(signal.SIGKILL)
                child.wait(5)
        if embedded:
            embedded.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
