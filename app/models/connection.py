import datetime as dt
from typing import List, Optional

from flask_appbuilder import Model
from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Index, String, Table, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import unique_folded, utcnow

connection_queue = Table(
    "connection_queue",
    Model.metadata,
    Column("connection_id", ForeignKey("connection.id", ondelete="CASCADE"), primary_key=True),
    Column("queue_id", ForeignKey("queue.id", ondelete="CASCADE"), primary_key=True),
)


class ConnectionStatus:
    DISCONNECTED = "DISCONNECTED"
    OPENING = "OPENING"
    QRCODE = "QRCODE"
    CONNECTED = "CONNECTED"
    TIMEOUT = "TIMEOUT"
    ALL = (DISCONNECTED, OPENING, QRCODE, CONNECTED, TIMEOUT)


class Connection(Model):
    """A channel account (Conexão): one WhatsApp number. Exactly one is the default
    whenever any exists; that rule lives in app.services.connections."""

    __tablename__ = "connection"
    __table_args__ = (
        # At most one default, even under concurrent writes (services.connections keeps exactly one).
        Index("uq_connection_single_default", "is_default", unique=True,
              postgresql_where=text("is_default"), sqlite_where=text("is_default")),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True, nullable=False)
    channel: Mapped[str] = mapped_column(String(20), nullable=False, default="whatsapp")
    is_default: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    read_receipts: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    greeting_message: Mapped[Optional[str]] = mapped_column(Text)
    completion_message: Mapped[Optional[str]] = mapped_column(Text)
    out_of_hours_message: Mapped[Optional[str]] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default=ConnectionStatus.DISCONNECTED)
    status_reason: Mapped[Optional[str]] = mapped_column(String(255))
    qr: Mapped[Optional[str]] = mapped_column(Text)
    phone: Mapped[Optional[str]] = mapped_column(String(20))
    # Whether the bridge supervisor should keep a session running (set by start, cleared by logout).
    enabled: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    status_changed_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    # The bridge's catch-up mark (UTC): every customer message that reached the WhatsApp Web page
    # before it is stored. None: no session of the current pairing wrote it yet. Migration 0009.
    inbound_stored_until: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    queues: Mapped[List["Queue"]] = relationship(  # noqa: F821
        secondary=connection_queue, order_by=lambda: _queue_order()
    )

    def __repr__(self):
        return self.name


unique_folded(Connection.name, "uq_connection_name_folded")


def _queue_order():
    from app.models.queue import queue_order

    return queue_order()
