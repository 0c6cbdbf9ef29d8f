"""The ticket REST API (DESIGN.md §7): a thin shell over app.services.tickets and visibility."""
from flask import current_app, request
from flask_appbuilder.api import BaseApi, expose
from flask_appbuilder.security.decorators import permission_name, protect
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import joinedload

from app.models import Message, Ticket, TicketStatus, db
from app.services import DomainError, outbound, presenters, search, tickets, visibility
from app.views.errors import ApiRefusals
from app.workers.publish import publish

MAX_PAGE_SIZE = 100


def _me():
    """The authenticated member (JWT, API key or session): FAB's view of it, not flask_login's,
    which knows nothing of JWT."""
    return current_app.appbuilder.sm.current_user


def _body() -> dict:
    """The JSON object sent, or {} when nothing was sent; anything else is refused (a malformed
    body is never taken for an empty one)."""
    data = request.get_json(silent=True)
    if data is None:
        if request.get_data(cache=True):
            raise DomainError(_l("The request body must be a JSON object."), status=400)
        data = {}
    if not isinstance(data, dict):
        raise DomainError(_l("The request body must be a JSON object."), status=400)
    return data


class TicketApi(ApiRefusals, BaseApi):
    resource_name = "ticket"
    # The browser's session cookie too, like every API here (SECURITY.md); its writes then need the
    # page's CSRF token (app.security.session_api_csrf).
    allow_browser_login = True
    openapi_spec_tag = "Tickets"

    def _run(self, action, status=200):
        """Run an action that returns Changes: commit, publish, answer with the ticket."""
        try:
            result = action()
        except DomainError as exc:
            db.session.rollback()
            return self.response(exc.status, message=exc.message)
        db.session.commit()
        publish(result)
        return result

    def _ticket_response(self, ticket_id, changes_or_response):
        if not hasattr(changes_or_response, "events"):
            return changes_or_response
        ticket = db.session.scalars(visibility.visible_tickets(_me()).where(Ticket.id == visibility.parse_id(ticket_id))).first()
        if ticket is None:  # e.g. transferred to a queue the caller is not in
            return self.response(200, result=None)
        return self.response(200, result=presenters.ticket_json(ticket))

    @expose("/", methods=["GET"])
    @protect()
    @permission_name("get")
    def list(self):
        """Tickets the caller may see, newest activity first.
        ---
        get:
          parameters:
          - {in: query, name: status, schema: {type: string, enum: [pending, open, closed]}}
          - {in: query, name: queue, schema: {type: integer, minimum: 1, maximum: 2147483647}}
          - {in: query, name: q, description: "search: contact name or number, message text (app.services.search)", schema: {type: string, maxLength: 100}}
          - {in: query, name: page, schema: {type: integer, minimum: 0, maximum: 2147483647}}
          - {in: query, name: page_size, schema: {type: integer, minimum: 1, maximum: 100}}
          responses:
            200: {description: "{count, result: [ticket]}; with q, count stops at 1000 and count_capped: true says there are more"}
            400: {description: bad filter}
        """
        query = visibility.visible_tickets(_me())
        status = request.args.get("status")
        if status:
            if status not in TicketStatus.ALL:
                return self.response_400(str(_l("Invalid status.")))
            query = query.where(Ticket.status == status)
        queue = request.args.get("queue")
        if queue:
            queue_id = visibility.parse_id(queue)
            if queue_id is None:
                return self.response_400(str(_l("Invalid queue.")))
            query = query.where(Ticket.queue_id == queue_id)
        try:
            page = int(request.args.get("page", 0))
            page_size = int(request.args.get("page_size", 25))
        except ValueError:
            return self.response_400(str(_l("Invalid page.")))
        if not 0 <= page <= visibility.MAX_ID or not 1 <= page_size <= MAX_PAGE_SIZE:
            return self.response_400(str(_l("Invalid page.")))
        if len(request.args.get("q", "")) > search.MAX_LENGTH:
            return self.response_400(str(_l("The search may have at most %(n)s characters.", n=search.MAX_LENGTH)))
        text = search.normalise(request.args.get("q"))
        count = db.session.scalar(search.count(query, text, cap=search.COUNT_CAP if text is not None else None))
        capped = text is not None and count > search.COUNT_CAP
        extra = {"count_capped": True} if capped else {}
        count = min(count, search.COUNT_CAP) if capped else count
        if text is not None:
            query = query.where(search.page_clause(query, text, (page + 1) * page_size))
        # The page's contacts, queues, members and connections in the same query (not one query
        # per ticket when presenting it).
        rows = db.session.scalars(query.options(joinedload(Ticket.contact), joinedload(Ticket.queue),
                                                joinedload(Ticket.user), joinedload(Ticket.connection))
                                  .order_by(*search.LIST_ORDER)
                                  .offset(page * page_size).limit(page_size))
        return self.response(200, count=count, result=[presenters.ticket_json(t) for t in rows], **extra)

    @expose("/", methods=["POST"])
    @protect()
    @permission_name("post")
    def start(self):
        """Nova conversa: start a conversation with a WhatsApp number, open with the caller, on the
        caller's default connection (else the company's). The contact's conversation in progress
        there is answered instead (200) when the caller may see it; 409 when it is another team's.
        ---
        post:
          requestBody: {required: true, content: {application/json: {schema: {type: object, required: [phone], properties: {phone: {type: string, maxLength: 40, description: "with area code; Brazilian unless it starts with + and a country code"}, name: {type: string, maxLength: 200}, queue: {type: integer, description: "one of the caller's queues (required for a User of several queues)"}}}}}}
          responses: {201: {description: ticket started}, 200: {description: the contact's conversation in progress}, 400: {description: not a JSON object}, 409: {description: in progress with another team}, 422: {description: bad number, queue or no connection}}
        """
        try:
            data = _body()
            ticket, changes, created = tickets.start_conversation(_me(), data.get("phone"), data.get("name"),
                                                                  data.get("queue"))
        except DomainError as exc:
            db.session.rollback()
            return self.response(exc.status, message=exc.message)
        db.session.commit()
        publish(changes)
        return self.response(201 if created else 200, result=presenters.ticket_json(ticket))

    @expose("/<ticket_id>", methods=["GET"])
    @protect()
    @permission_name("get")
    def get(self, ticket_id):
        """One ticket (404 when the caller may not see it).
        ---
        get:
          parameters: [{in: path, name: ticket_id, required: true, schema: {type: integer}}]
          responses: {200: {description: ticket}, 404: {description: not found}}
        """
        try:
            ticket = visibility.get_visible_ticket(_me(), ticket_id)
        except DomainError as exc:
            return self.response(exc.status, message=exc.message)
        return self.response(200, result=presenters.ticket_json(ticket))

    @expose("/<ticket_id>/messages", methods=["GET"])
    @protect()
    @permission_name("messages")
    def get_messages(self, ticket_id):
        """The ticket's messages, oldest first.
        ---
        get:
          parameters:
          - {in: path, name: ticket_id, required: true, schema: {type: integer}}
          - {in: query, name: before, schema: {type: integer, minimum: 1, maximum: 2147483647}}
          responses: {200: {description: "{result: [message]}"}, 400: {description: bad id}, 404: {description: not found}}
        """
        before = None
        if request.args.get("before"):
            before = visibility.parse_id(request.args["before"])
            if before is None:
                return self.response_400(str(_l("Invalid id.")))
        try:
            _, rows = tickets.messages(_me(), ticket_id, before_id=before)
        except DomainError as exc:
            return self.response(exc.status, message=exc.message)
        return self.response(200, result=[presenters.message_json(m) for m in rows])

    @expose("/<ticket_id>/messages", methods=["POST"])
    @protect()
    @permission_name("messages")
    def post_message(self, ticket_id):
        """Send a message to the ticket's contact (stored as queued, then handed to the connection).
        ---
        post:
          parameters: [{in: path, name: ticket_id, required: true, schema: {type: integer}}]
          requestBody: {required: true, content: {application/json: {schema: {type: object, required: [body], properties: {body: {type: string, minLength: 1, maxLength: 4096}}}}}}
          responses: {201: {description: message}, 400: {description: closed ticket or not a JSON object}, 403: {description: another agent handles it}, 404: {description: not found}, 422: {description: bad body}}
        """
        try:
            data = _body()
            message, changes = tickets.send_message(_me(), ticket_id, data.get("body"))
        except DomainError as exc:
            db.session.rollback()
            return self.response(exc.status, message=exc.message)
        db.session.commit()
        publish(changes)
        return self.response(201, result=presenters.message_json(message))

    @expose("/<ticket_id>/messages/<message_id>/retry", methods=["POST"])
    @protect()
    @permission_name("messages")
    def retry_message(self, ticket_id, message_id):
        """Queue a failed message again.
        ---
        post:
          parameters:
          - {in: path, name: ticket_id, required: true, schema: {type: integer}}
          - {in: path, name: message_id, required: true, schema: {type: integer}}
          responses: {200: {description: message}, 404: {description: not found}, 400: {description: not failed}}
        """
        try:
            ticket = visibility.get_visible_ticket(_me(), ticket_id)
            mid = visibility.parse_id(message_id)
            message = db.session.get(Message, mid) if mid else None
            if message is None or message.ticket_id != ticket.id:
                return self.response_404()
            changes = tickets.Changes()
            outbound.retry(message.id, _me(), changes)
        except DomainError as exc:
            db.session.rollback()
            return self.response(exc.status, message=exc.message)
        db.session.commit()
        publish(changes)
        return self.response(200, result=presenters.message_json(message))

    def _action(self, ticket_id, action):
        result = self._run(action)
        return self._ticket_response(ticket_id, result)

    @expose("/<ticket_id>/accept", methods=["POST"])
    @protect()
    @permission_name("accept")
    def accept(self, ticket_id):
        """pending → open with the caller.
        ---
        post:
          parameters: [{in: path, name: ticket_id, required: true, schema: {type: integer}}]
          responses: {200: {description: ticket}, 400: {description: invalid transition}, 403: {description: not allowed on this ticket}, 404: {description: not found}}
        """
        return self._action(ticket_id, lambda: tickets.accept(_me(), ticket_id))

    @expose("/<ticket_id>/transfer", methods=["POST"])
    @protect()
    @permission_name("transfer")
    def transfer(self, ticket_id):
        """To a queue and/or an agent: {"queue": id, "user": id}.
        ---
        post:
          parameters: [{in: path, name: ticket_id, required: true, schema: {type: integer}}]
          requestBody: {content: {application/json: {schema: {type: object, properties: {queue: {type: integer}, user: {type: integer}}}}}}
          responses: {200: {description: ticket (null when the caller no longer sees it)}, 400: {description: invalid transition or not a JSON object}, 403: {description: not allowed on this ticket}, 404: {description: not found}, 422: {description: bad target}}
        """
        def action():
            data = _body()
            return tickets.transfer(_me(), ticket_id, data.get("queue"), data.get("user"))
        return self._action(ticket_id, action)

    @expose("/<ticket_id>/close", methods=["POST"])
    @protect()
    @permission_name("close")
    def close(self, ticket_id):
        """Close, optionally with a rating: {"rating": id} names the template; {"with_rating": true}
        asks for the rating without naming one (the external rating URL when it is on, else the
        default rating), as the chat's "Resolver com avaliação" does.
        ---
        post:
          parameters: [{in: path, name: ticket_id, required: true, schema: {type: integer}}]
          requestBody: {content: {application/json: {schema: {type: object, properties: {rating: {type: integer}, with_rating: {type: boolean, default: false}}}}}}
          responses: {200: {description: ticket}, 400: {description: invalid transition or not a JSON object}, 403: {description: not allowed on this ticket}, 404: {description: not found}, 422: {description: rating required, ratings off or a bad rating / with_rating}}
        """
        def action():
            data = _body()
            return tickets.close(_me(), ticket_id, data.get("rating"), with_rating=data.get("with_rating", False))
        return self._action(ticket_id, action)

    @expose("/<ticket_id>/reopen", methods=["POST"])
    @protect()
    @permission_name("reopen")
    def reopen(self, ticket_id):
        """closed → open.
        ---
        post:
          parameters: [{in: path, name: ticket_id, required: true, schema: {type: integer}}]
          responses: {200: {description: ticket}, 400: {description: invalid transition}, 403: {description: not allowed on this ticket}, 404: {description: not found}, 409: {description: "the contact is in a conversation the caller may not see"}}
        """
        return self._action(ticket_id, lambda: tickets.reopen(_me(), ticket_id))

    @expose("/<ticket_id>/contact", methods=["POST"])
    @protect()
    @permission_name("post")
    def rename_contact(self, ticket_id):
        """The contact's name as the team knows it: {"name": ...} (not for groups).
        ---
        post:
          parameters: [{in: path, name: ticket_id, required: true, schema: {type: integer}}]
          requestBody: {required: true, content: {application/json: {schema: {type: object, required: [name], properties: {name: {type: string, minLength: 1, maxLength: 200}}}}}}
          responses: {200: {description: ticket}, 400: {description: not a JSON object}, 404: {description: not found}, 422: {description: bad name or a group}}
        """
        return self._action(ticket_id, lambda: tickets.rename_contact(_me(), ticket_id, _body().get("name")))

    @expose("/<ticket_id>/return", methods=["POST"])
    @protect()
    @permission_name("return")
    def return_to_pending(self, ticket_id):
        """open → pending, without an agent.
        ---
        post:
          parameters: [{in: path, name: ticket_id, required: true, schema: {type: integer}}]
          responses: {200: {description: ticket}, 400: {description: invalid transition}, 403: {description: not allowed on this ticket}, 404: {description: not found}}
        """
        return self._action(ticket_id, lambda: tickets.return_to_pending(_me(), ticket_id))


def register(appbuilder) -> None:
    appbuilder.add_api(TicketApi)
