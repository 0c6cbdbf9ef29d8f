"""Filas & Chatbot: queues, their colour, bot order and business hours.

Business hours are given as a list of intervals `{"weekday": 0..6 (0 = Monday), "start": "HH:MM",
"end": "HH:MM"}`; a weekday may have several; an interval whose end is not after its start runs
past midnight (22:00–02:00), and 00:00–00:00 is the whole day; an end of 24:00 is midnight
(18:00–24:00 = 18:00–00:00). Intervals may not overlap, across
midnight included. A weekday without intervals is closed.
"""
import datetime as dt
import re

from flask_babel import gettext as _, lazy_gettext
from sqlalchemy import func
from sqlalchemy.orm import selectinload

from app.models import BusinessHours, Queue, db
from app.models.queue import queue_order
from app.services import chatbot, inputs, templates

FIELDS = ("name", "bot_order", "color", "greeting_message", "out_of_hours_message", "hours")
LABELS = {
    "name": lazy_gettext("Name"),
    "bot_order": lazy_gettext("Bot order"),
    "color": lazy_gettext("Color"),
    "greeting_message": lazy_gettext("Greeting message"),
    "out_of_hours_message": lazy_gettext("Out-of-hours message"),
    "hours": lazy_gettext("Business hours"),
}
WEEKDAYS = (lazy_gettext("Monday"), lazy_gettext("Tuesday"), lazy_gettext("Wednesday"),
            lazy_gettext("Thursday"), lazy_gettext("Friday"), lazy_gettext("Saturday"),
            lazy_gettext("Sunday"))
MAX_INTERVALS_PER_DAY = 6
_COLOR = re.compile(r"#[0-9A-Fa-f]{6}")
_TIME = re.compile(r"([01]?\d|2[0-3]):([0-5]\d)")
_DAY = 24 * 60
_WEEK = 7 * _DAY


def ordered():
    """Queues as lists and the bot menu show them: by bot order, then name."""
    return db.session.query(Queue).order_by(*queue_order())


# Colours offered to a new queue, in turn: distinct at a glance on the ticket list (Material 600/800).
PALETTE = ("#1E88E5", "#43A047", "#E53935", "#FB8C00", "#8E24AA", "#00897B", "#FDD835", "#6D4C41",
           "#3949AB", "#D81B60", "#546E7A", "#7CB342", "#00ACC1", "#F4511E", "#5E35B1", "#C0CA33")


def suggested_color() -> str:
    """A colour no queue uses yet, for the add form (colours are unique: offering the same one
    every time made the second queue saved as offered fail "A cor ... já é usada")."""
    used = {c.upper() for (c,) in db.session.query(Queue.color)}
    for color in PALETTE:
        if color not in used:
            return color
    n = len(used)
    while True:  # every colour of the palette taken: walk the RGB cube until one is free
        n += 1
        color = "#%06X" % (n * 0x9E3779 % 0x1000000)
        if color not in used:
            return color


def get(queue_id) -> Queue:
    return inputs.fetch_one(Queue, queue_id, lazy_gettext("Queue not found."))


def parse_time(value, weekday, *, end: bool = False) -> dt.time:
    """HH:MM; an interval's `end` may also be 24:00, as people write "until midnight" (00:00)."""
    if end and isinstance(value, str) and value.strip() == "24:00":
        return dt.time(0, 0)
    if not isinstance(value, str) or not _TIME.fullmatch(value.strip()):
        raise inputs.invalid(_("%(day)s: \"%(value)s\" is not a time; use HH:MM, e.g. 08:30.",
                               day=WEEKDAYS[weekday], value=str(value)[:20]), field=f"hours.{weekday}")
    h, m = value.strip().split(":")
    return dt.time(int(h), int(m))


def clean_hours(value) -> list[tuple[int, dt.time, dt.time]]:
    """Checked intervals as (weekday, start, end), sorted; refuses malformed and overlapping ones."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise inputs.invalid(_("Business hours must be a list of intervals."))
    if len(value) > 7 * MAX_INTERVALS_PER_DAY:
        raise inputs.invalid(_("Too many business hours intervals."))
    result = []
    refused = inputs.Refusals()  # each weekday's mistakes at once (the form has a box per weekday)
    for item in value:
        if not isinstance(item, dict) or set(item) != {"weekday", "start", "end"}:
            raise inputs.invalid(_("Each business hours interval needs weekday, start and end."))
        weekday = item["weekday"]
        if isinstance(weekday, bool) or not isinstance(weekday, int) or not 0 <= weekday <= 6:
            raise inputs.invalid(_("The weekday must be a number from 0 (Monday) to 6 (Sunday)."))
        if refused.failed(f"hours.{weekday}"):
            continue  # one refusal per weekday
        with refused.about(f"hours.{weekday}"):
            start, end = parse_time(item["start"], weekday), parse_time(item["end"], weekday, end=True)
            if start == end and start != dt.time(0, 0):
                raise inputs.invalid(_("%(day)s: an interval cannot start and end at the same time "
                                       "(use 00:00-00:00 for the whole day).", day=WEEKDAYS[weekday]))
            result.append((weekday, start, end))
    refused.check()
    for weekday in range(7):
        if sum(1 for w, _s, _e in result if w == weekday) > MAX_INTERVALS_PER_DAY:
            raise inputs.invalid(_("%(day)s: at most %(max)d intervals.", day=WEEKDAYS[weekday],
                                   max=MAX_INTERVALS_PER_DAY), field=f"hours.{weekday}")
    result.sort()
    # Overlaps on the week's timeline (minutes from Monday 00:00), overnight intervals included.
    spans = []
    for weekday, start, end in result:
        a = weekday * _DAY + start.hour * 60 + start.minute
        b = weekday * _DAY + end.hour * 60 + end.minute
        if b <= a:
            b += _DAY
        spans.append((a, b, weekday))
    for i, (a1, b1, w1) in enumerate(spans):
        for a2, b2, w2 in spans[i + 1:]:
            for shift in (0, _WEEK, -_WEEK):
                if a1 < b2 + shift and a2 + shift < b1:
                    day = max(w1, w2) if shift == 0 else w1
                    raise inputs.invalid(_("%(day)s: business hours intervals overlap.", day=WEEKDAYS[day]),
                                         field=f"hours.{day}")
    return result


class DayTexts(list):
    """The admin form's business hours: seven texts, Monday to Sunday, as typed
    ("08:00-12:00, 13:00-18:00"; hours_from_day_texts reads them). The service takes them as
    `hours` so that their refusals come with the other fields'; JSON (the API) is never one."""


def _clean(data: dict, current: Queue | None) -> dict:
    """The checked input; every field's refusal at once (inputs.Refusals)."""
    data = inputs.require_object(data)
    inputs.reject_unknown(data, FIELDS)
    clean = {}
    refused = inputs.Refusals()
    if current is None or "name" in data:
        with refused.about("name"):
            clean["name"] = inputs.unique_name(Queue, data.get("name"), current, LABELS["name"],
                                               lazy_gettext("A queue named \"%(name)s\" already exists."))
    if current is None or "color" in data:
        with refused.about("color"):
            clean["color"] = _clean_color(data.get("color"), current)
    if "bot_order" in data or current is None:
        with refused.about("bot_order"):
            clean["bot_order"] = inputs.integer(data.get("bot_order", 0), LABELS["bot_order"], minimum=0, maximum=9999)
    for key in ("greeting_message", "out_of_hours_message"):
        if key in data:
            with refused.about(key):
                clean[key] = inputs.text(data[key], LABELS[key])
                templates.check(clean[key], LABELS[key], stored=getattr(current, key, None))
    if "hours" in data:
        with refused.about("hours"):
            hours = data["hours"]
            if isinstance(hours, DayTexts):  # the days written wrong refused, the others checked too
                hours = hours_from_day_texts(hours, refused)
            clean["hours"] = clean_hours(hours)
    refused.check()
    return clean


def _clean_color(value, current: Queue | None) -> str:
    color = inputs.text(value, LABELS["color"], required=True, max_len=7, single_line=True)
    if not _COLOR.fullmatch(color):
        raise inputs.invalid(_("The color must be written as #RRGGBB, e.g. #1E88E5."))
    color = color.upper()
    clash = db.session.query(Queue).filter(func.upper(Queue.color) == color)
    if current is not None:
        clash = clash.filter(Queue.id != current.id)
    other = clash.first()
    if other:
        raise inputs.invalid(_("The color %(color)s is already used by the queue \"%(name)s\".",
                               color=color, name=other.name))
    return color


def _apply(queue: Queue, clean: dict) -> None:
    hours = clean.pop("hours", None)
    for key, value in clean.items():
        setattr(queue, key, value)
    if hours is not None:
        queue.hours = []
        db.session.flush()  # old intervals out before the new ones (unique weekday+start)
        queue.hours = [BusinessHours(weekday=w, start=s, end=e) for w, s, e in hours]


def _commit():
    inputs.commit_or_conflict(_("The queue could not be saved because it was changed at the same time. Try again."))


def create(data: dict) -> Queue:
    clean = _clean(data, None)
    queue = Queue()
    db.session.add(queue)
    _apply(queue, clean)
    _commit()
    return queue


def update(queue_id, data: dict) -> Queue:
    queue = get(queue_id)
    clean = _clean(data, queue)
    _apply(queue, clean)
    _commit()
    return queue


def delete(queue_id) -> list[int]:
    """A queue with tickets in progress, or the only queue of a User, is not deleted: its waiting
    customers would drop out of every User's sight, and the User would see nothing (a User needs
    a queue). Resolved tickets keep their history, with no queue. Returns the ids of the members
    who had it: what they may see changed (their sockets are in its room)."""
    from app.models import Member, Ticket, TicketStatus

    queue = get(queue_id)
    active = db.session.query(func.count(Ticket.id)).filter(
        Ticket.queue_id == queue.id, Ticket.status.in_(TicketStatus.ACTIVE)).scalar()
    if active:
        raise inputs.invalid(_("This queue has %(n)s ticket(s) in progress (waiting or in service): transfer "
                               "or resolve them before deleting it.", n=active))
    members = db.session.query(Member).filter(Member.queues.any(Queue.id == queue.id)).options(
        selectinload(Member.queues), selectinload(Member.roles))  # not a query per member
    alone = sorted(m.name or m.email for m in members if m.profile == "user" and len(m.queues) == 1)
    if alone:
        raise inputs.invalid(_("This is the only queue of %(names)s: give them another queue before deleting it.",
                               names=", ".join(alone)))
    had_it = [m.id for m in members]
    chatbot.forget_queue(queue.id)
    db.session.delete(queue)
    _commit()
    return had_it


def hours_as_dicts(queue: Queue) -> list[dict]:
    return [{"weekday": h.weekday, "start": h.start.strftime("%H:%M"), "end": h.end.strftime("%H:%M")}
            for h in queue.hours]


# --- The form's way of writing hours: one line per weekday, "08:00-12:00, 13:00-18:00" -------

def hours_from_day_texts(texts: list[str], refused: "inputs.Refusals | None" = None) -> list[dict]:
    """Seven texts (Monday..Sunday) as typed in the admin form -> intervals for clean_hours. Every
    weekday written wrong is refused at once, each under its own day; given `refused`, the refusals
    are left there and the other days' intervals returned (to be checked too)."""
    result = []
    days = refused or inputs.Refusals()
    for weekday, raw in enumerate(texts):
        with days.about(f"hours.{weekday}"):
            result.extend(_day_intervals(weekday, raw))
    if refused is None:
        days.check()
    return result


def _day_intervals(weekday: int, raw) -> list[dict]:
    """One weekday's text as intervals (none when empty: closed)."""
    result = []
    raw = (raw or "").strip()
    if len(raw) > 200:
        raise inputs.invalid(_("%(day)s: too long.", day=WEEKDAYS[weekday]), field=f"hours.{weekday}")
    for part in re.split(r"[,;]", raw):
        part = part.strip()
        if not part:
            continue
        pieces = re.split(r"\s*[-–]\s*|\s+(?:às|as|a|até|to)\s+", part)
        if len(pieces) != 2:
            raise inputs.invalid(_("%(day)s: write each interval as start-end, e.g. 08:00-12:00.",
                                   day=WEEKDAYS[weekday]), field=f"hours.{weekday}")
        result.append({"weekday": weekday, "start": _form_time(pieces[0]), "end": _form_time(pieces[1])})
    return result


_HOURS_ONLY = re.compile(r"(\d{1,2})\s*(?:h\s*(\d{2})?|hs)?", re.IGNORECASE | re.ASCII)


def _form_time(text: str) -> str:
    """A time as Brazilians also write it on the form: "8h", "8h30", "08h00", "18hs" or a bare "8"
    become "08:00", "08:30"...; anything else is left for parse_time to accept or explain."""
    m = _HOURS_ONLY.fullmatch(text.strip())
    return f"{int(m.group(1)):02d}:{m.group(2) or '00'}" if m else text


def day_texts(queue_or_hours) -> list[str]:
    """Each weekday's intervals as typed in the form ("08:00-12:00, 13:00-18:00"; "" = closed), of
    a queue or of its list of hours."""
    hours = queue_or_hours.hours if isinstance(queue_or_hours, Queue) else queue_or_hours
    texts = [[] for _i in range(7)]
    for h in hours or []:
        texts[h.weekday].append(f"{h.start.strftime('%H:%M')}-{h.end.strftime('%H:%M')}")
    return [", ".join(t) for t in texts]
