"""What a customer's typed reply chose among numbered options ("1 - Vendas", "3 - Muito
satisfeito"): the chatbot menu and the rating message both show their options that way.

A reply chooses an option by its number ("2", "2.", "2)"), by its label ("vendas", "Muito
Satisfeito!"; in the chatbot menu also its first words when no other label starts so: "suporte"
for "Suporte Técnico"), or by the whole line as shown ("2 - Vendas", copied or typed), ignoring accents,
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


def chosen(reply, options, first_words=False):
    """The index in `options`, (number, label) pairs, of the one the reply chose, or None. An
    option numbered None is chosen by its label only; with `first_words` (the chatbot menu, not
    a rating, which is kept only when meant), also by the first words of one label."""
    body = as_compared(reply)
    if not body:
        return None
    line = _LINE.fullmatch(body)
    for index, (number, label) in enumerate(options):
        label = as_compared(label)
        if body == label or (line and number is not None and int(line.group(1)) == int(number)
                             and line.group(2) in ("", label)):
            return index
    if line or not first_words:
        return None
    # The first word(s) of one label only: "suporte" for "Suporte Técnico" (not when "Suporte
    # Comercial" is there too, nor "muito" between "Muito satisfeito" and "Muito insatisfeito").
    words = body.split()
    starting = [index for index, (_number, label) in enumerate(options)
                if as_compared(label).split()[:len(words)] == words]
    return starting[0] if len(starting) == 1 else None
