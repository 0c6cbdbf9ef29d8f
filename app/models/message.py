import datetime as dt
from typing import Optional

from flask_appbuilder import Model
from sqlalchemy import (Boolean, Computed, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint,
                        false, text)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import folded, utcnow


class MessageStatus:
    RECEIVED = "received"  # inbound, from the customer
    QUEUED = "queued"  # outbound, stored, not yet confirmed sent by the channel
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    OUTBOUND = (QUEUED, SENT, DELIVERED, READ, FAILED)
    # Acks only move forward: a late "sent" never overwrites "read".
    ORDER = {QUEUED: 0, SENT: 1, DELIVERED: 2, READ: 3}


class Message(Model):
    """One line of a ticket's conversation: inbound, outbound (agent or automatic) or system."""

    __tablename__ = "message"
    __table_args__ = (
        # Idempotency of ingest and of acks: a channel message id is stored once per connection.
        UniqueConstraint("connection_id", "channel_id", name="uq_message_channel_id"),
        Index("ix_message_ticket_created", "ticket_id", "id"),
        Index("ix_message_outbox", "connection_id", "status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"), nullable=False)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connection.id", ondelete="CASCADE"), nullable=False)
    channel_id: Mapped[Optional[str]] = mapped_column(String(128))
    from_me: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # text, list, image, audio, video, document, sticker, call, system
    type: Mapped[str] = mapped_column(String(20), nullable=False, default="text")
    body: Mapped[str] = mapped_column(Text, nullable=False, default="")
    # The text as search compares it (conecta_fold(body): no accents, lowercase), kept by the
    # database: stored on PostgreSQL, where searching a common word probes thousands of messages
    # and unaccent on each was half the time (bench/RESULTS.md); virtual on SQLite. Never loaded
    # with a message (deferred); search compares it in SQL (app.services.search). Migration 0005.
    body_folded: Mapped[Optional[str]] = mapped_column(Text, Computed(folded(text("body")), persisted=True),
                                                       deferred=True)
    # list messages: the options as JSON; rating/menu bookkeeping may use it too
    extra: Mapped[Optional[str]] = mapped_column(Text)
    media_path: Mapped[Optional[str]] = mapped_column(String(500))
    media_mime: Mapped[Optional[str]] = mapped_column(String(100))
    media_name: Mapped[Optional[str]] = mapped_column(String(255))
    sender_name: Mapped[Optional[str]] = mapped_column(String(200))  # group member or agent shown
    sender_jid: Mapped[Optional[str]] = mapped_column(String(128))
    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id", ondelete="SET NULL"))
    # Decided when the message is queued (the member's "Assinar" switch then): the channel gets
    # "*<sender_name>:*\n" + body (app.services.outbound.wire_body); `body` stays as typed.
    signed: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    status: Mapped[str] = mapped_column(String(12), nullable=False, default=MessageStatus.RECEIVED)
    error: Mapped[Optional[str]] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    channel_timestamp: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)

    ticket = relationship("Ticket")
    user = relationship("Member", foreign_keys=[user_id])

    # Inserting a message does not read body_folded back (RETURNING would carry the text twice).
    __mapper_args__ = {"eager_defaults": False}


# Search by message text (app.services.search): a trigram index of the text without accents or
# case on PostgreSQL; none on SQLite, where search reads the table.
Index("ix_message_body_folded_trgm", Message.body_folded, postgresql_using="gin",
      postgresql_ops={"body_folded": "gin_trgm_ops"}).ddl_if(dialect="postgresql")
# And by the name of a file received or sent ("boleto_marco.pdf"): only messages with a file.
Index("ix_message_media_name_folded_trgm", folded(Message.media_name).label("media_name_folded"),
      postgresql_using="gin", postgresql_ops={"media_name_folded": "gin_trgm_ops"},
      postgresql_where=Message.media_name.isnot(None)).ddl_if(dialect="postgresql")


class InboundEvent(Model):
    """The durable inbox: an inbound channel event is written here before it is processed, so a
    Redis that loses its contents, or a worker killed mid-job, loses nothing; processing is
    idempotent and marks processed_at."""

    __tablename__ = "inbound_event"
    __table_args__ = (
        UniqueConstraint("connection_id", "channel_id", name="uq_inbound_event_channel_id"),
        Index("ix_inbound_event_unprocessed", "processed_at", "id"),
        # The batch drain of one lane reads its unprocessed events in id order.
        Index("ix_inbound_event_lane_pending", "lane", "id", postgresql_where=text("processed_at IS NULL"),
              sqlite_where=text("processed_at IS NULL")),
        Index("ix_inbound_event_chat", "connection_id", "chat_id", "id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connection.id", ondelete="CASCADE"), nullable=False)
    channel_id: Mapped[str] = mapped_column(String(128), nullable=False)
    kind: Mapped[str] = mapped_column(String(20), nullable=False, default="message")  # message, call, ack
    # The chat a message event belongs to: its messages are processed in arrival (id) order.
    chat_id: Mapped[Optional[str]] = mapped_column(String(128))
    payload: Mapped[str] = mapped_column(Text, nullable=False)  # JSON, versioned ("v": 1)
    received_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    processed_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    attempts: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    error: Mapped[Optional[str]] = mapped_column(Text)
    # Events of one chat share a lane (app.services.inbox.lane_of); one worker at a time drains a
    # lane, in id order, so a chat's messages are stored in the order they arrived.
    lane: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
