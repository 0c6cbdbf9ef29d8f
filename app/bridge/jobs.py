"""RQ side of the bridge: the long-running session job and the functions that start or stop it.

`enqueue_session(connection_id)` is what `connections.request_start(id)` (POST
/api/v1/connection/<id>/start) calls; `request_logout(connection_id)` what the logout endpoint
calls. Session jobs run on the dedicated `bridge` queue, worked by app.bridge.worker.BridgeWorker.
"""
import datetime as dt
import json
import logging

from flask import current_app
from rq.job import Job, JobStatus

from app.bridge import lock as session_lock
from app.bridge.runner import SessionRunner, commands_key, lock_key, profile_dir, restart_key, write_status
from app.bridge.whatsapp_web import clear_profile_locks, kill_chromium, wipe_profile
from app.models.connection import ConnectionStatus
from app.workers import BRIDGE_QUEUE, get_queue, redis_conn

log = logging.getLogger(__name__)

STARTING_SECONDS = 60


def run_session(connection_id: int) -> str:
    """The job: runs until logout, timeout, the connection is disabled, or the process dies."""
    return SessionRunner(connection_id).run()


def session_job_id(connection_id: int, app=None) -> str:
    app = app or current_app
    return f"{app.config['REDIS_NAMESPACE']}-bridge-session-{int(connection_id)}"


def session_alive(connection_id: int, app=None) -> bool:
    """A session holds the lock, or its job is waiting for a bridge worker."""
    app = app or current_app
    redis = redis_conn(app)
    if session_lock.holder(redis, lock_key(connection_id, app)):
        return True
    try:
        job = Job.fetch(session_job_id(connection_id, app), connection=redis)
    except Exception:  # noqa: BLE001 - no such job
        return False
    status = job.get_status(refresh=True)
    if status == JobStatus.QUEUED:
        return True
    # STARTED without the lock: it is just starting (the lock is its first step), or it died
    # with its worker and RQ has not noticed yet.
    if status == JobStatus.STARTED and job.started_at is not None:
        started = job.started_at.replace(tzinfo=None) if job.started_at.tzinfo else job.started_at
        return (dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) - started).total_seconds() < STARTING_SECONDS
    return False


def enqueue_session(connection_id: int, app=None) -> bool:
    """Start the connection's session unless one is running or waiting. Returns True when a job
    was enqueued. The caller marks the connection enabled (connections.request_start)."""
    app = app or current_app
    if session_alive(connection_id, app):
        return False
    get_queue(BRIDGE_QUEUE, app).enqueue(
        run_session, int(connection_id), job_id=session_job_id(connection_id, app), job_timeout=-1,
        result_ttl=60, failure_ttl=3600, description=f"bridge session of connection {int(connection_id)}",
    )
    return True


def recover_dead_session(pid: int, app=None) -> list[int]:
    """The bridge worker `pid` of this host died outright (kill -9, out of memory) while running
    sessions in its own process. For each connection whose lock it held: kill the Chromium left on
    the profile, free the lock and drop the job (RQ would keep it STARTED, blocking a restart), so
    that the session can be enqueued again at once. Returns those connections' ids."""
    from app.models import Connection, db, end_session

    app = app or current_app
    redis = redis_conn(app)
    with app.app_context():
        try:
            ids = [cid for (cid,) in db.session.query(Connection.id)]
        finally:
            end_session()
    recovered = []
    prefix = session_lock.holder_prefix(pid)
    for connection_id in ids:
        key = lock_key(connection_id, app)
        if not (session_lock.holder(redis, key) or "").startswith(prefix):
            continue
        killed = kill_chromium(profile_dir(connection_id, app))
        session_lock.release_if_held_by(redis, key, pid)
        try:
            Job.fetch(session_job_id(connection_id, app), connection=redis).delete()
        except Exception:  # noqa: BLE001 - no such job (Redis restarted)
            pass
        log.warning("connection %s: its bridge worker %s died; killed %s Chromium process(es), lock freed",
                    connection_id, pid, killed)
        recovered.append(connection_id)
    return recovered


def request_restart(connection_id: int, app=None) -> None:
    """Have the running (or waiting) session reopen its browser; a session that starts meanwhile
    drops the request, being the restart itself."""
    redis_conn(app or current_app).set(restart_key(connection_id, app or current_app), "1", ex=300)


def request_logout(connection_id: int, app=None) -> None:
    """Unlink the number and wipe its profile: through the live session when there is one,
    directly otherwise. The caller clears `enabled` (so nothing restarts it)."""
    app = app or current_app
    redis = redis_conn(app)
    key = lock_key(connection_id, app)
    if session_lock.holder(redis, key):
        redis.rpush(commands_key(connection_id, app), json.dumps({"op": "logout"}))
        return
    # No session: take the lock ourselves so that none starts while we wipe.
    held = session_lock.SessionLock(redis, key)
    if not held.acquire():
        redis.rpush(commands_key(connection_id, app), json.dumps({"op": "logout"}))
        return
    try:
        profile = profile_dir(connection_id, app)
        kill_chromium(profile)
        clear_profile_locks(profile)
        wipe_profile(profile)
        write_status(connection_id, ConnectionStatus.DISCONNECTED, enabled=False)
    finally:
        held.release()
