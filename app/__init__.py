"""create_app(): Flask, database, Flask-AppBuilder, Socket.IO, Babel and the views.

Nothing is imported at module level: `python -m app.web` imports this package before it can
monkey-patch, and eventlet must patch before Flask and friends are imported.
"""


def create_app(overrides: dict | None = None, *, async_mode: str | None = None):
    """Build the web application. `overrides` replaces configuration values (tests use it)."""
    from flask import Flask
    from flask_appbuilder import AppBuilder
    from flask_migrate import Migrate

    from app.models import db
    from app.realtime import socketio
    from app.views.index import HomeView
    from config import Config

    config = Config()
    app = Flask(__name__, instance_path=config.INSTANCE_DIR)
    app.config.from_object(config)
    if overrides:
        app.config.update(overrides)
    proxies = int(app.config.get("PROXY_COUNT") or 0)
    if proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies, x_port=proxies)

    db.init_app(app)
    Migrate(app, db, directory=str(config.BASE_DIR / "migrations"))
    with app.app_context():
        # Created here and not as a module global: two apps in one process (tests) need two.
        appbuilder = AppBuilder(indexview=HomeView)
        appbuilder.init_app(app, db.session)
        from app import views

        views.register(appbuilder)
    app.after_request(security_headers)
    app.add_template_global(csp_nonce)
    from app.security import session_api_csrf

    app.before_request(session_api_csrf)
    if app.config.get("SIMULATOR"):
        from app.bridge import simulator

        simulator.init_app(app)

    from app.realtime import WebManager

    message_queue = {}
    if app.config["REDIS_URL"]:
        message_queue = {"message_queue": app.config["REDIS_URL"],
                 "client_manager": WebManager(app.config["REDIS_URL"],
                                              channel=app.config["REDIS_NAMESPACE"] + ":socketio")}
    socketio.init_app(
        app,
        **message_queue,
        # Only the web entry point (app.web) is monkey-patched and asks for eventlet.
        async_mode=async_mode or "threading",
        # No cors_allowed_origins: python-engineio's default accepts only the page's own origin (the
        # Host, or the proxy's X-Forwarded-Host). An empty list, as it was, turns the Origin check
        # off: a page of any other site could open the member's socket with her cookie.
        manage_session=False,
    )
    from app.realtime import refuse_malformed_packets

    refuse_malformed_packets(socketio.server)
    from app.views.errors import LastResort

    app.wsgi_app = LastResort(app, app.wsgi_app)  # outermost, around Socket.IO's middleware too
    return app


NONCE_KEY = "conecta.csp_nonce"


def csp_nonce() -> str:
    """This request's script nonce (the template global Flask-AppBuilder's templates put on each
    of their <script> tags through baselib.get_nonce(); ours do the same). Kept in the request's
    environ, not in `g`: an app context (and its `g`) may outlive one request."""
    import secrets

    from flask import request

    return request.environ.setdefault(NONCE_KEY, secrets.token_urlsafe(18))


def content_security_policy() -> str:
    """Scripts run only from our own files and from the <script> tags our templates wrote with
    this request's nonce: a script that customer or agent text managed to put in a page (an XSS
    the escaping missed) does not run, nor does an inline event handler, a javascript: link, a
    plugin or a <base> pointing elsewhere. No other site may frame the pages."""
    from flask import request

    nonce = request.environ.get(NONCE_KEY)
    scripts = f"script-src 'self' 'nonce-{nonce}'" if nonce else "script-src 'self'"
    return f"{scripts}; object-src 'none'; base-uri 'self'; frame-ancestors 'none'"


def security_headers(response):
    """Every answer of the app: no other site may show its pages in a frame (a hidden chat screen
    under a decoy page would take a member's clicks: accept, transfer, close, send), scripts only
    from our files and our templates (content_security_policy), no browser may guess a content type
    other than the one sent, and no other site learns our URLs (ticket ids) through the Referer. A
    view that sets its own Content-Security-Policy (media, the simulator) keeps it; it must then
    forbid framing itself."""
    headers = response.headers
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Content-Security-Policy", content_security_policy())
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    return response


def settle_heap() -> None:
    """Call once in a long-running process (the web process, an RQ worker) after its app is built.

    The objects made at start-up (Flask, Flask-AppBuilder, SQLAlchemy mappers: about 200 000) live
    as long as the process; moved to the permanent generation, the garbage collector never scans
    them again. Otherwise every full collection walks them all (about 50 ms on 2 cores): in the
    web process that stalls every socket in the middle of a fan-out, in a worker the batch being
    published (bench/socket_fanout.py, bench/socket_latency.py)."""
    import gc

    gc.collect()
    gc.freeze()
