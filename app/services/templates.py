"""Message templates: {{nome}}, {{atendente}}, {{fila}}, {{protocolo}}, {{saudacao}}.

Plain substitution of known names; anything else is left as typed (never evaluated). {{nome}} of
a contact without a name is left out, with the comma or space that only went with it.
"""
import datetime as dt
import re
from zoneinfo import ZoneInfo

PLACEHOLDER = re.compile(r"\{\{\s*(nome|atendente|fila|protocolo|saudacao)\s*\}\}")

# A contact with no name: {{nome}} is left out with what was there only for it, so that the text
# still reads well ("Olá {{nome}}, tudo bem?" -> "Olá, tudo bem?"; "{{nome}}, seu pedido" ->
# "Seu pedido"). Applied in this order; anything else (inside a URL, say) just becomes empty.
_NOME = r"\{\{\s*nome\s*\}\}"
_NOME_OPENS_LINE = re.compile(r"^([ \t]*)" + _NOME + r"[ \t]*[,.!:;]?[ \t]*(\w?)", re.MULTILINE)
_NOME_BEFORE_PUNCTUATION = re.compile(r"[ \t]*(?:,[ \t]*)?" + _NOME + r"(?=[ \t]*(?:[,.!?;:)]|$))", re.MULTILINE)
_NOME_BETWEEN_WORDS = re.compile(r"[ \t]+" + _NOME + r"(?=[ \t])")
_NUMBER_ONLY = re.compile(r"[\d\s()+.\-]*")


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


def contact_name(contact) -> str:
    """What {{nome}} stands for: the contact's name, or "" when it has none. A customer who writes
    with no WhatsApp profile name is stored with the number as name (the lists show it), and a
    number only (digits, spaces, + ( ) - .) is no name: "Olá 5511999990000" reads as a mistake."""
    name = ((getattr(contact, "name", None) or "") if contact is not None else "").strip()
    return "" if _NUMBER_ONLY.fullmatch(name) else name


def render(text: str | None, *, contact=None, agent=None, queue=None, ticket=None,
           tz_name: str | None = None, now: dt.datetime | None = None) -> str:
    if not text:
        return ""
    values = {
        "nome": contact_name(contact),
        "atendente": agent.name if agent is not None else "",
        "fila": queue.name if queue is not None else "",
        "protocolo": ticket.protocol if ticket is not None else "",
    }

    if not values["nome"]:
        text = _NOME_OPENS_LINE.sub(lambda m: m.group(1) + m.group(2).upper(), text)
        text = _NOME_BEFORE_PUNCTUATION.sub("", text)
        text = _NOME_BETWEEN_WORDS.sub("", text)

    def replace(match):
        name = match.group(1)
        if name == "saudacao":
            return greeting_word(now, tz_name)
        return values[name]

    return PLACEHOLDER.sub(replace, text)
