import datetime as dt

from flask_appbuilder import Model
from flask_appbuilder.models.sqla.base import SQLA

# Without metadata= neither create_all nor Flask-Migrate sees FAB's tables (see STACK-NOTES).
db = SQLA(metadata=Model.metadata)


def utcnow() -> dt.datetime:
    """Naive UTC: the same on SQLite and PostgreSQL `timestamp without time zone` columns."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
