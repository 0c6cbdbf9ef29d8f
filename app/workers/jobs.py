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
# Take the lane, or leave it to its holder: a drain that finds the lane locked marks it "wanted"
# and leaves; one that takes it clears the mark, since its first read sees every event committed
# before that moment (the caller's event included). Atomic, so no mark falls between the two.
_ACQUIRE = """redis.call('set', KEYS[2], '1', 'PX', ARGV[2])
if redis.call('set', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then redis.call('del', KEYS[2]) return 1 end
return 0"""
# Release the lane (if still ours) and say whether another drain wanted it meanwhile: its events
# may have been committed after our last read, so the holder goes round again.
_RELEASE = """if redis.call('get', KEYS[1]) == ARGV[1] then redis.call('del', KEYS[1]) end
return redis.call('del', KEYS[2])"""


def lane_keys(lane: int, app=None) -> tuple[str, str]:
    """The Redis keys of a lane's drain lock and of its "wanted" mark."""
    return key(f"ingest:lane:{lane}:lock", app), key(f"ingest:lane:{lane}:wanted", app)


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
        if not conn.eval(_ACQUIRE, 2, *keys, token, LANE_LOCK_MS):
            return taken
        try:
            while batches < BATCHES_PER_JOB:
                count, changes = inbox.process_batch(lane)
                publish(changes)
                taken, batches = taken + count, batches + 1
                if count < inbox.BATCH_SIZE:
                    break
                conn.pexpire(keys[0], LANE_LOCK_MS)
        finally:
            wanted = conn.eval(_RELEASE, 2, *keys, token)
        more = wanted or count == inbox.BATCH_SIZE
        if more and batches >= BATCHES_PER_JOB:  # yield the worker: the lane goes back in line
            kick(lane)
            return taken
        if not more:
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
    """End rating waits past their expiry, and tell the screens that show those tickets. Returns
    how many."""
    changes = ratings.expire_ratings()
    db.session.commit()
    publish(changes)
    return len(changes.tickets)
