"""RQ jobs: thin shells around app.services (they run inside AppWorker's app context)."""
import datetime as dt
import logging

from app.models import db
from app.services import inbox, ratings
from app.workers import get_queue
from app.workers.publish import publish

log = logging.getLogger(__name__)


def ingest(event_id: int) -> str:
    """Process one inbox event (idempotent: a second run, or a concurrent one, changes nothing)."""
    result, changes = inbox.process(event_id)
    publish(changes)
    return result


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
