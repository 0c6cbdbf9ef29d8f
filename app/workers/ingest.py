"""The entry point of the channel layer: `submit(payload)` stores an inbound event durably and
has its lane drained (docs/ARCHITECTURE.md, "Channel contract")."""
from app.services import inbox
from app.workers import get_queue, key, redis_conn

# While a drain job of a lane is queued and not started, this mark exists: a burst of events
# enqueues one job per lane, not one per event. It expires so a lost job cannot block the lane.
QUEUED_MARK_SECONDS = 60


def queued_mark(lane: int, app=None) -> str:
    return key(f"ingest:lane:{lane}:queued", app)


def kick(lane: int, app=None) -> bool:
    """Enqueue a drain of `lane` unless one is queued already; True when this call enqueued it.
    The mark is set only after the event's commit, and removed by the job before it reads, so
    every committed event is read by a job started after it (or by the sweep if Redis lost it)."""
    from app.workers.jobs import drain_lane

    if not redis_conn(app).set(queued_mark(lane, app), "1", nx=True, ex=QUEUED_MARK_SECONDS):
        return False
    get_queue("ingest", app).enqueue(drain_lane, lane)
    return True


def submit_many(payloads: list, app=None) -> list:
    """Write a burst of events to the inbox in one transaction, then have each lane involved
    drained; returns per payload its event id or the DomainError that refused it."""
    results = inbox.receive_many(payloads)
    for lane in sorted({inbox.lane_of(p) for p, r in zip(payloads, results) if isinstance(r, int)}):
        kick(lane, app)
    return results


def submit(payload: dict, app=None) -> int:
    """Write the event to the inbox (committed), then have its lane drained; returns the event id.
    If the enqueue is lost, the periodic sweep processes the event."""
    event_id = inbox.receive(payload)
    kick(inbox.lane_of(payload), app)
    return event_id
