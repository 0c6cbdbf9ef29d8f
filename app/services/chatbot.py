"""Queue assignment and the chatbot menu (Filas & Chatbot, Tipo Chatbot).

A connection with one queue assigns it at once; with several, the connection greeting is sent with
the menu of its queues in bot order (numbered text, or a WhatsApp list message with the numbered
text as fallback); the customer's reply (the number, or the list option) picks the queue and its
greeting is sent; an invalid reply repeats the menu. No queue: the ticket stays without one.
"""
from flask_babel import gettext as _

from app.services import outbound, replies, templates

LIST_ROW_PREFIX = "queue:"


def menu_text(queues) -> str:
    return "\n".join(f"{n} - {q.name}" for n, q in enumerate(queues, start=1))


def send_menu(ticket, settings, changes, *, repeat: bool = False):
    """The connection greeting followed by the queue menu, as one message."""
    connection = ticket.connection
    queues = list(connection.queues)
    greeting = templates.render(connection.greeting_message, contact=ticket.contact, ticket=ticket,
                                tz_name=settings.timezone)
    if repeat:
        greeting = _("Invalid option. Please choose one of the options below:")
    numbered = menu_text(queues)
    fallback = f"{greeting}\n\n{numbered}" if greeting else numbered
    if settings.chatbot_type == "list":
        extra = {
            "button_text": _("Options"),
            "sections": [{"title": _("Departments"), "rows": [
                {"rowId": f"{LIST_ROW_PREFIX}{q.id}", "title": q.name, "description": ""} for q in queues]}],
            "fallback": fallback,
        }
        outbound.queue_message(ticket, greeting or _("Choose an option:"), changes=changes, type="list", extra=extra)
    else:
        outbound.queue_message(ticket, fallback, changes=changes)
    ticket.awaiting_menu = True
    ticket.menu_queue_ids = ",".join(str(q.id) for q in queues)


# In the menu of record, the place of a queue deleted since (queues.forget_in_menus): its number
# still counts its line, but chooses nothing, whatever queue is given its id later (SQLite gives
# a new row the highest id again once that row is deleted).
DELETED_QUEUE = "0"


def menu_of_record(ticket) -> list[int]:
    """The queue ids of the last menu sent to `ticket`, in its order (0: a queue deleted since);
    empty for a ticket without one (sent before 0008)."""
    return [int(i) for i in (ticket.menu_queue_ids or "").split(",") if i.isdigit()]


def forget_queue(queue_id: int) -> None:
    """Before `queue_id` is deleted: in every menu of record still awaiting an answer, its place
    becomes DELETED_QUEUE (in the caller's transaction)."""
    from app.models import Ticket, db

    waiting = db.session.query(Ticket).filter(Ticket.awaiting_menu.is_(True), Ticket.menu_queue_ids.isnot(None))
    for ticket in waiting:
        shown = (ticket.menu_queue_ids or "").split(",")
        if str(queue_id) in shown:
            ticket.menu_queue_ids = ",".join(DELETED_QUEUE if i == str(queue_id) else i for i in shown)


def _as_numbered(ticket, queues):
    """(number, queue) as the last menu sent numbered them, for the queues still on the connection
    (a queue removed since answers to no number); queues added since have no number (None: chosen
    by name only). A ticket without a menu of record (sent before 0008) is numbered as now."""
    shown = menu_of_record(ticket)
    if not shown:
        return list(enumerate(queues, start=1))
    by_id = {q.id: q for q in queues}
    numbered = [(n, by_id[i]) for n, i in enumerate(shown, start=1) if i in by_id]
    return numbered + [(None, q) for q in queues if q.id not in shown]


def chosen_queue(ticket, payload: dict):
    """The queue the customer's reply picks (the list row, or typed: its number in the menu sent,
    its name or the menu's line, app.services.replies), or None for an invalid reply."""
    queues = list(ticket.connection.queues)
    if payload.get("type") == "list_reply":
        selected = str(payload.get("selected_id") or "")
        if selected.startswith(LIST_ROW_PREFIX):
            shown = menu_of_record(ticket)
            for queue in queues:
                if selected == f"{LIST_ROW_PREFIX}{queue.id}" and (not shown or queue.id in shown):
                    return queue
    numbered = _as_numbered(ticket, queues)
    typed = replies.chosen(payload.get("body"), [(n, q.name) for n, q in numbered], first_words=True)
    return numbered[typed][1] if typed is not None else None


def send_queue_greeting(ticket, queue, settings, changes):
    text = templates.render(queue.greeting_message, contact=ticket.contact, queue=queue, ticket=ticket,
                            tz_name=settings.timezone)
    if text:
        outbound.queue_message(ticket, text, changes=changes)
