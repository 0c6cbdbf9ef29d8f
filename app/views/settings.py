"""Configurações › Opções: one settings form (not a list) and GET/PUT /api/v1/settings/."""
import zoneinfo

from flask import flash, request, url_for
from flask_appbuilder import SimpleFormView
from flask_appbuilder.api import BaseApi, expose as expose_api, protect, safe
from flask_appbuilder.fieldwidgets import BS3TextAreaFieldWidget, BS3TextFieldWidget, Select2Widget
from flask_appbuilder.fields import QuerySelectField
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.security.decorators import permission_name
from flask_babel import gettext as _, lazy_gettext as _l
from marshmallow import Schema, fields
from wtforms import BooleanField, SelectField, StringField, TextAreaField

from app.models import RatingTemplate, db
from app.models.base import alphabetical
from app.services import DomainError
from app.services import settings as settings_service
from app.services.settings import LABELS
from app.views.admin_base import MAX_JSON_BYTES, refusal_body, show_refusal
from app.views.errors import ApiRefusals

# Region/City zones, and UTC (a server's usual TZ_NAME: an installation started on it must find it
# here, or the form would show another zone selected and saving would move the company's clock).
_TIMEZONES = sorted(z for z in zoneinfo.available_timezones()
                    if "/" in z and not z.startswith(("Etc/", "SystemV/"))) + ["UTC"]


def _templates():
    return db.session.query(RatingTemplate).order_by(*alphabetical(RatingTemplate.name))


def _area(name, help_text=None):
    return TextAreaField(LABELS[name], widget=BS3TextAreaFieldWidget(), description=help_text or "")


class SettingsForm(DynamicForm):
    send_ratings = BooleanField(LABELS["send_ratings"], description=_l(
        "Closing a ticket offers \"close with rating\" and a choice of rating."))
    rating_required = BooleanField(LABELS["rating_required"], description=_l(
        "A ticket can only be closed by sending a rating."))
    external_rating = BooleanField(LABELS["external_rating"], description=_l(
        "The rating message is replaced by the external rating URL."))
    external_rating_url = StringField(LABELS["external_rating_url"], widget=BS3TextFieldWidget())
    default_rating_template = QuerySelectField(LABELS["default_rating_template"], query_func=_templates,
                                               get_pk_func=lambda t: t.id, allow_blank=True, blank_text="—",
                                               widget=Select2Widget())
    rating_expiry_minutes = StringField(LABELS["rating_expiry_minutes"], widget=BS3TextFieldWidget(), description=_l(
        "After this time without an answer the rating is no longer awaited."))
    business_hours = BooleanField(LABELS["business_hours"], description=_l(
        "Business hours are checked per queue (set them in each queue)."))
    open_tickets_out_of_hours = BooleanField(LABELS["open_tickets_out_of_hours"], description=_l(
        "On: the ticket stays pending after the out-of-hours message. Off: it is closed."))
    ignore_group_messages = BooleanField(LABELS["ignore_group_messages"], description=_l(
        "On: WhatsApp group messages are not received."))
    group_actions = BooleanField(LABELS["group_actions"], description=_l(
        "Off: only Admins and Supervisors may accept, transfer or close group tickets."))
    accept_calls = BooleanField(LABELS["accept_calls"], description=_l(
        "Off: incoming calls are rejected and the rejection message is sent."))
    call_rejection_message = _area("call_rejection_message")
    chatbot_type = SelectField(LABELS["chatbot_type"], choices=[("text", _l("Text")), ("list", _l("List buttons"))],
                               widget=Select2Widget())
    operator_greeting = BooleanField(LABELS["operator_greeting"], description=_l(
        "Sent when an agent accepts a ticket (not the connection's greeting)."))
    operator_greeting_text = _area("operator_greeting_text", _l(
        "You may use {{nome}}, {{atendente}}, {{fila}}, {{protocolo}} and {{saudacao}}."))
    transfer_message = BooleanField(LABELS["transfer_message"], description=_l("Sent on every transfer."))
    transfer_message_text = _area("transfer_message_text")
    operator_farewell = BooleanField(LABELS["operator_farewell"], description=_l(
        "Sent when an agent closes a ticket (otherwise the connection's completion message)."))
    operator_farewell_text = _area("operator_farewell_text")
    timezone = SelectField(LABELS["timezone"], choices=[(z, z) for z in _TIMEZONES], widget=Select2Widget(),
                           validate_choice=False)


FORM_FIELDS = list(settings_service.FIELDS)


class SettingsView(SimpleFormView):
    route_base = "/settings"
    form = SettingsForm
    form_title = _l("Options")
    form_fieldsets = [
        (_l("Ratings"), {"fields": ["send_ratings", "rating_required", "external_rating", "external_rating_url",
                                    "default_rating_template", "rating_expiry_minutes"]}),
        (_l("Business hours"), {"fields": ["business_hours", "open_tickets_out_of_hours", "timezone"]}),
        (_l("Groups and calls"), {"fields": ["ignore_group_messages", "group_actions", "accept_calls",
                                             "call_rejection_message"]}),
        (_l("Chatbot and messages"), {"fields": ["chatbot_type", "operator_greeting", "operator_greeting_text",
                                                 "transfer_message", "transfer_message_text", "operator_farewell",
                                                 "operator_farewell_text"]}),
    ]

    def get_redirect(self):
        return url_for(f"{self.endpoint}.this_form_get")  # saved: stay on the options form

    def form_get(self, form):
        values = settings_service.as_dict()
        for name in FORM_FIELDS:
            if name == "default_rating_template":
                form[name].data = db.session.get(RatingTemplate, values[name]) if values[name] else None
            elif name == "rating_expiry_minutes":
                form[name].data = str(values[name])
            else:
                form[name].data = values[name]

    def form_post(self, form):
        data = {name: form[name].data for name in FORM_FIELDS}
        template = data["default_rating_template"]
        data["default_rating_template"] = template.id if template else None
        for name in settings_service.TEXTS:
            data[name] = data[name] or None
        try:
            settings_service.update_settings(data)
        except DomainError as error:
            db.session.rollback()
            show_refusal(error, form)
            widgets = self._get_edit_widget(form=form)
            return self.render_template(self.form_template, title=self.form_title, widgets=widgets,
                                        appbuilder=self.appbuilder)
        flash(_("Options saved."), "success")
        return None


class SettingsSchema(Schema):
    send_ratings = fields.Boolean()
    rating_required = fields.Boolean()
    external_rating = fields.Boolean()
    external_rating_url = fields.String(allow_none=True, metadata={"description": "http(s) URL; required when external_rating"})
    rating_expiry_minutes = fields.Integer(metadata={"description": "minutes a rating answer is awaited"})
    default_rating_template = fields.Integer(allow_none=True, metadata={"description": "rating template id"})
    business_hours = fields.Boolean()
    open_tickets_out_of_hours = fields.Boolean()
    ignore_group_messages = fields.Boolean()
    group_actions = fields.Boolean()
    accept_calls = fields.Boolean()
    call_rejection_message = fields.String(allow_none=True, metadata={"description": "required when accept_calls is false"})
    chatbot_type = fields.String(metadata={"description": "text | list"})
    operator_greeting = fields.Boolean()
    operator_greeting_text = fields.String(allow_none=True)
    transfer_message = fields.Boolean()
    transfer_message_text = fields.String(allow_none=True)
    operator_farewell = fields.Boolean()
    operator_farewell_text = fields.String(allow_none=True)
    timezone = fields.String(metadata={"description": "IANA time zone, e.g. America/Sao_Paulo"})


class SettingsApi(ApiRefusals, BaseApi):
    resource_name = "settings"
    allow_browser_login = True
    openapi_spec_component_schemas = (SettingsSchema,)
    openapi_spec_tag = "Settings"

    @expose_api("/", methods=["GET"])
    @protect()
    @safe
    @permission_name("get")
    def get(self):
        """Every option, as one object.
        ---
        get:
          responses:
            200:
              description: The options
              content:
                application/json:
                  schema:
                    $ref: '#/components/schemas/SettingsSchema'
            401:
              $ref: '#/components/responses/401'
        """
        return self.response(200, **settings_service.as_dict())

    @expose_api("/", methods=["PUT"])
    @protect()
    @safe
    @permission_name("put")
    def put(self):
        """Change some or all options (the result must be complete and consistent).
        ---
        put:
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  $ref: '#/components/schemas/SettingsSchema'
          responses:
            200:
              description: The options after the change
              content:
                application/json:
                  schema:
                    $ref: '#/components/schemas/SettingsSchema'
            400:
              $ref: '#/components/responses/400'
            401:
              $ref: '#/components/responses/401'
            422:
              $ref: '#/components/responses/422'
        """
        if request.content_length and request.content_length > MAX_JSON_BYTES:
            return self.response_400(_("The request is too large."))
        data = request.get_json(silent=True)
        try:
            if data is None:
                raise DomainError(_("The request body must be a JSON object."), status=400)
            settings_service.update_settings(data)
        except DomainError as error:
            db.session.rollback()
            return self.response(error.status, **refusal_body(error))
        return self.response(200, **settings_service.as_dict())


def register(appbuilder) -> None:
    appbuilder.add_view(SettingsView, "Options", label=_l("Options"), icon="fa-sliders",
                        category="Settings", category_label=_l("Settings"), category_icon="fa-cogs")
    appbuilder.add_api(SettingsApi)
