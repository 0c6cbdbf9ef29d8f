"""The JSON shape of tickets and messages, shared by the REST API and the Socket.IO events."""
import json


def iso(value):
    return value.isoformat() + "Z" if value else None


def ticket_json(ticket) -> dict:
    contact = ticket.contact
    return {
        "id": ticket.id,
        "protocol": ticket.protocol,
        "status": ticket.status,
        "is_group": ticket.is_group,
        "awaiting_rating": ticket.awaiting_rating,
        "awaiting_menu": ticket.awaiting_menu,  # the customer is still choosing a queue in the bot's menu
        "queue": {"id": ticket.queue.id, "name": ticket.queue.name, "color": ticket.queue.color}
        if ticket.queue else None,
        "user": {"id": ticket.user.id, "name": ticket.user.name} if ticket.user else None,
        "contact": {"id": contact.id, "name": contact.name, "phone": contact.phone, "is_group": contact.is_group},
        "connection": {"id": ticket.connection.id, "name": ticket.connection.name},
        "unread_count": ticket.unread_count,
        "last_message": ticket.last_message,
        "last_message_at": iso(ticket.last_message_at),
        "created_at": iso(ticket.created_at),
        "updated_at": iso(ticket.updated_at),
        "closed_at": iso(ticket.closed_at),
    }


def message_json(message) -> dict:
    return {
        "id": message.id,
        "ticket_id": message.ticket_id,
        "from_me": message.from_me,
        "type": message.type,
        "body": message.body,
        "extra": json.loads(message.extra) if message.extra else None,
        "status": message.status,
        "error": message.error,
        "sender_name": message.sender_name,
        "user_id": message.user_id,
        # Never the server's file path: the file is fetched by message id, by those who may see it.
        "media": {"mime": message.media_mime, "name": message.media_name} if message.media_path else None,
        "created_at": iso(message.created_at),
        # When its author sent it: WhatsApp's time for a customer's message that reached us late
        # (stored later than written after an outage), never later than it was stored.
        "sent_at": iso(min(message.channel_timestamp, message.created_at)
                       if message.channel_timestamp and message.created_at else message.created_at),
    }
