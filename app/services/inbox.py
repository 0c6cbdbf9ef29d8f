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
import zlib

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError, OperationalError

from app.models import Connection, InboundEvent, db, utcnow
from app.services import DomainError, calls, inputs, outbound, routing
from app.services.events import Changes

log = logging.getLogger(__name__)

KINDS = ("message", "call", "ack")
MESSAGE_TYPES = ("text", "image", "audio", "video", "document", "sticker", "location", "list_reply")
MAX_ATTEMPTS = 5
# How many times one event is run again after a unique-constraint conflict or a lock timeout
# (another worker processed the same contact or event at the same moment).
CONFLICT_RETRIES = 8
SWEEP_AFTER = dt.timedelta(seconds=60)
# Inbound events are drained in lanes: all events of one chat share a lane, a lane is drained by one
# worker at a time in id order (per-chat order), different lanes in parallel. Changing LANES only
# moves new events; older ones keep their lane (drained while it is < LANES, else by the sweep).
LANES = 8
# Events handled in one transaction by process_batch (one commit, one round of lookups).
BATCH_SIZE = 50


def _invalid(reason):
    return DomainError(_l("Invalid inbound event: %(reason)s", reason=reason), status=422)


def repaired(payload):
    """The event with every lone UTF-16 surrogate in its texts replaced by U+FFFD (a copy).
    WhatsApp Web hands JavaScript strings over as they are, and a cut emoji ("oi \\ud83d") is
    valid there but cannot be written as UTF-8: stored as it was, it failed the burst it came in,
    again after every restart of the session, and no later message of the number got through.
    The message is kept, its broken character shown as �."""
    if isinstance(payload, str):
        return inputs.LONE_SURROGATE.sub("\ufffd", payload)
    if isinstance(payload, dict):
        return {repaired(k): repaired(v) for k, v in payload.items()}
    if isinstance(payload, list):
        return [repaired(v) for v in payload]
    return payload


def inbox_key(payload: dict) -> str:
    """The unique key of an event in the inbox. Acks carry the id of the message they refer to,
    so each ack level of a message is its own event; calls get a prefix of their own."""
    kind, channel_id = payload["kind"], str(payload["channel_id"])
    if kind == "ack":
        return f"ack:{payload['ack']}:{channel_id}"
    if kind == "call":
        return f"call:{channel_id}"
    return channel_id


def lane_of(payload: dict) -> int:
    """The lane of an event: by chat for messages and calls, by the acked message's id for acks."""
    chat = payload.get("chat_id") if payload["kind"] != "ack" else payload["channel_id"]
    return zlib.crc32(f"{payload['connection_id']}:{chat}".encode()) % LANES


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


def _event_row(payload: dict) -> InboundEvent:
    return InboundEvent(connection_id=payload["connection_id"], channel_id=inbox_key(payload), kind=payload["kind"],
                        chat_id=payload["chat_id"] if payload["kind"] == "message" else None,
                        payload=json.dumps(payload, ensure_ascii=False), lane=lane_of(payload))


def receive_many(payloads: list) -> list:
    """Store a burst of events durably in ONE transaction (one commit: the bridge hands over what
    one pump of the page delivered). Returns, per payload, its event id (the first one's for a
    duplicate) or the DomainError that refused it; the others are stored all the same."""
    payloads = [repaired(p) for p in payloads]
    results: list = [None] * len(payloads)
    fresh: dict[tuple[int, str], tuple[int, InboundEvent]] = {}
    copies: dict[int, int] = {}  # index of a repeat in the burst -> index of its first copy
    for i, payload in enumerate(payloads):
        try:
            validate(payload)
        except DomainError as exc:
            results[i] = exc
            continue
        row = _event_row(payload)
        if (row.connection_id, row.channel_id) in fresh:  # the same event twice in the burst
            copies[i] = fresh[(row.connection_id, row.channel_id)][0]
            continue
        fresh[(row.connection_id, row.channel_id)] = (i, row)
    by_connection: dict[int, list[str]] = {}
    for connection_id, channel_id in fresh:
        by_connection.setdefault(connection_id, []).append(channel_id)
    known = {(connection_id, k): event_id for connection_id, keys in by_connection.items()
             for k, event_id in stored_ids(connection_id, keys).items()}
    new = [(i, row) for pair, (i, row) in fresh.items() if pair not in known]
    db.session.add_all([row for _, row in new])
    try:
        db.session.flush()
        ids = {i: row.id for i, row in new}
        db.session.commit()
    except IntegrityError:  # stored by someone else meanwhile: one by one, which settles it
        db.session.rollback()
        ids = {i: receive(payloads[i]) for i, _ in new}
    for pair, (i, _row) in fresh.items():
        results[i] = ids.get(i, known.get(pair))
    for i, first in copies.items():
        results[i] = results[first]
    return results


def stored_ids(connection_id: int, channel_ids: list[str]) -> dict[str, int]:
    """Of these channel ids, those the inbox already has for the connection, with their event ids
    (500 to a query: a catch-up may ask about thousands)."""
    stored: dict[str, int] = {}
    unique = list(dict.fromkeys(channel_ids))
    for start in range(0, len(unique), 500):
        chunk = unique[start:start + 500]
        stored.update(db.session.execute(select(InboundEvent.channel_id, InboundEvent.id).where(
            InboundEvent.connection_id == connection_id, InboundEvent.channel_id.in_(chunk))).tuples().all())
    return stored


def known_channel_ids(connection_id: int, channel_ids: list[str]) -> set[str]:
    """Which of these message ids the inbox already has for the connection."""
    return set(stored_ids(connection_id, channel_ids))


def receive(payload: dict) -> int:
    """Store the event durably (commits) and return its id; a duplicate returns the first one's id."""
    payload = repaired(payload)
    validate(payload)
    key = inbox_key(payload)
    event = _event_row(payload)
    db.session.add(event)
    try:
        db.session.flush()
        event_id = event.id  # read before the commit expires it (a query less per event)
        db.session.commit()
        return event_id
    except IntegrityError:
        db.session.rollback()
    existing = db.session.scalar(select(InboundEvent.id).where(InboundEvent.connection_id == payload["connection_id"],
                                                               InboundEvent.channel_id == key))
    if existing is None:  # pragma: no cover - the conflicting row must exist once committed
        raise _invalid("channel_id")
    return existing


class NotYet(Exception):
    """The event refers to something not stored yet (an ack before mark_sent): try again later."""


def _dispatch(event: InboundEvent, changes: Changes, now, payload=None, lookups=None) -> str:
    payload = payload if payload is not None else json.loads(event.payload)
    if event.kind == "message":
        return routing.route_inbound(payload, changes, now, lookups)
    if event.kind == "call":
        return calls.handle_call(payload, changes, now, lookups)
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


def process_batch(lane: int, limit: int = BATCH_SIZE, now=None) -> tuple[int, Changes]:
    """Handle up to `limit` fresh events of one lane, oldest first, in ONE transaction (one commit
    for all; settings, connection and queues looked up once). Commits. Returns how many events
    were taken and the changes to publish (events built before the commit, see Changes.freeze).

    First all events run straight in the transaction. If anything goes wrong, the batch is rolled
    back and run again with a savepoint per event: a unique-constraint conflict or lock error
    (another worker stored the same contact or ticket) rolls back that event only, which runs
    again and reads what the other committed; any other error, or an ack whose message is not
    stored yet, is recorded on the event (attempts + 1) and left to the periodic sweep, which
    handles it on its own (`process`). Only events never attempted are taken here, so a failing
    one never blocks its lane. The caller makes sure one process at a time drains a lane
    (app.workers.jobs.drain_lane): that, and the id order, keep each chat's messages in order."""
    try:
        return _run_batch(lane, limit, now, isolated=False)
    except Exception as exc:
        db.session.rollback()
        log.info("lane %s: batch rolled back (%s), running it event by event", lane, exc.__class__.__name__)
        return _run_batch(lane, limit, now, isolated=True)


def _run_batch(lane, limit, now, *, isolated: bool):
    from app.services.settings import get_settings

    changes = Changes(flush_late=not isolated)
    events = list(db.session.scalars(
        select(InboundEvent).where(InboundEvent.lane == lane, InboundEvent.processed_at.is_(None),
                                   InboundEvent.attempts == 0)
        .order_by(InboundEvent.id).limit(limit).with_for_update()))
    if not events:  # a drain going round again after another one wanted the lane
        db.session.rollback()
        return 0, changes
    # The session's identity map holds objects weakly: keeping the settings row referenced for
    # the batch saves reading it again for every event.
    settings = get_settings()  # noqa: F841
    if not isolated:
        # Straight run: the batch's contacts, active tickets (locked) and already stored messages
        # read in a few queries, and its new messages inserted by one flush.
        payloads = [json.loads(event.payload) for event in events]
        lookups = routing.prefetch(payloads)
        for event, payload in zip(events, payloads):
            _dispatch(event, changes, now or utcnow(), payload, lookups)
            _mark_done(event)
    for event in events if isolated else ():
        for attempt in range(CONFLICT_RETRIES):
            own = Changes()
            savepoint = db.session.begin_nested()
            try:
                _dispatch(event, own, now or utcnow())
                savepoint.commit()
            except (IntegrityError, OperationalError) as exc:
                savepoint.rollback()
                log.info("inbound event %s: conflict, retrying (%s)", event.id, exc.__class__.__name__)
                if attempt == CONFLICT_RETRIES - 1:
                    _mark_failed(event, exc)
                    break
                time.sleep(random.uniform(0.01, 0.05) * (attempt + 1))
                continue
            except Exception as exc:  # NotYet and bugs alike: recorded, retried by the sweep
                savepoint.rollback()
                if not isinstance(exc, NotYet):
                    log.exception("inbound event %s failed", event.id)
                _mark_failed(event, exc)
                break
            _mark_done(event)
            changes.merge(own)
            break
    changes.freeze()
    db.session.commit()
    return len(events), changes


def _mark_done(event):
    event.processed_at = utcnow()
    event.attempts += 1
    event.error = None


def has_fresh(lane: int) -> bool:
    """Whether the lane has events process_batch would take."""
    found = db.session.scalar(select(InboundEvent.id).where(
        InboundEvent.lane == lane, InboundEvent.processed_at.is_(None), InboundEvent.attempts == 0).limit(1))
    db.session.rollback()
    return found is not None


def _mark_failed(event, exc):
    event.attempts += 1
    event.error = f"{exc.__class__.__name__}: {exc}"[:1000]


def _record_failure(event_id, exc):
    event = db.session.get(InboundEvent, event_id)
    if event is not None:
        event.attempts += 1
        event.error = f"{exc.__class__.__name__}: {exc}"[:1000]
        db.session.commit()


def waiting_lanes(older_than: dt.timedelta, now=None) -> list[int]:
    """The lanes with fresh events (those a drain would take) received more than `older_than` ago."""
    cutoff = (now or utcnow()) - older_than
    return list(db.session.scalars(select(InboundEvent.lane).where(
        InboundEvent.processed_at.is_(None), InboundEvent.attempts == 0,
        InboundEvent.received_at <= cutoff).distinct().order_by(InboundEvent.lane)))


def due_events(older_than: dt.timedelta = SWEEP_AFTER, limit: int = 500, now=None) -> list[int]:
    """Unprocessed events received more than `older_than` ago (their job was lost with Redis or
    with a killed worker), except those that failed too often."""
    cutoff = (now or utcnow()) - older_than
    return list(db.session.scalars(select(InboundEvent.id).where(
        InboundEvent.processed_at.is_(None), InboundEvent.attempts < MAX_ATTEMPTS,
        InboundEvent.received_at <= cutoff).order_by(InboundEvent.id).limit(limit)))
