"""Ticket actions (accept, transfer, close, reopen, return to pending, send a message) with their
permission checks. Every action first finds the ticket through visibility (NotFound for a ticket
the member may not see), then checks the action, then changes it. None commits: the shell commits
and publishes the returned Changes.

Two members acting on one ticket at the same moment: the first wins, the other is refused as if it
had come after. The ticket's status, queue and agent change by a compare-and-set (`_claim`): an
UPDATE that matches the row only while it still holds what the action read. On PostgreSQL the row
is also locked since that read (FOR UPDATE), so it always matches; SQLite has no row locks: both
may read the same pending ticket, and the second UPDATE, which waits for the first's commit, then
matches nothing.
"""
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update

from app.models import Member, Queue, RatingTemplate, Ticket, TicketStatus, db, utcnow
from app.services import DomainError, Forbidden, contacts, inputs, outbound, ratings, routing, templates, visibility
from app.services.events import Changes
from app.services.settings import get_settings


def _check_group_action(user, ticket, settings):
    """Ações em Grupo = no: only Admins and Supervisors accept, transfer or close group tickets."""
    if ticket.is_group and not settings.group_actions and not user.sees_all_tickets:
        raise Forbidden(_l("Only Admins and Supervisors may act on group conversations."))


def _check_handler(user, ticket):
    """An open ticket is handled by its agent; others (but Admins and Supervisors) may not act on it."""
    if ticket.status == TicketStatus.OPEN and ticket.user_id not in (None, user.id) and not user.sees_all_tickets:
        raise Forbidden(_l("This ticket is being handled by another agent."))


def _claim(ticket, checks, **new) -> None:
    """Compare-and-set the ticket's `status`, `queue_id` and `user_id` (those given in `new`; the
    others stay): the UPDATE matches only while the row still holds the status, queue and agent
    this action read, and its row count says whether it did. Run after the action's checks and
    before it changes anything else. Lost (another member changed the ticket in between, possible
    on SQLite only): the ticket is read again and `checks(ticket)` runs on it, so the refusal is
    the one the member would have got a moment later; if they still pass, a plain "changed at the
    same moment"."""
    seen = {"status": ticket.status, "queue_id": ticket.queue_id, "user_id": ticket.user_id}
    values = dict(seen, **new)
    result = db.session.execute(
        update(Ticket)
        .where(Ticket.id == ticket.id, Ticket.status == seen["status"],
               Ticket.queue_id.is_not_distinct_from(seen["queue_id"]),
               Ticket.user_id.is_not_distinct_from(seen["user_id"]))
        .values(**values)
        .execution_options(synchronize_session=False))
    if result.rowcount == 1:
        return
    db.session.refresh(ticket)
    checks(ticket)
    raise DomainError(_l("This ticket was changed by someone else at the same moment. Try again."), status=409)


def render_for_ticket(text, ticket, settings, agent=None, queue=None):
    """A message template filled in for `ticket` (its agent and queue unless others are given)."""
    return templates.render(text, contact=ticket.contact, agent=agent if agent is not None else ticket.user,
                            queue=queue if queue is not None else ticket.queue, ticket=ticket,
                            tz_name=settings.timezone)


def accept(user, ticket_id) -> Changes:
    """pending → open with `user`; the operator greeting when it is on."""
    changes = Changes()
    settings = get_settings()
    ticket = visibility.get_visible_ticket(user, ticket_id, for_update=True)

    def checks(ticket):
        _check_group_action(user, ticket, settings)
        if ticket.status == TicketStatus.OPEN:
            raise DomainError(_l("This ticket is already being handled."))
        if ticket.status != TicketStatus.PENDING:
            raise DomainError(_l("Only a pending ticket can be accepted."))

    checks(ticket)
    before = visibility.ticket_rooms(ticket)
    _claim(ticket, checks, status=TicketStatus.OPEN, user_id=user.id)
    ticket.status = TicketStatus.OPEN
    ticket.user = user
    ticket.user_id = user.id
    ticket.awaiting_menu = False
    _read(ticket, changes)
    changes.ticket(ticket, before)
    if settings.operator_greeting:
        text = render_for_ticket(settings.operator_greeting_text, ticket, settings, agent=user)
        if text:
            outbound.queue_message(ticket, text, changes=changes, user=user)
    return changes


def transfer(user, ticket_id, queue_id=None, user_id=None) -> Changes:
    """To a queue (back to pending there) and/or to an agent (open with that agent); the transfer
    message when it is on."""
    changes = Changes()
    settings = get_settings()
    if queue_id in (None, "") and user_id in (None, ""):
        raise DomainError(_l("Choose a queue or an agent to transfer to."), status=422)
    ticket = visibility.get_visible_ticket(user, ticket_id, for_update=True)

    def may_transfer(ticket):
        _check_group_action(user, ticket, settings)
        if ticket.status == TicketStatus.CLOSED:
            raise DomainError(_l("A closed ticket cannot be transferred; reopen it first."))
        _check_handler(user, ticket)

    def moves(ticket):
        if (queue is None or queue.id == ticket.queue_id) and (agent is None or agent.id == ticket.user_id):
            raise DomainError(_l("The ticket is already there."), status=422)

    may_transfer(ticket)
    queue = agent = None
    if queue_id not in (None, ""):
        queue = db.session.get(Queue, _as_id(queue_id, _l("Queue")))
        if queue is None:
            raise DomainError(_l("Queue not found."), status=422)
    if user_id not in (None, ""):
        agent = db.session.get(Member, _as_id(user_id, _l("Agent")))
        if agent is None or not agent.active:
            raise DomainError(_l("Agent not found."), status=422)
    moves(ticket)
    before = visibility.ticket_rooms(ticket)
    _claim(ticket, lambda t: (may_transfer(t), moves(t)),
           status=TicketStatus.OPEN if agent is not None else TicketStatus.PENDING,
           queue_id=queue.id if queue is not None else ticket.queue_id,
           user_id=agent.id if agent is not None else None)
    # Handed to a queue or to a person, the ticket no longer waits for the customer's menu choice:
    # the customer's next message is a message, also once the ticket waits again.
    ticket.awaiting_menu = False
    if queue is not None:
        ticket.queue = queue
        ticket.queue_id = queue.id
    if agent is not None:
        ticket.user = agent
        ticket.user_id = agent.id
        ticket.status = TicketStatus.OPEN
    else:
        ticket.user = None
        ticket.user_id = None
        ticket.status = TicketStatus.PENDING
    changes.ticket(ticket, before)
    outbound.system_line(ticket, _transfer_line(user, queue, agent), changes=changes)
    if settings.transfer_message:
        text = render_for_ticket(settings.transfer_message_text, ticket, settings, agent=agent, queue=queue)
        if text:
            outbound.queue_message(ticket, text, changes=changes, user=user)
    return changes


def _transfer_line(user, queue, agent) -> str:
    """The line the conversation keeps of a transfer (in the installation's language)."""
    from flask_babel import gettext as _

    if queue is not None and agent is not None:
        return _("Transferred to %(queue)s / %(agent)s by %(user)s", queue=queue.name, agent=agent.name, user=user.name)
    if queue is not None:
        return _("Transferred to %(queue)s by %(user)s", queue=queue.name, user=user.name)
    return _("Transferred to %(agent)s by %(user)s", agent=agent.name, user=user.name)


def close(user, ticket_id, rating_template_id=None, now=None, with_rating=False) -> Changes:
    """Close, with the farewell (operator farewell when on, else the connection's completion
    message) and, when asked or required, the rating message or the external rating URL.
    `with_rating` asks for the rating without naming a template: the external rating URL when
    it is on (it needs no template), else the default rating.
    A group is not asked for a rating (not even when ratings are required): who in the group would
    answer for it? Its replies are the group's conversation (routing never reads them as a rating)."""
    changes = Changes()
    settings = get_settings()
    now = now or utcnow()
    if not isinstance(with_rating, bool):  # typed input (REST, chat): "false" is no False
        raise DomainError(_l('"with_rating" must be true or false.'), status=422)
    ticket = visibility.get_visible_ticket(user, ticket_id, for_update=True)

    def checks(ticket):
        _check_group_action(user, ticket, settings)
        if ticket.status == TicketStatus.CLOSED:
            raise DomainError(_l("This ticket is already closed."))
        _check_handler(user, ticket)

    checks(ticket)
    ratings_on = settings.send_ratings or settings.rating_required
    template = None
    asked = bool(with_rating) or rating_template_id not in (None, "")
    if asked and ticket.is_group:
        raise DomainError(_l("Groups are not asked for a rating: resolve it without one."), status=422)
    wants_rating = asked or (settings.rating_required and not ticket.is_group)
    if wants_rating and not ratings_on:
        raise DomainError(_l("Ratings are turned off in the settings."), status=422)
    if rating_template_id not in (None, ""):
        template = db.session.get(RatingTemplate, _as_id(rating_template_id, _l("Rating")))
        if template is None:
            raise DomainError(_l("Rating template not found."), status=422)
    elif wants_rating and not settings.external_rating:
        template = db.session.get(RatingTemplate, settings.default_rating_template_id) \
            if settings.default_rating_template_id else None
        if template is None:
            raise DomainError(_l("A rating is required to close this ticket: choose a rating template."),
                              status=422)
    if wants_rating and settings.external_rating and not (settings.external_rating_url or "").strip():
        raise DomainError(_l("The external rating URL is not configured."), status=422)
    before = visibility.ticket_rooms(ticket)
    _claim(ticket, checks, status=TicketStatus.CLOSED, user_id=ticket.user_id or user.id)
    if ticket.user_id is None:
        ticket.user = user
        ticket.user_id = user.id
    farewell = settings.operator_farewell_text if settings.operator_farewell else ticket.connection.completion_message
    text = render_for_ticket(farewell, ticket, settings)
    if text:
        outbound.queue_message(ticket, text, changes=changes, user=user)
    if wants_rating:
        ratings.send_rating_request(ticket, template, settings, changes, now)
    mark_closed(ticket, now)
    changes.ticket(ticket, before)
    return changes


def mark_closed(ticket, now) -> None:
    """What closing is, by an agent (close) or automatically (out of hours, routing.check_hours):
    Resolvido since `now`, no menu choice awaited and nothing left unread (a resolved conversation
    asks nobody to act; what the customer writes next opens a new ticket)."""
    ticket.status = TicketStatus.CLOSED
    ticket.closed_at = now
    ticket.awaiting_menu = False
    ticket.unread_count = 0


def reopen(user, ticket_id) -> Changes:
    """closed → open with the same agent (the reopening member when it had none). Admins,
    Supervisors and the ticket's own agent may reopen."""
    changes = Changes()
    ticket = visibility.get_visible_ticket(user, ticket_id, for_update=True)
    settings = get_settings()

    def checks(ticket):
        # Reopening takes the ticket again (as accepting does): Ações em Grupo applies, or a User
        # would hold a group conversation she may not resolve, transfer nor return.
        _check_group_action(user, ticket, settings)
        if ticket.status != TicketStatus.CLOSED:
            raise DomainError(_l("Only a closed ticket can be reopened."))
        if not user.sees_all_tickets and ticket.user_id not in (None, user.id):
            raise Forbidden(_l("Only Admins, Supervisors or the ticket's agent may reopen it."))

    checks(ticket)
    other = routing.active_ticket(ticket.contact, ticket.connection)
    if other is not None and other.id != ticket.id:  # itself: reopened a moment ago (_claim tells)
        if not visibility.can_see(user, other):  # named to those who see it only (as Nova conversa)
            raise DomainError(_l("This number is already in a conversation with another team. Ask a "
                                 "Supervisor to transfer it to you."), status=409)
        raise DomainError(_l("This contact already has an active ticket (#%(id)s).", id=other.id))
    before = visibility.ticket_rooms(ticket)
    _claim(ticket, checks, status=TicketStatus.OPEN, user_id=ticket.user_id or user.id)
    ticket.status = TicketStatus.OPEN
    if ticket.user_id is None:
        ticket.user = user
        ticket.user_id = user.id
    ticket.closed_at = None
    ticket.awaiting_rating = False
    ticket.rating_expires_at = None
    changes.ticket(ticket, before)
    # A later conversation of the contact still waiting for its rating waits no more: what the
    # customer writes now belongs to the reopened one (as after a Nova conversa).
    for owing in db.session.scalars(ratings.awaited(ticket.contact_id, ticket.connection_id)):
        owing.awaiting_rating = False
        changes.ticket(owing)
    return changes


def return_to_pending(user, ticket_id) -> Changes:
    """open → pending in its queue, without an agent."""
    changes = Changes()
    settings = get_settings()
    ticket = visibility.get_visible_ticket(user, ticket_id, for_update=True)

    def checks(ticket):
        _check_group_action(user, ticket, settings)
        if ticket.status != TicketStatus.OPEN:
            raise DomainError(_l("Only a ticket being handled can go back to pending."))
        _check_handler(user, ticket)

    checks(ticket)
    _claim(ticket, checks, status=TicketStatus.PENDING, user_id=None)
    _back_to_pending(ticket, changes)
    return changes


def _back_to_pending(ticket, changes: Changes) -> None:
    """An open ticket waits again in its queue, with no agent (those who saw it through the agent
    hear it leave)."""
    before = visibility.ticket_rooms(ticket)
    ticket.status = TicketStatus.PENDING
    ticket.user = None
    ticket.user_id = None
    changes.ticket(ticket, before)


def release_agent_tickets(member, changes: Changes) -> None:
    """A member leaves the team: the tickets they were handling go back to Aguardando in their
    queues (open with no agent, they would be in nobody's Atendendo and in no User's list)."""
    from app.models import Ticket

    query = select(Ticket).where(Ticket.user_id == member.id, Ticket.status == TicketStatus.OPEN)
    for ticket in db.session.scalars(query.order_by(Ticket.id).with_for_update()):
        _back_to_pending(ticket, changes)


def _ready_to_send(user, ticket, text: str, changes: Changes) -> None:
    """What an agent's message and file share: a text (body or caption) within outbound.MAX_BODY,
    a ticket not closed and not handled by another agent. Sending reads the chat (_read)."""
    if len(text) > outbound.MAX_BODY:
        raise DomainError(_l("The message is too long (at most %(n)s characters).", n=outbound.MAX_BODY),
                          status=422)
    check_may_send(user, ticket)
    _read(ticket, changes)


def check_may_send(user, ticket) -> None:
    """A message (new, or a failed one sent again) goes out on a ticket accepted and not handled
    by another agent: after the farewell, nothing an agent typed earlier may reach the customer;
    a waiting ticket is accepted first, so that it leaves Aguardando with its agent (and the
    operator greeting) instead of being answered by nobody in particular."""
    if ticket.status == TicketStatus.CLOSED:
        raise DomainError(_l("This ticket is closed; reopen it to send messages."))
    if ticket.status == TicketStatus.PENDING:
        raise DomainError(_l("Accept the ticket to reply."))
    _check_handler(user, ticket)


def send_message(user, ticket_id, body) -> tuple:
    """An agent's message (typed, or a quick reply the composer expanded), queued for the
    connection, signed when the agent's "Assinar" switch is on. Returns (message, changes)."""
    changes = Changes()
    ticket = visibility.get_visible_ticket(user, ticket_id, for_update=True)
    if body is not None and not isinstance(body, str):  # 123, a list: no empty message
        raise DomainError(_l("The message must be text."), status=422)
    if not inputs.visible(outbound.storable_text(body)).strip():  # NULs, zero-width spaces: nothing to read
        raise DomainError(_l("The message is empty."), status=422)
    _ready_to_send(user, ticket, body, changes)
    message = outbound.queue_message(ticket, body, changes=changes, user=user, signed=user.sign_messages)
    return message, changes


def messages(user, ticket_id, limit=200, before_id=None):
    """The ticket's messages, oldest first (the last `limit` before `before_id`)."""
    from app.models import Message

    ticket = visibility.get_visible_ticket(user, ticket_id)
    query = select(Message).where(Message.ticket_id == ticket.id)
    if before_id:
        query = query.where(Message.id < before_id)
    rows = list(db.session.scalars(query.order_by(Message.id.desc()).limit(limit)))
    return ticket, list(reversed(rows))


def _as_id(value, label) -> int:
    """An id the REST API or the chat sent in JSON: a whole number (or its digits, as these
    actions always took), never 2.9 taken for 2 (`inputs.ident`, 422 naming the field)."""
    return inputs.ident(value, label, digits=True)


# -- used by the chat screen --------------------------------------------------------------------

def allowed_actions(user, ticket) -> set[str]:
    """What `user` may do to `ticket` (a ticket they can see), so the screen shows only those
    buttons. The same checks as the actions above, which refuse anything else anyway."""
    settings = get_settings()

    def passes(check) -> bool:
        try:
            check()
            return True
        except Forbidden:
            return False

    group_ok = passes(lambda: _check_group_action(user, ticket, settings))
    handler_ok = passes(lambda: _check_handler(user, ticket))
    actions = set()
    if ticket.status == TicketStatus.PENDING and group_ok:
        actions.add("accept")
    if ticket.status != TicketStatus.CLOSED and group_ok and handler_ok:
        actions.update(("transfer", "close"))
    if ticket.status == TicketStatus.OPEN and group_ok and handler_ok:
        actions.add("return")
    if ticket.status == TicketStatus.CLOSED and group_ok and (user.sees_all_tickets or ticket.user_id in (None, user.id)):
        actions.add("reopen")
    try:
        check_may_send(user, ticket)
        actions.add("send")
    except DomainError:
        pass
    return actions


def mark_read(user, ticket_id) -> Changes:
    """The member opened the ticket: its unread count goes to zero and, when the connection's read
    receipts are on, the customer's messages are marked read on WhatsApp."""
    changes = Changes()
    _read(visibility.get_visible_ticket(user, ticket_id), changes)
    return changes


def _read(ticket, changes: Changes) -> None:
    """A member read the ticket: opened it, accepted it or answered in it. Nothing is left unread
    and, when the connection's read receipts are on, WhatsApp is told (the customer's messages are
    marked read on their phone). Accepting or answering without the conversation having been
    opened first (a hidden browser tab, the API) is reading it too: the customer must not see the
    messages just answered as unread."""
    if ticket.unread_count:
        ticket.unread_count = 0
        changes.ticket(ticket)
        if ticket.connection.read_receipts:
            changes.command(ticket.connection_id, {"op": "mark_read", "chat_id": ticket.contact.jid})


def send_media(user, ticket_id, stored, caption: str = "") -> tuple:
    """An agent's file (already checked and stored by app.services.attachments), queued for the
    connection with an optional caption (signed like a typed message; a file without caption goes
    without signature: WhatsApp shows no text with it). Returns (message, changes)."""
    changes = Changes()
    ticket = visibility.get_visible_ticket(user, ticket_id, for_update=True)
    caption = caption if isinstance(caption, str) else ""
    _ready_to_send(user, ticket, caption, changes)
    message = outbound.queue_message(ticket, caption, changes=changes, user=user, type=stored.kind,
                                     signed=user.sign_messages)
    message.media_path, message.media_mime, message.media_name = stored.path, stored.mime, stored.name
    outbound.touch_ticket(ticket, message)
    return message, changes


# --- Nova conversa: a member starts a conversation ----------------------------------------------

def whatsapp_number(value) -> str:
    """A customer's WhatsApp number as its digits with country code ("(11) 98765-4321" and
    "+55 11 98765-4321" → "5511987654321"); Brazilian when no country is given. Refuses what no
    telephone plan has (DomainError 422)."""
    number = inputs.phone_number(value) if isinstance(value, str) and len(value) <= 40 else None
    if number is None:
        raise DomainError(_l("Type a valid WhatsApp number with its area code, e.g. (11) 98765-4321."), status=422)
    return number


def _starting_connection(user):
    """The member's Conexão Padrão, else the company's default connection."""
    from app.services import connections

    connection = user.default_connection or connections.default_connection()
    if connection is None:
        raise DomainError(_l("There is no connection to start a conversation from; an Admin must add one."),
                          status=422)
    return connection


def _starting_queue(user, queue_id):
    """The queue the new conversation belongs to: one of the member's queues (Admins and
    Supervisors: any, or none); a member of a single queue need not choose."""
    if queue_id in (None, ""):
        if user.sees_all_tickets or not user.queues:
            return None  # Admins/Supervisors see it anyway; a member without queues: assigned to them
        if len(user.queues) == 1:
            return user.queues[0]
        raise DomainError(_l("Choose the queue of the conversation."), status=422)
    queue_id = _as_id(queue_id, _l("Queue"))
    queue = db.session.get(Queue, queue_id)
    if queue is None or not (user.sees_all_tickets or queue in user.queues):
        raise DomainError(_l("Choose one of your queues."), status=422)
    return queue


def start_conversation(user, phone, name=None, queue_id=None) -> tuple:
    """Nova conversa: the conversation with a number, open with `user` (who writes the first
    message), on their Conexão Padrão or else the default connection. One conversation per contact
    and connection, as for inbound messages: the contact's pending or open ticket there is returned
    instead when `user` may see it, and refused when it may not (the refusal names no queue, agent or
    content). A rating still awaited from the contact there ends: the reply belongs to the new
    conversation. Returns (ticket, changes, created)."""
    from sqlalchemy.exc import IntegrityError

    from app.models import Ticket

    changes = Changes()
    number = whatsapp_number(phone)
    name = inputs.text(name, _l("Name"), max_len=200, single_line=True)
    connection = _starting_connection(user)
    queue = _starting_queue(user, queue_id)
    identity = {"chat_id": f"{number}@c.us", "sender_phone": number, "sender_name": name}
    try:
        with db.session.begin_nested():  # the same number started (or writing in) at the same moment
            contact = routing.find_or_create_contact(identity, from_channel=False)
    except IntegrityError:
        contact = routing.find_or_create_contact(identity, from_channel=False)  # committed by the other meanwhile: found now
    for attempt in range(2):
        ticket = routing.active_ticket(contact, connection, for_update=True)
        if ticket is not None:
            if not visibility.can_see(user, ticket):
                raise DomainError(_l("This number is already in a conversation with another team. Ask a "
                                     "Supervisor to transfer it to you."), status=409)
            return ticket, changes, False
        ticket = Ticket(contact=contact, contact_id=contact.id, connection=connection, connection_id=connection.id,
                        queue=queue, queue_id=queue.id if queue else None, user=user, user_id=user.id,
                        status=TicketStatus.OPEN, is_group=False)
        try:
            with db.session.begin_nested():  # another member starting it at the same moment: reuse theirs
                db.session.add(ticket)
                db.session.flush()
            break
        except IntegrityError:
            if attempt:
                raise
    for owing in db.session.scalars(ratings.awaited(contact.id, connection.id)):
        owing.awaiting_rating = False
        changes.ticket(owing)
    changes.ticket(ticket)
    return ticket, changes, True


def rename_contact(user, ticket_id, name) -> Changes:
    """The contact's name as the team knows it ("Maria da padaria"), by a member who may see the
    ticket; WhatsApp's own name no longer replaces it (routing only fills an empty name). A group's
    name is WhatsApp's. Every conversation of the contact in progress shows it, live."""
    changes = Changes()
    ticket = visibility.get_visible_ticket(user, ticket_id)
    if ticket.is_group:
        raise DomainError(_l("A group's name comes from WhatsApp."), status=422)
    ticket.contact.name = inputs.text(name, _l("Name"), required=True, max_len=200, single_line=True)
    changes.ticket(ticket)
    for other in contacts.in_progress(ticket.contact_id, but=ticket):
        changes.ticket(other)  # heard in its own rooms only: those who may see that conversation
    return changes
