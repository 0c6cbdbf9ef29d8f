from typing import List, Optional

from flask_appbuilder import Model
from flask_appbuilder.security.sqla.models import User
from sqlalchemy import Boolean, Column, ForeignKey, String, Table, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

member_queue = Table(
    "member_queue",
    Model.metadata,
    Column("user_id", ForeignKey("ab_user.id", ondelete="CASCADE"), primary_key=True),
    Column("queue_id", ForeignKey("queue.id", ondelete="CASCADE"), primary_key=True),
)

# Profile name -> Flask-AppBuilder role name. The role is the single source of truth;
# `Member.profile` is read from it.
PROFILES = {"user": "User", "supervisor": "Supervisor", "admin": "Admin"}


class Member(User):
    """A team member (Equipe): Flask-AppBuilder's user, extended in the same table."""

    __tablename__ = "ab_user"
    __table_args__ = {"extend_existing": True}
    phone: Mapped[Optional[str]] = mapped_column(String(13))
    default_connection_id: Mapped[Optional[int]] = mapped_column(
        ForeignKey("connection.id", ondelete="SET NULL", name="fk_user_default_connection")
    )
    default_connection = relationship("Connection", foreign_keys=[default_connection_id])
    queues: Mapped[List["Queue"]] = relationship(  # noqa: F821
        secondary=member_queue, order_by=lambda: _queue_order()
    )
    # The chat composer's "Assinar" switch: the member's messages to customers go out signed with
    # their name (app.services.outbound). Off until the member turns it on (the guide: "quando
    # habilitado"; messages sent through the API by existing integrations do not change).
    sign_messages: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())

    @property
    def name(self) -> str:
        return " ".join(p for p in (self.first_name, self.last_name) if p)

    @property
    def profile(self) -> str:
        names = {r.name for r in self.roles}
        for profile in ("admin", "supervisor", "user"):
            if PROFILES[profile] in names:
                return profile
        return "user"

    @property
    def sees_all_tickets(self) -> bool:
        return self.profile in ("admin", "supervisor")

    def get_id(self) -> str:
        """What flask-login keeps in the session cookie: the id and the member's login stamp
        (app.security.login_stamp), so that a change of password ends every other session."""
        from app.security import login_stamp

        return f"{self.id}:{login_stamp(self)}"

    def __repr__(self):
        return self.name or self.email


def _queue_order():
    from app.models.queue import queue_order

    return queue_order()
