"""Incoming calls (Aceitar Chamada + Mensagem de Recusa).

When calls are not accepted: the bridge is told to reject the call, the rejection message is sent,
and the contact's ticket shows a missed-call line. When they are accepted nothing happens here
(the phone rings as usual).
"""
from flask_babel import gettext as _

from app.models import Connection, TicketStatus, db, utcnow
from app.services import outbound, routing, templates
from app.services.settings import get_settings


def handle_call(payload: dict, changes, now=None, lookups=None) -> str:
    now = now or utcnow()
    settings = get_settings()
    connection = db.session.get(Connection, payload.get("connection_id"))
    if connection is None or settings.accept_calls:
        return "ignored"
    line_id = "call:" + str(payload["channel_id"])[:120]
    if routing.already_stored(connection.id, line_id, lookups):
        return "duplicate"
    changes.command(connection.id, {"op": "reject_call", "call_id": str(payload["channel_id"]),
                                    "chat_id": str(payload.get("chat_id") or "")})
    contact = routing.find_or_create_contact(dict(payload, is_group=False), lookups)
    ticket, created = routing.find_or_create_ticket(contact, connection, lookups)
    outbound.system_line(ticket, _("Missed voice call (rejected automatically)"), changes=changes, type="call",
                         channel_id=line_id)
    routing.add_unread(ticket)
    text = templates.render(settings.call_rejection_message, contact=contact, agent=ticket.user, queue=ticket.queue,
                            ticket=ticket, tz_name=settings.timezone, now=now)
    if text:
        outbound.queue_message(ticket, text, changes=changes)
    if created:
        routing.start_conversation(ticket, settings, changes, now)
    assert ticket.status in TicketStatus.ALL
    return "created" if created else "appended"
