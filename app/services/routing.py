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
from dataclasses import dataclass, field

from flask_babel import gettext as _
from sqlalchemy import select, tuple_
from sqlalchemy.orm import joinedload

from app.models import Connection, Contact, Message, MessageStatus, Ticket, TicketStatus, db, utcnow
from app.services import chatbot, contacts, hours, outbound, ratings, templates
from app.services.settings import get_settings

MAX_INBOUND_BODY = 20000


def clean(value, limit: int) -> str:
    """Untrusted text as stored: NUL removed (PostgreSQL text cannot hold it), cut to the column."""
    return str(value or "").replace("\x00", "")[:limit]


def digits(value) -> str:
    return "".join(ch for ch in str(value or "") if ch.isdigit())


@dataclass
class BatchLookups:
    """The rows a batch of inbound events needs, read with a few set-based queries
    (`prefetch`) instead of several queries per event, and kept up to date as the batch stores
    contacts, tickets and messages. Only for a batch run in one transaction by one drain of a lane
    (app.services.inbox.process_batch): the active tickets are locked for the transaction, and a
    duplicate the lookups missed still hits the unique constraints at the flush, which rolls the
    batch back to the event-by-event path (run without lookups)."""

    stored: set = field(default_factory=set)  # (connection_id, channel_id) of stored messages
    contacts: dict = field(default_factory=dict)  # jid -> Contact
    active: dict = field(default_factory=dict)  # (contact_id, connection_id) -> Ticket, row locked
    owing_rating: set = field(default_factory=set)  # (contact_id, connection_id) awaiting a rating
    # The batch's connections, held: the session's identity map keeps objects only while they are
    # referenced, and a connection read again per event would flush the batch per event.
    connections: dict = field(default_factory=dict)


def contact_identity(payload: dict) -> tuple[str, str | None, str, bool]:
    """(jid, phone, name, is_group) of the contact an inbound message or call comes from."""
    is_group = bool(payload.get("is_group"))
    phone = None if is_group else (digits(payload.get("sender_phone")) or digits(payload.get("chat_id")))[:20]
    jid = clean(payload.get("chat_id") or (f"{phone}@c.us" if phone else ""), 128)
    name = clean((payload.get("chat_name") if is_group else payload.get("sender_name")), 200)
    return jid, phone, name, is_group


def prefetch(payloads: list[dict]) -> BatchLookups:
    """Read what routing `payloads` (inbound messages and calls) needs in four queries."""
    lookups = BatchLookups()
    wanted = [p for p in payloads if p.get("kind") in ("message", "call")]
    if not wanted:
        return lookups
    lookups.connections = {c.id: c for c in db.session.scalars(
        select(Connection).where(Connection.id.in_({p["connection_id"] for p in wanted})))}
    by_connection: dict[int, list[str]] = {}
    for p in wanted:
        channel_id = str(p["channel_id"]) if p["kind"] == "message" else "call:" + str(p["channel_id"])[:120]
        by_connection.setdefault(p["connection_id"], []).append(channel_id)
    for connection_id, channel_ids in by_connection.items():
        lookups.stored.update((connection_id, c) for c in db.session.scalars(select(Message.channel_id).where(
            Message.connection_id == connection_id, Message.channel_id.in_(channel_ids))))
    jids = {contact_identity(p if p["kind"] == "message" else dict(p, is_group=False))[0] for p in wanted}
    known = db.session.scalars(select(Contact).where(Contact.channel == "whatsapp",
                                                     Contact.jid.in_(contacts.with_twins(jids)))).all()
    lookups.contacts = {c.jid: c for c in known}
    pairs = {(contact.id, p["connection_id"]) for p in wanted
             for contact in [_known_contact(contact_identity(p if p["kind"] == "message" else dict(p, is_group=False))[0],
                                            lookups)]
             if contact is not None}
    if pairs:
        # Locked in id order: two drains locking overlapping tickets cannot deadlock. Their queue
        # and agent come in the same query (the event presenting each ticket needs them, and a
        # pending ticket's queue decides its hours): a query less per batch.
        tickets = db.session.scalars(
            select(Ticket).where(tuple_(Ticket.contact_id, Ticket.connection_id).in_(pairs),
                                 Ticket.status.in_(TicketStatus.ACTIVE))
            .options(joinedload(Ticket.queue), joinedload(Ticket.user))
            .order_by(Ticket.id).with_for_update(of=Ticket).execution_options(populate_existing=True)).all()
        lookups.active = {(t.contact_id, t.connection_id): t for t in tickets}
        lookups.owing_rating = set(db.session.execute(
            select(Ticket.contact_id, Ticket.connection_id).where(
                tuple_(Ticket.contact_id, Ticket.connection_id).in_(pairs),
                Ticket.status == TicketStatus.CLOSED, Ticket.awaiting_rating.is_(True))).tuples())
    return lookups


def _known_contact(jid: str, lookups: BatchLookups | None = None) -> Contact | None:
    """The contact of a jid, else of its ninth-digit twin."""
    twin = contacts.ninth_digit_twin(jid)
    if lookups is not None:
        return lookups.contacts.get(jid) or (lookups.contacts.get(twin) if twin else None)
    found = db.session.scalars(select(Contact).where(Contact.channel == "whatsapp",
                                                     Contact.jid.in_([jid, twin] if twin else [jid]))).all()
    return next((c for c in found if c.jid == jid), found[0] if found else None)


def find_or_create_contact(payload: dict, lookups: BatchLookups | None = None, *, from_channel: bool = True) -> Contact:
    """The contact a message comes from (or a member starts a conversation with), created when
    new. Found by its jid or by the ninth-digit twin of it; a jid that came from the channel
    (`from_channel`) is the one WhatsApp uses, and replaces the twin the team had typed."""
    jid, phone, name, is_group = contact_identity(payload)
    contact = _known_contact(jid, lookups)
    if contact is not None and contact.jid != jid and from_channel:
        contacts.adopt_jid(contact, jid, phone)
        if lookups is not None:
            lookups.contacts[jid] = contact
    if contact is None:
        contact = Contact(channel="whatsapp", jid=jid, phone=phone, name=name or (phone or ""), is_group=is_group)
        db.session.add(contact)
        db.session.flush()  # a concurrent first message raises IntegrityError here: retried by the caller
        if lookups is not None:
            lookups.contacts[jid] = contact
    elif name and (not contact.name or contact.name == contact.phone or (is_group and contact.name != name)):
        contact.name = name
    return contact


def active_ticket(contact, connection, *, for_update: bool = False):
    query = select(Ticket).where(Ticket.contact_id == contact.id, Ticket.connection_id == connection.id,
                                 Ticket.status.in_(TicketStatus.ACTIVE))
    if for_update:  # concurrent messages of one contact change its ticket one after the other
        query = query.with_for_update().execution_options(populate_existing=True)
    return db.session.scalars(query).first()


def add_unread(ticket):
    """+1 on a ticket whose row this transaction holds locked (find_or_create_ticket, prefetch),
    read after the lock was taken: a message stored at the same moment by another worker waits for
    our commit, so counting in Python loses nothing, and the value stays loaded for the event that
    presents the ticket (a SQL expression would cost a reload per ticket)."""
    ticket.unread_count = (ticket.unread_count or 0) + 1


def find_or_create_ticket(contact, connection, lookups: BatchLookups | None = None) -> tuple[Ticket, bool]:
    """The contact's pending/open ticket on this connection, or a new pending one."""
    if lookups is not None:
        ticket = lookups.active.get((contact.id, connection.id))
        if ticket is not None and ticket.status not in TicketStatus.ACTIVE:  # closed earlier in the batch
            ticket = None
    else:
        ticket = active_ticket(contact, connection, for_update=True)
    if ticket is not None:
        return ticket, False
    ticket = Ticket(contact=contact, contact_id=contact.id, connection=connection, connection_id=connection.id,
                    status=TicketStatus.PENDING, is_group=contact.is_group)
    db.session.add(ticket)
    db.session.flush()  # the partial unique index refuses a second active ticket: retried by the caller
    if lookups is not None:
        lookups.active[(contact.id, connection.id)] = ticket
    return ticket, True


def store_inbound(ticket, payload: dict, changes, *, count_unread: bool = True,
                  lookups: BatchLookups | None = None) -> Message:
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
    if lookups is None:
        db.session.flush()  # a duplicate channel id raises IntegrityError here: retried by the caller
    else:  # flushed with the batch (one multi-row insert); a duplicate still fails the flush
        lookups.stored.add((message.connection_id, message.channel_id))
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


def already_stored(connection_id: int, channel_id: str, lookups: BatchLookups | None = None) -> bool:
    if lookups is not None:
        return (connection_id, channel_id) in lookups.stored
    return db.session.scalar(select(Message.id).where(Message.connection_id == connection_id,
                                                      Message.channel_id == channel_id)) is not None


def route_inbound(payload: dict, changes, now: dt.datetime | None = None, lookups: BatchLookups | None = None) -> str:
    """Route one inbound message. Returns what happened (for logs and tests): "ignored",
    "duplicate", "rating", "created" or "appended". Does not commit. `lookups`: see BatchLookups."""
    now = now or utcnow()
    settings = get_settings()
    connection = db.session.get(Connection, payload.get("connection_id"))
    if connection is None:
        return "ignored"
    is_group = bool(payload.get("is_group"))
    if is_group and settings.ignore_group_messages:
        return "ignored"
    if already_stored(connection.id, str(payload["channel_id"])[:128], lookups):
        return "duplicate"
    contact = find_or_create_contact(payload, lookups)
    if not is_group and ratings.handle_reply(contact, connection, payload, changes, now, lookups):
        return "rating"
    ticket, created = find_or_create_ticket(contact, connection, lookups)
    store_inbound(ticket, payload, changes, lookups=lookups)
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
    queues = list(ticket.connection.queues)
    if len(queues) <= 1:
        # An admin left the connection with one queue or none while this customer was in the menu:
        # no menu to answer any more (it kept answering "Opção inválida" over an empty list). As a
        # new conversation would now: the only queue (its hours and greeting), or no queue.
        ticket.awaiting_menu = False
        if not queues:
            changes.ticket(ticket)
            return
        ticket.queue = queues[0]
        ticket.queue_id = queues[0].id
        changes.ticket(ticket)
        if check_hours(ticket, queues[0], settings, changes, now):
            return
        chatbot.send_queue_greeting(ticket, queues[0], settings, changes)
        return
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
    """Business hours of a pending ticket's queue. Out of hours: the out-of-hours message (the same
    one at most once per 30 min per contact), then the ticket stays pending (Abrir Tickets Fora do Expediente =
    yes) or is closed (no). Returns True when out of hours."""
    if not settings.business_hours or hours.is_open(queue, now, settings.timezone):
        return False
    contact = ticket.contact
    key = hours.out_of_hours_key(queue, ticket.connection)
    if hours.may_send_out_of_hours(contact, now, key):
        text = queue.out_of_hours_message or ticket.connection.out_of_hours_message or _(
            "We are outside business hours right now. We will reply as soon as we are back.")
        outbound.queue_message(ticket, templates.render(text, contact=contact, queue=queue, ticket=ticket,
                                                        tz_name=settings.timezone, now=now), changes=changes)
        hours.note_out_of_hours(contact, now, key)
    if not settings.open_tickets_out_of_hours:
        from app.services import tickets  # it uses this module

        tickets.mark_closed(ticket, now)  # as an agent's close: nothing left unread
        changes.ticket(ticket)
    return True
