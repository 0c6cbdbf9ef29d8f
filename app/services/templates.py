"""Message templates: {{nome}}, {{atendente}}, {{fila}}, {{protocolo}}, {{saudacao}}.

Plain substitution of known names; anything else is left as typed (never evaluated). {{nome}} of
a contact without a name is left out, with the comma or space that only went with it.

A variable is written as the admin would: spaces inside the braces and any case are the same
variable ("{{ nome }}", "{{Nome}}" and "{{NOME}}" are {{nome}}: an admin who capitalises the word
at the start of a sentence means the customer's name, not the raw text). Anything else written in
double braces ("{{nomee}}", "{{cliente}}", "{{saudação}}") is no variable, and "{{" never closed
("Olá {{nome") none either: `check` refuses both when a template is saved, so they never reach a
customer as typed. Texts stored before that check keep
rendering as they always did (an unknown name is left as typed).
"""
import datetime as dt
import re
from zoneinfo import ZoneInfo

from flask_babel import gettext as _

from app.services import inputs

# The variables, in the order the help texts and refusals list them.
VARIABLES = ("nome", "atendente", "fila", "protocolo", "saudacao")
PLACEHOLDER = re.compile(r"\{\{\s*(" + "|".join(VARIABLES) + r")\s*\}\}", re.IGNORECASE)
# Anything written as a variable: double braces around text with no brace in it.
_WRITTEN = re.compile(r"\{\{[^{}]*\}\}")

# A contact with no name: {{nome}} is left out with what was there only for it, so that the text
# still reads well ("Olá {{nome}}, tudo bem?" -> "Olá, tudo bem?"; "{{nome}}, seu pedido" ->
# "Seu pedido"). Applied in this order; anything else (inside a URL, say) just becomes empty.
_NOME = r"\{\{\s*(?i:nome)\s*\}\}"
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
        name = match.group(1).lower()
        if name == "saudacao":
            return greeting_word(now, tz_name)
        return values[name]

    return PLACEHOLDER.sub(replace, text)


def unknown_variables(text: str | None) -> list[str]:
    """What `text` writes in double braces that is no variable (as typed, once each, in order)."""
    found = []
    for match in _WRITTEN.finditer(text or ""):
        written = match.group(0)
        if not PLACEHOLDER.fullmatch(written) and written not in found:
            found.append(written)
    return found


def unclosed_variable(text: str | None) -> str | None:
    """Where `text` opens a variable with "{{" and never closes it with "}}" ("Olá {{nome", "{{nome}"),
    as the few characters typed from there; None when every "{{" is part of a written variable. A
    lone "{" or "}" is plain text."""
    text = text or ""
    written = set()
    for match in _WRITTEN.finditer(text):
        written.update(range(*match.span()))
    for match in re.finditer(r"(?=\{\{)", text):
        start = match.start()
        if start not in written and start + 1 not in written:
            shown = text[start:start + 20].splitlines()[0]
            return shown + ("..." if len(text) - start > len(shown) else "")
    return None


def check(text: str | None, label, stored: str | None = None) -> None:
    """Refuse (422, pt_BR) a message template with an unknown variable, naming it and the ones
    there are. The one rule for every text `render` fills in (options, queues, connections, quick
    replies, ratings); the services call it on each such field. A text equal to `stored` (what is
    saved now) passes: older data, saved before this check, is kept (and rendered as before) when
    an admin saves other fields of the same form."""
    if text is None or text == stored:
        return
    unclosed = unclosed_variable(text)
    if unclosed is not None:
        raise inputs.invalid(_("%(field)s opens a variable with {{ and does not close it with }}: %(text)s. "
                               "A variable is written like {{nome}}.", field=label, text=unclosed))
    unknown = unknown_variables(text)
    if not unknown:
        return
    shown = ", ".join(u if len(u) <= 40 else u[:37] + "...}}" for u in unknown[:5])
    if len(unknown) > 5:
        shown += ", ..."
    allowed = ", ".join("{{%s}}" % name for name in VARIABLES)
    if len(unknown) == 1:
        message = _("%(field)s uses a variable that does not exist: %(unknown)s. The variables are: %(allowed)s.",
                    field=label, unknown=shown, allowed=allowed)
    else:
        message = _("%(field)s uses variables that do not exist: %(unknown)s. The variables are: %(allowed)s.",
                    field=label, unknown=shown, allowed=allowed)
    raise inputs.invalid(message)
