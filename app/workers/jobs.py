"""RQ jobs: thin shells around app.services (they run inside AppWorker's app context)."""
import datetime as dt
import logging
import threading
import uuid

from app.models import db
from app.services import inbox, ratings
from app.workers import get_queue, key, redis_conn
from app.workers.publish import publish

log = logging.getLogger(__name__)


def ingest(event_id: int) -> str:
    """Process one inbox event (idempotent: a second run, or a concurrent one, changes nothing)."""
    result, changes = inbox.process(event_id)
    publish(changes)
    return result


# A lane's drain lock is a lease: it lasts LANE_LOCK_MS and the drain holding it renews it every
# LANE_RENEW_SECONDS from a thread of its own (_Heartbeat), however long a batch takes (a database
# lock wait, say). A worker killed mid-drain renews nothing: its lane is free again within seconds.
LANE_LOCK_MS = 5000
LANE_RENEW_SECONDS = 1.0
# A lane's "wanted" mark must outlast the holder's longest batch (the holder reads it when it
# releases the lane); one left by a killed holder is cleared by the next drain that takes the lane.
WANTED_MARK_MS = 120000
# Lanes with fresh events older than this are kicked again by rescue_lanes (every 5 s,
# app.workers.scheduler): their drain was lost with a killed worker.
RESCUE_AFTER_SECONDS = 5.0
# Batches one job handles before it yields its worker (and re-enqueues the lane): under sustained
# load every lane gets its turn instead of two lanes holding both workers.
BATCHES_PER_JOB = 4
# Take the lane, or leave it to its holder: a drain that finds the lane locked marks it "wanted"
# and leaves; one that takes it clears the mark, since its first read sees every event committed
# before that moment (the caller's event included). Atomic, so no mark falls between the two.
_ACQUIRE = """redis.call('set', KEYS[2], '1', 'PX', ARGV[3])
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then redis.call('del', KEYS[2]) return 1 end
return 0"""
# Release the lane (if still ours) and say whether another drain wanted it meanwhile: its events
# may have been committed after our last read, so the holder goes round again.
_RELEASE = """if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('del', KEYS[1]) end
return redis.call('del', KEYS[2])"""
# Renew the lease, if still ours.
_RENEW = """if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end
return 0"""


def lane_keys(lane: int, app=None) -> tuple[str, str]:
    """The Redis keys of a lane's drain lock and of its "wanted" mark."""
    return key(f"ingest:lane:{lane}:lock", app), key(f"ingest:lane:{lane}:wanted", app)


class _Heartbeat:
    """Renews the lane's lease while the drain holding it runs (a thread: a batch may block for
    longer than the lease in the database). Stops at the end of the hold, or when the lease was
    lost (Redis lost it, or this process stalled past it)."""

    def __init__(self, conn, lock: str, token: str):
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(conn, lock, token), daemon=True,
                                        name="lane-heartbeat")

    def _run(self, conn, lock, token):
        while not self._stop.wait(LANE_RENEW_SECONDS):
            try:
                if not conn.eval(_RENEW, 1, lock, token, LANE_LOCK_MS):
                    log.warning("lane lock %s lost before the drain ended", lock)
                    return
            except Exception:  # Redis away for a moment: try again at the next beat
                log.warning("could not renew lane lock %s", lock, exc_info=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(LANE_LOCK_MS / 1000)


def drain_lane(lane: int) -> int:
    """Process the fresh inbox events of one lane in batches (app.services.inbox.process_batch),
    publishing after each commit. One drain per lane at a time (a Redis lock); a drain that finds
    the lane locked leaves its events to the holder, which goes round again when it releases the
    lane (the "wanted" mark, see _ACQUIRE): no database query to find out. Returns how many events
    it took."""
    from app.workers.ingest import kick, queued_mark

    conn = redis_conn()
    conn.delete(queued_mark(lane))
    keys = lane_keys(lane)
    token = uuid.uuid4().hex
    taken = batches = 0
    while True:
        if not conn.eval(_ACQUIRE, 2, *keys, token, LANE_LOCK_MS, WANTED_MARK_MS):
            return taken
        try:
            with _Heartbeat(conn, keys[0], token):
                while batches < BATCHES_PER_JOB:
                    count, changes = inbox.process_batch(lane)
                    publish(changes)
                    taken, batches = taken + count, batches + 1
                    if count < inbox.BATCH_SIZE:
                        break
        finally:
            wanted = conn.eval(_RELEASE, 2, *keys, token)
        more = wanted or count == inbox.BATCH_SIZE
        if more and batches >= BATCHES_PER_JOB:  # yield the worker: the lane goes back in line
            kick(lane)
            return taken
        if not more:
            return taken


def rescue_lanes(older_than_seconds: float = RESCUE_AFTER_SECONDS) -> int:
    """Kick again the lanes whose fresh events have waited more than `older_than_seconds`: their
    drain died with a killed worker (its job taken and never run: the queued mark expires within
    QUEUED_MARK_SECONDS; or killed mid-drain: the lease expires within LANE_LOCK_MS). Harmless for
    a lane that is fine: a kick enqueues nothing while its drain is queued, and marks a held lane
    wanted (its holder reads once more). Returns how many lanes it kicked."""
    from app.workers.ingest import kick

    lanes = inbox.waiting_lanes(dt.timedelta(seconds=older_than_seconds))
    db.session.rollback()
    for lane in lanes:
        kick(lane)
    return len(lanes)


def sweep_inbox(older_than_seconds: float = inbox.SWEEP_AFTER.total_seconds()) -> int:
    """Enqueue again the events whose job was lost (Redis lost its data, a worker was killed)."""
    ids = inbox.due_events(dt.timedelta(seconds=older_than_seconds))
    db.session.rollback()
    queue = get_queue("ingest")
    for event_id in ids:
        queue.enqueue(ingest, event_id)
    return len(ids)


def expire_ratings() -> int:
    """End rating waits past their expiry, and tell the screens that show those tickets. Returns
    how many."""
    changes = ratings.expire_ratings()
    db.session.commit()
    publish(changes)
    return len(changes.tickets)
