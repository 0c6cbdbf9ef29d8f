"""Which tickets a member may see. `visible_tickets(user)` is the ONLY query that decides it:
every list, count, search, detail and event path goes through it (or through ticket_rooms /
rooms_for, which express the same rule as Socket.IO rooms).

- Admins and Supervisors see every ticket (room `staff`).
- Users see the tickets of their queues (room `queue:<id>`) and those assigned to them
  (room `user:<id>`). A ticket with no queue is seen by Admins and Supervisors only.
"""
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from app.models import Ticket, db
from app.models.team import member_queue
from app.services import NotFound, inputs

MAX_ID = inputs.MAX_ID  # an INTEGER column: a larger guess must be "not found", not a database error


def parse_id(value) -> int | None:
    """A row id from untrusted input (a number, or its digits from an address or a query string),
    or None: `inputs.as_id` decides what an id is."""
    return inputs.as_id(value, digits=True)


def visible_tickets(user):
    """A `select(Ticket)` restricted to what `user` may see; callers add filters and order."""
    query = select(Ticket)
    if user is None or not getattr(user, "is_active", False):
        return query.where(False)
    if user.sees_all_tickets:
        return query
    my_queues = select(member_queue.c.queue_id).where(member_queue.c.user_id == user.id)
    return query.where(or_(Ticket.queue_id.in_(my_queues), Ticket.user_id == user.id))


def get_visible_ticket(user, ticket_id, *, for_update: bool = False) -> Ticket:
    """The ticket, or NotFound when it does not exist or `user` may not see it (never 403)."""
    ticket_id = parse_id(ticket_id)
    if ticket_id is None:
        raise NotFound(_l("Ticket not found."))
    query = visible_tickets(user).where(Ticket.id == ticket_id)
    if for_update:
        query = query.with_for_update(of=Ticket)
    ticket = db.session.scalars(query).first()
    if ticket is None:
        raise NotFound(_l("Ticket not found."))
    return ticket


def can_see(user, ticket) -> bool:
    """Whether `user` may see `ticket` (Nova conversa asks it of a conversation found by number)."""
    return db.session.scalar(visible_tickets(user).where(Ticket.id == ticket.id).with_only_columns(Ticket.id)) is not None


def ticket_rooms(ticket) -> list[str]:
    """The Socket.IO rooms whose members may see `ticket` (the same rule as visible_tickets)."""
    rooms = ["staff"]
    if ticket.queue_id:
        rooms.append(f"queue:{ticket.queue_id}")
    if ticket.user_id:
        rooms.append(f"user:{ticket.user_id}")
    return rooms


def rooms_for(user) -> list[str]:
    """The rooms the server joins `user` to at Socket.IO connect (a client never chooses)."""
    if user is None or not getattr(user, "is_active", False):
        return []
    rooms = [f"user:{user.id}", "members"]  # members: what every member hears (channel_event)
    if user.sees_all_tickets:
        rooms.append("staff")
    if user.profile == "admin":
        rooms.append("admins")
    rooms.extend(f"queue:{q.id}" for q in user.queues)
    return rooms
