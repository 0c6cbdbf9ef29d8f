"""Avaliações: rating templates (screen and /api/v1/rating/)."""
from flask_appbuilder.fields import QuerySelectField
from flask_appbuilder.fieldwidgets import BS3TextAreaFieldWidget, BS3TextFieldWidget, Select2Widget
from flask_appbuilder.forms import DynamicForm
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from flask import url_for
from flask_appbuilder.models.sqla.interface import SQLAInterface
from marshmallow import Schema, fields
from wtforms import StringField, TextAreaField

from app.models import Member, Rating, RatingTemplate, db
from app.models.base import alphabetical
from app.services import rating_templates
from app.views.admin_base import (AlphabeticalInterface, ServiceModelApi, ServiceModelView, install_csrf_token, schemas,
                                  screen_titles)


class RatingForm(DynamicForm):
    name = StringField(_l("Name"), widget=BS3TextFieldWidget())
    message = TextAreaField(_l("Message"), widget=BS3TextAreaFieldWidget(),
                            description=_l("Sent to the customer when the ticket is closed with this rating."))
    options = TextAreaField(_l("Options"), widget=BS3TextAreaFieldWidget(), description=_l(
        "One option per line: the number the customer answers, then its label, e.g. "
        "1 - Insatisfeito / 2 - Satisfeito / 3 - Muito satisfeito (each on its own line)."))


def _options(options):
    return Markup("<br>").join(Markup("{} - {}").format(o.value, o.label) for o in options or [])


class RatingView(ServiceModelView):
    datamodel = AlphabeticalInterface(RatingTemplate)
    service = rating_templates
    route_base = "/ratings"
    list_title = _l("Ratings")
    add_title = _l("Add rating")
    edit_title = _l("Edit rating")
    show_title = _l("Rating")
    list_columns = ["name", "options"]
    show_columns = ["name", "message", "options"]
    search_columns = ["name"]
    order_columns = ["name"]
    base_order = ("name", "asc")
    add_form = edit_form = RatingForm
    add_columns = edit_columns = ["name", "message", "options"]
    label_columns = {"name": _l("Name"), "message": _l("Message"), "options": _l("Options")}
    formatters_columns = {"options": _options}

    def prefill_form(self, form, pk):
        form["options"].data = rating_templates.options_text(rating_templates.get(int(pk)))

    def form_data(self, form, item=None):
        return {"name": form["name"].data, "message": form["message"].data,
                "options": rating_templates.OptionsText(form["options"].data or "")}


class RatingOptionSchema(Schema):
    value = fields.Integer(required=True, metadata={"description": "what the customer answers"})
    label = fields.String(required=True)


class RatingSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True)
    message = fields.String(required=True)
    options = fields.Method("_options", deserialize="_load",
                            metadata={"description": "[{value, label}], at least two, unique values"})

    def _options(self, obj):
        return rating_templates.options_as_dicts(obj)

    def _load(self, value):
        return value


class RatingApi(ServiceModelApi):
    label_columns = RatingView.label_columns
    resource_name = "rating"
    list_title, show_title, add_title, edit_title = screen_titles(RatingView)
    datamodel = AlphabeticalInterface(RatingTemplate)
    service = rating_templates
    allow_browser_login = True
    list_columns = show_columns = ["id", "name", "message", "options"]
    add_columns = edit_columns = list(rating_templates.FIELDS)
    order_columns = ["name"]
    base_order = ("name", "asc")
    list_model_schema, show_model_schema, add_model_schema, edit_model_schema = schemas(RatingSchema)
    openapi_spec_component_schemas = (RatingOptionSchema,)


def _ticket_link(ticket_id):
    return Markup('<a href="{}">#{}</a>').format(url_for("ChatView.index", ticket=ticket_id), ticket_id)


class ReceivedRatingView(ServiceModelView):
    """Avaliações recebidas: what customers answered, against the ticket and the agent who closed
    it (read only; Admins and Supervisors, who see every ticket)."""

    datamodel = SQLAInterface(Rating)
    route_base = "/received-ratings"
    include_route_methods = {"list", "show"}  # nothing to add, edit or delete: no route at all
    base_permissions = ["can_list", "can_show"]
    list_title = show_title = _l("Received ratings")
    list_columns = ["created_at", "value", "label", "agent", "ticket.contact", "queue", "ticket_id"]
    show_columns = list_columns
    search_columns = ["created_at", "value", "user"]
    order_columns = ["created_at", "value"]
    base_order = ("created_at", "desc")
    label_columns = {"created_at": _l("Received at"), "value": _l("Score"), "label": _l("Answer"),
                     "user": _l("Agent"), "agent": _l("Agent"), "ticket.contact": _l("Contact"), "queue": _l("Queue"),
                     "ticket_id": _l("Ticket")}
    formatters_columns = {"ticket_id": _ticket_link}
    # The Atendente filter's choices: the members only. FAB's field for a nullable relation starts
    # with a blank choice, shown as its raw value "__None" (and "equal to nobody" fails the filter).
    search_form_extra_fields = {"user": QuerySelectField(
        _l("Agent"), query_func=lambda: db.session.query(Member).order_by(*alphabetical(Member.first_name)),
        get_pk_func=lambda member: member.id, widget=Select2Widget())}


def register(appbuilder) -> None:
    install_csrf_token(appbuilder)
    # One "Avaliações" menu for both (another entry on the top bar would wrap it on a notebook).
    appbuilder.add_view(RatingView, "Ratings", label=_l("Rating templates"), icon="fa-star",
                        category="Ratings menu", category_label=_l("Ratings"), category_icon="fa-star")
    appbuilder.add_view(ReceivedRatingView, "Received ratings", label=_l("Received ratings"), icon="fa-star-half-o",
                        category="Ratings menu")
    appbuilder.add_api(RatingApi)
