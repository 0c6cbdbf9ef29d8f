"""Ratings (Avaliações): the rating message on close, the customer's answer, expiry.

After a rating is sent the ticket is closed and `awaiting_rating`; the customer's next reply that
matches an option (its number, its label, or the list option) is stored against the ticket and the
agent; anything else ends the wait and is routed as a new inbound message. A periodic job ends
waits that expired.
"""
import datetime as dt

from sqlalchemy import select

from app.models import Rating, Ticket, TicketStatus, db, utcnow
from app.services import outbound, replies, templates

LIST_ROW_PREFIX = "rating:"


def rating_text(template, ticket, settings) -> str:
    head = templates.render(template.message, contact=ticket.contact, agent=ticket.user, queue=ticket.queue,
                            ticket=ticket, tz_name=settings.timezone)
    options = "\n".join(f"{o.value} - {o.label}" for o in template.options)
    return f"{head}\n\n{options}" if head else options


def send_rating_request(ticket, template, settings, changes, now=None):
    """Send the rating message (or the external URL) for a ticket being closed."""
    if settings.external_rating:
        url = (settings.external_rating_url or "").strip()
        if url:
            outbound.queue_message(ticket, templates.render(url, contact=ticket.contact, agent=ticket.user,
                                                            queue=ticket.queue, ticket=ticket,
                                                            tz_name=settings.timezone), changes=changes)
        return
    outbound.queue_message(ticket, rating_text(template, ticket, settings), changes=changes)
    now = now or utcnow()
    ticket.awaiting_rating = True
    ticket.rating_template_id = template.id
    ticket.rating_template = template
    ticket.rating_expires_at = now + dt.timedelta(minutes=max(1, settings.rating_expiry_minutes or 60))


def matching_option(template, payload: dict):
    """The option the customer's reply chose (the list row, or typed: app.services.replies), or None."""
    if template is None:
        return None
    selected = str(payload.get("selected_id") or "")
    options = list(template.options)
    for option in options:
        if selected == f"{LIST_ROW_PREFIX}{option.value}":
            return option
    typed = replies.chosen(payload.get("body"), [(option.value, option.label) for option in options])
    return options[typed] if typed is not None else None


def awaited(contact_id: int, connection_id: int):
    """The contact's closed tickets on the connection whose rating is still awaited, newest first
    (a statement)."""
    return select(Ticket).where(
        Ticket.contact_id == contact_id, Ticket.connection_id == connection_id,
        Ticket.status == TicketStatus.CLOSED, Ticket.awaiting_rating.is_(True)).order_by(Ticket.id.desc())


def handle_reply(contact, connection, payload: dict, changes, now, lookups=None) -> bool:
    """When `contact` owes a rating on `connection`: store a matching answer (True), or end the
    wait (False: the caller routes the message as a new inbound one). `lookups`
    (routing.BatchLookups) tells without a query when the contact owes nothing."""
    from app.services.routing import store_inbound

    if lookups is not None and (contact.id, connection.id) not in lookups.owing_rating:
        return False

    ticket = db.session.scalars(awaited(contact.id, connection.id)).first()
    if ticket is None:
        return False
    ticket.awaiting_rating = False
    changes.ticket(ticket)
    if ticket.rating_expires_at is not None and ticket.rating_expires_at <= now:
        return False
    option = matching_option(ticket.rating_template, payload)
    if option is None:
        return False
    db.session.add(Rating(ticket_id=ticket.id, user_id=ticket.user_id, template_id=ticket.rating_template_id,
                          agent_name=ticket.user.name if ticket.user is not None else None,
                          queue_id=ticket.queue_id, value=option.value, label=option.label))
    store_inbound(ticket, payload, changes, count_unread=False)
    from flask_babel import gettext as _

    outbound.system_line(ticket, _("Rating received: %(value)s - %(label)s", value=option.value, label=option.label),
                         changes=changes)
    return True


def expire_ratings(now=None):
    """End every rating wait past its expiry. Returns the Changes of those tickets (the screens
    showing them "Aguardando avaliação" are told); does not commit. A ticket whose customer is
    answering at this moment (its row locked) is left to the next run."""
    from app.services.events import Changes

    now = now or utcnow()
    changes = Changes()
    expired = select(Ticket).where(Ticket.awaiting_rating.is_(True), Ticket.rating_expires_at <= now)
    for ticket in db.session.scalars(expired.with_for_update(skip_locked=True)):
        ticket.awaiting_rating = False
        changes.ticket(ticket)
    return changes
