"""The bridge worker: `python -m app.bridge.worker --url <redis> --name <name> <ns>-bridge`
(started by app.bridge.supervisor; its command line says `bridge`, job workers' say `rq worker`).

Unlike the job workers it forks a work horse per job (each session runs in its own process
group, so stopping a session job kills the whole session), and after a horse ends it makes sure
nothing of that session is left: its Chromium is killed and, when the horse died holding the
connection's lock, the lock is released so the session can restart at once.
"""
import ctypes
import logging
import os
import signal
import sys

from rq import Worker

from app.bridge import lock as session_lock

log = logging.getLogger(__name__)


class BridgeWorker(Worker):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from app import create_app

        self.flask_app = create_app()

    def setup_work_horse_signals(self):
        super().setup_work_horse_signals()
        # SIGTERM ends the session cleanly (browser closed, lock released), and the horse dies
        # with its worker even when the worker is killed outright.
        signal.signal(signal.SIGTERM, _exit_on_signal)
        die_with_parent()

    def request_stop(self, signum, frame):
        # A session job never ends on its own: stopping the worker stops the session now (it
        # resumes from its saved profile wherever the job runs next).
        super().request_stop(signum, frame)
        if self.horse_pid:
            try:
                os.kill(self.horse_pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def main_work_horse(self, job, queue):
        from app.models import db

        with self.flask_app.app_context():
            # The forked horse must not share the parent's database connections.
            db.engine.dispose(close=False)
            super().main_work_horse(job, queue)

    def execute_job(self, job, queue):
        try:
            return super().execute_job(job, queue)
        finally:
            self.clean_up_after(job)

    def clean_up_after(self, job) -> None:
        from app.bridge.runner import lock_key, profile_dir
        from app.bridge.whatsapp_web import kill_chromium

        try:
            connection_id = int(job.args[0])
        except (IndexError, TypeError, ValueError):
            return
        horse = self._horse_pid
        with self.flask_app.app_context():
            released = session_lock.release_if_held_by(self.connection, lock_key(connection_id), horse) if horse else False
            if released or not session_lock.holder(self.connection, lock_key(connection_id)):
                killed = kill_chromium(profile_dir(connection_id))
                if killed:
                    log.info("connection %s: killed %s Chromium process(es) left by its session", connection_id, killed)


def _exit_on_signal(signum, frame):
    sys.exit(128 + signum)


def die_with_parent(sig=signal.SIGTERM) -> None:
    """Linux: deliver `sig` to this process when its parent dies (no orphaned sessions)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, int(sig))  # PR_SET_PDEATHSIG
    except OSError:
        pass


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
