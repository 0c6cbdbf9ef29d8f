"""The chat screen's Socket.IO handlers (default namespace).

A connection is authenticated by the Flask login session and joins only the rooms the server
computes for its member (app.services.visibility.rooms_for). There is deliberately no handler
that joins a room on a client's request: a client that asks gets nothing.
"""
import logging

from flask import g
from flask_appbuilder.const import PERMISSION_PREFIX
from flask_login import current_user
from flask_socketio import join_room

from app.models import db, end_session
from app.realtime import socketio
from app.services import DomainError

log = logging.getLogger(__name__)


def _allowed() -> bool:
    """A logged-in, active member with the chat permission. FAB's has_access reads g.user,
    which Socket.IO events never set."""
    if not current_user.is_authenticated or not current_user.is_active:
        return False
    from flask import current_app

    g.user = current_user
    return current_app.appbuilder.sm.has_access(PERMISSION_PREFIX + "index", "ChatView")


def on_connect(auth=None):
    if not _allowed():
        return False
    from app.services.visibility import rooms_for

    from flask import session

    from app.security import SESSION_ID, session_room

    try:
        for room in rooms_for(current_user._get_current_object()):
            join_room(room)
        if session.get(SESSION_ID):  # "Sair" disconnects what this browser session opened
            join_room(session_room(session[SESSION_ID]))
    finally:
        end_session()
    return True


def on_open_ticket(data=None, *_extra):
    """The member opened a ticket: its unread count is reset and, when the connection's read
    receipts are on, the customer's messages are marked read on WhatsApp (the engine decides).
    Extra arguments a client may send are ignored (a fixed signature would raise on them)."""
    if not _allowed():
        return {"ok": False}
    ticket_id = data.get("id") if isinstance(data, dict) else None
    if not isinstance(ticket_id, int) or isinstance(ticket_id, bool):
        return {"ok": False}
    from app.services import tickets
    from app.workers.publish import publish

    try:
        changes = tickets.mark_read(current_user._get_current_object(), ticket_id)
        db.session.commit()
        publish(changes)
        return {"ok": True}
    except DomainError as exc:
        db.session.rollback()
        return {"ok": False, "message": exc.message}
    finally:
        end_session()


def register(appbuilder) -> None:
    # Handlers are registered on the shared SocketIO object; once per process is enough.
    if getattr(socketio, "_conecta_chat_handlers", False):
        return
    socketio.on_event("connect", on_connect)
    socketio.on_event("open_ticket", on_open_ticket)
    socketio._conecta_chat_handlers = True
