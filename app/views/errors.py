"""API errors raised outside a view's own handling, answered as the API answers every error: JSON
with a message. Every HTTP error (http_error: an unknown route, a wrong method, the login's rate
limit, a 500) is said in Portuguese with its status: JSON with a message under /api/ and /chat/api/,
a page of the app on the screens. Werkzeug's own answers are English HTML ("429 Too Many Requests
... 10 per 20 second", "405 Method Not Allowed", "404 Not Found").
- a body over MAX_CONTENT_LENGTH: 413 (the chat's JSON endpoints too: a file too big);
- the database unreachable for a moment (restart, failover, a full connection pool): 503, so that
  clients retry, instead of a 500 that reads as a bug. Nothing was stored: the transaction is rolled
  back. Also when the connection died under code that swallowed the error (FAB's security manager
  logs and goes on in places): the next query then raises SQLAlchemy's "can't reconnect until
  invalid transaction is rolled back" (PendingRollbackError, code 8s2b), which is the same outage;
  the other PendingRollbackError (a failed flush ignored) is a bug and stays a 500;
- the database gone between a request's answer and the end of its transaction (the read-only
  transaction's closing ROLLBACK, in Flask's teardown, finds the connection cut): the answer
  stands, since whatever it wrote was committed before it was made. Flask-SQLAlchemy's teardown let
  that error escape Flask, and the WSGI server answered 500 with the Python traceback as its body
  (app.models.end_session, run as a teardown before Flask-SQLAlchemy's);
- anything else escaping Flask's own handling (a teardown, a response's finalisation): a plain 500
  said in Portuguese, never the WSGI server's (eventlet's carries the traceback: file paths, SQL)
  (LastResort);
- a JSON body nested too deeply for Python's parser (RecursionError, which is no ValueError: Flask
  and Werkzeug let it through as a 500, even on the anonymous login): read as malformed JSON, so
  every endpoint answers it as it answers any unreadable body (400);
- a JSON body holding a lone UTF-16 surrogate (the escape "\\ud800" with no pair: valid JSON
  syntax, but Python decodes it into a str that is no Unicode text, and the database's encoder
  fails on it, a 500 or FAB's English "Fatal error" wherever a text reached a column): refused
  before any view runs, on every endpoint, with 400 and a message (unreadable_json_text);
- a model API's `q` (Rison, or JSON) that prison cannot read and fails on with a bare ValueError
  (some malformed numbers, e.g. `-2.5e+16` read as `-2.5e`): FAB answers 400 only for prison's
  own ParserException and would answer this one with a 500. Found by tests/security/test_fuzz_api.py.
FAB's own refusals (401, 403, 404) are ApiRefusals' below; the token's, app.security's JWT callbacks.
"""
import json
import logging
import sys

import prison
from flask import current_app, g, jsonify, render_template, request
from flask_login import current_user
from flask.json.provider import DefaultJSONProvider
from flask_appbuilder import menu
from flask_appbuilder.api import ModelRestApi
from flask_appbuilder.api import manager as openapi
from flask_babel import gettext as _
from werkzeug.exceptions import HTTPException
from sqlalchemy.exc import OperationalError, PendingRollbackError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from app.services import inputs

# SQLAlchemy's code for "Can't reconnect until invalid transaction is rolled back".
CONNECTION_LOST_IN_TRANSACTION = "8s2b"


def _is_api() -> bool:
    return request.path.startswith("/api/")


def too_large(error):
    limit = max(1, (request.max_content_length or 0) // (1024 * 1024))
    if request.path.startswith("/chat/api/"):  # the chat's script reads JSON: a file it sent
        return jsonify(message=_("The file is too big (at most %(mb)s MB).", mb=limit)), 413
    if not _is_api():
        return http_error(error)
    return jsonify(message=_("The request is too large (at most %(mb)s MB).", mb=limit)), 413


def database_unavailable(error):
    from app.models import db

    if isinstance(error, PendingRollbackError) and error.code != CONNECTION_LOST_IN_TRANSACTION:
        raise error  # not an outage: Flask's 500, logged

    try:
        db.session.rollback()
    except Exception:  # the connection is gone already; the pool replaces it
        db.session.remove()
    current_app.logger.warning("database unavailable: %s", error.__class__.__name__)
    if not _is_api():
        return _("Service temporarily unavailable. Please try again in a moment."), 503
    return jsonify(message=_("Service temporarily unavailable. Please try again in a moment.")), 503


class LastResort:
    """The outermost WSGI layer: an exception that escaped Flask's whole handling (its error
    handlers answer everything a view raises; this is what comes after them: teardown, the
    response's finalisation) is logged and answered with a plain 500, JSON with a message under
    JSON_PATHS, in the app's language. The WSGI server's own 500 is English, and eventlet's sends
    the traceback to the client."""

    def __init__(self, app, wsgi_app):
        self.app, self.wsgi_app = app, wsgi_app

    def __call__(self, environ, start_response):
        # The inner app's start_response is held until it returns: Flask calls it before its
        # teardown runs, and a server (the test client too) may refuse a second call.
        held = {}

        def hold(status, headers, exc_info=None):
            held["start"] = (status, headers, exc_info)
            return lambda data: begin()(data)  # an app writing before it returns begins the answer

        def begin():
            if "write" not in held:
                held["write"] = start_response(*held.pop("start"))
            return held["write"]

        try:
            result = self.wsgi_app(environ, hold)
        except Exception:
            if "write" in held:  # the answer has begun: the server ends the connection
                raise
            logging.getLogger("app.web").exception("unhandled error outside the views: %s %s",
                                                   environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"))
            try:
                body, kind = self.answer(environ.get("PATH_INFO") or "/")
            except Exception:  # the error is in what the answer needs too (the database, a teardown)
                logging.getLogger("app.web").exception("the error page failed as well")
                body, kind = self.BARE, "text/plain; charset=utf-8"
            data = body.encode()
            start_response("500 INTERNAL SERVER ERROR", [("Content-Type", kind), ("Content-Length", str(len(data))),
                                                         ("X-Content-Type-Options", "nosniff")])
            return [data]
        if "start" in held:
            begin()
        return result

    # The answer when even the translated one fails: the default language's words, as a constant.
    BARE = "Erro interno. Tente de novo em instantes."

    def answer(self, path: str) -> tuple[str, str]:
        with self.app.test_request_context(path):
            api = request.path.startswith(JSON_PATHS)
            title, text = error_words(500, api)
            if api:
                return json.dumps({"message": text}), "application/json"
            return render_template("errors/plain.html", title=title, text=text), "text/html; charset=utf-8"


class JSONProvider(DefaultJSONProvider):
    """Flask's JSON, with a body nested past the parser's recursion limit read as malformed."""

    def loads(self, s, **kwargs):
        try:
            return super().loads(s, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None


def _model_api_of_request():
    for view in current_app.appbuilder.baseviews:
        blueprint = getattr(view, "blueprint", None)
        if blueprint is not None and blueprint.name == request.blueprint:
            return view if isinstance(view, ModelRestApi) else None
    return None


def unreadable_rison():
    value = request.args.get("q")
    if not value or not _is_api() or _model_api_of_request() is None:
        return None
    try:
        prison.loads(value)
    except prison.decoder.ParserException:
        return None  # FAB tries it as JSON and answers 400 itself
    except Exception:  # FAB would not try JSON after this one: a 500
        return jsonify(message=_("The q argument is neither Rison nor JSON.")), 400
    return None


def _holds_surrogate(data) -> bool:
    """Whether any string of a parsed JSON document (keys included) has a lone surrogate. Walked
    without recursion: the parser takes nesting deeper than a recursive walk could."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not item.isascii() and inputs.LONE_SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def unreadable_json_text():
    """before_request: a JSON body with a lone surrogate anywhere gets 400 and a message, whatever
    the endpoint (the body is parsed once: views read Flask's cached result). A body that is no
    JSON at all is left to the view, which answers it as it always did. The WhatsApp simulator
    (SIMULATOR=1) is exempt: it stands in for WhatsApp, where a customer's text can hold one (an
    emoji cut in half), and must hand it to the bridge as WhatsApp would (app.services.inbox.repaired)."""
    if not request.is_json or request.blueprint == "simulator":
        return None
    if _holds_surrogate(request.get_json(silent=True)):
        return jsonify(message=_("The text sent contains invalid characters (an unpaired UTF-16 surrogate).")), 400
    return None


class ApiRefusals:
    """Mixed into every API, before Flask-AppBuilder's class: the refusals FAB answers itself through
    these methods (@protect: an action the caller's profile does not allow; an id that does not
    exist), said in Portuguese with the same status. FAB's are English: "Forbidden", "Not found",
    "Not authorized" (ConectaSecurityApi words its login's own)."""

    def response_401(self):
        return self.response(401, message=_("Log in first."))

    def response_403(self):
        return self.response(403, message=_("Your profile does not allow this action."))

    def response_404(self):
        return self.response(404, message=_("Not found."))


# FAB's own APIs, registered here in place of FAB's (config: FAB_ADD_MENU_API, FAB_ADD_OPENAPI_VIEWS
# off). Same class names: the same URLs, endpoints and permissions (app.roles).
class MenuApi(ApiRefusals, menu.MenuApi):
    allow_browser_login = True  # as every API of the app (SECURITY.md); it only reads


class OpenApi(ApiRefusals, openapi.OpenApi):
    pass


# Paths whose clients read JSON: their errors are {"message": ...} like every answer of theirs.
JSON_PATHS = ("/api/", "/chat/api/")
# Paths whose clients are programs or files (the simulator, Socket.IO, static files): no screen
# around their errors, nor the database and session reads the app's base template makes.
NOT_SCREENS = ("/simulator/", "/socket.io", "/static/")


def error_words(code: int, api: bool) -> tuple[str, str]:
    """An HTTP error's title and text. The API's 401, 403 and 404 say what ApiRefusals says."""
    if code == 403:
        text = _("Your profile does not allow this action.") if api else _("Your profile does not allow opening this page.")
        return _("Access denied"), text
    if code == 404:
        return _("Page not found"), _("Not found.") if api else _("This page does not exist or is not available to you.")
    words = {
        400: (_("Invalid request"), _("The request could not be understood.")),
        401: (_("Login required"), _("Log in first.")),
        405: (_("Method not allowed"), _("This address does not accept the %(method)s method.", method=request.method)),
        413: (_("Request too large"), _("The request is too large.")),
        429: (_("Too many attempts"), _("Too many attempts. Try again in a few seconds.")),
        500: (_("Internal error"), _("Something went wrong on our side. Try again in a moment.")),
    }
    generic = (_("Error %(code)s", code=code), _("The request could not be completed (error %(code)s).", code=code))
    return words.get(code, generic)


def http_error(error: HTTPException):
    if error.response is not None:  # an answer made on purpose (abort(response), a limiter's on_breach)
        return error
    api = request.path.startswith(JSON_PATHS)
    title, text = error_words(error.code, api)
    # Werkzeug's headers but its HTML's Content-Type: Allow (405), Retry-After (429), WWW-Authenticate.
    headers = [(k, v) for k, v in error.get_headers() if k.lower() != "content-type"]
    if api:
        return jsonify(message=text), error.code, headers
    if error.code >= 500 or request.path.startswith(NOT_SCREENS):
        # a server error may come from the very database or session the base template reads
        return render_template("errors/plain.html", title=title, text=text), error.code, headers
    if "user" not in g:
        # Refused before FAB's own before_request set it (the limiter's, the body checks): the
        # page's navigation bar reads it, and rendering would end in a 500.
        g.user = current_user
    appbuilder = current_app.appbuilder
    return render_template("errors/page.html", title=title, text=text, appbuilder=appbuilder,
                           base_template=appbuilder.base_template), error.code, headers


def register(appbuilder) -> None:
    appbuilder.add_api(MenuApi)
    if current_app.config.get("FAB_API_SWAGGER_UI"):
        appbuilder.add_api(OpenApi)
        appbuilder.add_view_no_menu(openapi.SwaggerView)
    app = current_app._get_current_object()
    app.json = JSONProvider(app)
    current_app.before_request(unreadable_rison)
    current_app.before_request(unreadable_json_text)
    current_app.register_error_handler(413, too_large)
    # Every HTTPException (Flask prefers a handler registered by code: 413 above), and the 500 Flask
    # makes of an unhandled exception.
    current_app.register_error_handler(HTTPException, http_error)
    for outage in (OperationalError, PendingRollbackError, PoolTimeout):
        current_app.register_error_handler(outage, database_unavailable)
    # Teardowns run last registered first: this one before Flask-SQLAlchemy's (db.init_app).
    from app.models import end_session

    current_app.teardown_appcontext(end_session)
