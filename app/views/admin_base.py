"""Thin shells shared by the admin screens and REST APIs of the configuration objects.

Writes go through the services (app/services/*), which validate and enforce the rules; a
DomainError becomes a pt_BR message on the form (which is shown again with what was typed, and
nothing is changed) or `{"message": ...}` with its status in the API.
"""
import datetime
import logging
import re
from urllib.parse import urlsplit

from flask import flash, g, redirect, request, session, url_for
from flask_appbuilder import ModelView
from flask_appbuilder.widgets import ListWidget
from flask_appbuilder.api import ModelRestApi
from flask_appbuilder.security.decorators import permission_name, protect
from flask_appbuilder.models.sqla.interface import SQLAInterface
from flask_appbuilder.exceptions import ApplyFilterException
from flask_appbuilder.urltools import get_filter_args
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from markupsafe import escape
from sqlalchemy import asc, desc

from app.models import db
from app.models.base import alphabetical
from app.services import DomainError
from app.services.templates import local_time
from app.services.visibility import parse_id
from app.views.errors import ApiRefusals

log = logging.getLogger(__name__)

MAX_JSON_BYTES = 256 * 1024


def plain_value(value):
    """A column value as the list and detail screens show it when the view has no formatter of its
    own: a dash for nothing (not Python's "None"), a list as names separated by commas (not
    "[Vendas, Suporte]"), a moment as day/month/year hour:minute."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, (list, tuple, set)):
        return ", ".join(str(item) for item in value)
    if isinstance(value, datetime.datetime):
        return local_time(value, company_timezone()).strftime("%d/%m/%Y %H:%M")
    return value


def _number(text, top):
    """`text` as a whole number from 0 to `top`, else None."""
    return int(text) if text and len(text) <= 12 and text.isascii() and text.isdigit() and int(text) <= top else None


def company_timezone() -> str:
    """The time zone of Configurações › Opções, read once per request (a list shows many moments)."""
    key = "conecta.company_timezone"
    if key not in request.environ:
        from app.services.settings import get_settings

        request.environ[key] = get_settings().timezone
    return request.environ[key]


def actor():
    """The logged-in member (FAB sets g.user for views and for JWT-protected APIs)."""
    user = getattr(g, "user", None)
    if user is None or not getattr(user, "is_authenticated", False):
        user = current_user if current_user and current_user.is_authenticated else None
    return user


def require_actor():
    """The caller, for services where `actor=None` means a trusted script: a web request without
    an identified member must never get that."""
    from app.services import DomainError

    user = actor()
    if user is None:
        raise DomainError(_l("Log in first."), status=401)
    return user


def install_csrf_token(appbuilder) -> None:
    """FAB's list page puts `csrf_token()` in its delete form only when the template global exists
    (Flask-WTF's CSRFProtect defines it; this app does not install CSRFProtect app-wide, so that
    non-form endpoints of other parts keep working). The delete shells below check the token."""
    from flask import current_app
    from flask_wtf.csrf import generate_csrf

    current_app.jinja_env.globals.setdefault("csrf_token", generate_csrf)


def csrf_ok() -> bool:
    from flask_wtf.csrf import validate_csrf
    from wtforms import ValidationError

    try:
        validate_csrf(request.form.get("csrf_token"))
        return True
    except ValidationError:
        return False


def schemas(schema_class):
    """Four distinct classes (list, show, add, edit) so the OpenAPI spec names each once."""
    return tuple(type(f"{schema_class.__name__}{suffix}", (schema_class,), {})()
                 for suffix in ("List", "Show", "Post", "Put"))


def screen_titles(view_class) -> tuple:
    """A screen's titles for its API's answers (list_title, show_title, add_title, edit_title, in
    that order): FAB would make English ones of the model's name ("List Connection")."""
    return view_class.list_title, view_class.show_title, view_class.add_title, view_class.edit_title


def valid_pk(pk) -> bool:
    """A primary key that can be looked up (anything else is a 404 before the database)."""
    return parse_id(pk) is not None


class AlphabeticalInterface(SQLAInterface):
    """FAB's model interface for the admin lists and APIs: a text column is sorted as people read
    it, without case or accents ("Álvaro", "Ana", "bruno", "Zé"; app.models.base.alphabetical),
    then by id (pages stay stable); FAB would compare code points, putting "Álvaro" after "Zé"."""

    def apply_order_by(self, query, order_column, order_direction, *args, **kwargs):
        if order_column and "." not in order_column and (self.is_string(order_column) or self.is_text(order_column)):
            direction = asc if order_direction == "asc" else desc
            return query.order_by(*alphabetical(getattr(self.obj, order_column), direction),
                                  direction(getattr(self.obj, self.get_pk_name())))
        return super().apply_order_by(query, order_column, order_direction, *args, **kwargs)


def show_refusal(error: DomainError, form=None, form_field_for=lambda field: field) -> None:
    """A service's refusal on a form page: under the field it is about, as the form's own
    validators show theirs, when the form has that field; else as a banner above the form. A
    refusal of several fields at once (FieldErrors) puts each of its errors under its own field."""
    banner = []
    for each in getattr(error, "errors", None) or [error]:
        name = form_field_for(each.field) if each.field else None
        if form is not None and name in form._fields:
            # Escaped here: FAB's render_field prints each error through `_()`, which marks it safe,
            # and a refusal may quote what was typed ("Já existe uma fila chamada <script>...").
            form[name].errors = [*form[name].errors, escape(each.message)]
        else:
            banner.append(each.message)
    if banner:
        flash(" ".join(banner), "danger")


def refusal_body(error: DomainError) -> dict:
    """A refusal as the APIs answer it: {"message": ...}, and, when it is about several fields at
    once (FieldErrors), "fields": {field: message} beside it (the message lists them all)."""
    body = {"message": error.message}
    fields = getattr(error, "fields", None)
    if fields:
        body["fields"] = fields
    return body


class RowActionsListWidget(ListWidget):
    """FAB's list widget whose rows offer only what the caller may do on each object: the view
    passes `refused` ({pk: {"show" | "edit" | "delete", ...}}, from the service's own checks), so
    no row shows a button that would answer "Acesso negado". The server keeps refusing anyway."""

    template = "admin/row_actions_list.html"


class ServiceWrites:
    """Where the add / edit / delete of a screen and its API go: `service` (set by each subclass)
    is an app/services module, or anything with the same create(data), update(pk, data) and
    delete(pk); data is a plain dict."""

    service = None

    def service_create(self, data: dict):
        return self.service.create(data)

    def service_update(self, pk: int, data: dict):
        return self.service.update(pk, data)

    def service_delete(self, pk: int):
        return self.service.delete(pk)


class ServiceModelView(ServiceWrites, ModelView):
    """A ModelView whose add / edit / delete call a service instead of writing the model."""

    def get_redirect(self):
        # FAB's "back" with no page history goes to the index, the chat screen: this list instead.
        url = super().get_redirect()
        return url if url != self.appbuilder.get_url_for_index else url_for(f"{self.endpoint}.list")

    # After Adicionar / Editar saves: this view's own list, with "Salvo.". FAB went back to the
    # last page in the session's history, whatever view it was (QA: a new queue landed on another
    # queue's edit form, a connection on the Equipe list), since every tab and page shares it.
    def post_add_redirect(self):
        return redirect(self.list_to_return_to())

    def post_edit_redirect(self):
        return redirect(self.list_to_return_to())

    def list_to_return_to(self) -> str:
        """This view's list; as the member left it (its filters, order and page) when the form was
        opened from it: the page history's latest entry that is not one of this view's own add,
        edit or show pages is this list. Only a path of this view is ever answered (no other site)."""
        list_url = url_for(f"{self.endpoint}.list")
        own = self.route_base.rstrip("/") + "/"
        for entry in reversed(session.get("page_history") or []):
            parts = urlsplit(str(entry))
            if parts.path == list_url:
                return f"{list_url}?{parts.query}" if parts.query else list_url
            if not parts.path.startswith(own):
                break
        return list_url

    # FAB's file download and bulk actions are not used here: no route, no permission.
    exclude_route_methods = {"download", "action", "action_post"}
    add_row_message = _l("Saved.")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        formatters = dict(self.formatters_columns or {})
        for column in list(self.list_columns or []) + list(self.show_columns or []):
            formatters.setdefault(column, plain_value)
        self.formatters_columns = formatters

    edit_row_message = _l("Changes saved.")
    delete_row_message = _l("Removed.")

    def form_data(self, form, item=None) -> dict:
        """The form's fields as the service's input."""
        return {name: field.data for name, field in form._fields.items() if name != "csrf_token"}

    def _saved(self, write, message, form=None) -> bool:
        """Run one service write; its refusal is shown (nothing kept), else `message` is flashed."""
        try:
            write()
        except DomainError as error:
            db.session.rollback()
            show_refusal(error, form, self.form_field_for)
            return False
        flash(str(message), "success")
        return True

    def form_field_for(self, field: str) -> str:
        """Hook: the form field of a service's input key (the same name unless a view says otherwise)."""
        return field

    list_widget = RowActionsListWidget

    # The list column that names a row in its delete question ("Excluir Vendas?").
    delete_name_column = "name"

    def _get_list_widget(self, **kwargs):
        kwargs.setdefault("add_label", self.add_title)
        kwargs.setdefault("delete_name_column", self.delete_name_column)
        return super()._get_list_widget(**kwargs)

    def _list_args(self) -> tuple:
        """This list's _oc_ / _od_ / page_ / psize_ arguments (order column and direction, page,
        page size), each unusable one dropped for the default. FAB passed them on as typed: a column
        outside order_columns reached the SQL (CompileError, a 500), "abc" int() (ValueError), a
        negative or huge page or size OFFSET / LIMIT, which PostgreSQL refuses."""
        from app.services.visibility import MAX_ID

        name, args = self.__class__.__name__, request.args
        column, direction = args.get(f"_oc_{name}"), args.get(f"_od_{name}")
        if column not in self.order_columns or direction not in ("asc", "desc"):
            column, direction = "", ""
        return column, direction, _number(args.get(f"page_{name}"), MAX_ID), _number(args.get(f"psize_{name}"), 100)

    def _list(self, **kwargs):
        # FAB's _list, reading its arguments through _list_args.
        order_column, order_direction, page, page_size = self._list_args()
        get_filter_args(self._filters)
        widgets_of = lambda: self._get_list_widget(  # noqa: E731
            filters=self._filters, order_column=order_column, order_direction=order_direction, page=page,
            page_size=page_size or None, **kwargs)
        try:
            widgets = widgets_of()
        except ApplyFilterException:  # e.g. Atendente "abc": FAB went back a page, saying so in English
            db.session.rollback()
            flash(str(_l("A filter's value is not valid: the list is shown without filters.")), "warning")
            self._filters.clear_filters()
            widgets = widgets_of()
        form = self.search_form.refresh()
        self.update_redirect()
        return self._get_search_widget(form=form, widgets=widgets)

    def _show(self, pk):
        # FAB's _show without related views (none here): it parsed every page_ argument with int(),
        # "abc" was a 500.
        from flask import abort

        item = self.datamodel.get(pk, self._base_filters) if valid_pk(pk) else None
        if not item:
            abort(404)
        widgets = self._get_show_widget(pk, item)
        self.update_redirect()
        return widgets

    def _add(self):
        form = self.add_form.refresh()
        if request.method == "POST":
            if form.validate() and self._saved(lambda: self.service_create(self.form_data(form)),
                                               self.add_row_message, form):
                return None
        else:
            self.update_redirect()
        return self._get_add_widget(form=form)

    def _edit(self, pk):
        item = self.datamodel.get(pk, self._base_filters) if valid_pk(pk) else None
        if not item:
            from flask import abort

            abort(404)
        pk = self.datamodel.get_pk_value(item)
        self.check_may_edit(item)
        form_class = self.current_edit_form()
        if request.method == "POST":
            form = form_class.refresh(request.form)
            form._id = pk
            if form.validate() and self._saved(lambda: self.service_update(pk, self.form_data(form, item)),
                                               self.edit_row_message, form):
                return None
        else:
            form = form_class.refresh(obj=item)
            self.prefill_form(form, pk)
            self.update_redirect()
        return {"edit": self.edit_widget(form=form, include_cols=self.current_edit_columns(),
                                         exclude_cols=[], fieldsets=self.current_edit_fieldsets(item))}

    # Hooks: a view may show a different edit form depending on who asks (Team, for Supervisors).
    def current_edit_form(self):
        return self.edit_form

    def current_edit_columns(self):
        return self.edit_columns

    def current_edit_fieldsets(self, item=None):
        return self.edit_fieldsets

    def check_may_edit(self, item) -> None:
        """Hook: abort(403) for an object the caller sees but may not edit."""

    def _delete(self, pk):
        from flask import abort

        item = self.datamodel.get(pk, self._base_filters) if valid_pk(pk) else None
        if not item:
            abort(404)
        if not csrf_ok():
            abort(400)
        self._saved(lambda: self.service_delete(self.datamodel.get_pk_value(item)), self.delete_row_message)
        self.update_redirect()


def _shown(value) -> str:
    return str(value)[:100]


# FAB's English refusals of a list's arguments (flask_appbuilder.api, models.filters), matched as
# FAB words them, and what we say instead.
_FAB_REFUSALS = [
    (re.compile(r"Not a valid rison(/json)? argument"), lambda m: _l("The q parameter is not a valid rison argument.")),
    (re.compile(r"Filter column: (.*) not allowed to filter"),
     lambda m: _l("The column %(col)s cannot be filtered on.", col=_shown(m.group(1)))),
    (re.compile(r"Filter operation: (.*) not allowed on column: (.*)"),
     lambda m: _l("The filter %(opr)s does not apply to the column %(col)s.", opr=_shown(m.group(1)),
                  col=_shown(m.group(2)))),
    (re.compile(r"Invalid order by column: (.*)"),
     lambda m: _l("The column %(col)s cannot be ordered by.", col=_shown(m.group(1)))),
    (re.compile(r"Cannot use both select and sel columns"),
     lambda m: _l("Use columns or select_columns, not both.")),
]


def fab_message(message):
    """`message` in Portuguese when it is one of FAB's refusals; others (ours) as they are."""
    if message is None:
        return str(_l("The request's arguments are not valid."))
    if not isinstance(message, str):
        return message
    if message.startswith("Not a valid rison schema"):
        return str(_schema_refusal())
    for pattern, say in _FAB_REFUSALS:
        found = pattern.fullmatch(message)
        if found:
            return str(say(found))
    return message


def _schema_refusal():
    """What is wrong with a q that FAB's JSON schema refused (its own words are jsonschema's)."""
    import prison

    try:
        args = prison.loads(request.args.get("q", ""))
    except Exception:  # FAB read it as JSON then
        args = None
    if isinstance(args, dict):
        filters = args.get("filters")
        if "filters" in args and not (isinstance(filters, list) and all(
                isinstance(f, dict) and {"col", "opr", "value"} <= set(f) for f in filters)):
            return _l("Each filter needs col, opr and value.")
        if args.get("order_direction", "asc") not in ("asc", "desc"):
            return _l("order_direction must be asc or desc.")
    return _l("The q parameter does not follow the API's format (see /api/v1/_openapi).")


class ServiceModelApi(ServiceWrites, ApiRefusals, ModelRestApi):
    """A ModelRestApi whose POST / PUT / DELETE call a service; GET stays FAB's (list filters,
    ordering, paging). Bad input never reaches the database: {"message": ...} with 400/422/404."""

    allow_browser_login = True  # the admin screens' pages call it with the session cookie

    def add_api_spec(self, api_spec) -> None:
        super().add_api_spec(api_spec)
        # FAB describes primary keys ("id" of a created item, the list's "ids") as strings; ours are
        # integers, so its answers would contradict its own description.
        for operations in api_spec._paths.values():
            for operation in operations.values():
                if not isinstance(operation, dict):
                    continue
                for parameter in operation.get("parameters") or []:
                    if isinstance(parameter, dict) and parameter.get("in") == "path" and parameter.get("name") == "pk":
                        parameter["schema"] = {"type": "integer", "minimum": 1}
                for response in (operation.get("responses") or {}).values():
                    schema = ((response.get("content") or {}).get("application/json") or {}).get("schema") or {}
                    properties = schema.get("properties") or {}
                    if (properties.get("id") or {}).get("type") == "string":
                        properties["id"] = dict(properties["id"], type="integer")
                    ids = properties.get("ids")
                    if ids and ids.get("items") == {"type": "string"}:
                        ids["items"] = {"type": "integer"}
                    for key in ("add_columns", "edit_columns"):  # _info answers a list of fields
                        if properties.get(key) == {"type": "object"}:
                            properties[key] = {"type": "array", "items": {"type": "object"}}

    def create_blueprint(self, appbuilder, *args, **kwargs):
        blueprint = super().create_blueprint(appbuilder, *args, **kwargs)
        # FAB routes GET by /<int:pk> and PUT/DELETE by /<pk>: GET /abc (or /-1, /1.5) matched only
        # the latter's address and answered 405 where PUT and DELETE say 404. Werkzeug tries the
        # int converter first, so this rule takes only what it leaves. Not through `expose`: the
        # OpenAPI path would be the same as FAB's GET and replace its description.
        if (self.include_route_methods is None or "get" in self.include_route_methods) \
                and "get" not in self.exclude_route_methods:
            blueprint.add_url_rule("/<pk>", "get_not_an_id", self.get_not_an_id, methods=["GET"])
        return blueprint

    @protect()
    @permission_name("get")
    def get_not_an_id(self, pk):
        """GET of an address whose id is no whole number: nothing there (404, as PUT and DELETE)."""
        return self.response_404()

    def _get_field_info(self, field, filter_rel_field, page=None, page_size=None):
        info = super()._get_field_info(field, filter_rel_field, page=page, page_size=page_size)
        if not self.description_columns.get(field.name):
            # FAB translates "" for a field without description: gettext answers that with the
            # catalogue's header ("Project-Id-Version: ...").
            info["description"] = ""
        return info

    def get_list_headless(self, **kwargs):
        # FAB caps the page size but takes any page: a negative one became a negative OFFSET, which
        # PostgreSQL refuses (a 500; found by tests/security/test_fuzz_api.py), a huge one an
        # OFFSET past BIGINT. A page is a row number's worth at most, as in the ticket list.
        from app.services.visibility import MAX_ID

        rison = kwargs.get("rison") or {}
        page = rison.get("page", 0)
        if isinstance(page, bool) or not isinstance(page, int) or not 0 <= page <= MAX_ID:
            return self.response_400(message=str(_l("Invalid page.")))
        # FAB drops a filter whose operator the column does not have, and lists everything as if
        # filtered: refused instead.
        column = lambda name: self.column_aliases.get(name, name)  # noqa: E731
        for item in rison.get("filters") or []:
            col, opr = item.get("col"), item.get("opr")
            valid = self._filters._rest_check_valid_filter_operation
            if column(col) in self.search_columns and not valid(column(col), opr):
                return self.response_400(message=str(_l("The filter %(opr)s does not apply to the column %(col)s.",
                                                         opr=_shown(opr), col=_shown(col))))
        if self.column_aliases:
            filters = [dict(f, col=column(f.get("col"))) for f in rison.get("filters") or []]
            kwargs["rison"] = dict(rison, filters=filters)
            if "order_column" in rison:
                kwargs["rison"]["order_column"] = column(rison["order_column"])
        return super().get_list_headless(**kwargs)

    # Result fields that FAB orders and filters by another column, {field: column} (Team: "name" is
    # first_name). Callers use the field; the column's own name keeps working.
    column_aliases: dict = {}

    def _fields(self, columns) -> list:
        fields = {column: field for field, column in self.column_aliases.items()}
        return [fields.get(column, column) for column in columns]

    # FAB's merge_* functions are bound in its decorators (an override is not called): the metadata
    # of the list and of _info is renamed in its hooks.
    def pre_get_list(self, data) -> None:
        if "order_columns" in data:
            shown = data.get("list_columns", self.list_columns)
            data["order_columns"] = [c for c in self._fields(self.order_columns) if c in shown]

    def info_headless(self, **kwargs):
        payload = {}
        self.set_response_key_mappings(payload, self.info, kwargs.get("rison", {}), **kwargs.get("rison", {}))
        if "filters" in payload:
            payload["filters"] = dict(zip(self._fields(payload["filters"]), payload["filters"].values()))
        return self.response(200, **payload)

    def response_400(self, message=None):
        """FAB's own refusals (rison, filters, ordering), said in Portuguese as ours are."""
        return super().response_400(message=fab_message(message))

    def get_headless(self, pk, **kwargs):
        if not valid_pk(pk):
            return self.response_404()
        return super().get_headless(pk, **kwargs)

    def serialize(self, item) -> dict:
        return self.show_model_schema.dump(item, many=False)

    def _json_body(self):
        if request.content_length and request.content_length > MAX_JSON_BYTES:
            raise DomainError(_l("The request is too large."), status=400)
        data = request.get_json(silent=True)
        if data is None:
            raise DomainError(_l("The request body must be a JSON object."), status=400)
        return data

    @staticmethod
    def _pk(pk):
        """The id in the address, or 0 (found by no service: their 404) for anything else."""
        return parse_id(pk) or 0

    def _error(self, error: DomainError):
        db.session.rollback()
        return self.response(error.status, **refusal_body(error))

    def post_headless(self):
        try:
            item = self.service_create(self._json_body())
        except DomainError as error:
            return self._error(error)
        return self.response(201, id=item.id, result=self.serialize(item))

    def put_headless(self, pk):
        try:
            item = self.service_update(self._pk(pk), self._json_body())
        except DomainError as error:
            return self._error(error)
        return self.response(200, id=item.id, result=self.serialize(item))

    def delete_headless(self, pk):
        try:
            self.service_delete(self._pk(pk))
        except DomainError as error:
            return self._error(error)
        return self.response(200, message="OK")
