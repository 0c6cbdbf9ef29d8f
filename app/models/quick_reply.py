from typing import Optional

from flask_appbuilder import Model
from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.models.base import unique_folded


class QuickReply(Model):
    """A quick reply: typing /shortcut in the composer expands to the message."""

    __tablename__ = "quick_reply"
    id: Mapped[int] = mapped_column(primary_key=True)
    shortcut: Mapped[str] = mapped_column(String(50), unique=True, nullable=False)
    message: Mapped[str] = mapped_column(Text, nullable=False)
    user_id: Mapped[Optional[int]] = mapped_column(ForeignKey("ab_user.id", ondelete="CASCADE"))


unique_folded(QuickReply.shortcut, "uq_quick_reply_shortcut_folded")
