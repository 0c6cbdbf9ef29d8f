import hashlib
import hmac
import logging
import secrets
from types import SimpleNamespace

from flask import current_app, flash, g, has_request_context, jsonify, redirect, request, session
from flask_appbuilder.api import safe
from flask_appbuilder.exceptions import PasswordComplexityValidationError
from flask_appbuilder.security.api import SecurityApi
from flask_appbuilder.security.schemas import login_post
from flask_appbuilder.fieldwidgets import BS3PasswordFieldWidget, BS3TextFieldWidget
from flask_appbuilder.forms import DynamicForm
from flask_appbuilder.security.sqla.manager import SecurityManager
from flask_appbuilder.security import views as fab_views
from flask_appbuilder.views import expose
from flask_babel import lazy_gettext as _l
from flask_appbuilder.utils.base import get_safe_redirect
from flask_login import login_user, user_logged_in, user_logged_out
from flask_wtf import FlaskForm
from marshmallow import ValidationError
from redis.exceptions import RedisError
from sqlalchemy.orm import joinedload
from flask_appbuilder.validators import PasswordComplexityValidator
from werkzeug.security import check_password_hash
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, InputRequired, ValidationError as FormValidationError

from app.models.base import utcnow
from app.models.team import Member
from app.views.errors import ApiRefusals

log = logging.getLogger(__name__)

def login_stamp(member) -> str:
    """What every login session (Member.get_id) and API token (the `stamp` claim) carries besides
    the member's id, checked on every request (ConectaSecurityManager.load_user / load_user_jwt):
    derived from the password hash, so a new password ends every session and token made with the
    old one (a stolen session or refresh token included). Keyed with SECRET_KEY: the hash itself
    never leaves the server."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, (member.password or "").encode(), hashlib.sha256).hexdigest()[:32]


# "Sair" ends the browser session on the server too. The session is a signed cookie the server
# keeps nothing of: a copy taken before the logout (a shared computer, a cookie copied off it)
# stayed valid for the REST API, the chat's JSON and its socket. Each login gets an id in its
# session; the logout writes that id down as ended in Redis for as long as a cookie can live
# (PERMANENT_SESSION_LIFETIME, which also bounds Flask's signature), and load_user refuses it.
SESSION_ID = "_conecta_sid"


def _ended_key(sid: str) -> str:
    from app.workers import key

    return key(f"session:ended:{sid}")


def start_browser_session(_app, user=None, **_extra) -> None:
    """flask_login's user_logged_in: the new session's id."""
    session[SESSION_ID] = secrets.token_urlsafe(18)


def end_browser_session(_app, user=None, **_extra) -> None:
    """flask_login's user_logged_out: the session's id written down as ended, and the sockets it
    opened disconnected (in every web process)."""
    from app.realtime import revoke_room_sockets
    from app.workers import redis_conn

    sid = session.pop(SESSION_ID, None)
    if not sid:
        return
    lifetime = int(current_app.permanent_session_lifetime.total_seconds())
    try:
        redis_conn().set(_ended_key(sid), "1", ex=lifetime)
    except RedisError:
        log.error("logout: Redis is unavailable; the ended session could not be recorded")
    revoke_room_sockets(session_room(sid))


def session_room(sid: str) -> str:
    """The Socket.IO room of the sockets a browser session opened."""
    return f"session:{sid}"


def browser_session_ended() -> bool:
    """Whether this request's browser session was ended by a logout. Without Redis the answer is
    no (the help desk keeps working; an ended session is refused again once Redis is back)."""
    from app.workers import redis_conn

    sid = session.get(SESSION_ID) if has_request_context() else None
    if not sid:
        return False
    try:
        return bool(redis_conn().exists(_ended_key(sid)))
    except RedisError:
        return False


user_logged_in.connect(start_browser_session)
user_logged_out.connect(end_browser_session)


def password_changed(member) -> None:
    """After `member`'s new password is committed: the member's open sockets (authenticated by the
    old session) are disconnected, and when it is the caller's own browser session, it is renewed
    with the new stamp (the member stays logged in where the change was made, and only there)."""
    from flask_login import current_user, login_user

    from app.realtime import revoke_member_sockets

    revoke_member_sockets(member.id)
    if current_user.is_authenticated and current_user.id == member.id:
        login_user(member)


def session_api_csrf():
    """before_request: a write to the REST API made with the browser's session cookie (FAB's
    allow_browser_login) carries the page's CSRF token in X-CSRFToken, as the chat screen's calls
    do: the session cookie alone must never be enough to act (SameSite=Lax leaves a sibling
    subdomain, or an old browser, free to post a plain form to /api/v1/connection/<id>/logout).
    Calls with a token (Authorization header, which no form can send) and the login itself are
    not concerned."""
    from flask_login import current_user
    from flask_wtf.csrf import CSRFError, validate_csrf
    from wtforms import ValidationError as TokenError

    if request.method in ("GET", "HEAD", "OPTIONS") or not request.path.startswith("/api/"):
        return None
    if request.path.startswith("/api/v1/security/") or request.headers.get("Authorization"):
        return None
    if not current_user.is_authenticated:
        return None  # neither token nor session: the API answers 401 itself
    try:
        validate_csrf(request.headers.get("X-CSRFToken", ""))
    except (TokenError, CSRFError):
        return jsonify(message=str(_l("The page expired. Reload it and try again."))), 400
    return None


def password_policy(password: str) -> None:
    """FAB_PASSWORD_COMPLEXITY_VALIDATOR: FAB's own password forms ("Alterar minha senha") apply
    the same policy as Equipe."""
    from app.services import DomainError
    from app.services.team import check_password

    try:
        check_password(password)
    except DomainError as exc:
        raise PasswordComplexityValidationError(exc.message) from None

def _member_name(form, field):
    """The same rule as Equipe's Nome (app/services/team.py)."""
    from app.services import DomainError, inputs

    try:
        field.data = inputs.text(field.data, _l("Name"), required=True, max_len=64, single_line=True)
    except DomainError as exc:
        raise FormValidationError(exc.message) from None


class NameForm(DynamicForm):
    first_name = StringField(_l("Name"), validators=[_member_name], widget=BS3TextFieldWidget(),
                             description=_l("Shown on the tickets and in message signatures."))


class UserInfoEditView(fab_views.UserInfoEditView):
    """"Editar meus dados": a member has one name (Equipe's Nome), not FAB's required first and
    last names, which made a member invent a surname to save the form. Same class name as FAB's:
    the same URL, endpoint and permission (app/roles.py)."""

    form = NameForm

    def form_post(self, form):
        member = self.appbuilder.sm.get_user_by_id(g.user.id)
        member.first_name, member.last_name = form.first_name.data, ""
        self.appbuilder.sm.update_user(member)
        flash(str(self.message), "info")


def _current_password(form, field):
    """The member's password of now: someone at a browser left logged in cannot take the account."""
    member = current_app.appbuilder.sm.get_user_by_id(g.user.id)
    if not field.data or not member.password or not check_password_hash(member.password, field.data):
        raise FormValidationError(_l("The current password is not right."))


class ChangeMyPasswordForm(DynamicForm):
    """FAB's form (same fields, same texts) with the current password asked first."""

    current_password = PasswordField(_l("Current password"), validators=[DataRequired(), _current_password],
                                     widget=BS3PasswordFieldWidget())
    password = PasswordField(_l("Password"),
                             description=_l("Please use a good password policy, this application does not check "
                                            "this for you"),
                             validators=[DataRequired(), PasswordComplexityValidator()], widget=BS3PasswordFieldWidget())
    conf_password = PasswordField(_l("Confirm Password"), description=_l("Please rewrite the password to confirm"),
                                  validators=[EqualTo("password", message=_l("Passwords must match"))],
                                  widget=BS3PasswordFieldWidget())


class ResetMyPasswordView(fab_views.ResetMyPasswordView):
    """FAB's "Alterar minha senha", asking the current password first; the other sessions and
    tokens of the member end (login_stamp)."""

    form = ChangeMyPasswordForm

    def form_post(self, form):
        super().form_post(form)
        password_changed(self.appbuilder.sm.get_user_by_id(g.user.id))


class LoginForm(DynamicForm):
    """FAB's login form, with the password required as typed: FAB's DataRequired took a password of
    spaces alone for an empty one ("Campo obrigatório") though Equipe had saved it."""

    username = StringField(_l("Username"), validators=[DataRequired()])
    password = PasswordField(_l("Password"), validators=[InputRequired()])


class LogoutForm(FlaskForm):
    """"Sair": nothing but the CSRF token."""


class AuthDBView(fab_views.AuthDBView):
    """FAB's login page, which after a wrong e-mail or password shows the form again with the
    e-mail as typed (FAB redirected to an empty form). Same class name as FAB's: the same URL,
    endpoint and permission; its template (appbuilder/general/security/login_db.html) is ours."""

    @expose("/login/", methods=["GET", "POST"])
    @fab_views.no_cache
    def login(self):
        if g.user is not None and g.user.is_authenticated:
            return redirect(self._get_safe_next_url())
        form = LoginForm()
        if form.validate_on_submit():
            user = self.appbuilder.sm.auth_user_db(form.username.data, form.password.data)
            if user:
                login_user(user, remember=False)
                return redirect(get_safe_redirect(request.args.get("next", "")))
            flash(str(self.invalid_login_message), "warning")
        return self.render_template(self.login_template, title=self.title, form=form, appbuilder=self.appbuilder)


    @expose("/logout/", methods=["GET", "POST"])
    @fab_views.no_cache
    def logout(self):
        """"Sair" ends the session on a POST with the page's CSRF token (LogoutForm). A GET, which any other site can cause (a link, a redirect), only asks, as
        does a post without the token: FAB's GET logout let any page log an agent out in the
        middle of a conversation."""
        if g.user is None or not g.user.is_authenticated:
            return redirect(self.appbuilder.get_url_for_login)
        form = LogoutForm()
        if form.validate_on_submit():
            return super().logout()
        return self.render_template("appbuilder/general/security/logout.html", form=form, appbuilder=self.appbuilder)


class ConectaSecurityApi(ApiRefusals, SecurityApi):
    """FAB's API login, with its description made true: username and password are required,
    `provider` defaults to db (FAB answers 500 without it), and a bad request gets a message
    that is a string, as the description of 400 says (FAB sends marshmallow's dict)."""

    def response_401(self):
        # FAB's login answers a wrong e-mail or password (or an inactive member) with this alone.
        return self.response(401, message=str(_l("Incorrect e-mail or password.")))

    @expose("/login", methods=["POST"])
    @safe
    def login(self):
        """Log in and get a JWT access token (and a refresh token with refresh: true)
        ---
        post:
          requestBody:
            required: true
            content:
              application/json:
                schema:
                  type: object
                  required: [username, password]
                  additionalProperties: false
                  properties:
                    username: {type: string, minLength: 1, example: admin@conecta.local}
                    password: {type: string, minLength: 1}
                    provider: {type: string, enum: [db], default: db}
                    refresh: {type: boolean}
          responses:
            200:
              description: Authentication successful
              content:
                application/json:
                  schema:
                    type: object
                    properties:
                      access_token: {type: string}
                      refresh_token: {type: string}
            400:
              $ref: '#/components/responses/400'
            401:
              $ref: '#/components/responses/401'
            429:
              description: Too many attempts
        """
        payload = request.get_json(silent=True)
        if not isinstance(payload, dict):
            return self.response_400(message=str(_l("The request body must be a JSON object.")))
        payload.setdefault("provider", "db")
        try:
            login_post.load(payload)
        except ValidationError as error:
            # name only our own fields: the others are whatever the caller made up
            known = ("username", "password", "provider", "refresh")
            fields = ", ".join(f for f in known if f in error.messages) or str(_l("unknown fields"))
            return self.response_400(message=str(_l("Invalid login request: %(fields)s.", fields=fields)))
        # FAB's login reads request.json: the same (cached) dict, now with its provider.
        return super().login()


class ConectaSecurityManager(SecurityManager):
    """FAB's security manager with our Member as the user model, and without FAB's own user,
    role and permission screens: members are managed in Equipe, roles are code (app.roles)."""

    user_model = Member
    authdbview = AuthDBView
    security_api = ConectaSecurityApi
    userinfoeditview = UserInfoEditView
    resetmypasswordview = ResetMyPasswordView

    def register_views(self):
        security_api = self.appbuilder.add_api(self.security_api)
        self.appbuilder.add_view_no_menu(self.userinfoeditview())
        self.auth_view = self.authdbview()
        reset_view = self.appbuilder.add_view_no_menu(self.resetmypasswordview())
        self.appbuilder.add_view_no_menu(self.auth_view)
        if self.is_auth_limited:
            self.limiter.limit(self.auth_rate_limit, methods=["POST"])(self.auth_view.blueprint)
            # FAB limits only the login form; the API login is a password oracle just the same.
            self.limiter.limit(self.auth_rate_limit, methods=["POST"])(security_api.blueprint)
            # "Alterar minha senha" checks the current password: unthrottled, it was a password
            # oracle for whoever sits at a browser left logged in.
            self.limiter.limit(self.auth_rate_limit, methods=["POST"])(reset_view.blueprint)
        # user_view (the "Perfil" link of the navbar) is set to the Equipe view by app.views.

    def update_user_auth_stat(self, user, success=True):
        """FAB's login counters, with last_login in UTC like every moment stored here (FAB writes the
        server's local time, which the screens could not tell from UTC)."""
        if success:
            user.login_count = (user.login_count or 0) + 1
            user.last_login = utcnow()
            user.fail_login_count = 0
        else:
            user.fail_login_count = (user.fail_login_count or 0) + 1
        self.update_user(user)
        if success:
            self.on_user_login(user)
        else:
            self.on_user_login_failed(user)

    def auth_user_db(self, username, password):
        """The login of the form and of the API. The e-mail is taken without the spaces around it
        (pasted, or left by a phone's keyboard: "E-mail ou senha incorretos" for the right e-mail),
        as its case is ignored (FAB's AUTH_USERNAME_CI, on by default); the password exactly as typed."""
        if isinstance(username, str):
            username = username.strip()
        # No e-mail holds NUL, and PostgreSQL refuses it in a query (a 500): simply a failed login.
        if username is not None and "\x00" in str(username):
            return None
        return super().auth_user_db(username, password)

    def get_user_by_id(self, pk):
        """The member with their roles and groups in one query: every request reads all three
        (FAB's permission check asks for both lists), which lazily was three queries."""
        return self.session.get(self.user_model, pk, options=[joinedload(Member.roles), joinedload(Member.groups)])

    def is_item_public(self, permission_name, view_name):
        """Whether an anonymous visitor may use a protected view: what FAB_ROLES (app.roles) gives
        the Public role, like every role's permissions here (none today). FAB looked the Public
        role and its permission rows up in the database on every request, two queries to find
        none: this installation keeps no permission rows (FAB_UPDATE_PERMS off)."""
        public = SimpleNamespace(name=self.auth_role_public)
        return self._has_access_builtin_roles(public, permission_name, view_name)

    def load_user(self, pk):
        """The member of a session (Member.get_id: "id:stamp"), only while the stamp is current."""
        member_id, _, stamp = str(pk).partition(":")
        if not member_id.isdigit():
            return None
        member = super().load_user(member_id)
        if member is None or not hmac.compare_digest(stamp, login_stamp(member)) or browser_session_ended():
            return None
        return member

    def load_user_jwt(self, _jwt_header, jwt_data):
        """The member of an API token (access or refresh), only while its stamp is current."""
        identity = str(jwt_data.get("sub", ""))
        if not identity.isdigit():
            return None
        member = super().load_user(identity)
        stamp = jwt_data.get("stamp")
        if member is None or not isinstance(stamp, str) or not hmac.compare_digest(stamp, login_stamp(member)):
            return None
        g.user = member
        return member

    def create_jwt_manager(self, app):
        jwt_manager = super().create_jwt_manager(app)

        # Every token (the login's and the refresh's new access token) carries the member's stamp.
        @jwt_manager.additional_claims_loader
        def stamp_claim(identity):
            member = self.get_user_by_id(int(identity)) if str(identity).isdigit() else None
            return {"stamp": login_stamp(member)} if member is not None else {}

        # A malformed or forged token means "not authenticated" (401), not a bad request (flask-jwt-
        # extended answers 422 by default).
        @jwt_manager.invalid_token_loader
        def invalid_token(reason):
            return jsonify(message=str(_l("Invalid or expired access token."))), 401

        # Flask-JWT-Extended's other refusals, said as the API says every error ({"message": ...},
        # in Portuguese); its own are English under "msg". No token is revoked and no endpoint needs
        # a fresh one today (no blocklist, no fresh=True): those two are ready should that change.
        @jwt_manager.unauthorized_loader
        def no_token(reason):  # no Authorization header, or not "Bearer <token>"
            return jsonify(message=str(_l("Missing access token (Authorization: Bearer <token>, "
                                          "from POST /api/v1/security/login)."))), 401

        @jwt_manager.expired_token_loader
        def expired_token(_jwt_header, _jwt_data):
            return jsonify(message=str(_l("The access token has expired: log in again."))), 401

        @jwt_manager.user_lookup_error_loader
        def stale_token(_jwt_header, _jwt_data):  # load_user_jwt: a new password, a removed member
            return jsonify(message=str(_l("The access token is no longer valid: log in again."))), 401

        @jwt_manager.revoked_token_loader
        def revoked_token(_jwt_header, _jwt_data):
            return jsonify(message=str(_l("The access token has been revoked: log in again."))), 401

        @jwt_manager.needs_fresh_token_loader
        def stale_login(_jwt_header, _jwt_data):
            return jsonify(message=str(_l("This action needs a fresh access token: log in again."))), 401

        return jwt_manager
