"""Respostas rápidas: `/shortcut` in the composer expands to the message.

Shortcuts are unique ignoring case and accents ("horário" and "HORARIO" are the same shortcut:
typing either finds it), one word without spaces (a leading "/" is dropped).
Replies without an owner are shared by the whole team; one with an owner is that member's own.
"""
import re

from flask_babel import gettext as _, lazy_gettext
from sqlalchemy import or_

from app.models import QuickReply, db
from app.services import inputs, templates

FIELDS = ("shortcut", "message")
LABELS = {"shortcut": lazy_gettext("Shortcut"), "message": lazy_gettext("Message")}
_SHORTCUT = re.compile(r"[^\s/]{1,50}")


def visible_to(member):
    """The quick replies a member may use: the shared ones and their own."""
    query = db.session.query(QuickReply)
    if member is not None:
        query = query.filter(or_(QuickReply.user_id.is_(None), QuickReply.user_id == member.id))
    return query.order_by(QuickReply.shortcut)


def for_ticket(member, ticket_id) -> list[dict]:
    """The member's quick replies as they would be sent on that ticket: {{nome}}, {{atendente}}
    (the member), {{fila}}, {{protocolo}} and {{saudacao}} filled in, as in every other message
    template. NotFound for a ticket the member may not see."""
    from app.services import tickets, visibility
    from app.services.settings import get_settings

    ticket = visibility.get_visible_ticket(member, ticket_id)
    settings = get_settings()
    return [{"shortcut": r.shortcut, "message": tickets.render_for_ticket(r.message, ticket, settings, agent=member)}
            for r in visible_to(member)]


def get(reply_id) -> QuickReply:
    return inputs.fetch_one(QuickReply, reply_id, lazy_gettext("Quick reply not found."))


def _clean(data: dict, current: QuickReply | None) -> dict:
    data = inputs.require_object(data)
    inputs.reject_unknown(data, FIELDS)
    clean = {}
    refused = inputs.Refusals()  # every field's refusal at once
    if current is None or "shortcut" in data:
        with refused.about("shortcut"):
            clean["shortcut"] = _clean_shortcut(data.get("shortcut"), current)
    if current is None or "message" in data:
        with refused.about("message"):
            clean["message"] = inputs.text(data.get("message"), LABELS["message"], required=True)
            templates.check(clean["message"], LABELS["message"], stored=getattr(current, "message", None))
    refused.check()
    return clean


def _clean_shortcut(value, current: QuickReply | None) -> str:
    shortcut = inputs.text(value, LABELS["shortcut"], required=True, max_len=51, single_line=True)
    shortcut = shortcut[1:] if shortcut.startswith("/") else shortcut
    if not _SHORTCUT.fullmatch(shortcut):
        raise inputs.invalid(_("The shortcut must be one word, without spaces (e.g. horario)."))
    existing = inputs.taken_by_another(QuickReply.shortcut, shortcut, current)
    if existing is not None:  # named as it is saved ("/horário" for "HORARIO")
        raise inputs.invalid(_("The shortcut /%(shortcut)s already exists.", shortcut=existing))
    return shortcut


def _commit():
    inputs.commit_or_conflict(_("The quick reply could not be saved because it was changed at the same time. Try again."))


def create(data: dict) -> QuickReply:
    reply = QuickReply(**_clean(data, None))
    db.session.add(reply)
    _commit()
    return reply


def update(reply_id, data: dict) -> QuickReply:
    reply = get(reply_id)
    for key, value in _clean(data, reply).items():
        setattr(reply, key, value)
    _commit()
    return reply


def delete(reply_id) -> None:
    db.session.delete(get(reply_id))
    _commit()
