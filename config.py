"""Settings: every value comes from an environment variable and has a working default."""
import os
import secrets
from pathlib import Path


BASE_DIR = Path(__file__).resolve().parent


def _bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on", "sim"}


def instance_path() -> Path:
    """INSTANCE_DIR, not created (run.py checks it first: app.preflight)."""
    return Path(os.environ.get("INSTANCE_DIR") or BASE_DIR / "instance").resolve()


def instance_dir() -> Path:
    path = instance_path()
    path.mkdir(parents=True, exist_ok=True)
    return path


def database_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if not url:
        return "sqlite:///" + str(instance_dir() / "conecta.db")
    # psycopg 3 is the driver we ship; accept the usual spellings of a PostgreSQL URL.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


MIN_SECRET_KEY_LENGTH = 32


def secret_key() -> str:
    """SECRET_KEY, or one generated once and kept under the instance folder (never a constant)."""
    key = os.environ.get("SECRET_KEY")
    if key:
        if len(key) < MIN_SECRET_KEY_LENGTH:
            # It signs the login sessions and the API's tokens (HMAC-SHA256: a shorter key is guessable).
            raise RuntimeError(f"SECRET_KEY must have at least {MIN_SECRET_KEY_LENGTH} characters; generate one with "
                               "python3 -c 'import secrets; print(secrets.token_urlsafe(48))'")
        return key
    path = instance_dir() / "secret_key"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return path.read_text().strip()


def simulator_url() -> str:
    """With SIMULATOR=1 the bridge opens the simulator's page on this installation's web server."""
    host = os.environ.get("HOST", "127.0.0.1")
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"
    return f"http://{host}:{os.environ.get('PORT', '5000')}/simulator/web/"


# Session settings of every PostgreSQL connection the application opens (see engine_options).
PG_CONNECT_OPTIONS = "-c max_parallel_workers_per_gather=0"


# Seconds a new PostgreSQL connection may take (libpq's connect_timeout): a server that never
# answers (a firewall dropping packets, a host that is down) fails a request, a job or run.py's
# check with an error instead of hanging it for the TCP retries' minutes.
PG_CONNECT_TIMEOUT = 10


def engine_options(url: str) -> dict:
    """SQLAlchemy engine options; what a DATABASE_URL sets itself (options=, connect_timeout=) wins."""
    options = {"pool_pre_ping": True}
    if url.startswith("postgresql"):
        connect_args = {}
        if "options=" not in url:
            # No parallel plans: every query here is a short one among many at once (a web
            # process, workers, Chromium on 2 cores), and starting workers cost more than it gave:
            # a search counting a common word was planned parallel and took 78 ms against 9–15 ms
            # serial (bench/RESULTS.md, 2026-11-25).
            connect_args["options"] = PG_CONNECT_OPTIONS
        if "connect_timeout=" not in url:
            connect_args["connect_timeout"] = PG_CONNECT_TIMEOUT
        options["connect_args"] = connect_args
    return options


class Config:
    BASE_DIR = BASE_DIR

    def __init__(self):
        self.SECRET_KEY = secret_key()
        self.INSTANCE_DIR = str(instance_dir())
        self.SQLALCHEMY_DATABASE_URI = database_url()
        self.SQLALCHEMY_TRACK_MODIFICATIONS = False
        self.SQLALCHEMY_ENGINE_OPTIONS = engine_options(self.SQLALCHEMY_DATABASE_URI)
        # REDIS_URL may be empty here: run.py resolves it (local server or embedded) before
        # starting any process and passes it down through the environment.
        self.REDIS_URL = os.environ.get("REDIS_URL", "")
        # Every Redis key, RQ queue and Socket.IO channel of this installation is prefixed with
        # it, so that test runs (or two installations) can share one Redis server.
        self.REDIS_NAMESPACE = os.environ.get("REDIS_NAMESPACE", "conecta")
        self.CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH", "")
        self.SIMULATOR = _bool("SIMULATOR")
        # The simulated WhatsApp network is not part of the installation: it may keep its state in
        # a Redis of its own (fault tests restart the installation's Redis, never WhatsApp's).
        self.SIMULATOR_REDIS_URL = os.environ.get("SIMULATOR_REDIS_URL", "")
        self.WHATSAPP_WEB_URL = os.environ.get("WHATSAPP_WEB_URL") or (
            simulator_url() if self.SIMULATOR else "https://web.whatsapp.com")
        self.TZ_NAME = os.environ.get("TZ_NAME", "America/Sao_Paulo")
        self.MEDIA_DIR = str(instance_dir() / "media")
        self.SESSIONS_DIR = str(instance_dir() / "sessions")
        # The inbox sweep: every INBOX_SWEEP_EVERY s, enqueue again the inbound events still not
        # processed INBOX_SWEEP_AFTER s after they arrived (their job was lost with Redis or a worker).
        self.INBOX_SWEEP_EVERY = int(os.environ.get("INBOX_SWEEP_EVERY", "30"))
        self.INBOX_SWEEP_AFTER = float(os.environ.get("INBOX_SWEEP_AFTER", "60"))

        # Flask-AppBuilder
        self.APP_NAME = "Conecta"
        self.APP_THEME = ""
        # FAB's layout plus the admin screens' Select2 boxes in the user's language.
        self.FAB_BASE_TEMPLATE = "admin/base.html"
        # Imported here, not at the top: run.py reads this module to check the settings before
        # it starts the web process, and importing Flask-AppBuilder took it 0.6 s longer to start.
        from flask_appbuilder.const import AUTH_DB

        self.AUTH_TYPE = AUTH_DB
        self.AUTH_ROLE_ADMIN = "Admin"
        self.AUTH_ROLE_PUBLIC = "Public"
        self.AUTH_USER_REGISTRATION = False
        self.AUTH_RATE_LIMITED = _bool("AUTH_RATE_LIMITED", True)
        self.AUTH_RATE_LIMIT = os.environ.get("AUTH_RATE_LIMIT", "10 per 20 second")
        # FAB sets RATELIMIT_ENABLED to False by default, which silently disables the login limit.
        self.RATELIMIT_ENABLED = self.AUTH_RATE_LIMITED
        # Shared by every web process through Redis; in memory only when there is none yet.
        self.RATELIMIT_STORAGE_URI = self.REDIS_URL or "memory://"
        self.RATELIMIT_KEY_PREFIX = self.REDIS_NAMESPACE + ":ratelimit"
        # A refused login says when to try again (Retry-After), for people and scripts alike.
        self.RATELIMIT_HEADERS_ENABLED = True
        self.FAB_ADD_SECURITY_API = True
        self.FAB_API_SWAGGER_UI = True
        # FAB's menu and OpenAPI APIs are registered by app.views.errors instead, refusing in Portuguese.
        self.FAB_ADD_MENU_API = False
        self.FAB_ADD_OPENAPI_VIEWS = False
        self.FAB_UPDATE_PERMS = False  # roles are code (FAB_ROLES), never rows to keep in sync
        # Tables come from the Alembic migrations only; roles from app.services.bootstrap.
        self.FAB_CREATE_DB = False
        self.FAB_API_MAX_PAGE_SIZE = 100
        from app.security import password_policy

        self.FAB_PASSWORD_COMPLEXITY_ENABLED = True
        self.FAB_PASSWORD_COMPLEXITY_VALIDATOR = password_policy
        self.FAB_SECURITY_MANAGER_CLASS = "app.security.ConectaSecurityManager"
        self.BABEL_DEFAULT_LOCALE = "pt_BR"
        # Merged over Flask-AppBuilder's own catalogue (ours wins), see app.i18n.
        self.BABEL_TRANSLATION_DIRECTORIES = str(BASE_DIR / "translations")
        self.LANGUAGES = {
            "pt_BR": {"flag": "br", "name": "Português"},
            "en": {"flag": "gb", "name": "English"},
        }
        self.WTF_CSRF_ENABLED = True
        # A page's CSRF token lasts as long as the login session it belongs to (it is checked
        # against the token kept in that session). Flask-WTF's default, one hour, refused every
        # action of a chat screen left open longer ("A página expirou"), which agents do all day.
        self.WTF_CSRF_TIME_LIMIT = None
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", False)
        # Behind an HTTPS proxy: how many proxies to trust for X-Forwarded-For/-Proto/-Host (0: none,
        # the headers are ignored, so a client cannot pose as another address to the login limit).
        self.PROXY_COUNT = int(os.environ.get("PROXY_COUNT", "0"))
        self.REMEMBER_COOKIE_HTTPONLY = True
        self.MAX_CONTENT_LENGTH = int(os.environ.get("MAX_UPLOAD_BYTES", 16 * 1024 * 1024))
        self.JWT_ACCESS_TOKEN_EXPIRES = 12 * 3600

        from app.roles import ROLES

        self.FAB_ROLES = ROLES
