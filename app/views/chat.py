"""The agents' chat screen (Atendimentos): the page, and the JSON endpoints its script uses.

A thin shell: which tickets a member may see is decided by app.services.visibility only, what a
member may do to a ticket by app.services.tickets, sending by app.services.outbound. Here we
parse input, call them, answer JSON and publish the domain events they return.
"""
import base64
import datetime as dt
import functools
from pathlib import Path

from flask import abort, current_app, jsonify, request, send_file
from flask_appbuilder import BaseView, expose
from flask_appbuilder.security.decorators import has_access, has_access_api
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import joinedload, selectinload
from werkzeug.security import safe_join
from wtforms.validators import ValidationError

from app.models import Connection, Member, Message, Queue, RatingTemplate, Ticket, TicketStatus, db, utcnow
from app.models.base import alphabetical, fold_text
from app.models.queue import queue_order
from app.services import DomainError, connections, search
from app.services.presenters import iso

PAGE_SIZE = 30
MESSAGES_PAGE = 50
# Served inline (shown in the page); any other file is a download, never rendered by the browser.
INLINE_MIME = {
    "image/jpeg", "image/png", "image/gif", "image/webp",
    "audio/ogg", "audio/mpeg", "audio/mp4", "audio/aac", "audio/webm", "audio/wav",
    "video/mp4", "video/webm",
}
TABS = ("open", "pending", "closed", "all")


def inline_type(mime: str | None) -> str | None:
    """The type a file is shown in the page as (one of INLINE_MIME), or None for a download. The
    type counts, not its parameters: WhatsApp gives voice notes as "audio/ogg; codecs=opus"."""
    base = (mime or "").split(";")[0].strip().lower()
    return base if base in INLINE_MIME else None


# ---------------------------------------------------------------------------------------------
# Serialisation (what the screen's script reads; every string in it is shown as text)
# ---------------------------------------------------------------------------------------------

def ticket_row(ticket: Ticket) -> dict:
    """The same shape as the REST API and the `ticket` events, so the script reads one format."""
    from app.services.presenters import ticket_json

    return ticket_json(ticket)


def message_row(message: Message) -> dict:
    """The shape of the `message` events, without the server-side file path: the script builds
    the media URL (/chat/media/<id>) from the id."""
    from app.services.presenters import message_json

    row = message_json(message)
    if row.get("media"):
        row["media"] = {"mime": row["media"]["mime"] or "", "name": row["media"]["name"] or ""}
    return row


# ---------------------------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------------------------

def me():
    """The logged-in member as the model object (services assign it to relationships)."""
    return current_user._get_current_object()


def json_error(message, status: int):
    return jsonify({"message": str(message)}), status


def domain_errors(f):
    """Map the services' DomainError (NotFound 404, Forbidden 403, others 400/422) to JSON."""

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        try:
            return f(*args, **kwargs)
        except DomainError as exc:
            db.session.rollback()
            return json_error(exc.message, exc.status)

    return wrapper


def csrf_protected(f):
    """POSTs from the screen carry the page's CSRF token in X-CSRFToken (FAB protects only its
    forms, and the session cookie alone must never be enough to act)."""

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        try:
            validate_csrf(request.headers.get("X-CSRFToken", ""))
        except (ValidationError, CSRFError):
            return json_error(_l("The page expired. Reload it and try again."), 400)
        return f(*args, **kwargs)

    return wrapper


def visible_ticket(ticket_id: int) -> Ticket:
    """The ticket, if the current member may see it (NotFound otherwise, whether it exists or not)."""
    from app.services.visibility import get_visible_ticket

    return get_visible_ticket(me(), ticket_id)


def commit_and_publish(changes) -> None:
    from app.workers.publish import publish

    db.session.commit()
    publish(changes)


def encode_cursor(ticket: Ticket) -> str:
    raw = f"{ticket.updated_at.isoformat()}|{ticket.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode()


def decode_cursor(cursor: str) -> tuple[dt.datetime, int] | None:
    from app.services.visibility import parse_id

    try:
        when, ticket_id = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        when, ticket_id = dt.datetime.fromisoformat(when), parse_id(ticket_id)
    except (ValueError, UnicodeDecodeError):
        return None
    return (when, ticket_id) if ticket_id else None


def int_arg(name: str) -> int | None:
    """An id from the query string, or None when absent or not an id a column can hold."""
    from app.services.visibility import parse_id

    return parse_id(request.args.get(name))


def json_body() -> dict:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else {}


def chat_strings() -> dict:
    """Every string the screen's script shows, translated here (the script has no catalogue)."""
    from flask_babel import gettext as _

    return {
        "today": _("Today"),
        "yesterday": _("Yesterday"),
        "no_tickets": _("No tickets here."),
        "load_more": _("Load more"),
        "older_messages": _("Load older messages"),
        "select_ticket": _("Select a ticket to see the conversation."),
        "status_pending": _("Waiting"),
        "status_open": _("In service"),
        "status_closed": _("Solved"),  # not "Closed": that id is a day without hours (Fechado)
        "awaiting_rating": _("Awaiting rating"),
        "no_queue": _("No queue"),
        "group": _("Group"),
        "tick_queued": _("Waiting to be sent"),
        "tick_sent": _("Sent to WhatsApp"),
        "tick_delivered": _("Delivered to the contact"),
        "tick_read": _("Read by the contact"),
        "tick_failed": _("Not sent"),
        "retry": _("Try again"),
        "download": _("Download"),
        "missed_call": _("Missed call"),
        "location": _("Location (open the map)"),
        "error": _("Something went wrong. Try again."),
        "network_error": _("No connection to the server. Trying again..."),
        "reconnected": _("Connection restored."),
        # A request that never reached the server: nothing retries it (the socket's banner does).
        "offline": _("No connection to the server. Try again when it is back."),
        "not_sent_offline": _("Message not sent: no connection to the server. What you typed is back in the box."),
        # The open conversation became invisible to the member (transferred away, queue removed).
        "ticket_gone": _("This conversation is no longer available to you: it was transferred, "
                         "or your queues changed."),
        "unsent_text": _("What you typed there and did not send:"),
        "copy_text": _("Copy text"),
        "copied": _("Copied."),
        "file_too_big": _("The file is too big."),
        "file_type": _("This type of file cannot be sent."),
        "message_too_long": _("The message is too long."),
        "length_count": _("%(count)s of %(max)s characters"),
        # A row of the ticket list as a screen reader names it (the badge alone is a bare number).
        "unread_one": _("1 unread message"),
        "unread_many": _("%(n)s unread messages"),
        "notify_pending": _("New ticket waiting"),
        "notify_message": _("New message"),
        "notify_transferred": _("Ticket transferred to you"),
        "choose_queue_or_user": _("Choose a queue or an agent."),
        "choose_rating": _("Choose a rating."),
        "send_rating": _("Send rating: %(name)s"),
        "attachment": _("Attachment"),
        "assigned_to": _("Agent"),
        "connection": _("Connection"),
        "connection_down": _("The WhatsApp number %(name)s is not connected: messages wait and go out when it is "
                             "back. Tell an administrator (Conexões)."),
        "accept_to_reply": _("Accept the ticket to reply."),
        "cannot_reply": _("You cannot reply to this ticket."),
        "closed_reply": _("This ticket is resolved. Reopen it to reply."),
        # Where no button would help (the same texts as the refusals of app.services.tickets).
        "group_staff_only": _("Only Admins and Supervisors may act on group conversations."),
        "reopen_not_yours": _("Only Admins, Supervisors or the ticket's agent may reopen it."),
        "handled_by_other": _("This ticket is being handled by another agent."),
    }


class ChatView(BaseView):
    """Atendimentos: the ticket list on the left, the conversation on the right."""

    route_base = "/chat"
    default_view = "index"

    # ------------------------------------------------------------------ the page
    @expose("/")
    @has_access
    def index(self):
        from app.services.settings import get_settings

        settings = get_settings()
        user = me()
        staff = user.sees_all_tickets
        queues = db.session.scalars(select(Queue).order_by(*queue_order())).all()
        filter_queues = queues if staff else list(user.queues)
        boot = {
            "user": {"id": user.id, "name": user.name, "staff": staff,
                     "queue_ids": [q.id for q in user.queues], "sign": user.sign_messages},
            "queues": [{"id": q.id, "name": q.name, "color": q.color} for q in filter_queues],
            # With several WhatsApp numbers, the list names each ticket's (the header always does).
            "several_connections": db.session.scalar(select(func.count(Connection.id))) > 1,
            "offline_connections": connections.offline_ids(),
            "settings": {
                "group_actions": settings.group_actions,
                "timezone": settings.timezone,
            },
            "max_body": self.max_body(),
            "max_upload": self.max_upload(),
            "accept": ",".join(sorted(self.upload_extensions())),
            "inline": sorted(INLINE_MIME),
            "strings": chat_strings(),
            "now": iso(utcnow()),
        }
        boot.update(self.rating_choices(settings))
        boot["settings"].update(boot.pop("rating_settings"))
        return self.render_template("chat/index.html", boot=boot, csrf=generate_csrf())

    @staticmethod
    def rating_choices(settings) -> dict:
        """What the "Resolver" dialog offers: the rating options and the registered ratings. The
        page asks again each time the dialog opens (close_options), so an admin's change shows
        without a reload."""
        return {
            "rating_settings": {
                "send_ratings": settings.send_ratings,
                "rating_required": settings.rating_required,
                "external_rating": settings.external_rating,
            },
            "ratings": [{"id": r.id, "name": r.name} for r in
                        db.session.scalars(select(RatingTemplate).order_by(*alphabetical(RatingTemplate.name)))],
            "default_rating": settings.default_rating_template_id,
        }

    @expose("/api/close-options")
    @has_access_api
    def close_options(self):
        from app.services.settings import get_settings

        return jsonify(self.rating_choices(get_settings()))

    @staticmethod
    def max_body() -> int:
        from app.services import outbound

        return outbound.MAX_BODY

    @staticmethod
    def max_upload() -> int:
        """The largest file the page lets an agent send: the chat's limit, and the server's
        request limit (MAX_CONTENT_LENGTH, a separate setting) less room for the form's fields."""
        from app.services import attachments

        limit = attachments.max_bytes()
        request_limit = current_app.config.get("MAX_CONTENT_LENGTH")
        if request_limit:
            limit = min(limit, request_limit - 16 * 1024)
        return max(limit, 0)

    @staticmethod
    def upload_extensions() -> set[str]:
        from app.services import attachments

        return {"." + ext for ext in attachments.ALLOWED}

    # ------------------------------------------------------------------ ticket list
    @expose("/api/tickets")
    @has_access_api
    @domain_errors
    def tickets(self):
        from app.services.visibility import visible_tickets

        user = me()
        tab = request.args.get("tab", "open")
        if tab not in TABS:
            return json_error(_l("Invalid value."), 422)
        # Todos is every ticket the member may see (a User: their queues', colleagues' included, so
        # that a conversation a colleague is handling can be found before starting another).
        stmt = visible_tickets(user)
        if tab == "open":
            stmt = stmt.where(Ticket.status == TicketStatus.OPEN, Ticket.user_id == user.id)
        elif tab == "pending":
            stmt = stmt.where(Ticket.status == TicketStatus.PENDING)
        elif tab == "closed":
            stmt = stmt.where(Ticket.status == TicketStatus.CLOSED)
        queue = request.args.get("queue", "")
        if queue == "none":
            stmt = stmt.where(Ticket.queue_id.is_(None))
        elif queue:
            queue_id = int_arg("queue")
            if queue_id is None:
                return json_error(_l("Invalid value."), 422)
            stmt = stmt.where(Ticket.queue_id == queue_id)
        cursor = None
        if request.args.get("cursor"):
            cursor = decode_cursor(request.args["cursor"])
            if cursor is None:  # as the REST API refuses a bad "before": never the first page instead
                return json_error(_l("Invalid cursor."), 400)
        if cursor:
            when, last_id = cursor
            stmt = stmt.where(or_(Ticket.updated_at < when, and_(Ticket.updated_at == when, Ticket.id < last_id)))
        text = search.normalise(request.args.get("q"))
        if text is not None:
            stmt = stmt.where(search.page_clause(stmt, text, PAGE_SIZE + 1))
        stmt = (
            # The page's contacts, queues, members and connections in the same query (one round
            # trip, not one per relation).
            stmt.options(joinedload(Ticket.contact), joinedload(Ticket.queue), joinedload(Ticket.user),
                         joinedload(Ticket.connection))
            .order_by(*search.LIST_ORDER)
            .limit(PAGE_SIZE + 1)
        )
        rows = db.session.scalars(stmt).all()
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        return jsonify({
            "tickets": [ticket_row(t) for t in rows],
            "cursor": encode_cursor(rows[-1]) if more else None,
            "counts": self.counts(user),
        })

    @staticmethod
    def counts(user) -> dict:
        from app.services.visibility import visible_tickets

        def count(*where):
            stmt = visible_tickets(user).where(*where).order_by(None)
            return select(func.count()).select_from(stmt.subquery()).scalar_subquery()

        # Both badges in one statement (one round trip), each count with its own index.
        open_, pending = db.session.execute(select(
            count(Ticket.status == TicketStatus.OPEN, Ticket.user_id == user.id),
            count(Ticket.status == TicketStatus.PENDING),
        )).one()
        return {"open": open_, "pending": pending}

    @expose("/api/counts")
    @has_access_api
    def count_badges(self):
        return jsonify({"counts": self.counts(me())})

    @expose("/api/tickets/<int:ticket_id>")
    @has_access_api
    @domain_errors
    def ticket(self, ticket_id):
        ticket = visible_ticket(ticket_id)
        # Whether its number is connected: a page back from a socket drop missed the `channel`
        # events of meanwhile, and reads it here with the rest of the open conversation.
        offline = connections.is_offline(ticket.connection) if ticket.connection else None
        return jsonify({"ticket": ticket_row(ticket), "actions": self.allowed_actions(ticket),
                        "connection_offline": offline})

    @staticmethod
    def allowed_actions(ticket) -> list[str]:
        from app.services import tickets

        return sorted(tickets.allowed_actions(me(), ticket))

    # ------------------------------------------------------------------ conversation
    @expose("/api/tickets/<int:ticket_id>/messages")
    @has_access_api
    @domain_errors
    def messages(self, ticket_id):
        ticket = visible_ticket(ticket_id)
        stmt = select(Message).where(Message.ticket_id == ticket.id).options(selectinload(Message.user))
        before, after = int_arg("before"), int_arg("after")
        if (before is None and request.args.get("before")) or (after is None and request.args.get("after")):
            return json_error(_l("Invalid id."), 400)  # as the REST API's "before": never the first page instead
        if after is not None:
            stmt = stmt.where(Message.id > after).order_by(Message.id.asc()).limit(MESSAGES_PAGE + 1)
            rows = db.session.scalars(stmt).all()
            more = len(rows) > MESSAGES_PAGE
            rows = rows[:MESSAGES_PAGE]
        else:
            if before is not None:
                stmt = stmt.where(Message.id < before)
            rows = db.session.scalars(stmt.order_by(Message.id.desc()).limit(MESSAGES_PAGE + 1)).all()
            more = len(rows) > MESSAGES_PAGE
            rows = list(reversed(rows[:MESSAGES_PAGE]))
        return jsonify({"messages": [message_row(m) for m in rows], "more": more})

    @expose("/api/tickets/<int:ticket_id>/messages", methods=["POST"])
    @has_access_api
    @csrf_protected
    @domain_errors
    def send(self, ticket_id):
        from app.services import attachments, tickets

        upload = request.files.get("file")
        if upload is not None and upload.filename:
            body = request.form.get("body", "")
            stored = attachments.store(upload.stream, upload.filename, current_app.config["MEDIA_DIR"])
            try:
                message, changes = tickets.send_media(me(), ticket_id, stored, caption=body)
            except DomainError:
                attachments.discard(stored, current_app.config["MEDIA_DIR"])
                raise
        else:
            message, changes = tickets.send_message(me(), ticket_id, json_body().get("body"))
        commit_and_publish(changes)
        return jsonify({"message": message_row(message)}), 201

    @expose("/api/messages/<int:message_id>/retry", methods=["POST"])
    @has_access_api
    @csrf_protected
    @domain_errors
    def retry(self, message_id):
        from app.services import outbound
        from app.services.events import Changes

        from app.services.visibility import parse_id

        if parse_id(message_id) is None:
            abort(404)
        changes = Changes()
        message = outbound.retry(message_id, me(), changes)
        commit_and_publish(changes)
        return jsonify({"message": message_row(message)})

    @expose("/media/<int:message_id>")
    @has_access_api
    def media(self, message_id):
        """A message's file (an <img>, <audio> or download link, not the chat's JSON). Every
        refusal is the same 404 page: no file, no such message, or a ticket the member may not see
        (which answered the chat API's JSON "Ticket não encontrado." and told that it exists)."""
        from app.services import NotFound
        from app.services.visibility import parse_id

        message = db.session.get(Message, message_id) if parse_id(message_id) else None
        if message is None or not message.media_path:
            abort(404)
        try:
            visible_ticket(message.ticket_id)
        except NotFound:
            abort(404)
        path = safe_join(current_app.config["MEDIA_DIR"], message.media_path)
        if path is None or not Path(path).is_file():
            abort(404)
        inline = inline_type(message.media_mime)
        response = send_file(
            path,
            mimetype=inline or "application/octet-stream",
            as_attachment=inline is None,
            download_name=message.media_name or Path(path).name,
            max_age=3600,
        )
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
        response.headers["Cache-Control"] = "private, max-age=3600"
        return response

    # ------------------------------------------------------------------ actions
    @expose("/api/tickets/<int:ticket_id>/<action>", methods=["POST"])
    @has_access_api
    @csrf_protected
    @domain_errors
    def act(self, ticket_id, action):
        from app.services import tickets
        from app.services.visibility import visible_tickets

        user = me()
        data = json_body()
        if action == "accept":
            changes = tickets.accept(user, ticket_id)
        elif action == "transfer":
            changes = tickets.transfer(user, ticket_id, queue_id=data.get("queue"), user_id=data.get("user"))
        elif action == "close":
            changes = tickets.close(user, ticket_id, rating_template_id=data.get("rating"),
                                    with_rating=data.get("with_rating", False))
        elif action == "reopen":
            changes = tickets.reopen(user, ticket_id)
        elif action == "return":
            changes = tickets.return_to_pending(user, ticket_id)
        elif action == "rename":
            changes = tickets.rename_contact(user, ticket_id, data.get("name"))
        else:
            abort(404)
        commit_and_publish(changes)
        # After a transfer the member may no longer see the ticket: then there is nothing to show.
        ticket = db.session.scalars(visible_tickets(user).where(Ticket.id == ticket_id)).first()
        if ticket is None:
            return jsonify({"ticket": None, "actions": []})
        return jsonify({"ticket": ticket_row(ticket), "actions": self.allowed_actions(ticket)})

    @expose("/api/conversations", methods=["POST"])
    @has_access_api
    @csrf_protected
    @domain_errors
    def start(self):
        """Nova conversa (app.services.tickets.start_conversation): the ticket to open."""
        from app.services import tickets

        data = json_body()
        ticket, changes, created = tickets.start_conversation(me(), data.get("phone"), data.get("name"),
                                                              data.get("queue"))
        commit_and_publish(changes)
        return jsonify({"ticket": ticket_row(ticket), "actions": self.allowed_actions(ticket),
                        "created": created}), 201 if created else 200

    # ------------------------------------------------------------------ composer helpers
    @expose("/api/quick-replies")
    @has_access_api
    @domain_errors
    def quick_replies(self):
        """With ?ticket=<id>: the messages as they would be sent on that ticket (variables filled)."""
        from app.services import quick_replies

        ticket_id = request.args.get("ticket")
        if ticket_id is not None:
            return jsonify({"quick_replies": quick_replies.for_ticket(me(), ticket_id)})
        rows = quick_replies.visible_to(me()).all()
        return jsonify({"quick_replies": [{"shortcut": r.shortcut, "message": r.message} for r in rows]})

    @expose("/api/signature", methods=["POST"])
    @has_access_api
    @csrf_protected
    @domain_errors
    def signature(self):
        """The composer's "Assinar" switch, {"on": true|false}: the logged-in member's own
        preference (app.services.team.set_signature), kept on their profile."""
        from app.services import team

        changes = team.set_signature(me(), json_body().get("on"))
        commit_and_publish(changes)
        return jsonify({"on": me().sign_messages})

    @expose("/api/transfer-targets")
    @has_access_api
    def transfer_targets(self):
        queues = db.session.scalars(select(Queue).order_by(*queue_order())).all()
        members = db.session.scalars(
            select(Member).where(Member.active.is_(True)).options(selectinload(Member.queues))
        ).all()
        return jsonify({
            "queues": [{"id": q.id, "name": q.name, "color": q.color} for q in queues],
            "users": sorted(
                ({"id": m.id, "name": m.name or m.email, "queue_ids": [q.id for q in m.queues]} for m in members),
                key=lambda m: (fold_text(m["name"]), m["name"]),
            ),
        })


def register(appbuilder) -> None:
    appbuilder.add_view(ChatView, "Chat", label=_l("Conversations"), icon="fa-comments")
