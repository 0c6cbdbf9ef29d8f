"""Contacts: who a WhatsApp id is. The one place that knows a Brazilian mobile may be known by two
ids (with and without the ninth digit), used by routing (inbound), Nova conversa and the outbox.
"""
from sqlalchemy import select

from app.models import Ticket, TicketStatus, db


def ninth_digit_twin(jid: str) -> str | None:
    """The same Brazilian mobile written the other way. Mobiles gained a ninth digit (2012–2016),
    but WhatsApp still knows many accounts made before it by their old id ("551187654321@c.us")
    while people write the number with the 9 ("5511987654321"): both ids are one customer.
    Mobile numbers start with 6–9; landlines (2–5) never had a ninth digit."""
    user, _, server = str(jid or "").partition("@")
    if server != "c.us" or not user.isdigit() or not user.startswith("55"):
        return None
    if len(user) == 13 and user[4] == "9" and user[5] in "6789":
        return f"{user[:4]}{user[5:]}@c.us"
    if len(user) == 12 and user[4] in "6789":
        return f"{user[:4]}9{user[4:]}@c.us"
    return None


def typed_without_ninth_digit(digits: str) -> str | None:
    """Digits typed to find a number ("11 98765-4321" → "11987654321") as they read without the
    ninth digit ("1187654321"), when they end with a mobile's nine digits (9 then 6–9): the
    contact may be known by WhatsApp's old id. The other way needs nothing: "87654321" is part
    of "5511987654321" already."""
    if len(digits) >= 9 and digits[-9] == "9" and digits[-8] in "6789":
        return digits[:-9] + digits[-8:]
    return None


def with_twins(jids) -> set:
    """The jids and their ninth-digit twins: what to look contacts up by."""
    found = set(jids)
    found.update(t for t in map(ninth_digit_twin, jids) if t)
    return found


def adopt_jid(contact, jid: str, phone: str | None) -> None:
    """WhatsApp names this contact `jid` (its ninth-digit twin was typed by the team): from now on
    the contact is the id WhatsApp uses, so its number reads as WhatsApp has it and sends go there.
    Its unique constraint refuses a jid another contact already holds (IntegrityError at flush)."""
    if contact.name == contact.phone:
        contact.name = phone or contact.name
    contact.jid, contact.phone = jid, phone


def in_progress(contact_id: int, but=None) -> list:
    """The contact's conversations in progress (pending or open), but `but`: those a change of the
    contact shows in."""
    query = select(Ticket).where(Ticket.contact_id == contact_id, Ticket.status.in_(TicketStatus.ACTIVE))
    if but is not None:
        query = query.where(Ticket.id != but.id)
    return list(db.session.scalars(query))
