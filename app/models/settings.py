from typing import Optional

from flask_appbuilder import Model
from sqlalchemy import Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column


class Settings(Model):
    """The options of Configurações › Opções: a single row (id = 1), read through
    app.services.settings.get_settings()."""

    __tablename__ = "settings"
    id: Mapped[int] = mapped_column(primary_key=True)
    send_ratings: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    rating_required: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    external_rating: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    external_rating_url: Mapped[Optional[str]] = mapped_column(String(500))
    rating_expiry_minutes: Mapped[int] = mapped_column(Integer, nullable=False, default=60)
    business_hours: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    open_tickets_out_of_hours: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    ignore_group_messages: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    group_actions: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    accept_calls: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    call_rejection_message: Mapped[Optional[str]] = mapped_column(Text)
    chatbot_type: Mapped[str] = mapped_column(String(10), nullable=False, default="text")
    operator_greeting: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    operator_greeting_text: Mapped[Optional[str]] = mapped_column(Text)
    transfer_message: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    transfer_message_text: Mapped[Optional[str]] = mapped_column(Text)
    operator_farewell: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    operator_farewell_text: Mapped[Optional[str]] = mapped_column(Text)
    timezone: Mapped[str] = mapped_column(String(64), nullable=False, default="America/Sao_Paulo")
    default_rating_template_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("rating_template.id", ondelete="SET NULL")
    )
