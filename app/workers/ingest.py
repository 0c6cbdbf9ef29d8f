"""The entry point of the channel layer: `submit(payload)` stores an inbound event durably and
enqueues its processing (docs/ARCHITECTURE.md, "Channel contract")."""
from app.services import inbox
from app.workers import get_queue


def submit(payload: dict, app=None) -> int:
    """Write the event to the inbox (committed), then enqueue the ingest job; returns the event id.
    If the enqueue is lost, the periodic sweep enqueues it again."""
    from app.workers.jobs import ingest

    event_id = inbox.receive(payload)
    get_queue("ingest", app).enqueue(ingest, event_id)
    return event_id
