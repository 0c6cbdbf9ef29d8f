"""Connection status as the bridge writes it. Stand-in for app.services.connections.set_status
(being written on the admin branch, same signature): the lead reconciles the two; once that one
exists in main, `set_status` below delegates to it.

Status moves DISCONNECTED → OPENING → QRCODE → CONNECTED, or TIMEOUT when nobody scans in time;
DISCONNECTED carries a human-readable reason on logout or failure.
"""
from app.models import Connection, db
from app.models.base import utcnow
from app.models.connection import ConnectionStatus


def set_status(connection_id: int, status: str, reason=None, qr=None, phone=None) -> dict | None:
    """Write the status (flushes, does not commit) and return the `connection` event to publish,
    or None when the connection no longer exists."""
    try:
        from app.services.connections import set_status as service_set_status
    except ImportError:
        service_set_status = None
    if service_set_status is not None:
        return service_set_status(connection_id, status, reason=reason, qr=qr, phone=phone)
    if status not in ConnectionStatus.ALL:
        raise ValueError(f"unknown status {status}")
    connection = db.session.get(Connection, connection_id)
    if connection is None:
        return None
    changed = (connection.status, connection.status_reason, connection.qr) != (status, reason, qr)
    connection.status = status
    connection.status_reason = str(reason)[:255] if reason else None
    connection.qr = qr if status == ConnectionStatus.QRCODE else None
    if phone:
        connection.phone = phone
    if changed:
        connection.status_changed_at = utcnow()
    db.session.flush()
    return {"id": connection.id, "status": connection.status, "reason": connection.status_reason,
            "qr": connection.qr, "phone": connection.phone}


def inbound_stored_until(connection_id: int):
    """The catch-up mark (Connection.inbound_stored_until), or None."""
    connection = db.session.get(Connection, connection_id)
    return connection.inbound_stored_until if connection is not None else None


def set_inbound_stored_until(connection_id: int, when) -> None:
    """Write the catch-up mark (None forgets it: a new pairing's history is not ours to catch up);
    commits."""
    try:
        db.session.query(Connection).filter(Connection.id == connection_id).update(
            {Connection.inbound_stored_until: when}, synchronize_session=False)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
