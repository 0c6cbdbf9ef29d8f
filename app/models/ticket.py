import datetime as dt
from typing import Optional

from flask_appbuilder import Model
from sqlalchemy import Boolean, DateTime, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import utcnow


class TicketStatus:
    PENDING = "pending"  # Aguardando
    OPEN = "open"  # Atendendo
    CLOSED = "closed"  # Resolvido
    ACTIVE = (PENDING, OPEN)
    ALL = (PENDING, OPEN, CLOSED)


class Ticket(Model):
    """A conversation with a contact on a connection. Its id is the protocol number."""

    __tablename__ = "ticket"
    __table_args__ = (
        # At most one pending/open ticket per contact and connection: concurrent ingests of the
        # first message from a contact cannot create two.
        Index(
            "uq_ticket_active_contact",
            "contact_id",
            "connection_id",
            unique=True,
            postgresql_where=text("status IN ('pending', 'open')"),
            sqlite_where=text("status IN ('pending', 'open')"),
        ),
        Index("ix_ticket_status_queue_updated", "status", "queue_id", "updated_at"),
        Index("ix_ticket_user_status", "user_id", "status"),
        # Lists, newest activity first: the first page is read from the index in order (with a
        # status filter — the chat lists, bench/chat_list.py — and without one), not sorted out of
        # every visible ticket.
        Index("ix_ticket_status_updated", "status", "updated_at", "id"),
        Index("ix_ticket_updated", "updated_at", "id"),
        # The list's count of what a member sees, from the index alone.
        Index("ix_ticket_status_queue_user", "status", "queue_id", "user_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"), nullable=False, index=True)
    connection_id: Mapped[int] = mapped_column(ForeignKey("connection.id", ondelete="CASCADE"), nullable=False)
    queue_id: Mapped[Optional[int]] = mapped_column(ForeignKey("queue.id", ondelete="SET NULL"))
    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(10), nullable=False, default=TicketStatus.PENDING)
    is_group: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # Chatbot: the queue menu was sent and the customer's choice is awaited.
    awaiting_menu: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # The queues of the last menu sent, in the order numbered ("4,2,7": 1 - queue 4, ...): the
    # customer's "2" means what the menu said even if an admin reorders the queues meanwhile.
    menu_queue_ids: Mapped[Optional[str]] = mapped_column(Text)
    # Ratings: closed, rating message sent, customer's answer awaited until rating_expires_at.
    awaiting_rating: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    rating_template_id: Mapped[Optional[int]] = mapped_column(ForeignKey("rating_template.id", ondelete="SET NULL"))
    rating_expires_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    unread_count: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    last_message: Mapped[Optional[str]] = mapped_column(Text)
    last_message_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow, onupdate=utcnow)
    closed_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)

    contact = relationship("Contact")
    connection = relationship("Connection")
    queue = relationship("Queue")
    user = relationship("Member", foreign_keys=[user_id])
    rating_template = relationship("RatingTemplate")

    @property
    def protocol(self) -> str:
        return str(self.id)
