"""What a customer's typed reply chose among numbered options ("1 - Vendas", "3 - Muito
satisfeito"): the chatbot menu and the rating message both show their options that way.

A reply chooses an option by its number ("2", "2.", "2)"), by its label ("vendas", "Muito
Satisfeito!"), or by the whole line as shown ("2 - Vendas", copied or typed), ignoring accents,
case, the kind of dash, extra spaces and the closing punctuation. A number followed by anything
else ("3 meses esperando", "2 - Suporte" when 2 is Vendas) chooses nothing.
"""
import re

from app.models.base import fold_text

_DASHES = str.maketrans({"–": "-", "—": "-", "−": "-"})
_LINE = re.compile(r"(\d{1,6})\s*[-.:)]?\s*(.*)")


def as_compared(text) -> str:
    """A reply or a label as compared: no accents or case, dashes alike, spaces collapsed, the
    closing punctuation dropped ("Muito Satisfeito!" -> "muito satisfeito")."""
    text = " ".join(fold_text(str(text or "")).translate(_DASHES).split())
    return text.rstrip(".!").strip()


def chosen(reply, options):
    """The index in `options`, (number, label) pairs, of the one the reply chose, or None. An
    option numbered None is chosen by its label only."""
    body = as_compared(reply)
    if not body:
        return None
    line = _LINE.fullmatch(body)
    for index, (number, label) in enumerate(options):
        label = as_compared(label)
        if body == label or (line and number is not None and int(line.group(1)) == int(number)
                             and line.group(2) in ("", label)):
            return index
    return None
