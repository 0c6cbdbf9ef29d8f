import datetime as dt
from typing import List, Optional

from flask_appbuilder import Model
from sqlalchemy import ForeignKey, Integer, String, Text, Time, UniqueConstraint, CheckConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.models.base import alphabetical, unique_folded


class Queue(Model):
    """A department (Fila). Lists and the bot menu are sorted by bot_order, then name."""

    __tablename__ = "queue"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True, nullable=False)
    bot_order: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    color: Mapped[str] = mapped_column(String(7), unique=True, nullable=False)
    greeting_message: Mapped[Optional[str]] = mapped_column(Text)
    out_of_hours_message: Mapped[Optional[str]] = mapped_column(Text)
    hours: Mapped[List["BusinessHours"]] = relationship(
        back_populates="queue", cascade="all, delete-orphan", order_by="(BusinessHours.weekday, BusinessHours.start)"
    )

    def __repr__(self):
        return self.name


unique_folded(Queue.name, "uq_queue_name_folded")


def queue_order() -> tuple:
    """ORDER BY of every list of queues and of the bot menu: bot order, then the name
    alphabetically (case and accents aside, app.models.base.alphabetical), then the id."""
    return (Queue.bot_order, *alphabetical(Queue.name), Queue.id)


class BusinessHours(Model):
    """One opening interval of a queue on one weekday (0 = Monday ... 6 = Sunday), local time.

    end <= start means the interval runs past midnight into the next day.
    """

    __tablename__ = "business_hours"
    __table_args__ = (
        UniqueConstraint("queue_id", "weekday", "start", name="uq_business_hours_interval"),
        CheckConstraint("weekday >= 0 AND weekday <= 6", name="ck_business_hours_weekday"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    queue_id: Mapped[int] = mapped_column(ForeignKey("queue.id", ondelete="CASCADE"), nullable=False, index=True)
    weekday: Mapped[int] = mapped_column(Integer, nullable=False)
    start: Mapped[dt.time] = mapped_column(Time, nullable=False)
    end: Mapped[dt.time] = mapped_column(Time, nullable=False)
    queue: Mapped[Queue] = relationship(back_populates="hours")
