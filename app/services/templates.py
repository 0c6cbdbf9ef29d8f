"""Message templates: {{nome}}, {{atendente}}, {{fila}}, {{protocolo}}, {{saudacao}}.

Plain substitution of known names; anything else is left as typed (never evaluated).
"""
import datetime as dt
import re
from zoneinfo import ZoneInfo

PLACEHOLDER = re.compile(r"\{\{\s*(nome|atendente|fila|protocolo|saudacao)\s*\}\}")


def zone(tz_name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(tz_name or "America/Sao_Paulo")
    except Exception:  # an unknown zone name must not stop the messages
        return ZoneInfo("America/Sao_Paulo")


def local_time(moment: dt.datetime, tz_name: str | None) -> dt.datetime:
    """`moment` in the company's time zone. Every moment is stored as naive UTC (app.models.base.
    utcnow; FAB's last_login too, app.security), so a naive `moment` is UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(zone(tz_name))


def greeting_word(now_utc: dt.datetime | None, tz_name: str | None) -> str:
    """Bom dia (05:00–11:59), Boa tarde (12:00–17:59), Boa noite (18:00–04:59), local time."""
    hour = local_time(now_utc or dt.datetime.now(dt.timezone.utc), tz_name).hour
    if 5 <= hour < 12:
        return "Bom dia"
    if 12 <= hour < 18:
        return "Boa tarde"
    return "Boa noite"


def render(text: str | None, *, contact=None, agent=None, queue=None, ticket=None,
           tz_name: str | None = None, now: dt.datetime | None = None) -> str:
    if not text:
        return ""
    values = {
        "nome": (contact.name or contact.phone or "") if contact is not None else "",
        "atendente": agent.name if agent is not None else "",
        "fila": queue.name if queue is not None else "",
        "protocolo": ticket.protocol if ticket is not None else "",
    }

    def replace(match):
        name = match.group(1)
        if name == "saudacao":
            return greeting_word(now, tz_name)
        return values[name]

    return PLACEHOLDER.sub(replace, text)
