"""The bridge worker: forked by app.bridge.supervisor (its command line is the supervisor's, which
says `bridge`; job workers' say `rq worker`), or started on its own with
`python -m app.bridge.worker --url <redis> --name <name> <ns>-bridge`.

It runs the session job in its own process, without forking a work horse: one Python process per
connected number instead of two (a horse is a second copy of the whole application, ~70 MB). The
session's Playwright driver and Chromium are its children. Stopping the worker (SIGTERM) or the
job (RQ's stop-job command) asks the session to end (runner.STOP): it closes its browser and
releases the connection's lock within a pump. When the worker dies outright (kill -9), the
supervisor, its parent, frees what it held (app.bridge.jobs.recover_dead_session).
"""
import ctypes
import logging
import signal
import sys
import threading

from rq import SimpleWorker
from rq.worker import WorkerStatus

from app.bridge import lock as session_lock
from app.workers import REDIS_RETRY_SECONDS

log = logging.getLogger(__name__)


class BridgeWorker(SimpleWorker):
    max_connection_wait_time = REDIS_RETRY_SECONDS  # app.workers: back within 2 s of Redis

    def __init__(self, *args, app=None, **kwargs):
        super().__init__(*args, **kwargs)
        if app is None:
            from app import create_app

            app = create_app()
        self.flask_app = app

    def kill_horse(self, sig=None):
        """No horse: RQ calls this to stop the running job (stop-job command, worker shutdown)."""
        from app.bridge.runner import STOP

        STOP.set()

    def request_stop(self, signum, frame):
        # A session job never ends on its own: stopping the worker ends the session now (it
        # resumes from its saved profile wherever the job runs next), then the worker exits.
        super().request_stop(signum, frame)
        self.kill_horse()

    def execute_job(self, job, queue):
        from app.bridge.runner import STOP

        STOP.clear()
        if self._stop_requested:
            STOP.set()  # asked to stop just before this job: it ends at once (and runs again elsewhere)
        execution = self.prepare_execution(job)
        # The job runs for days in this process: keep the worker's, the job's and the
        # execution's heartbeats going, as a forking worker's monitoring loop does.
        done = threading.Event()
        beat = threading.Thread(target=self._heartbeats, args=(job, execution, done), daemon=True)
        beat.start()
        try:
            with self.flask_app.app_context():
                self.perform_job(job, queue, execution)
        finally:
            done.set()
            beat.join()
            self.set_state(WorkerStatus.IDLE)
            self.clean_up_after(job)

    def _heartbeats(self, job, execution, done: threading.Event) -> None:
        while not done.wait(self.job_monitoring_interval):
            try:
                self.maintain_heartbeats(job, execution)
            except Exception as exc:  # noqa: BLE001 - Redis restarting: the next beat retries
                log.warning("heartbeat failed: %s", exc)

    def clean_up_after(self, job) -> None:
        """Nothing of an ended session may be left: no Chromium on its profile once nobody holds
        the connection's lock (the session normally closed it already)."""
        from app.bridge.runner import lock_key, profile_dir
        from app.bridge.whatsapp_web import kill_chromium

        try:
            connection_id = int(job.args[0])
        except (IndexError, TypeError, ValueError):
            return
        with self.flask_app.app_context():
            if not session_lock.holder(self.connection, lock_key(connection_id)):
                killed = kill_chromium(profile_dir(connection_id))
                if killed:
                    log.info("connection %s: killed %s Chromium process(es) left by its session", connection_id, killed)


def die_with_parent(sig=signal.SIGTERM) -> None:
    """Linux: deliver `sig` to this process when its parent dies (no orphaned sessions)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(sig))  # PR_SET_PDEATHSIG
    except OSError:
        pass


def run_forked(app, redis_url: str, name: str, queues: list[str]) -> int:
    """The body of a bridge worker forked by the supervisor (app.bridge.supervisor.ForkedWorker),
    with the application the supervisor had already built: its pages stay shared between the
    supervisor and all its workers instead of each worker loading its own copy."""
    from redis import Redis
    from rq import Queue

    from app.models import db

    die_with_parent()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_DFL)  # the supervisor's handlers; RQ installs the worker's
    with app.app_context():
        db.engine.dispose(close=False)  # never use the supervisor's database connections
    redis = Redis.from_url(redis_url)
    worker = BridgeWorker([Queue(q, connection=redis) for q in queues], connection=redis, name=name, app=app)
    worker.work(logging_level="WARNING")
    return 0


def main(argv=None) -> int:
    import argparse

    from redis import Redis
    from rq import Queue

    parser = argparse.ArgumentParser(description="Conecta bridge worker: runs WhatsApp session jobs")
    parser.add_argument("--url", required=True, help="Redis URL")
    parser.add_argument("--name", required=True, help="worker name (unique)")
    parser.add_argument("queues", nargs="+")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="[bridge worker] %(levelname)s %(message)s")
    redis = Redis.from_url(args.url)
    worker = BridgeWorker([Queue(name, connection=redis) for name in args.queues], connection=redis, name=args.name)
    worker.work(logging_level="WARNING")
    return 0


if __name__ == "__main__":
    sys.exit(main())
