"""`python -m app.bridge.supervisor` (started by run.py): keeps one bridge session per enabled
connection.

It runs enough bridge workers (`python -m app.bridge.worker ... <ns>-bridge`: one
per enabled connection, plus a spare so a restarted session never waits for a worker), restarts
the ones that die (first freeing the session a dead one ran in its process: its lock, its
Chromium, its job), and enqueues the session job of every enabled connection that has none.
SIGTERM/SIGINT stop the workers, and with them their sessions and Chromium.
"""
import logging
import os
import signal
import subprocess
import sys
import time

log = logging.getLogger("app.bridge.supervisor")

CHECK_EVERY = float(os.environ.get("BRIDGE_SUPERVISOR_SECONDS", "3"))
SPARE_WORKERS = 1


def worker_argv(redis_url: str, namespace: str, number: int) -> list[str]:
    from app.workers import BRIDGE_QUEUE, queue_name

    return [sys.executable, "-m", "app.bridge.worker", "--url", redis_url,
            "--name", f"{namespace}-bridge-{os.getpid()}-{number}", queue_name(BRIDGE_QUEUE, namespace)]


def _child_setup():
    from app.bridge.worker import die_with_parent

    die_with_parent()


class Supervisor:
    def __init__(self, app):
        self.app = app
        self.workers: list[subprocess.Popen] = []
        self.started = 0
        self.stopping = False

    def enabled_connections(self) -> list[int]:
        from app.models import Connection, db

        with self.app.app_context():
            try:
                return [cid for (cid,) in db.session.query(Connection.id).filter(Connection.enabled.is_(True))]
            finally:
                db.session.remove()

    def ensure_workers(self, wanted: int) -> None:
        for proc in [p for p in self.workers if p.poll() is not None]:
            log.warning("bridge worker %s ended (%s); replacing it", proc.pid, proc.returncode)
            self.workers.remove(proc)
            self.recover(proc.pid)
        while len(self.workers) < wanted:
            self.started += 1
            argv = worker_argv(self.app.config["REDIS_URL"], self.app.config["REDIS_NAMESPACE"], self.started)
            # Same process group as this supervisor: run.py stops us all at once.
            self.workers.append(subprocess.Popen(argv, preexec_fn=_child_setup))

    def recover(self, pid: int) -> None:
        """A worker ended: if it died holding sessions, free them now (not after the lock's TTL)."""
        from app.bridge.jobs import recover_dead_session

        try:
            recover_dead_session(pid, self.app)
        except Exception:  # noqa: BLE001 - Redis or the database down: the lock's TTL frees it
            log.exception("could not recover the sessions of bridge worker %s", pid)

    def enqueue_missing(self, connection_ids: list[int]) -> None:
        from app.bridge.jobs import enqueue_session

        with self.app.app_context():
            for connection_id in connection_ids:
                try:
                    if enqueue_session(connection_id):
                        log.info("connection %s: session job enqueued", connection_id)
                except Exception:  # noqa: BLE001 - try again at the next round
                    log.exception("connection %s: could not enqueue its session", connection_id)

    def tick(self) -> None:
        enabled = self.enabled_connections()
        self.ensure_workers(len(enabled) + SPARE_WORKERS)
        self.enqueue_missing(enabled)

    def stop(self, *_args) -> None:
        self.stopping = True

    def shutdown(self) -> None:
        for proc in self.workers:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in self.workers:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
                self.recover(proc.pid)

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        try:
            while not self.stopping:
                try:
                    self.tick()
                except Exception:  # noqa: BLE001 - the database or Redis may be restarting
                    log.exception("bridge supervisor round failed")
                deadline = time.monotonic() + CHECK_EVERY
                while not self.stopping and time.monotonic() < deadline:
                    time.sleep(0.2)
        finally:
            self.shutdown()
        return 0


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="[bridge] %(levelname)s %(message)s")
    from app import create_app

    app = create_app()
    if not app.config["REDIS_URL"]:
        log.error("REDIS_URL is not set (run.py sets it)")
        return 2
    return Supervisor(app).run()


if __name__ == "__main__":
    sys.exit(main())
