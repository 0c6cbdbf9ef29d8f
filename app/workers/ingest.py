"""The entry point of the channel layer: `submit(payload)` stores an inbound event durably and
has its lane drained (docs/ARCHITECTURE.md, "Channel contract")."""
from app.services import inbox
from app.workers import get_queue, key, redis_conn

# While a drain job of a lane is queued and not started, this mark exists: a burst of events
# enqueues one job per lane, not one per event. Short, because nothing can tell a job still waiting
# in the queue from one taken by a worker that was killed before running it: the mark of a lost job
# stops the lane's drains only this long (app.workers.jobs.rescue_lanes kicks the lane again). A
# job that waits longer in a backlog costs one more drain job of its lane, which finds the lane
# drained or held and leaves.
QUEUED_MARK_SECONDS = 5


def queued_mark(lane: int, app=None) -> str:
    return key(f"ingest:lane:{lane}:queued", app)


# While a drain holds the lane, the event is left to it (the lane is marked wanted: the holder goes
# round again when it releases the lane, app.workers.jobs); else a drain is enqueued unless one is
# queued already. One atomic step, so the holder cannot release the lane in between.
_KICK = """if redis.call('exists', KEYS[1]) == 1 then redis.call('set', KEYS[2], '1', 'PX', ARGV[2]) return 0 end
if redis.call('set', KEYS[3], '1', 'NX', 'EX', ARGV[1]) then return 1 end
return 0"""


def kick(lane: int, app=None) -> bool:
    """Have `lane` drained: left to the drain holding it, or a drain enqueued unless one is queued
    already; True when this call enqueued one. Called only after the event's commit; a queued
    job removes the queued mark before it reads and the holder reads again after a "wanted"
    release, so every committed event is read by a drain that started reading after it (or by
    the sweep if Redis lost it)."""
    from app.workers.jobs import WANTED_MARK_MS, drain_lane, lane_keys

    lock, wanted = lane_keys(lane, app)
    if not redis_conn(app).eval(_KICK, 3, lock, wanted, queued_mark(lane, app), QUEUED_MARK_SECONDS, WANTED_MARK_MS):
        return False
    get_queue("ingest", app).enqueue(drain_lane, lane)
    return True


def submit_many(payloads: list, app=None) -> list:
    """Write a burst of events to the inbox in one transaction, then have each lane involved
    drained; returns per payload its event id or the DomainError that refused it."""
    payloads = [inbox.repaired(p) for p in payloads]  # as stored: their lanes are those of the stored events
    results = inbox.receive_many(payloads)
    for lane in sorted({inbox.lane_of(p) for p, r in zip(payloads, results) if isinstance(r, int)}):
        kick(lane, app)
    return results


def submit(payload: dict, app=None) -> int:
    """Write the event to the inbox (committed), then have its lane drained; returns the event id.
    If the enqueue is lost, the periodic sweep processes the event."""
    payload = inbox.repaired(payload)
    event_id = inbox.receive(payload)
    kick(inbox.lane_of(payload), app)
    return event_id
