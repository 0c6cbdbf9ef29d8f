"""RQ jobs: thin shells around app.services (they run inside AppWorker's app context)."""
import datetime as dt
import logging
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


# A lane's drain lock expires (a killed worker's lane is free again after this); renewed per batch.
LANE_LOCK_MS = 30000
# Batches one job handles before it yields its worker (and re-enqueues the lane): under sustained
# load every lane gets its turn instead of two lanes holding both workers.
BATCHES_PER_JOB = 4
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


def drain_lane(lane: int) -> int:
    """Process the fresh inbox events of one lane in batches (app.services.inbox.process_batch),
    publishing after each commit. One drain per lane at a time (a Redis lock); a drain that finds
    the lane locked leaves: the holder checks the lane again after releasing it. Returns how many
    events it took."""
    from app.workers.ingest import kick, queued_mark

    conn = redis_conn()
    conn.delete(queued_mark(lane))
    lock, token = key(f"ingest:lane:{lane}:lock"), uuid.uuid4().hex
    taken = batches = 0
    while True:
        if not conn.set(lock, token, nx=True, px=LANE_LOCK_MS):
            return taken
        try:
            while batches < BATCHES_PER_JOB:
                count, changes = inbox.process_batch(lane)
                publish(changes)
                taken, batches = taken + count, batches + 1
                if count < inbox.BATCH_SIZE:
                    break
                conn.pexpire(lock, LANE_LOCK_MS)
        finally:
            conn.eval(_RELEASE, 1, lock, token)
        if not inbox.has_fresh(lane):
            return taken
        if batches >= BATCHES_PER_JOB:  # yield the worker: the lane goes back in line
            kick(lane)
            return taken


def sweep_inbox(older_than_seconds: float = inbox.SWEEP_AFTER.total_seconds()) -> int:
    """Enqueue again the events whose job was lost (Redis lost its data, a worker was killed)."""
    ids = inbox.due_events(dt.timedelta(seconds=older_than_seconds))
    db.session.rollback()
    queue = get_queue("ingest")
    for event_id in ids:
        queue.enqueue(ingest, event_id)
    return len(ids)


def expire_ratings() -> int:
    """End rating waits past their expiry."""
    count = ratings.expire_ratings()
    db.session.commit()
    return count
