"""Conexões: create, change and delete connections, and their session status.

The default-connection rule (DESIGN §4) lives here so the REST API, the admin forms and scripts
all obey it: whenever any connection exists exactly one is the default. The first connection
created becomes the default; making one the default unsets the others; the default cannot be
unset (make another one the default instead), and it cannot be deleted while other connections
exist: deleting it is refused with a message asking to choose the new default first (an explicit
choice by the admin rather than a silent promotion). A partial unique index backs the "at most
one" half under concurrent writes. A connection that has tickets is never deleted (that would
erase its conversations); it can be logged out instead. A connection whose WhatsApp session is on
is not deleted either: it is disconnected first (which unlinks the phone and wipes the profile).
"""
import logging
import re

from flask_babel import gettext as _, lazy_gettext
from sqlalchemy import select

from app.models import Connection, Queue, db, utcnow
from app.models.connection import ConnectionStatus
from app.services import inputs, templates

log = logging.getLogger(__name__)

CHANNELS = ("whatsapp",)
FIELDS = ("name", "channel", "is_default", "read_receipts", "queues", "greeting_message",
          "completion_message", "out_of_hours_message")
LABELS = {
    "name": lazy_gettext("Name"),
    "channel": lazy_gettext("Channel"),
    "is_default": lazy_gettext("Default"),
    "read_receipts": lazy_gettext("Read receipts"),
    "queues": lazy_gettext("Queues"),
    "greeting_message": lazy_gettext("Greeting message"),
    "completion_message": lazy_gettext("Completion message"),
    "out_of_hours_message": lazy_gettext("Out-of-hours message"),
}


def get(connection_id) -> Connection:
    return inputs.fetch_one(Connection, connection_id, lazy_gettext("Connection not found."))


def default_connection() -> Connection | None:
    return db.session.query(Connection).filter(Connection.is_default.is_(True)).first()


def _clean(data: dict, current: Connection | None) -> dict:
    """The checked input; every field's refusal at once (inputs.Refusals)."""
    data = inputs.require_object(data)
    inputs.reject_unknown(data, FIELDS)
    clean = {}
    refused = inputs.Refusals()
    if current is None or "name" in data:
        with refused.about("name"):
            clean["name"] = inputs.unique_name(Connection, data.get("name"), current, LABELS["name"],
                                               lazy_gettext("A connection named \"%(name)s\" already exists."))
    if "channel" in data:
        with refused.about("channel"):
            channel = data["channel"]
            if not isinstance(channel, str) or channel not in CHANNELS:
                raise inputs.invalid(_("Unknown channel. Available: %(channels)s", channels=", ".join(CHANNELS)))
            clean["channel"] = channel
    for key in ("is_default", "read_receipts"):
        if key in data:
            with refused.about(key):
                clean[key] = inputs.boolean(data[key], LABELS[key])
    if "queues" in data:
        with refused.about("queues"):
            clean["queues"] = inputs.fetch_all(Queue, inputs.id_list(data["queues"], LABELS["queues"]),
                                               LABELS["queues"])
    for key in ("greeting_message", "completion_message", "out_of_hours_message"):
        if key in data:
            with refused.about(key):
                clean[key] = inputs.text(data[key], LABELS[key])
                templates.check(clean[key], LABELS[key], stored=getattr(current, key, None))
    refused.check()
    return clean


def _commit():
    # A concurrent write won the race for the name or the default flag.
    inputs.commit_or_conflict(_("The connection could not be saved because it was changed at the same time. Try again."))


def _make_default(connection: Connection) -> None:
    # Unset the others first and flush, so the single-default index never sees two.
    others = db.session.query(Connection).filter(Connection.is_default.is_(True))
    if connection.id is not None:
        others = others.filter(Connection.id != connection.id)
    for other in others:
        other.is_default = False
    db.session.flush()
    connection.is_default = True


def create(data: dict) -> Connection:
    clean = _clean(data, None)
    is_first = db.session.query(Connection.id).first() is None
    want_default = clean.pop("is_default", False) or is_first
    connection = Connection(channel="whatsapp", read_receipts=True, is_default=False,
                            status=ConnectionStatus.DISCONNECTED)
    for key, value in clean.items():
        setattr(connection, key, value)
    if want_default:
        _make_default(connection)
    db.session.add(connection)
    _commit()
    return connection


def update(connection_id, data: dict) -> Connection:
    connection = get(connection_id)
    clean = _clean(data, connection)
    if "is_default" in clean:
        wanted = clean.pop("is_default")
        if wanted and not connection.is_default:
            _make_default(connection)
        elif not wanted and connection.is_default:
            raise inputs.invalid(_("There must always be a default connection: make another connection the "
                                   "default instead of unsetting this one."), field="is_default")
    for key, value in clean.items():
        setattr(connection, key, value)
    _commit()
    return connection


def delete(connection_id) -> None:
    connection = get(connection_id)
    if connection.is_default and db.session.query(Connection.id).filter(Connection.id != connection.id).first():
        raise inputs.invalid(_("This is the default connection: make another connection the default "
                               "before deleting it."))
    if connection.enabled or connection.status not in (ConnectionStatus.DISCONNECTED, ConnectionStatus.TIMEOUT):
        # Its WhatsApp session is on (or starting): deleted as it is, the phone would stay linked to
        # a device nobody sees, and the logged-in browser profile would stay on disk, where a new
        # connection given the same id (SQLite reuses the highest id) would find it and come up
        # connected to the old number without a scan. Disconnecting unlinks and wipes it.
        raise inputs.invalid(_("This connection is connected to WhatsApp (or connecting): disconnect it "
                               "(QR code > Disconnect) before deleting it."))
    from app.models import Ticket

    # Tickets and messages belong to their connection: deleting it would erase conversations.
    if db.session.query(Ticket.id).filter(Ticket.connection_id == connection.id).first():
        raise inputs.invalid(_("This connection has conversations and cannot be deleted; disconnect it "
                               "instead (its history is kept)."))
    db.session.delete(connection)
    _commit()


# --- Session status (written by the bridge, read by the admin screen) -------------------------

def status_event(connection: Connection) -> dict:
    """The `connection` real-time event (ARCHITECTURE: to the admins and staff rooms)."""
    return {"id": connection.id, "status": connection.status, "reason": connection.status_reason,
            "qr": connection.qr, "phone": connection.phone}


def channel_event(event: dict) -> dict:
    """The `channel` real-time event, to every member: whether a number is up, so that agents
    know why their messages wait (no QR code, reason or number: those are for admins)."""
    return {"id": event["id"], "connected": event["status"] == ConnectionStatus.CONNECTED}


def offline_ids() -> list[int]:
    """The connections whose messages wait: every one not connected (the rule of `is_offline`)."""
    return list(db.session.scalars(select(Connection.id).where(Connection.status != ConnectionStatus.CONNECTED)))


def is_offline(connection: Connection) -> bool:
    return connection.status != ConnectionStatus.CONNECTED


def set_status(connection_id, status, reason=None, qr=None, phone=None) -> dict:
    """Record a session's status; returns the domain event for the caller to publish.

    The QR code is kept only while the status is QRCODE; `phone=None` keeps the known number.
    """
    connection = get(connection_id)
    if status not in ConnectionStatus.ALL:
        raise inputs.invalid(_("Unknown connection status."))
    connection.status = status
    connection.status_reason = str(reason)[:255] if reason else None
    connection.qr = str(qr) if (qr and status == ConnectionStatus.QRCODE) else None
    if phone is not None:
        digits = re.sub(r"\D", "", str(phone))[:20]
        connection.phone = digits or None
    connection.status_changed_at = utcnow()
    db.session.commit()
    return status_event(connection)


def _switch_session(connection_id, enabled: bool, status: str) -> Connection:
    """Record (commit) whether a session is wanted, with a fresh status, before the bridge layer
    is told: the database, not Redis, is what the bridge supervisor and sessions obey."""
    connection = get(connection_id)
    connection.enabled = enabled
    connection.status = status
    connection.status_reason = None
    connection.qr = None
    connection.status_changed_at = utcnow()
    db.session.commit()
    return connection


def request_start(connection_id) -> dict:
    """Ask for a session, or for the running one to restart: the bridge supervisor keeps one
    running for every enabled connection."""
    connection = _switch_session(connection_id, True, ConnectionStatus.OPENING)
    # the channel layer; imported late (it loads Playwright's side)
    from app.bridge.jobs import enqueue_session, request_restart

    try:
        if not enqueue_session(connection.id):
            # One is running ("Iniciar / reiniciar sessão"): it reopens, and writes its status
            # again; left alone, it would never replace the OPENING written above.
            request_restart(connection.id)
    except Exception:  # the bridge supervisor enqueues every enabled connection within seconds anyway
        log.warning("could not enqueue the session of connection %s", connection.id, exc_info=True)
    return status_event(connection)


def logout(connection_id) -> dict:
    """Unlink the WhatsApp session: no session is kept, the running one is told to log out."""
    connection = _switch_session(connection_id, False, ConnectionStatus.DISCONNECTED)
    from app.bridge.jobs import request_logout  # the channel layer; imported late

    try:
        # Through the live session when there is one; otherwise the profile is wiped here, so
        # the next start asks for a new scan.
        request_logout(connection.id)
    except Exception:  # the session re-reads `enabled` from the database; Redis is only the wake-up
        log.warning("could not request the logout of connection %s", connection.id, exc_info=True)
    db.session.refresh(connection)
    return status_event(connection)


def qr_state(connection_id) -> dict:
    connection = get(connection_id)
    return {"status": connection.status, "qr": connection.qr}
