import datetime as dt
from typing import List, Optional

from flask_appbuilder import Model
from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import unique_folded, utcnow


class RatingTemplate(Model):
    """A rating (Avaliação) template: the message sent and the options the customer may answer."""

    __tablename__ = "rating_template"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True, nullable=False)
    message: Mapped[str] = mapped_column(Text, nullable=False)
    options: Mapped[List["RatingOption"]] = relationship(
        back_populates="template", cascade="all, delete-orphan", order_by="RatingOption.value"
    )

    def __repr__(self):
        return self.name


unique_folded(RatingTemplate.name, "uq_rating_template_name_folded")


class RatingOption(Model):
    __tablename__ = "rating_option"
    __table_args__ = (UniqueConstraint("template_id", "value", name="uq_rating_option_value"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    template_id: Mapped[int] = mapped_column(ForeignKey("rating_template.id", ondelete="CASCADE"), nullable=False)
    value: Mapped[int] = mapped_column(Integer, nullable=False)
    label: Mapped[str] = mapped_column(String(100), nullable=False)
    template: Mapped[RatingTemplate] = relationship(back_populates="options")


class Rating(Model):
    """A customer's answer to a rating, stored against the ticket and the agent who closed it."""

    __tablename__ = "rating"
    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("ticket.id", ondelete="CASCADE"), nullable=False, unique=True)
    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id", ondelete="SET NULL"))
    template_id: Mapped[Optional[int]] = mapped_column(ForeignKey("rating_template.id", ondelete="SET NULL"))
    # The queue it was given in: the ticket may be transferred after being reopened.
    queue_id: Mapped[Optional[int]] = mapped_column(ForeignKey("queue.id", ondelete="SET NULL",
                                                               name="fk_rating_queue_id"))
    # The agent's name when the customer answered: kept after the member is deleted (user_id NULL).
    agent_name: Mapped[Optional[str]] = mapped_column(String(128))
    value: Mapped[int] = mapped_column(Integer, nullable=False)
    label: Mapped[str] = mapped_column(String(100), nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, nullable=False, default=utcnow)

    ticket = relationship("Ticket")
    user = relationship("Member")
    queue = relationship("Queue")

    @property
    def agent(self) -> str | None:
        """Who was rated: the member as named now, or as named then once the member is deleted."""
        return self.user.name if self.user is not None else self.agent_name
