"""Domain events: what changed, and which Socket.IO rooms may hear about it.

Services collect changes in a `Changes` object while they work; the shell that called them commits
and then publishes (`app.workers.publish.publish`). Rooms follow docs/ARCHITECTURE.md: `staff`,
`queue:<id>`, `user:<id>`, `admins`; the rooms a ticket belongs to are computed by
app.services.visibility.ticket_rooms, next to the query that decides who may see a ticket.
"""
from dataclasses import dataclass, field

from app.services import presenters, visibility


def db_session_flush():
    from app.models import db

    db.session.flush()


@dataclass
class Event:
    name: str
    data: dict
    rooms: list


@dataclass
class Changes:
    """Collected during one transaction; turned into events and bridge commands after commit."""

    # ticket id -> (ticket, rooms it was in before the change)
    tickets: dict = field(default_factory=dict)
    messages: list = field(default_factory=list)
    # (connection_id, command dict), pushed on the connection's Redis command list after commit
    commands: list = field(default_factory=list)
    # Events built by freeze() before the commit (None: built from the committed state on demand).
    frozen: list | None = None
    # True when the caller freezes the changes before its commit (a batch of inbound events):
    # services then leave new outbound messages to the batch's one flush (no flush per message),
    # and their send commands wait in `unsent` until freeze() knows their ids.
    flush_late: bool = False
    unsent: list = field(default_factory=list)
    # Events about no ticket nor message (a member's own preference), already with their rooms.
    notices: list = field(default_factory=list)

    def ticket(self, ticket, rooms_before=None):
        """Record that `ticket` changed. `rooms_before` are the rooms it was visible in before a
        move (transfer, return), so those that lose it hear `ticket:removed`."""
        if ticket.id in self.tickets:
            _, earlier = self.tickets[ticket.id]
            rooms_before = earlier if earlier is not None else rooms_before
        self.tickets[ticket.id] = (ticket, rooms_before)

    def message(self, message):
        self.messages.append(message)

    def command(self, connection_id: int, command: dict):
        self.commands.append((connection_id, command))

    def notice(self, name: str, data: dict, rooms: list):
        self.notices.append(Event(name, data, rooms))

    def send(self, message):
        """The bridge's command to send `message` (stored as queued)."""
        if message.id is None:  # flush_late: its id comes with the batch's flush
            self.unsent.append(message)
        else:
            self.command(message.connection_id, {"op": "send", "message_id": message.id})

    def bridge_commands(self) -> list:
        """The (connection_id, command) pairs to push after the commit, the sends that waited for
        their ids included (the flush before the commit gave them one)."""
        return self.commands + [(m.connection_id, {"op": "send", "message_id": m.id}) for m in self.unsent]

    def merge(self, other: "Changes"):
        for ticket, before in other.tickets.values():
            self.ticket(ticket, before)
        self.messages.extend(other.messages)
        self.commands.extend(other.commands)
        self.unsent.extend(other.unsent)
        self.notices.extend(other.notices)
        return self

    def freeze(self):
        """Build the events now, inside the transaction, from the flushed state: after the commit
        every object is expired and presenting it would cost a query per ticket and message."""
        db_session_flush()
        self.commands, self.unsent = self.bridge_commands(), []
        self.frozen = self.events()
        return self

    def __bool__(self):
        return bool(self.tickets or self.messages or self.commands or self.unsent or self.notices)

    def events(self) -> list[Event]:
        """The Socket.IO events, built from the committed state."""
        if self.frozen is not None:
            return list(self.frozen)
        out = []
        for ticket, before in self.tickets.values():
            rooms = visibility.ticket_rooms(ticket)
            out.append(Event("ticket", {"ticket": presenters.ticket_json(ticket)}, rooms))
            lost = [r for r in (before or []) if r not in rooms]
            if lost:
                out.append(Event("ticket:removed", {"id": ticket.id}, lost))
        for message in self.messages:
            out.append(Event("message", {"message": presenters.message_json(message),
                                         "ticket_id": message.ticket_id},
                             visibility.ticket_rooms(message.ticket)))
        return out + list(self.notices)
