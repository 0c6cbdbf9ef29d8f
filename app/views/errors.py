"""Errors raised before a view runs (a body over MAX_CONTENT_LENGTH) answered as the API answers
every error: JSON with a message. Screens keep Flask's page."""
from flask import current_app, jsonify, request
from flask_babel import gettext as _


def too_large(error):
    if not request.path.startswith("/api/"):
        return error
    limit = request.max_content_length or 0
    return jsonify(message=_("The request is too large (at most %(mb)s MB).", mb=max(1, limit // (1024 * 1024)))), 413


def register(appbuilder) -> None:
    current_app.register_error_handler(413, too_large)
