"""Respostas rápidas: shortcuts expanded in the chat composer (screen and /api/v1/quick_reply/)."""
from flask_appbuilder.fieldwidgets import BS3TextAreaFieldWidget, BS3TextFieldWidget
from flask_appbuilder.forms import DynamicForm
from flask_babel import lazy_gettext as _l
from flask_appbuilder.models.filters import BaseFilter
from marshmallow import Schema, fields
from sqlalchemy import or_
from wtforms import StringField, TextAreaField

from app.models import QuickReply
from app.services import quick_replies
from app.views.admin_base import (AlphabeticalInterface, ServiceModelApi, ServiceModelView, actor, install_csrf_token,
                                  schemas, screen_titles)


class QuickReplyForm(DynamicForm):
    shortcut = StringField(_l("Shortcut"), widget=BS3TextFieldWidget(), description=_l(
        "One word without spaces: typing /shortcut in the chat inserts the message."))
    message = TextAreaField(_l("Message"), widget=BS3TextAreaFieldWidget(), description=_l(
        "You may use {{nome}}, {{atendente}}, {{fila}}, {{protocolo}} and {{saudacao}}."))


class QuickReplyView(ServiceModelView):
    datamodel = AlphabeticalInterface(QuickReply)
    service = quick_replies
    route_base = "/quick_replies"
    list_title = _l("Quick replies")
    delete_name_column = "shortcut"
    add_title = _l("Add quick reply")
    edit_title = _l("Edit quick reply")
    show_title = _l("Quick reply")
    list_columns = ["shortcut", "message"]
    show_columns = ["shortcut", "message"]
    search_columns = ["shortcut", "message"]
    order_columns = ["shortcut"]
    base_order = ("shortcut", "asc")
    add_form = edit_form = QuickReplyForm
    add_columns = edit_columns = ["shortcut", "message"]
    label_columns = {"shortcut": _l("Shortcut"), "message": _l("Message")}


class _OwnOrShared(BaseFilter):
    name = "own or shared"
    arg_name = "own"

    def apply(self, query, value):
        member = actor()
        if member is None:
            return query.filter(QuickReply.user_id.is_(None))
        return query.filter(or_(QuickReply.user_id.is_(None), QuickReply.user_id == member.id))


class QuickReplySchema(Schema):
    id = fields.Integer(dump_only=True)
    shortcut = fields.String(required=True, metadata={"description": "one word, no spaces, unique"})
    message = fields.String(required=True)


class QuickReplyApi(ServiceModelApi):
    label_columns = QuickReplyView.label_columns
    resource_name = "quick_reply"
    list_title, show_title, add_title, edit_title = screen_titles(QuickReplyView)
    datamodel = AlphabeticalInterface(QuickReply)
    service = quick_replies
    allow_browser_login = True
    list_columns = show_columns = ["id", "shortcut", "message"]
    add_columns = edit_columns = list(quick_replies.FIELDS)
    order_columns = ["shortcut"]
    base_order = ("shortcut", "asc")
    search_columns = ["shortcut", "message"]
    # Shared replies and the caller's own: members never see someone else's personal ones.
    base_filters = [["user_id", _OwnOrShared, None]]
    list_model_schema, show_model_schema, add_model_schema, edit_model_schema = schemas(QuickReplySchema)


def register(appbuilder) -> None:
    install_csrf_token(appbuilder)
    appbuilder.add_view(QuickReplyView, "Quick replies", label=_l("Quick replies"), icon="fa-bolt")
    appbuilder.add_api(QuickReplyApi)
