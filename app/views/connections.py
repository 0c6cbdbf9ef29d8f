"""Conexões: the admin screen (list, form, QR code page) and /api/v1/connection/."""
import io

from flask import abort, flash, jsonify, redirect, request, url_for
from flask_wtf.csrf import generate_csrf
from flask_appbuilder import expose, has_access
from flask_appbuilder.api import expose as expose_api, protect, safe
from flask_appbuilder.fieldwidgets import BS3TextAreaFieldWidget, BS3TextFieldWidget, Select2ManyWidget, Select2Widget
from flask_appbuilder.fields import QuerySelectMultipleField
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext as _, lazy_gettext as _l
from markupsafe import Markup
from marshmallow import Schema, fields
from wtforms import BooleanField, SelectField, StringField, TextAreaField

from app.models import Connection, db
from app.models.connection import ConnectionStatus
from app.services import DomainError, connections, queues
from app.views.admin_base import (AlphabeticalInterface, ServiceModelApi, ServiceModelView, csrf_ok, install_csrf_token,
                                  schemas, screen_titles, valid_pk)

STATUS_LABELS = {
    ConnectionStatus.DISCONNECTED: _l("Disconnected"),
    ConnectionStatus.OPENING: _l("Opening"),
    ConnectionStatus.QRCODE: _l("Waiting for QR code scan"),
    ConnectionStatus.CONNECTED: _l("Connected"),
    ConnectionStatus.TIMEOUT: _l("QR code not scanned in time"),
}
STATUS_STYLE = {ConnectionStatus.CONNECTED: "success", ConnectionStatus.QRCODE: "warning",
                ConnectionStatus.OPENING: "info", ConnectionStatus.TIMEOUT: "danger"}


def publish(event: dict) -> None:
    """Tell the admins' and staff's screens (ARCHITECTURE: `connection` event)."""
    from app.realtime import socketio

    try:
        for room in ("admins", "staff"):
            socketio.emit("connection", event, to=room)
        socketio.emit("channel", connections.channel_event(event), to="members")
    except Exception:  # the screen also polls; a missed event only delays it
        pass


def qr_svg(code: str | None) -> str | None:
    if not code:
        return None
    import qrcode
    from qrcode.image.svg import SvgPathImage

    image = qrcode.make(code, image_factory=SvgPathImage, box_size=8, border=2)
    out = io.BytesIO()
    image.save(out)
    return out.getvalue().decode()


def _status_badge(status):
    """The status as a coloured label; `conn-status` marks it for the list's live refresh
    (admin/connection_list.html, ConnectionView.statuses)."""
    label = STATUS_LABELS.get(status, status)
    return Markup('<span class="conn-status label label-{}">{}</span>').format(STATUS_STYLE.get(status, "default"), label)


def _yes_no(value):
    return _("Yes") if value else _("No")


CHANNELS = [("whatsapp", "WhatsApp")]


class ConnectionForm(DynamicForm):
    name = StringField(_l("Name"), widget=BS3TextFieldWidget(),
                       description=_l("Shown in the connection list and on the tickets."))
    channel = SelectField(_l("Channel"), choices=CHANNELS, default="whatsapp",
                          widget=Select2Widget())
    is_default = BooleanField(_l("Default"), description=_l(
        "There is always one default connection: it is used for conversations the team starts."))
    read_receipts = BooleanField(_l("Read receipts"), default=True, description=_l(
        "When an agent opens a ticket, the customer's messages are marked as read on WhatsApp."))
    queues = QuerySelectMultipleField(
        _l("Queues"), query_func=lambda: queues.ordered(), get_pk_func=lambda q: q.id,
        widget=Select2ManyWidget(),
        description=_l("Initial queue(s) of new conversations. More than one: the chatbot menu asks the "
                       "customer to choose."))
    greeting_message = TextAreaField(_l("Greeting message"), widget=BS3TextAreaFieldWidget(), description=_l(
        "Sent when a customer starts a new conversation, before the queue menu (with a single queue, that "
        "queue's greeting is sent when it has one). You may use {{nome}}, {{saudacao}} and {{protocolo}}."))
    completion_message = TextAreaField(_l("Completion message"), widget=BS3TextAreaFieldWidget(), description=_l(
        "Sent when an agent resolves a ticket, unless the operator farewell message is on in the options."))
    out_of_hours_message = TextAreaField(_l("Out-of-hours message"), widget=BS3TextAreaFieldWidget(), description=_l(
        "Sent outside business hours when the queue has no out-of-hours message of its own."))


class ConnectionView(ServiceModelView):
    datamodel = AlphabeticalInterface(Connection)
    service = connections
    route_base = "/connections"
    list_title = _l("Connections")
    add_title = _l("Add WhatsApp")
    edit_title = _l("Edit connection")
    show_title = _l("Connection")
    list_columns = ["name", "status", "is_default", "phone", "id"]
    show_columns = ["name", "channel", "is_default", "read_receipts", "queues", "greeting_message",
                    "completion_message", "out_of_hours_message", "status", "status_reason", "phone"]
    search_columns = ["name", "phone"]
    order_columns = ["name", "status", "is_default", "phone"]
    base_order = ("name", "asc")
    # The Status column refreshes itself (polling `statuses`): a number that disconnects or
    # reconnects shows so without a reload. The base view's list rows carry their pk (data-pk).
    list_template = "admin/connection_list.html"
    add_form = edit_form = ConnectionForm
    add_columns = edit_columns = ["name", "channel", "is_default", "read_receipts", "queues", "greeting_message",
                                  "completion_message", "out_of_hours_message"]
    label_columns = {
        "name": _l("Name"), "channel": _l("Channel"), "is_default": _l("Default"),
        "read_receipts": _l("Read receipts"), "queues": _l("Queues"), "greeting_message": _l("Greeting message"),
        "completion_message": _l("Completion message"), "out_of_hours_message": _l("Out-of-hours message"),
        "status": _l("Status"), "status_reason": _l("Reason"), "phone": _l("Phone"), "id": _l("Session"),
    }
    formatters_columns = {
        "status": _status_badge,
        "is_default": _yes_no,
        "read_receipts": _yes_no,
        "channel": lambda channel: dict(CHANNELS).get(channel, channel),
        "phone": lambda phone: phone or "—",
        "id": lambda pk: Markup('<a class="btn btn-sm btn-default" href="{}"><i class="fa fa-qrcode"></i> {}</a>').format(
            url_for("ConnectionView.qr", pk=pk), _("QR code")),
    }

    def form_data(self, form, item=None):
        data = super().form_data(form, item)
        data["queues"] = [q.id for q in data["queues"] or []]
        return data

    # --- The session: QR code page, start, logout ------------------------------------------

    def _connection(self, pk):
        try:
            return connections.get(int(pk))
        except (DomainError, ValueError):
            abort(404)

    @expose("/qr/<pk>")
    @has_access
    @permission_name("qr")
    def qr(self, pk):
        connection = self._connection(pk)
        may_start = self.appbuilder.sm.has_access("can_start", self.class_permission_name)
        may_logout = self.appbuilder.sm.has_access("can_logout", self.class_permission_name)
        return self.render_template("admin/connection_qr.html", connection=connection,
                                    status_label=STATUS_LABELS.get(connection.status, connection.status),
                                    qr_image=Markup(qr_svg(connection.qr) or ""),
                                    may_start=may_start, may_logout=may_logout, csrf=generate_csrf(),
                                    title=_("QR code"))

    @expose("/qr/<pk>/state")
    @has_access
    @permission_name("qr")
    def qr_state(self, pk):
        connection = self._connection(pk)
        return jsonify(status=connection.status,
                       status_label=str(STATUS_LABELS.get(connection.status, connection.status)),
                       reason=connection.status_reason, phone=connection.phone, qr_svg=qr_svg(connection.qr))

    @expose("/statuses")
    @has_access
    @permission_name("statuses")
    def statuses(self):
        """The status of the connections asked (?ids=1,2,3; the list's rows), for the list's live
        Status column: {id: {"status", "status_label", "style"}}. Unknown ids are left out."""
        ids = {int(i) for i in request.args.get("ids", "").split(",")[:200] if i.isdigit() and valid_pk(i)}
        rows = db.session.query(Connection.id, Connection.status).filter(Connection.id.in_(ids)).all() if ids else []
        return jsonify({str(pk): {"status": status, "status_label": str(STATUS_LABELS.get(status, status)),
                                  "style": STATUS_STYLE.get(status, "default")} for pk, status in rows})

    @expose("/start/<pk>", methods=["POST"])
    @has_access
    @permission_name("start")
    def start(self, pk):
        connection = self._connection(pk)
        if not csrf_ok():
            abort(400)
        publish(connections.request_start(connection.id))
        flash(_("Starting the WhatsApp session: wait for the QR code."), "info")
        return redirect(url_for("ConnectionView.qr", pk=connection.id))

    @expose("/logout/<pk>", methods=["POST"])
    @has_access
    @permission_name("logout")
    def logout(self, pk):
        connection = self._connection(pk)
        if not csrf_ok():
            abort(400)
        publish(connections.logout(connection.id))
        flash(_("WhatsApp session disconnected."), "info")
        return redirect(url_for("ConnectionView.qr", pk=connection.id))


# --- REST ------------------------------------------------------------------------------------

class ConnectionSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True, metadata={"description": "unique name"})
    channel = fields.String(metadata={"description": "whatsapp"})
    is_default = fields.Boolean(metadata={"description": "exactly one connection is the default"})
    read_receipts = fields.Boolean()
    queues = fields.Method("_queues", deserialize="_load_queues", metadata={"description": "queue ids"})
    greeting_message = fields.String(allow_none=True)
    completion_message = fields.String(allow_none=True)
    out_of_hours_message = fields.String(allow_none=True)
    status = fields.String(dump_only=True, metadata={"description": "DISCONNECTED|OPENING|QRCODE|CONNECTED|TIMEOUT"})
    status_reason = fields.String(dump_only=True, allow_none=True)
    phone = fields.String(dump_only=True, allow_none=True)
    enabled = fields.Boolean(dump_only=True)

    def _queues(self, obj):
        return [q.id for q in obj.queues]

    def _load_queues(self, value):
        return value


class QrStateSchema(Schema):
    status = fields.String()
    qr = fields.String(allow_none=True)


class ConnectionApi(ServiceModelApi):
    # "enabled" too: FAB would label it in English ("Enabled").
    label_columns = dict({k: v for k, v in ConnectionView.label_columns.items() if k != "id"},
                         enabled=_l("Session on"))
    resource_name = "connection"
    list_title, show_title, add_title, edit_title = screen_titles(ConnectionView)
    datamodel = AlphabeticalInterface(Connection)
    service = connections
    allow_browser_login = True
    list_columns = show_columns = ["id", "name", "channel", "is_default", "read_receipts", "queues",
                                   "greeting_message", "completion_message", "out_of_hours_message",
                                   "status", "status_reason", "phone", "enabled"]
    add_columns = edit_columns = list(connections.FIELDS)
    order_columns = ["name", "status", "is_default"]
    base_order = ("name", "asc")
    list_model_schema, show_model_schema, add_model_schema, edit_model_schema = schemas(ConnectionSchema)
    openapi_spec_component_schemas = (QrStateSchema,)
    openapi_spec_methods = {"start": {"post": {"summary": "Start (or restart) the WhatsApp session"}}}

    def _session_call(self, func, pk):
        try:
            event = func(self._pk(pk))
        except DomainError as error:
            return self._error(error)
        publish(event)
        return self.response(200, status=event["status"], qr=event["qr"])

    @expose_api("/<pk>/start", methods=["POST"])
    @protect()
    @safe
    @permission_name("start")
    def start(self, pk):
        """Start the connection's WhatsApp session (a QR code follows).
        ---
        post:
          parameters:
          - in: path
            schema:
              type: integer
            name: pk
          responses:
            200:
              description: Session requested
              content:
                application/json:
                  schema:
                    $ref: '#/components/schemas/QrStateSchema'
            401:
              $ref: '#/components/responses/401'
            404:
              $ref: '#/components/responses/404'
        """
        return self._session_call(connections.request_start, pk)

    @expose_api("/<pk>/logout", methods=["POST"])
    @protect()
    @safe
    @permission_name("logout")
    def logout(self, pk):
        """Log the connection's WhatsApp session out (the phone is unlinked).
        ---
        post:
          parameters:
          - in: path
            schema:
              type: integer
            name: pk
          responses:
            200:
              description: Session logged out
              content:
                application/json:
                  schema:
                    $ref: '#/components/schemas/QrStateSchema'
            401:
              $ref: '#/components/responses/401'
            404:
              $ref: '#/components/responses/404'
        """
        return self._session_call(connections.logout, pk)

    @expose_api("/<pk>/qr", methods=["GET"])
    @protect()
    @safe
    @permission_name("qr")
    def qr(self, pk):
        """The session status and the QR code to scan (null unless status is QRCODE).
        ---
        get:
          parameters:
          - in: path
            schema:
              type: integer
            name: pk
          responses:
            200:
              description: Status and QR code
              content:
                application/json:
                  schema:
                    $ref: '#/components/schemas/QrStateSchema'
            401:
              $ref: '#/components/responses/401'
            404:
              $ref: '#/components/responses/404'
        """
        try:
            return self.response(200, **connections.qr_state(self._pk(pk)))
        except DomainError as error:
            return self._error(error)


def register(appbuilder) -> None:
    install_csrf_token(appbuilder)
    appbuilder.add_view(ConnectionView, "Connections", label=_l("Connections"), icon="fa-mobile")
    appbuilder.add_api(ConnectionApi)
