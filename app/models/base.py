import datetime as dt
import logging
import sqlite3
import unicodedata

import psycopg
from flask_appbuilder import Model
from flask_appbuilder.models.sqla.base import SQLA
from sqlalchemy import Index, Text, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

# Without metadata= neither create_all nor Flask-Migrate sees FAB's tables (see STACK-NOTES).
db = SQLA(metadata=Model.metadata)


def end_session(_error=None) -> None:
    """End this context's session: its transaction rolled back, its connection returned to the pool.
    The one way every request, job and socket handler ends its session. A connection cut meanwhile
    (PostgreSQL restarted after the last query) fails that rollback: the connection is thrown away
    instead (the pool replaces it), since whatever the work wrote was committed before. Plain
    `db.session.remove()` raised there: a request's answer became a 500, a finished job an error."""
    try:
        db.session.remove()
    except (OperationalError, InterfaceError) as error:
        logging.getLogger(__name__).warning("database connection lost when ending a session: %s",
                                            error.__class__.__name__)
        try:
            db.session.invalidate()  # no second rollback: the connection is discarded
        except Exception:  # already invalidated by SQLAlchemy; the registry is cleared below
            pass
        db.session.registry.clear()


def utcnow() -> dt.datetime:
    """Naive UTC: the same on SQLite and PostgreSQL `timestamp without time zone` columns."""
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


# --- Accent- and case-insensitive text: what search compares (app.services.search) -------------
# One SQL function, conecta_fold(text), on both databases: on PostgreSQL lower(unaccent(...)) from
# the unaccent extension (migration 0002; wrapped as IMMUTABLE so that trigram indexes can be built
# on it); on SQLite fold_text below, registered on every connection.
FOLD_FUNCTION = "conecta_fold"
# Letters that have no decomposition but a plain spelling (PostgreSQL's unaccent folds them too).
_FOLD_EXTRA = str.maketrans({"ß": "ss", "ẞ": "ss", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "ø": "o",
                             "Ø": "o", "đ": "d", "Đ": "d", "ð": "d", "Ð": "d", "ł": "l", "Ł": "l",
                             "þ": "th", "Þ": "th", "ħ": "h", "Ħ": "h", "ı": "i", "ŀ": "l", "Ŀ": "l",
                             "ŋ": "n", "Ŋ": "n", "ŧ": "t", "Ŧ": "t", "ĸ": "q", "ŉ": "'n", "Ĳ": "ij",
                             "ĳ": "ij", "ſ": "s"})


def fold_text(text):
    """`text` without diacritics, in lowercase ("JOÃO Ávila" -> "joao avila", "Açúcar" ->
    "acucar"): SQLite's conecta_fold. Letters with accents, ç and the letters of _FOLD_EXTRA fold
    as on PostgreSQL (a test compares them); other symbols are left as they are."""
    if text is None:
        return None
    decomposed = unicodedata.normalize("NFD", str(text).translate(_FOLD_EXTRA))
    return unicodedata.normalize("NFC", "".join(c for c in decomposed if not unicodedata.combining(c))).lower()


class folded(FunctionElement):
    """conecta_fold(expression): the text without accents or case, the same SQL on PostgreSQL
    (where trigram indexes are built on this very expression) and SQLite."""

    type = Text()
    inherit_cache = True
    name = "folded"


@compiles(folded)
def _compile_folded(element, compiler, **kw):
    return "%s(%s)" % (FOLD_FUNCTION, compiler.process(element.clauses, **kw))


def alphabetical(column, direction=None) -> tuple:
    """ORDER BY terms that sort `column` as a Brazilian reads a list: without case or accents
    ("Álvaro", "Ana", "bruno", "Érica", "Zé"), then as typed. The databases compare code points
    (PostgreSQL with C.UTF-8, SQLite BINARY), which put every lower-case or accented initial after
    "Z". `direction` (sqlalchemy asc/desc) applies to both terms."""
    terms = (folded(column), column)
    return tuple(direction(t) for t in terms) if direction else terms


@event.listens_for(Engine, "connect")
def _sqlite_functions(dbapi_connection, _record):
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.create_function(FOLD_FUNCTION, 1, fold_text, deterministic=True)
        # SQLite ignores the schema's ON DELETE (CASCADE, SET NULL) unless asked on each connection:
        # without it a removed queue or member left tickets pointing at an id a new one could take.
        dbapi_connection.execute("PRAGMA foreign_keys = ON")


class PlanKeepingConnection(psycopg.Connection):
    """A PostgreSQL connection whose read-only transactions end without losing its prepared
    statements.

    psycopg prepares a statement on the server once a connection has run it 5 times (PostgreSQL
    then parses and rewrites it once), but forgets every one on ROLLBACK (DEALLOCATE ALL: a
    rolled-back DDL could leave them pointing at nothing). SQLAlchemy ends the transaction of
    every request with a ROLLBACK (Session.close, the pool's reset), so nothing was ever prepared
    across requests: each list request parsed its statements anew (bench/RESULTS.md, "Prepared
    statements across requests"). A transaction PostgreSQL gave no transaction id wrote nothing
    (no row written or locked, no DDL): COMMIT ends it exactly as ROLLBACK would, and keeps them.
    (No code here uses NOTIFY or a session-level SET inside a transaction, the two things a
    COMMIT would keep and a ROLLBACK undo.)

    Every execution is still planned for its own parameters (CUSTOM_PLANS): after five runs
    PostgreSQL may switch a prepared statement to one generic plan, blind to the parameters, and
    for search, where one statement serves every typed text, the generic plan took a common
    surname from 28 ms to 1.6 s."""

    CUSTOM_PLANS = "-c plan_cache_mode=force_custom_plan"

    @classmethod
    def connect(cls, conninfo: str = "", **kwargs):
        kwargs["options"] = f"{kwargs.get('options') or ''} {cls.CUSTOM_PLANS}".strip()
        return super().connect(conninfo, **kwargs)

    def rollback(self) -> None:
        if self.pgconn.transaction_status == psycopg.pq.TransactionStatus.INTRANS:
            with self.cursor() as cursor:
                cursor.execute("SELECT txid_current_if_assigned()")
                if cursor.fetchone()[0] is None:
                    self.commit()
                    return
        super().rollback()


@event.listens_for(Engine, "do_connect")
def _plan_keeping_postgresql(dialect, _record, cargs, cparams):
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        return PlanKeepingConnection.connect(*cargs, **cparams)
    return None  # SQLAlchemy connects as usual


def unique_folded(column, name: str) -> Index:
    """A unique index on the folded `column`: "Técnico", "TECNICO" and "técnico" are one name for
    the database too, so two admins saving them at the same moment cannot both succeed (the
    services' own check, app.services.inputs, gives the Portuguese refusal first). Migration 0003."""
    return Index(name, folded(column), unique=True)


def include_for_dialect(dialect_name: str):
    """Alembic's include_object for `dialect_name`: leaves out what the models declare for another
    database only (`ddl_if`, such as the trigram indexes of PostgreSQL), so that comparing the
    models with a database (autogenerate, tests/test_foundation.py) sees what that engine has."""
    def include(obj, _name, _type, _reflected, _compare_to):
        ddl_if = getattr(obj, "_ddl_if", None)
        return not (ddl_if is not None and ddl_if.dialect and ddl_if.dialect != dialect_name)
    return include

