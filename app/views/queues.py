"""Filas & Chatbot: the admin screen and /api/v1/queue/."""
from flask_appbuilder.fieldwidgets import BS3TextAreaFieldWidget, BS3TextFieldWidget
from flask_appbuilder.forms import DynamicForm
from flask_babel import gettext as _, lazy_gettext as _l
from markupsafe import Markup
from marshmallow import Schema, fields
from sqlalchemy import asc, desc
from wtforms import StringField, TextAreaField, widgets

from app.models import Queue
from app.models.base import alphabetical
from app.services import queues
from app.views.admin_base import (AlphabeticalInterface, ServiceModelApi, ServiceModelView, install_csrf_token, schemas,
                                  screen_titles)

DAY_FIELDS = ("hours_mon", "hours_tue", "hours_wed", "hours_thu", "hours_fri", "hours_sat", "hours_sun")
_HOURS_HELP = _l("Opening hours, e.g. 08:00-12:00, 13:00-18:00. Empty: closed all day (with every day empty, "
                 "the queue is always open).")


def _swatch(color):
    return Markup('<span style="display:inline-block;width:1.4em;height:1.4em;border-radius:3px;'
                  'vertical-align:middle;border:1px solid #999;background:{0}"></span> <code>{0}</code>').format(color or "")


def _hours_text(hours):
    if not hours:  # app/services/hours.py: no interval at all = always open, not closed every day
        return _("No hours set: always open.")
    lines = [Markup("<strong>{}</strong>: {}").format(queues.WEEKDAYS[d], text or _("Closed"))
             for d, text in enumerate(queues.day_texts(hours))]
    return Markup("<br>").join(lines)


class ColorInput(BS3TextFieldWidget):
    """A native colour picker: the browser sends #rrggbb."""

    input_type = "color"

    def __call__(self, field, **kwargs):
        kwargs.setdefault("style", "max-width:6em;height:2.4em")
        if not field.data:
            field.data = ""
        return super().__call__(field, **kwargs)


class QueueInterface(AlphabeticalInterface):
    """Sorting by bot order breaks ties by name (the chatbot menu's order); FAB sorts by one column."""

    def apply_order_by(self, query, order_column, order_direction, *args, **kwargs):
        if order_column == "bot_order":
            direction = asc if order_direction == "asc" else desc
            return query.order_by(direction(Queue.bot_order), *alphabetical(Queue.name, direction), direction(Queue.id))
        return super().apply_order_by(query, order_column, order_direction, *args, **kwargs)


class DayHoursInput(BS3TextFieldWidget):
    """A weekday's hours box whose placeholder says what an empty day means, "Fechado" (FAB's text
    widget always wrote the label there, "Segunda-feira" in the Segunda-feira box)."""

    def __call__(self, field, **kwargs):
        kwargs["class"] = "form-control"
        kwargs["placeholder"] = str(_l("Closed"))
        return widgets.TextInput.__call__(self, field, **kwargs)


def _day_field(weekday_label):
    """One weekday's opening hours, typed as text (queues.hours_from_day_texts reads it)."""
    return StringField(weekday_label, widget=DayHoursInput(), description=_HOURS_HELP)


class QueueForm(DynamicForm):
    name = StringField(_l("Name"), widget=BS3TextFieldWidget(),
                       description=_l("Shown in the queue list and on the tickets."))
    bot_order = StringField(_l("Bot order"), widget=BS3TextFieldWidget(), default="0",
                            description=_l("Position of this queue in the lists and in the chatbot menu."))
    color = StringField(_l("Color"), widget=ColorInput(), default=lambda: queues.suggested_color(),
                        description=_l("Identifies the queue in the lists and tickets."))
    greeting_message = TextAreaField(_l("Greeting message"), widget=BS3TextAreaFieldWidget(),
                                     description=_l("Sent when the customer chooses this queue."))
    hours_mon = _day_field(_l("Monday"))
    hours_tue = _day_field(_l("Tuesday"))
    hours_wed = _day_field(_l("Wednesday"))
    hours_thu = _day_field(_l("Thursday"))
    hours_fri = _day_field(_l("Friday"))
    hours_sat = _day_field(_l("Saturday"))
    hours_sun = _day_field(_l("Sunday"))
    out_of_hours_message = TextAreaField(_l("Out-of-hours message"), widget=BS3TextAreaFieldWidget(),
                                         description=_l("Sent outside the business hours (when business hours "
                                                        "management is on in the options)."))


class QueueWrites:
    """The queues service, and the sockets of a deleted queue's members disconnected: they joined
    its room at connect (app.realtime), and a queue created next could get its id (SQLite reuses
    the highest one): they heard that queue's tickets and messages (QA)."""

    create = staticmethod(queues.create)
    update = staticmethod(queues.update)

    @staticmethod
    def delete(pk):
        from app.realtime import revoke_member_sockets

        for member_id in queues.delete(pk):
            revoke_member_sockets(member_id)


class QueueView(ServiceModelView):
    datamodel = QueueInterface(Queue)
    service = QueueWrites
    route_base = "/queues"
    list_title = _l("Queues & Chatbot")
    add_title = _l("Add queue")
    edit_title = _l("Edit queue")
    show_title = _l("Queue")
    list_columns = ["bot_order", "name", "color"]
    show_columns = ["name", "bot_order", "color", "greeting_message", "hours", "out_of_hours_message"]
    search_columns = ["name"]
    order_columns = ["bot_order", "name"]
    base_order = ("bot_order", "asc")
    add_form = edit_form = QueueForm
    add_fieldsets = edit_fieldsets = [
        (_l("Queue"), {"fields": ["name", "bot_order", "color", "greeting_message"]}),
        (_l("Business hours"), {"fields": list(DAY_FIELDS) + ["out_of_hours_message"]}),
    ]
    label_columns = {"name": _l("Name"), "bot_order": _l("Bot order"), "color": _l("Color"),
                     "greeting_message": _l("Greeting message"), "out_of_hours_message": _l("Out-of-hours message"),
                     "hours": _l("Business hours")}
    formatters_columns = {"color": _swatch, "hours": lambda hours: _hours_text(hours)}

    def _get_list_widget(self, **kwargs):
        # Bot order, then name: the chatbot menu's order (FAB orders by one column only).
        if not kwargs.get("order_column"):
            kwargs["order_column"], kwargs["order_direction"] = "bot_order", "asc"
        return super()._get_list_widget(**kwargs)

    def prefill_form(self, form, pk):
        queue = queues.get(int(pk))
        for name, text in zip(DAY_FIELDS, queues.day_texts(queue)):
            form[name].data = text

    def form_field_for(self, field):
        # The hours are one text box a weekday: "hours.2" is Wednesday's.
        day = field.removeprefix("hours.")
        return DAY_FIELDS[int(day)] if day != field and day.isdigit() and int(day) < 7 else field

    def form_data(self, form, item=None):
        data = {k: form[k].data for k in ("name", "bot_order", "color", "greeting_message", "out_of_hours_message")}
        data["hours"] = queues.DayTexts(form[name].data for name in DAY_FIELDS)  # checked with the rest
        return data


class IntervalSchema(Schema):
    weekday = fields.Integer(required=True, metadata={"description": "0 = Monday ... 6 = Sunday"})
    start = fields.String(required=True, metadata={"description": "HH:MM"})
    end = fields.String(required=True, metadata={"description": "HH:MM (not after start: runs past midnight)"})


class QueueSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True)
    bot_order = fields.Integer()
    color = fields.String(required=True, metadata={"description": "#RRGGBB, unique"})
    greeting_message = fields.String(allow_none=True)
    out_of_hours_message = fields.String(allow_none=True)
    hours = fields.Method("_hours", deserialize="_load", metadata={"description": "business hours intervals"})

    def _hours(self, obj):
        return queues.hours_as_dicts(obj)

    def _load(self, value):
        return value


class QueueApi(ServiceModelApi):
    label_columns = dict(QueueView.label_columns, hours=_l("Business hours"))
    resource_name = "queue"
    list_title, show_title, add_title, edit_title = screen_titles(QueueView)
    datamodel = QueueInterface(Queue)
    service = QueueWrites
    allow_browser_login = True
    list_columns = show_columns = ["id", "name", "bot_order", "color", "greeting_message", "out_of_hours_message",
                                   "hours"]
    add_columns = edit_columns = list(queues.FIELDS)
    order_columns = ["bot_order", "name"]
    base_order = ("bot_order", "asc")
    list_model_schema, show_model_schema, add_model_schema, edit_model_schema = schemas(QueueSchema)
    openapi_spec_component_schemas = (IntervalSchema,)

    def get_list_headless(self, **kwargs):
        rison = kwargs.get("rison") or {}
        if not rison.get("order_column"):
            # bot order, then name (FAB sorts by one column)
            kwargs.setdefault("rison", {}).update({"order_column": "bot_order", "order_direction": "asc"})
        return super().get_list_headless(**kwargs)


def register(appbuilder) -> None:
    install_csrf_token(appbuilder)
    appbuilder.add_view(QueueView, "Queues", label=_l("Queues & Chatbot"), icon="fa-random")
    appbuilder.add_api(QueueApi)
