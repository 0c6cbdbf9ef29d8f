"""Equipe: the members screen (also FAB's user view: the navbar's "Perfil"), /api/v1/team/."""
from flask import abort, g
from flask_appbuilder import expose, has_access
from flask_appbuilder.api import expose as expose_api, protect, safe
from flask_appbuilder.fieldwidgets import (BS3PasswordFieldWidget, BS3TextFieldWidget, Select2ManyWidget,
                                           Select2Widget)
from flask_appbuilder.fields import QuerySelectField, QuerySelectMultipleField
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.security.decorators import permission_name
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, fields
from sqlalchemy import asc, case, desc, func, select
from wtforms import PasswordField, SelectField, StringField

from app.models import Connection, Member, db
from app.models.team import PROFILES
from app.models.base import alphabetical
from app.services import DomainError, queues, team
from app.views.admin_base import (AlphabeticalInterface, RowActionsListWidget, ServiceModelApi, ServiceModelView,
                                  actor, install_csrf_token, require_actor, schemas, screen_titles)


class MemberWrites:
    """team's writes as the Team screen and API make them (ServiceWrites.service): by the logged-in
    member, and the member's sockets disconnected when the rooms they may be in change."""

    @staticmethod
    def create(data):
        return team.create(data, require_actor())

    @staticmethod
    def update(pk, data):
        """Rooms are computed at connect (app.realtime): a change of profile or queues disconnects;
        a new password ends the member's sessions and tokens (app.security.login_stamp)."""
        from app.realtime import revoke_member_sockets
        from app.services.visibility import rooms_for

        from app.security import login_stamp, password_changed

        member = team.get(pk)
        before, stamp = set(rooms_for(member)), login_stamp(member)
        member = team.update(pk, data, require_actor())
        if login_stamp(member) != stamp:
            password_changed(member)  # its sessions and tokens end, its sockets too
        elif set(rooms_for(member)) != before:
            revoke_member_sockets(member.id)
        return member

    @staticmethod
    def delete(pk):
        """A removed member's sockets are disconnected; the tickets they handled, back in
        Aguardando, are announced."""
        from app.realtime import revoke_member_sockets
        from app.workers.publish import publish

        changes = team.delete(pk, require_actor())
        revoke_member_sockets(int(pk))
        publish(changes)


PROFILE_CHOICES = [("user", _l("User")), ("supervisor", _l("Supervisor")), ("admin", _l("Admin"))]


def _connections():
    return db.session.query(Connection).order_by(*alphabetical(Connection.name))


def _queues_field():
    return QuerySelectMultipleField(_l("Queues"), query_func=lambda: queues.ordered(), get_pk_func=lambda q: q.id,
                                    widget=Select2ManyWidget(),
                                    description=_l("The member sees and answers the tickets of these queues."))


class MemberForm(DynamicForm):
    name = StringField(_l("Name"), widget=BS3TextFieldWidget(),
                       description=_l("Shown on the tickets and in message signatures."))
    email = StringField(_l("E-mail"), widget=BS3TextFieldWidget(), description=_l("Used to log in."))
    password = PasswordField(_l("Password"), widget=BS3PasswordFieldWidget(),
                             description=_l("At least 8 characters. When editing, leave it empty to keep the current one."))
    phone = StringField(_l("Phone"), widget=BS3TextFieldWidget(), description=_l(
        "Optional. Digits only: 55 + area code + number, e.g. 5511987654321."))
    profile = SelectField(_l("Profile"), choices=PROFILE_CHOICES, default="user", widget=Select2Widget(),
                          description=_l("User: only their queues. Supervisor: all tickets, manages Users' queues "
                                         "and passwords. Admin: everything."))
    queues = _queues_field()
    default_connection = QuerySelectField(_l("Default connection"), query_func=_connections,
                                          get_pk_func=lambda c: c.id, allow_blank=True, blank_text="—",
                                          widget=Select2Widget())


class SupervisorMemberForm(DynamicForm):
    """What a Supervisor may change on a User-profile member: queues and password."""

    queues = _queues_field()
    password = PasswordField(_l("Password"), widget=BS3PasswordFieldWidget(),
                             description=_l("Leave it empty to keep the current one."))


MEMBER_COLUMNS = ["name", "email", "password", "phone", "profile", "queues", "default_connection"]


def _profile_label(profile):
    return dict(PROFILE_CHOICES).get(profile, profile)


def _queue_names(items):
    return ", ".join(q.name for q in items or [])


def _profile_rank():
    """The member's profile as a number, as Member.profile reads it from the roles (the highest
    wins; none is "user"): 0 Admin, 1 Supervisor, 2 User, which is also their labels' alphabetical order."""
    from flask_appbuilder.security.sqla.models import Role, assoc_user_role

    rank = case({PROFILES["admin"]: 0, PROFILES["supervisor"]: 1}, value=Role.name, else_=2)
    lowest = (select(func.min(rank)).select_from(assoc_user_role.join(Role, Role.id == assoc_user_role.c.role_id))
              .where(assoc_user_role.c.user_id == Member.id).scalar_subquery())
    return func.coalesce(lowest, 2)


class MemberInterface(AlphabeticalInterface):
    """The members' list ordered by its Nome and Perfil headers too: "name" is a property (first
    and last name) and "profile" is read from the roles, so neither is a column FAB could sort."""

    def apply_order_by(self, query, order_column, order_direction, *args, **kwargs):
        direction = asc if order_direction == "asc" else desc
        if order_column == "name":
            return query.order_by(*alphabetical(Member.first_name, direction),
                                  *alphabetical(Member.last_name, direction), direction(Member.id))
        if order_column == "profile":
            return query.order_by(direction(_profile_rank()), *alphabetical(Member.first_name, asc), asc(Member.id))
        return super().apply_order_by(query, order_column, order_direction, *args, **kwargs)


class TeamView(ServiceModelView):
    datamodel = MemberInterface(Member)
    service = MemberWrites
    route_base = "/team"
    list_title = _l("Team")
    add_title = _l("Add member")
    edit_title = _l("Edit member")
    show_title = _l("Member")
    user_info_title = _l("Your profile")
    list_columns = ["name", "email", "profile", "queues", "phone"]
    show_columns = ["name", "email", "phone", "profile", "queues", "default_connection", "last_login"]
    search_columns = ["first_name", "email", "phone"]
    order_columns = ["name", "email", "profile", "phone"]
    base_order = ("first_name", "asc")
    add_form = edit_form = MemberForm
    add_columns = edit_columns = MEMBER_COLUMNS
    label_columns = {"name": _l("Name"), "first_name": _l("Name"), "email": _l("E-mail"), "phone": _l("Phone"),
                     "profile": _l("Profile"), "queues": _l("Queues"), "default_connection": _l("Default connection"),
                     "last_login": _l("Last login"), "password": _l("Password")}
    formatters_columns = {"profile": _profile_label, "queues": _queue_names}

    def _is_supervisor(self):
        user = actor()
        return user is not None and user.profile == "supervisor"

    def current_edit_form(self):
        return SupervisorMemberForm if self._is_supervisor() else MemberForm

    def current_edit_columns(self):
        return ["queues", "password"] if self._is_supervisor() else MEMBER_COLUMNS

    def current_edit_fieldsets(self, item=None):
        """A Supervisor's form has only the queues and the password: its heading names the member
        (name and e-mail), who would otherwise appear nowhere on the page."""
        if self._is_supervisor() and item is not None:
            return [(f"{item.name} ({item.email})", {"fields": ["queues", "password"]})]
        return super().current_edit_fieldsets(item)

    list_widget = RowActionsListWidget

    def _get_list_widget(self, **kwargs):
        """Each row offers only what the caller may do to that member (team.allowed_actions): a
        Supervisor gets no Editar on Admins, Supervisors or herself; an Admin no Excluir on herself."""
        widgets = super()._get_list_widget(**kwargs)
        args = widgets["list"].template_args
        user = actor()
        rows = db.session.query(Member).filter(Member.id.in_(args["pks"])).all() if args["pks"] else []
        args["refused"] = {m.id: {"edit", "delete"} - team.allowed_actions(user, m) for m in rows}
        return widgets

    def check_may_edit(self, item):
        try:
            team.check_may_change(actor(), item)
        except DomainError:
            abort(403)

    def prefill_form(self, form, pk):
        member = team.get(int(pk))
        if "name" in form:
            form["name"].data = member.name
            form["profile"].data = member.profile
        form["password"].data = ""

    def form_data(self, form, item=None):
        data = {k: f.data for k, f in form._fields.items() if k != "csrf_token"}
        data["queues"] = [q.id for q in data.get("queues") or []]
        if "default_connection" in data:
            data["default_connection"] = data["default_connection"].id if data["default_connection"] else None
        if "phone" in data:
            data["phone"] = data["phone"] or None
        if item is not None and not data.get("password"):
            data.pop("password", None)  # empty: keep the current password
        return data

    @expose("/userinfo/")
    @has_access
    def userinfo(self):
        """The navbar's "Perfil": the logged-in member's own data."""
        member = team.get(g.user.id)
        return self.render_template("admin/userinfo.html", member=member, title=self.user_info_title,
                                    profile_label=_profile_label(member.profile))


class MemberSchema(Schema):
    id = fields.Integer(dump_only=True)
    name = fields.String(required=True)
    email = fields.String(required=True, metadata={"description": "the login"})
    password = fields.String(load_only=True, metadata={"description": "write only; at least 8 characters"})
    phone = fields.String(allow_none=True, metadata={"description": "digits only: 55 + DDD + number (12 or 13)"})
    profile = fields.String(metadata={"description": "user | supervisor | admin"})
    queues = fields.Method("_queues", deserialize="_load", metadata={"description": "queue ids"})
    default_connection = fields.Method("_connection", deserialize="_load",
                                       metadata={"description": "connection id or null"})
    active = fields.Boolean(dump_only=True)

    def _queues(self, obj):
        return [q.id for q in obj.queues]

    def _connection(self, obj):
        return obj.default_connection_id

    def _load(self, value):
        return value


class TeamApi(ServiceModelApi):
    label_columns = dict(TeamView.label_columns, active=_l("Active"))  # FAB's would be English
    resource_name = "team"
    list_title, show_title, add_title, edit_title = screen_titles(TeamView)
    datamodel = AlphabeticalInterface(Member)
    service = MemberWrites
    allow_browser_login = True
    # The fields of the results (MemberSchema), and the columns the query loads for them.
    list_columns = show_columns = ["id", "name", "email", "phone", "profile", "queues", "default_connection", "active"]
    list_select_columns = show_select_columns = ["id", "first_name", "last_name", "email", "phone", "active",
                                                 "default_connection_id"]
    add_columns = edit_columns = list(team.FIELDS)
    # DESIGN §7 names them name and default_connection (the service keeps the whole name in first_name).
    column_aliases = {"name": "first_name", "default_connection": "default_connection_id"}
    order_columns = ["first_name", "email", "phone", "default_connection_id"]
    base_order = ("first_name", "asc")
    search_columns = ["first_name", "email", "phone", "default_connection_id"]
    list_model_schema, show_model_schema, add_model_schema, edit_model_schema = schemas(MemberSchema)

    @expose_api("/me", methods=["GET"])
    @protect()
    @safe
    @permission_name("me")
    def me(self):
        """The logged-in member.
        ---
        get:
          responses:
            200:
              description: The caller's own member record
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      id:
                        type: integer
                      result:
                        $ref: '#/components/schemas/TeamApi.get'
            401:
              $ref: '#/components/responses/401'
        """
        user = actor()
        if user is None:
            return self.response_401()
        try:
            member = team.get(user.id)
        except DomainError as error:
            return self._error(error)
        return self.response(200, id=member.id, result=self.serialize(member))


def register(appbuilder) -> None:
    install_csrf_token(appbuilder)
    view = appbuilder.add_view(TeamView, "Team", label=_l("Team"), icon="fa-users")
    # The navbar's "Perfil" link goes to TeamView.userinfo.
    appbuilder.sm.user_view = view
    appbuilder.add_api(TeamApi)
