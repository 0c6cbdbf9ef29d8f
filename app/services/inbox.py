"""The durable inbox (docs/ARCHITECTURE.md, "Channel contract", inbound).

`receive(payload)` validates a channel event and writes it to `inbound_event` (unique per
connection and channel id: a duplicate is ignored) and commits: from then on it survives any
process or Redis loss. `process(event_id)` handles it in one transaction, idempotently, and marks
it processed; `due_events()` lists those a sweep must enqueue again.
"""
import datetime as dt
import json
import logging
import random
import time

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError

from app.models import Connection, InboundEvent, db, utcnow
from app.services import DomainError, calls, outbound, routing
from app.services.events import Changes

log = logging.getLogger(__name__)

KINDS = ("message", "call", "ack")
MESSAGE_TYPES = ("text", "image", "audio", "video", "document", "sticker", "location", "list_reply")
MAX_ATTEMPTS = 5
# How many times one event is run again after a unique-constraint conflict or a lock timeout
# (another worker processed the same contact or event at the same moment).
CONFLICT_RETRIES = 8
SWEEP_AFTER = dt.timedelta(seconds=60)


def _invalid(reason):
    return DomainError(_l("Invalid inbound event: %(reason)s", reason=reason), status=422)


def inbox_key(payload: dict) -> str:
    """The unique key of an event in the inbox. Acks carry the id of the message they refer to,
    so each ack level of a message is its own event; calls get a prefix of their own."""
    kind, channel_id = payload["kind"], str(payload["channel_id"])
    if kind == "ack":
        return f"ack:{payload['ack']}:{channel_id}"
    if kind == "call":
        return f"call:{channel_id}"
    return channel_id


def validate(payload) -> dict:
    if not isinstance(payload, dict):
        raise _invalid("payload")
    if payload.get("v") != 1:
        raise _invalid("v")
    if payload.get("kind") not in KINDS:
        raise _invalid("kind")
    if not isinstance(payload.get("connection_id"), int) or isinstance(payload.get("connection_id"), bool):
        raise _invalid("connection_id")
    channel_id = payload.get("channel_id")
    # Channel ids never hold NUL (which PostgreSQL text refuses): such an event is not from the channel.
    if not isinstance(channel_id, str) or not channel_id or len(channel_id) > 100 or "\x00" in channel_id:
        raise _invalid("channel_id")
    kind = payload["kind"]
    if kind in ("message", "call"):
        chat_id = payload.get("chat_id")
        if not isinstance(chat_id, str) or not chat_id or len(chat_id) > 128 or "\x00" in chat_id:
            raise _invalid("chat_id")
    if kind == "message":
        if payload.get("type", "text") not in MESSAGE_TYPES:
            raise _invalid("type")
        if payload.get("body") is not None and not isinstance(payload.get("body"), str):
            raise _invalid("body")
        media = payload.get("media")
        if media is not None and (not isinstance(media, dict) or ".." in str(media.get("path") or "")
                                  or str(media.get("path") or "").startswith("/")):
            raise _invalid("media")
    if kind == "ack" and payload.get("ack") not in outbound.ACKS:
        raise _invalid("ack")
    if db.session.get(Connection, payload["connection_id"]) is None:
        raise _invalid("connection_id")
    return payload


def receive(payload: dict) -> int:
    """Store the event durably (commits) and return its id; a duplicate returns the first one's id."""
    validate(payload)
    key = inbox_key(payload)
    event = InboundEvent(connection_id=payload["connection_id"], channel_id=key, kind=payload["kind"],
                         chat_id=payload["chat_id"] if payload["kind"] == "message" else None,
                         payload=json.dumps(payload, ensure_ascii=False))
    db.session.add(event)
    try:
        db.session.commit()
        return event.id
    except IntegrityError:
        db.session.rollback()
    existing = db.session.scalar(select(InboundEvent.id).where(InboundEvent.connection_id == payload["connection_id"],
                                                               InboundEvent.channel_id == key))
    if existing is None:  # pragma: no cover - the conflicting row must exist once committed
        raise _invalid("channel_id")
    return existing


class NotYet(Exception):
    """The event refers to something not stored yet (an ack before mark_sent): try again later."""


def _dispatch(event: InboundEvent, changes: Changes, now) -> str:
    payload = json.loads(event.payload)
    if event.kind == "message":
        return routing.route_inbound(payload, changes, now)
    if event.kind == "call":
        return calls.handle_call(payload, changes, now)
    message = outbound.apply_ack(payload["connection_id"], str(payload["channel_id"]), payload["ack"],
                                 payload.get("error"), changes)
    if message is None:
        raise NotYet("no message with this channel id yet")
    return "ack"


def process(event_id: int, now=None) -> tuple[str, Changes]:
    """Handle one inbox event exactly once. Commits. Returns what happened and the changes to
    publish. A chat's messages are stored in the order they arrived: the chat's earlier events still
    unprocessed (their job lost with Redis or a killed worker, or still waiting in the queue) are
    processed first, each in its own transaction."""
    changes = Changes()
    for earlier_id in _earlier_in_chat(event_id):
        changes.merge(_process_one(earlier_id, now)[1])
    result, own = _process_one(event_id, now)
    return result, changes.merge(own)


def _earlier_in_chat(event_id: int) -> list[int]:
    event = db.session.get(InboundEvent, event_id)
    ids = []
    if event is not None and event.processed_at is None and event.kind == "message" and event.chat_id:
        ids = list(db.session.scalars(select(InboundEvent.id).where(
            InboundEvent.connection_id == event.connection_id, InboundEvent.chat_id == event.chat_id,
            InboundEvent.kind == "message", InboundEvent.processed_at.is_(None),
            InboundEvent.attempts < MAX_ATTEMPTS, InboundEvent.id < event.id).order_by(InboundEvent.id)))
    db.session.rollback()
    return ids


def _process_one(event_id: int, now=None) -> tuple[str, Changes]:
    for attempt in range(CONFLICT_RETRIES):
        changes = Changes()
        try:
            # Locked: a second worker on the same event waits, then finds it done.
            event = db.session.get(InboundEvent, event_id, populate_existing=True, with_for_update=True)
            if event is None:
                db.session.rollback()
                return "missing", changes
            if event.processed_at is not None:
                db.session.rollback()
                return "done", changes
            result = _dispatch(event, changes, now or utcnow())
            event.processed_at = utcnow()
            event.attempts += 1
            event.error = None
            db.session.commit()
            return result, changes
        except (IntegrityError, OperationalError) as exc:
            # Another worker stored the same message, contact or ticket first (or held the lock):
            # start again and read what it committed.
            db.session.rollback()
            log.info("inbound event %s: conflict, retrying (%s)", event_id, exc.__class__.__name__)
            if attempt == CONFLICT_RETRIES - 1:
                _record_failure(event_id, exc)
                raise
            time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))
        except NotYet as exc:
            db.session.rollback()
            _record_failure(event_id, exc)
            return "later", Changes()
        except Exception as exc:
            db.session.rollback()
            _record_failure(event_id, exc)
            raise
    raise AssertionError("unreachable")


def _record_failure(event_id, exc):
    event = db.session.get(InboundEvent, event_id)
    if event is not None:
        event.attempts += 1
        event.error = f"{exc.__class__.__name__}: {exc}"[:1000]
        db.session.commit()


def due_events(older_than: dt.timedelta = SWEEP_AFTER, limit: int = 500, now=None) -> list[int]:
    """Unprocessed events received more than `older_than` ago (their job was lost with Redis or
    with a killed worker), except those that failed too often."""
    cutoff = (now or utcnow()) - older_than
    return list(db.session.scalars(select(InboundEvent.id).where(
        InboundEvent.processed_at.is_(None), InboundEvent.attempts < MAX_ATTEMPTS,
        InboundEvent.received_at <= cutoff).order_by(InboundEvent.id).limit(limit)))
