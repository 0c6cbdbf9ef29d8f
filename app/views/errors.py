"""API errors raised outside a view's own handling, answered as the API answers every error: JSON
with a message. Screens keep Flask's pages.
- a body over MAX_CONTENT_LENGTH: 413;
- the database unreachable for a moment (restart, failover): 503, so that clients retry, instead of
  a 500 that reads as a bug. Nothing was stored: the transaction is rolled back.
"""
from flask import current_app, jsonify, request
from flask_babel import gettext as _
from sqlalchemy.exc import OperationalError


def _is_api() -> bool:
    return request.path.startswith("/api/")


def too_large(error):
    if not _is_api():
        return error
    limit = request.max_content_length or 0
    return jsonify(message=_("The request is too large (at most %(mb)s MB).", mb=max(1, limit // (1024 * 1024)))), 413


def database_unavailable(error):
    from app.models import db

    try:
        db.session.rollback()
    except Exception:  # the connection is gone already; the pool replaces it
        db.session.remove()
    current_app.logger.warning("database unavailable: %s", error.__class__.__name__)
    if not _is_api():
        return _("Service temporarily unavailable. Please try again in a moment."), 503
    return jsonify(message=_("Service temporarily unavailable. Please try again in a moment.")), 503


def register(appbuilder) -> None:
    current_app.register_error_handler(413, too_large)
    current_app.register_error_handler(OperationalError, database_unavailable)
