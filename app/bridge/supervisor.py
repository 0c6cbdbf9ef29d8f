"""`python -m app.bridge.supervisor` (started by run.py): keeps one bridge session per enabled
connection.

It runs enough bridge workers (app.bridge.worker, forked from this process: one
per enabled connection, plus a spare so a restarted session never waits for a worker), restarts
the ones that die (first freeing the session a dead one ran in its process: its lock, its
Chromium, its job), and enqueues the session job of every enabled connection that has none.
SIGTERM/SIGINT stop the workers, and with them their sessions and Chromium.
"""
import gc
import logging
import os
import signal
import subprocess
import sys
import time

log = logging.getLogger("app.bridge.supervisor")

CHECK_EVERY = float(os.environ.get("BRIDGE_SUPERVISOR_SECONDS", "3"))
SPARE_WORKERS = 1


class ForkedWorker:
    """A bridge worker forked from this supervisor (app.bridge.worker.run_forked), with the
    subprocess.Popen methods the supervisor uses. Forked, not started anew: the application, its
    libraries and Playwright's Python side are loaded once, here, and their memory pages stay
    shared (bench/bridge_memory.py: about 60 MB less per connected number than a fresh process)."""

    def __init__(self, app, name: str):
        from app.bridge.worker import run_forked
        from app.workers import BRIDGE_QUEUE, queue_name

        queues = [queue_name(BRIDGE_QUEUE, app.config["REDIS_NAMESPACE"])]
        gc.collect()
        gc.freeze()  # what is loaded now is never touched by the collector in the child: stays shared
        self.returncode = None
        self.pid = os.fork()
        if self.pid == 0:  # the worker
            code = 1
            try:
                # The supervisor's objects stay frozen here too: unfrozen, the child's first full
                # collection (about a minute in) writes to every one of them and copies their pages
                # (bench/bridge_memory.py: the worker grew from 58 to 86 MB PSS at that moment).
                code = run_forked(app, app.config["REDIS_URL"], name, queues)
            except BaseException:  # noqa: BLE001 - whatever happens, never return into the supervisor
                log.exception("bridge worker %s failed", name)
            finally:
                logging.shutdown()
                os._exit(code)

    def poll(self):
        if self.returncode is None:
            try:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:
                pid, status = self.pid, 0
            if pid:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode

    def send_signal(self, sig) -> None:
        if self.poll() is None:
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def wait(self, timeout: float):
        deadline = time.monotonic() + timeout
        while self.poll() is None:
            if time.monotonic() > deadline:
                raise subprocess.TimeoutExpired(f"bridge worker {self.pid}", timeout)
            time.sleep(0.05)
        return self.returncode


def preload() -> None:
    """Import what the workers will run before forking them, so that it is shared."""
    import playwright.sync_api  # noqa: F401
    import rq  # noqa: F401

    import app.bridge.jobs  # noqa: F401
    import app.bridge.runner  # noqa: F401
    import app.bridge.worker  # noqa: F401
    import app.services.outbound  # noqa: F401
    import app.workers.ingest  # noqa: F401
    import app.workers.publish  # noqa: F401


class Supervisor:
    def __init__(self, app):
        self.app = app
        self.workers: list[ForkedWorker] = []
        self.started = 0
        self.stopping = False

    def enabled_connections(self) -> list[int]:
        from app.models import Connection, db, end_session

        with self.app.app_context():
            try:
                return [cid for (cid,) in db.session.query(Connection.id).filter(Connection.enabled.is_(True))]
            finally:
                end_session()

    def ensure_workers(self, wanted: int) -> None:
        for proc in [p for p in self.workers if p.poll() is not None]:
            log.warning("bridge worker %s ended (%s); replacing it", proc.pid, proc.returncode)
            self.workers.remove(proc)
            self.recover(proc.pid)
        while len(self.workers) < wanted:
            self.started += 1
            name = f"{self.app.config['REDIS_NAMESPACE']}-bridge-{os.getpid()}-{self.started}"
            # Same process group as this supervisor: run.py stops us all at once.
            self.workers.append(ForkedWorker(self.app, name))

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
    preload()
    return Supervisor(app).run()


if __name__ == "__main__":
    sys.exit(main())
