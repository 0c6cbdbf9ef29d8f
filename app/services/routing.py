"""Where an inbound message goes (DESIGN.md §3–4).

`route_inbound(payload, changes)` runs inside the caller's transaction and never commits: contact
find-or-create (a group is a contact of its own, the sender is kept on each message), ticket
find-or-create (the contact's pending/open ticket on that connection, else a new pending one; a
closed ticket is never reopened), the message, unread count and last message, then the chatbot and
business hours. Idempotency and races are settled by unique constraints (message per channel id,
contact per jid, one active ticket per contact and connection): a concurrent insert raises
IntegrityError, the caller (app.services.inbox.process) rolls back and runs it again, and the
second run finds what the first committed.
"""
import datetime as dt

from flask_babel import gettext as _
from sqlalchemy import select

from app.models import Connection, Contact, Message, MessageStatus, Ticket, TicketStatus, db, utcnow
from app.services import chatbot, hours, outbound, ratings, templates
from app.services.settings import get_settings

MAX_INBOUND_BODY = 20000


def clean(value, limit: int) -> str:
    """Untrusted text as stored: NUL removed (PostgreSQL text cannot hold it), cut to the column."""
    return str(value or "").replace("\x00", "")[:limit]


def digits(value) -> str:
    return "".join(ch for ch in str(value or "") if ch.isdigit())


def find_or_create_contact(payload: dict) -> Contact:
    is_group = bool(payload.get("is_group"))
    phone = None if is_group else (digits(payload.get("sender_phone")) or digits(payload.get("chat_id")))[:20]
    jid = clean(payload.get("chat_id") or (f"{phone}@c.us" if phone else ""), 128)
    name = clean((payload.get("chat_name") if is_group else payload.get("sender_name")), 200)
    contact = db.session.scalars(select(Contact).where(Contact.channel == "whatsapp", Contact.jid == jid)).first()
    if contact is None:
        contact = Contact(channel="whatsapp", jid=jid, phone=phone, name=name or (phone or ""), is_group=is_group)
        db.session.add(contact)
        db.session.flush()  # a concurrent first message raises IntegrityError here: retried by the caller
    elif name and (not contact.name or contact.name == contact.phone or (is_group and contact.name != name)):
        contact.name = name
    return contact


def active_ticket(contact, connection, *, for_update: bool = False):
    query = select(Ticket).where(Ticket.contact_id == contact.id, Ticket.connection_id == connection.id,
                                 Ticket.status.in_(TicketStatus.ACTIVE))
    if for_update:  # concurrent messages of one contact change its ticket one after the other
        query = query.with_for_update()
    return db.session.scalars(query).first()


def add_unread(ticket):
    """+1 in SQL, not in Python: two messages stored at once must both count."""
    ticket.unread_count = Ticket.unread_count + 1


def find_or_create_ticket(contact, connection) -> tuple[Ticket, bool]:
    """The contact's pending/open ticket on this connection, or a new pending one."""
    ticket = active_ticket(contact, connection, for_update=True)
    if ticket is not None:
        return ticket, False
    ticket = Ticket(contact=contact, contact_id=contact.id, connection=connection, connection_id=connection.id,
                    status=TicketStatus.PENDING, is_group=contact.is_group)
    db.session.add(ticket)
    db.session.flush()  # the partial unique index refuses a second active ticket: retried by the caller
    return ticket, True


def store_inbound(ticket, payload: dict, changes, *, count_unread: bool = True) -> Message:
    media = payload.get("media") or None
    kind = clean(payload.get("type") or "text", 20)
    message = Message(
        ticket=ticket, ticket_id=ticket.id, connection_id=ticket.connection_id,
        channel_id=str(payload["channel_id"])[:128], from_me=False, type=kind,
        body=clean(payload.get("body"), MAX_INBOUND_BODY), status=MessageStatus.RECEIVED,
        media_path=clean(media.get("path"), 500) if media and media.get("path") else None,
        media_mime=clean(media.get("mime"), 100) or None if media else None,
        media_name=clean(media.get("name"), 255) or None if media else None,
        sender_name=clean(payload.get("sender_name"), 200) or None,
        sender_jid=clean(payload.get("sender_id"), 128) or None,
        channel_timestamp=_timestamp(payload.get("timestamp")),
    )
    db.session.add(message)
    db.session.flush()  # a duplicate channel id raises IntegrityError here: retried by the caller
    outbound.touch_ticket(ticket, message)
    if count_unread:
        add_unread(ticket)
    changes.message(message)
    changes.ticket(ticket)
    return message


def _timestamp(value):
    try:
        return dt.datetime.fromtimestamp(int(value), dt.timezone.utc).replace(tzinfo=None)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def already_stored(connection_id: int, channel_id: str) -> bool:
    return db.session.scalar(select(Message.id).where(Message.connection_id == connection_id,
                                                      Message.channel_id == channel_id)) is not None


def route_inbound(payload: dict, changes, now: dt.datetime | None = None) -> str:
    """Route one inbound message. Returns what happened (for logs and tests): "ignored",
    "duplicate", "rating", "created" or "appended". Does not commit."""
    now = now or utcnow()
    settings = get_settings()
    connection = db.session.get(Connection, payload.get("connection_id"))
    if connection is None:
        return "ignored"
    is_group = bool(payload.get("is_group"))
    if is_group and settings.ignore_group_messages:
        return "ignored"
    if already_stored(connection.id, str(payload["channel_id"])):
        return "duplicate"
    contact = find_or_create_contact(payload)
    if not is_group and ratings.handle_reply(contact, connection, payload, changes, now):
        return "rating"
    ticket, created = find_or_create_ticket(contact, connection)
    store_inbound(ticket, payload, changes)
    if created:
        start_conversation(ticket, settings, changes, now)
    elif ticket.status == TicketStatus.PENDING and not is_group:
        if ticket.awaiting_menu:
            handle_menu_reply(ticket, payload, settings, changes, now)
        elif ticket.queue is not None:
            check_hours(ticket, ticket.queue, settings, changes, now)
    return "created" if created else "appended"


def start_conversation(ticket, settings, changes, now):
    """Queue assignment of a new ticket. Groups get no chatbot: the connection's only queue, or
    none (Admins and Supervisors see it)."""
    connection = ticket.connection
    queues = list(connection.queues)
    if len(queues) > 1 and not ticket.is_group:
        chatbot.send_menu(ticket, settings, changes)
        return
    if len(queues) == 1:
        ticket.queue = queues[0]
        ticket.queue_id = queues[0].id
        if ticket.is_group:
            return
        if check_hours(ticket, queues[0], settings, changes, now):
            return
        text = queues[0].greeting_message or connection.greeting_message
        queue = queues[0]
    else:
        if ticket.is_group:
            return
        text, queue = connection.greeting_message, None
    text = templates.render(text, contact=ticket.contact, queue=queue, ticket=ticket, tz_name=settings.timezone,
                            now=now)
    if text:
        outbound.queue_message(ticket, text, changes=changes)


def handle_menu_reply(ticket, payload, settings, changes, now):
    queue = chatbot.chosen_queue(ticket, payload)
    if queue is None:
        chatbot.send_menu(ticket, settings, changes, repeat=True)
        return
    ticket.awaiting_menu = False
    ticket.queue = queue
    ticket.queue_id = queue.id
    changes.ticket(ticket)
    if check_hours(ticket, queue, settings, changes, now):
        return
    chatbot.send_queue_greeting(ticket, queue, settings, changes)


def check_hours(ticket, queue, settings, changes, now) -> bool:
    """Business hours of a pending ticket's queue. Out of hours: the out-of-hours message (at most
    once per 30 min per contact), then the ticket stays pending (Abrir Tickets Fora do Expediente =
    yes) or is closed (no). Returns True when out of hours."""
    if not settings.business_hours or hours.is_open(queue, now, settings.timezone):
        return False
    contact = ticket.contact
    if hours.may_send_out_of_hours(contact, now):
        text = queue.out_of_hours_message or ticket.connection.out_of_hours_message or _(
            "We are outside business hours right now. We will reply as soon as we are back.")
        outbound.queue_message(ticket, templates.render(text, contact=contact, queue=queue, ticket=ticket,
                                                        tz_name=settings.timezone, now=now), changes=changes)
        contact.out_of_hours_sent_at = now
    if not settings.open_tickets_out_of_hours:
        ticket.status = TicketStatus.CLOSED
        ticket.closed_at = now
        ticket.awaiting_menu = False
        changes.ticket(ticket)
    return True
