"""Business hours (Gerenciamento de Expediente): per-queue weekly intervals in the configured
time zone. An interval whose end is not after its start runs past midnight into the next day.
A queue without any interval has no hours configured and is always open."""
import datetime as dt
import json

from app.services.templates import local_time

OUT_OF_HOURS_REPEAT = dt.timedelta(minutes=30)


def _as_utc(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=dt.timezone.utc) if moment.tzinfo is None else moment


def is_open(queue, now: dt.datetime, tz_name: str) -> bool:
    """Whether `queue` is within its business hours at `now` (UTC; naive means UTC)."""
    if not queue.hours:
        return True
    local = local_time(now, tz_name)
    weekday, clock = local.weekday(), local.time().replace(tzinfo=None)
    yesterday = (weekday - 1) % 7
    for interval in queue.hours:
        start, end = interval.start, interval.end
        if start < end:
            if interval.weekday == weekday and start <= clock < end:
                return True
        else:  # past midnight: [start, 24:00) on its day and [00:00, end) on the next
            if interval.weekday == weekday and clock >= start:
                return True
            if interval.weekday == yesterday and clock < end:
                return True
    return False


def out_of_hours_key(queue, connection) -> str:
    """Which out-of-hours message a ticket gets: its queue's own, else its connection's, else the
    default text."""
    if queue is not None and queue.out_of_hours_message:
        return f"queue:{queue.id}"
    if connection is not None and connection.out_of_hours_message:
        return f"connection:{connection.id}"
    return "default"


def _sent_recently(contact, now: dt.datetime) -> dict:
    """The out-of-hours messages sent to the contact in the last 30 minutes: key -> when."""
    try:
        sent = json.loads(getattr(contact, "out_of_hours_sent", None) or "{}")
    except ValueError:
        sent = {}
    recent = {}
    for key, when in (sent.items() if isinstance(sent, dict) else ()):
        try:
            moment = dt.datetime.fromisoformat(when)
        except (TypeError, ValueError):
            continue
        if _as_utc(now) - _as_utc(moment) < OUT_OF_HOURS_REPEAT:
            recent[key] = when
    return recent


def may_send_out_of_hours(contact, now: dt.datetime, key: str | None = None) -> bool:
    """Each out-of-hours message (`key`: out_of_hours_key) goes at most once per 30 minutes to one
    contact; another one (the department the customer chose next has its own) goes at once.
    Without a key, or for a contact with no record per message yet, the last one sent counts."""
    if key is not None and getattr(contact, "out_of_hours_sent", None) is not None:
        return key not in _sent_recently(contact, now)
    last = contact.out_of_hours_sent_at
    return last is None or _as_utc(now) - _as_utc(last) >= OUT_OF_HOURS_REPEAT


def note_out_of_hours(contact, now: dt.datetime, key: str) -> None:
    """Record that the out-of-hours message `key` went to the contact now."""
    recent = _sent_recently(contact, now)
    recent[key] = _as_utc(now).astimezone(dt.timezone.utc).replace(tzinfo=None).isoformat()
    contact.out_of_hours_sent = json.dumps(recent, sort_keys=True)
    contact.out_of_hours_sent_at = now
