"""What every installation needs before the first request: roles, the settings row, an Admin."""
import logging
import secrets

from flask import current_app

from app.models import PROFILES, Settings, db

log = logging.getLogger(__name__)


def ensure_roles(sm) -> None:
    # The roles' permissions are code (app.roles / FAB_ROLES); only their rows are stored.
    for role_name in list(PROFILES.values()) + [sm.auth_role_public]:
        if sm.find_role(role_name) is None:
            sm.add_role(role_name)


def ensure_settings() -> Settings:
    settings = db.session.get(Settings, 1)
    if settings is None:
        settings = Settings(id=1, timezone=current_app.config.get("TZ_NAME", "America/Sao_Paulo"))
        db.session.add(settings)
        db.session.commit()
    return settings


def ensure_first_admin(sm, email: str | None, password: str | None) -> str | None:
    """Create the first Admin when there is no user. Returns the generated password, if any
    (printed once by run.py; never logged)."""
    if sm.count_users() > 0:
        return None
    generated = None
    if not password:
        generated = password = secrets.token_urlsafe(12)
    email = email or "admin@conecta.local"
    user = sm.add_user(
        username=email,
        first_name="Administrador",
        last_name="",
        email=email,
        role=sm.find_role(PROFILES["admin"]),
        password=password,
    )
    if not user:
        raise RuntimeError("could not create the first Admin")
    return generated


def bootstrap(app, admin_email=None, admin_password=None) -> str | None:
    with app.app_context():
        sm = app.appbuilder.sm
        ensure_roles(sm)
        ensure_settings()
        return ensure_first_admin(sm, admin_email, admin_password)
