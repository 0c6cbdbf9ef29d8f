import datetime as dt
from typing import Optional

from flask_appbuilder import Model
from sqlalchemy import Boolean, Computed, DateTime, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import folded, utcnow


class Contact(Model):
    """A customer, or a WhatsApp group (a group is a contact of its own; the sender of each
    group message is kept on the message)."""

    __tablename__ = "contact"
    __table_args__ = (
        UniqueConstraint("channel", "jid", name="uq_contact_channel_jid"),
        # Search (app.services.search): trigram indexes on PostgreSQL (the name's folded under the
        # class); on SQLite they are declared empty (WHERE 0: nothing stored, never used) or absent,
        # and search reads the table.
        Index("ix_contact_phone_trgm", "phone", postgresql_using="gin", postgresql_ops={"phone": "gin_trgm_ops"},
              sqlite_where=text("0")),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20), nullable=False, default="whatsapp")
    # The channel's address: "5511999990000@c.us" or "1203630...@g.us" on WhatsApp.
    jid: Mapped[str] = mapped_column(String(128), nullable=False)
    phone: Mapped[Optional[str]] = mapped_column(String(20), index=True)  # digits only; None for groups
    name: Mapped[str] = mapped_column(String(200), nullable=False, default="")
    # The name as search compares it (conecta_fold(name)), kept by the database: stored on
    # PostgreSQL, where a common surname checks thousands of contacts and unaccent on each was half
    # the time (bench/RESULTS.md); virtual on SQLite. Never loaded (deferred). Migration 0007.
    name_folded: Mapped[Optional[str]] = mapped_column(Text, Computed(folded(text("name")), persisted=True),
                                                       deferred=True)
    is_group: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    # The last out-of-hours message sent to this contact, and (JSON, hours.note_out_of_hours) which
    # ones went in the last 30 minutes and when: none is repeated within 30 minutes. Migration 0010.
    out_of_hours_sent_at: Mapped[Optional[dt.datetime]] = mapped_column(DateTime)
    out_of_hours_sent: Mapped[Optional[str]] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)

    # Inserting a contact does not read name_folded back.
    __mapper_args__ = {"eager_defaults": False}

    def __repr__(self):
        return self.name or self.phone or self.jid


# The name without accents or case, as search compares it (app.models.base.folded).
Index("ix_contact_name_folded_trgm", Contact.name_folded, postgresql_using="gin",
      postgresql_ops={"name_folded": "gin_trgm_ops"}).ddl_if(dialect="postgresql")
