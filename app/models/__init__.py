"""The data model, one module per aggregate. Importing this package registers every table."""
from app.models.base import db, end_session, utcnow  # noqa: F401
from app.models.queue import Queue, BusinessHours  # noqa: F401
from app.models.connection import Connection  # noqa: F401
from app.models.team import Member, PROFILES  # noqa: F401
from app.models.contact import Contact  # noqa: F401
from app.models.ticket import Ticket, TicketStatus  # noqa: F401
from app.models.message import Message, MessageStatus, InboundEvent  # noqa: F401
from app.models.settings import Settings  # noqa: F401
from app.models.rating import RatingTemplate, RatingOption, Rating  # noqa: F401
from app.models.quick_reply import QuickReply  # noqa: F401
