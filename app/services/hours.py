"""Business hours (Gerenciamento de Expediente): per-queue weekly intervals in the configured
time zone. An interval whose end is not after its start runs past midnight into the next day.
A queue without any interval has no hours configured and is always open."""
import datetime as dt

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


def may_send_out_of_hours(contact, now: dt.datetime) -> bool:
    """The out-of-hours message goes at most once per 30 minutes to one contact."""
    last = contact.out_of_hours_sent_at
    return last is None or _as_utc(now) - _as_utc(last) >= OUT_OF_HOURS_REPEAT
