"""Outbound messages: the database is the outbox (docs/ARCHITECTURE.md, "Channel contract").

Every message to a customer is a `Message` with from_me=True, status "queued" and a pre-assigned
channel_id; after the transaction commits, the shell pushes {"op": "send", "message_id": id} on the
connection's command list (collected in `Changes.commands`). The bridge claims, sends, and marks
the result; acks come back through the inbox and only move a status forward.

Signatures: a member's own message (typed, a quick reply, a file's caption) is stored as typed and
marked `signed` when the member's "Assinar" switch is on at that moment; `claim` puts
"*<name>:*\n" before it on the wire (`wire_body`), with the name the message keeps
(`sender_name`, the name shown above it in the chat screen). Decided once, at queueing: a retry or
a restart sends the very same text, even if the member renamed themselves or turned the switch off
meanwhile. Automatic messages (menus, greetings, templates, ratings, call rejection) are never signed.
MAX_BODY limits what the member types; the signature comes on top (WhatsApp takes far longer texts).
"""
import json
import uuid
from dataclasses import dataclass, field

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from app.models import Message, MessageStatus, db, utcnow
from app.services import DomainError, NotFound
from app.services.events import Changes

MAX_BODY = 4096
PREVIEW = 255


def new_channel_id() -> str:
    """Our own id for an outbound message, unique per connection, so a resend after a crash is
    recognisable. Shaped like WhatsApp Web's own ids ("3EB0" + upper-case hex), because the bridge
    hands it to the channel as the message id."""
    return "3EB0" + uuid.uuid4().hex[:20].upper()


def preview(message) -> str:
    if message.body:
        return message.body[:PREVIEW]
    return f"[{message.media_name or message.type}]"


def touch_ticket(ticket, message):
    ticket.last_message = preview(message)
    ticket.last_message_at = utcnow()
    ticket.updated_at = utcnow()


def signature(name: str | None) -> str:
    """How a member signs a message: their name in bold (WhatsApp's *…*) on a line of its own.
    Asterisks in the name are left out (they would end the bold early); "" for no name."""
    clean = " ".join((name or "").replace("*", "").split())
    return f"*{clean}:*\n" if clean else ""


def wire_body(message) -> str:
    """The text the channel gets for `message`: its body, after the signature when it was queued
    signed."""
    if message.signed:
        return signature(message.sender_name) + message.body
    return message.body


def storable_text(body) -> str:
    """The text of an outbound message as stored and sent: NUL cannot be stored in PostgreSQL text
    nor sent, so it is dropped (before a message is judged empty: NULs alone are nothing)."""
    return (body or "").replace("\x00", "")


def queue_message(ticket, body: str, *, changes: Changes, user=None, type: str = "text",
                  extra: dict | None = None, signed: bool = False) -> Message:
    """Store an outbound message as queued and schedule its send command (after commit).
    `signed`: the member `user` wrote it and signs their messages; a message with no text (a file
    without caption) has nothing to sign and goes out as it is."""
    body = storable_text(body)
    sender_name = user.name if user is not None else None
    message = Message(
        ticket=ticket, ticket_id=ticket.id, connection_id=ticket.connection_id, channel_id=new_channel_id(),
        from_me=True, type=type, body=body, extra=json.dumps(extra, ensure_ascii=False) if extra else None,
        user_id=user.id if user is not None else None, sender_name=sender_name,
        signed=bool(signed and body.strip() and signature(sender_name)),
        status=MessageStatus.QUEUED,
    )
    db.session.add(message)
    if not changes.flush_late:
        db.session.flush()
    touch_ticket(ticket, message)
    changes.message(message)
    changes.ticket(ticket)
    changes.send(message)
    return message


def system_line(ticket, body: str, *, changes: Changes, type: str = "system", channel_id: str | None = None):
    """A line shown in the ticket that is not sent to anyone (e.g. a missed call)."""
    message = Message(ticket=ticket, ticket_id=ticket.id, connection_id=ticket.connection_id, channel_id=channel_id,
                      from_me=False, type=type, body=body, status=MessageStatus.RECEIVED)
    db.session.add(message)
    db.session.flush()
    touch_ticket(ticket, message)
    changes.message(message)
    changes.ticket(ticket)
    return message


def pending_for(connection_id: int, limit: int = 100) -> list[int]:
    """Ids of the connection's messages still queued, oldest first (the bridge's safety net when a
    Redis command was lost)."""
    return list(db.session.scalars(
        select(Message.id).where(Message.connection_id == connection_id, Message.from_me.is_(True),
                                 Message.status == MessageStatus.QUEUED).order_by(Message.id).limit(limit)))


def awaiting_ack(connection_id: int, since, limit: int = 200) -> list[tuple[str, str, str]]:
    """(channel id, chat id, status) of the connection's messages sent since `since` whose ack may
    still move on (sent, or delivered and not read), "sent" ones first, newest first, at most
    `limit`: a new bridge session asks the channel where they are, as acks in flight when the
    last one ended were lost with it."""
    from app.models import Contact, Ticket

    found: list[tuple[str, str, str]] = []
    for status in (MessageStatus.SENT, MessageStatus.DELIVERED):
        if len(found) >= limit:
            break
        found += db.session.execute(
            select(Message.channel_id, Contact.jid, Message.status)
            .join(Ticket, Ticket.id == Message.ticket_id).join(Contact, Contact.id == Ticket.contact_id)
            .where(Message.connection_id == connection_id, Message.from_me.is_(True), Message.status == status,
                   Message.channel_id.isnot(None), Message.created_at >= since)
            .order_by(Message.id.desc()).limit(limit - len(found))).all()
    return [tuple(row) for row in found]


@dataclass
class SendCommand:
    message_id: int
    connection_id: int
    channel_id: str
    chat_id: str
    type: str
    body: str
    # list messages: wa-js sendListMessage options; `text_fallback` for channels without lists
    button_text: str | None = None
    sections: list | None = None
    text_fallback: str | None = None
    media: dict | None = None
    extra: dict = field(default_factory=dict)


def claim(message_id: int) -> SendCommand | None:
    """The send command for a queued message, or None when it is no longer queued."""
    message = db.session.scalars(select(Message).where(Message.id == message_id).with_for_update()).first()
    if message is None or not message.from_me or message.status != MessageStatus.QUEUED:
        db.session.rollback()
        return None
    message.attempts += 1
    extra = json.loads(message.extra) if message.extra else {}
    command = SendCommand(
        message_id=message.id, connection_id=message.connection_id, channel_id=message.channel_id,
        chat_id=message.ticket.contact.jid, type=message.type, body=wire_body(message),
        button_text=extra.get("button_text"), sections=extra.get("sections"), text_fallback=extra.get("fallback"),
        media={"path": message.media_path, "mime": message.media_mime, "name": message.media_name}
        if message.media_path else None,
        extra=extra,
    )
    db.session.commit()
    return command


def _changed(message) -> Changes:
    changes = Changes()
    changes.message(message)
    return changes


def mark_sent(message_id: int, channel_id: str | None = None) -> Changes:
    """The channel accepted the message; `channel_id` is the id it gave (acks refer to it).
    Commits; the caller publishes the returned changes."""
    message = db.session.get(Message, message_id)
    if message is None:
        raise NotFound(_l("Message not found."))
    if channel_id:
        message.channel_id = channel_id
    if MessageStatus.ORDER.get(message.status, -1) < MessageStatus.ORDER[MessageStatus.SENT]:
        message.status = MessageStatus.SENT
        message.error = None
    db.session.commit()
    return _changed(message)


def chat_moved(message_id: int, chat_id: str) -> Changes:
    """WhatsApp knows the message's contact by another id, the ninth-digit twin of the number typed
    (contacts.ninth_digit_twin): the contact takes WhatsApp's id, so its replies come to it and the
    screens show the number WhatsApp has. Left as it is when another contact holds that id already.
    Commits; the caller publishes the returned changes."""
    from app.models import Contact
    from app.services import contacts

    changes = Changes()
    message = db.session.get(Message, message_id)
    contact = message.ticket.contact if message is not None else None
    if contact is None or contact.jid == chat_id or contacts.ninth_digit_twin(contact.jid) != chat_id:
        db.session.rollback()
        return changes
    taken = db.session.scalar(select(Contact.id).where(Contact.channel == contact.channel, Contact.jid == chat_id))
    if taken is None:
        contacts.adopt_jid(contact, chat_id, chat_id.partition("@")[0])
        for ticket in contacts.in_progress(contact.id):
            changes.ticket(ticket)
    db.session.commit()
    return changes


def mark_failed(message_id: int, error: str | None) -> Changes:
    """The channel refused the message: it stays visible as failed, with the error, for a retry."""
    message = db.session.get(Message, message_id)
    if message is None:
        raise NotFound(_l("Message not found."))
    if message.status in (MessageStatus.QUEUED, MessageStatus.SENT, MessageStatus.FAILED):
        message.status = MessageStatus.FAILED
        message.error = (error or "")[:1000] or str(_l("Sending failed."))
    db.session.commit()
    return _changed(message)


ACKS = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.READ, MessageStatus.FAILED)


def apply_ack(connection_id: int, channel_id: str, ack: str, error: str | None = None,
              changes: Changes | None = None):
    """Apply a channel ack to our message. Acks only move forward (a late "sent" never overwrites
    "read"); "failed" applies to a message not yet delivered. Returns the message, or None when no
    message has that channel id (yet). Does not commit."""
    if ack not in ACKS:
        raise DomainError(_l("Unknown acknowledgement."))
    message = db.session.scalars(select(Message).where(Message.connection_id == connection_id,
                                                       Message.channel_id == channel_id)).first()
    if message is None:
        return None
    if ack == MessageStatus.FAILED:
        if message.status in (MessageStatus.QUEUED, MessageStatus.SENT):
            message.status = MessageStatus.FAILED
            message.error = (error or "")[:1000] or str(_l("Sending failed."))
    elif MessageStatus.ORDER.get(ack, -1) > MessageStatus.ORDER.get(message.status, -1) \
            or message.status == MessageStatus.FAILED:
        message.status = ack
        message.error = None
    if changes is not None:
        changes.message(message)
    return message


def retry(message_id: int, user, changes: Changes | None = None) -> Message:
    """Queue a failed message again, on a ticket `user` may see and send on (tickets.
    check_may_send); does not commit."""
    from app.services import visibility
    from app.services.tickets import check_may_send  # it uses this module

    changes = changes if changes is not None else Changes()
    message = db.session.get(Message, message_id)
    if message is None or not message.from_me:
        raise NotFound(_l("Message not found."))
    try:
        ticket = visibility.get_visible_ticket(user, message.ticket_id, for_update=True)
    except NotFound:  # the same answer as a message that does not exist
        raise NotFound(_l("Message not found.")) from None
    if message.status != MessageStatus.FAILED:
        raise DomainError(_l("Only a failed message can be sent again."))
    check_may_send(user, ticket)
    message.status = MessageStatus.QUEUED
    message.error = None
    changes.message(message)
    changes.send(message)
    return message
