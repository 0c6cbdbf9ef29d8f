"""Checks for untrusted input shared by the admin services (REST, forms and scripts).

Every checker takes the raw value (JSON types from the API, strings from forms) and either
returns a clean Python value or raises a DomainError (422) with a pt_BR message naming the field.
"""
import re
import unicodedata
from contextlib import contextmanager

from flask_babel import gettext as _

from app.services import DomainError, FieldErrors, NotFound

# Long enough for any real greeting or farewell, short enough to stay a chat message.
MAX_MESSAGE = 4000
MAX_NAME = 100
MAX_INT = 1_000_000
# Control characters (but tab and line breaks), and lone UTF-16 surrogates: no Unicode text, and
# no database can store one (the API refuses them in any JSON body already: app.views.errors).
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
# A lone UTF-16 surrogate alone: what the API refuses in a JSON body (app.views.errors) and the
# inbox replaces in a channel's event (app.services.inbox.repaired).
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def invalid(message, field: str | None = None) -> DomainError:
    return DomainError(message, status=422, field=field)


@contextmanager
def about(field: str):
    """Refusals raised inside are about the input field `field` (unless they already name one)."""
    try:
        yield
    except DomainError as error:
        if error.field is None:
            error.field = field
        raise


class Refusals:
    """The input errors of one cleaning, collected field by field instead of stopping at the first,
    so that a form shows every field's error in one submit (and the API names them all):

        refused = Refusals()
        with refused.about("name"):
            clean["name"] = text(...)
        ...
        refused.check()  # raises the one refusal as it is, or FieldErrors with them all

    Only input refusals (422) are collected; any other DomainError (a body that is no object, a
    404) is raised at once. A value whose check failed is missing from what the cleaning keeps:
    checks that depend on it are skipped (`failed`)."""

    def __init__(self):
        self.errors: list[DomainError] = []

    @contextmanager
    def about(self, field: str):
        try:
            yield
        except DomainError as error:
            if error.status != 422:
                raise
            if error.field is None:
                error.field = field
            self.add(error)

    def add(self, error: DomainError) -> None:
        self.errors.extend(getattr(error, "errors", None) or [error])

    def failed(self, *fields: str) -> bool:
        """Whether any of these fields (or, with none given, anything) was refused; "hours" also
        covers its parts ("hours.2")."""
        named = [error.field or "" for error in self.errors]
        return any(not fields or any(n == f or n.startswith(f + ".") for f in fields) for n in named)

    def check(self) -> None:
        if len(self.errors) == 1:
            raise self.errors[0]
        if self.errors:
            raise FieldErrors(self.errors)


def commit_or_conflict(message) -> None:
    """Commit; a unique constraint lost to a concurrent write becomes `message` (422), nothing kept."""
    from sqlalchemy.exc import IntegrityError

    from app.models import db

    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        raise invalid(message) from None


def require_object(data) -> dict:
    if not isinstance(data, dict):
        raise DomainError(_("The request body must be a JSON object."), status=400)
    return data


def reject_unknown(data: dict, allowed) -> None:
    unknown = sorted(str(k) for k in data if k not in allowed)
    if unknown:
        raise invalid(_("Unknown field(s): %(fields)s", fields=", ".join(unknown)[:200]))


ZWJ = "\u200d"


def _joins_emoji(value: str, i: int) -> bool:
    """Whether the zero-width joiner at `i` sits inside an emoji sequence (👨‍👩‍👧, ❤️‍🔥): after an
    emoji (or its variation selector or skin tone) and before another."""
    before = value[i - 1] if i > 0 else ""
    after = value[i + 1] if i + 1 < len(value) else ""
    return (before == "\ufe0f" or unicodedata.category(before or " ") in ("So", "Sk")) \
        and unicodedata.category(after or " ") == "So"


def visible(value: str) -> str:
    """`value` without Unicode format characters (category Cf: zero-width space and joiners, the
    BOM, bidi marks and overrides, soft hyphen...), which show nothing: "Vendas\u200b" looked like
    "Vendas" beside it in the chatbot menu, a name of "\ufeff" showed blank and "\u202e" turned the
    rest of a name around. Stripped rather than refused: they come from copy and paste, unseen by
    whoever typed the name. The joiner inside an emoji sequence stays (it is part of the emoji)."""
    if value.isascii():
        return value
    return "".join(c for i, c in enumerate(value)
                   if unicodedata.category(c) != "Cf" or (c == ZWJ and _joins_emoji(value, i)))


def text(value, label, *, required=False, max_len=MAX_MESSAGE, single_line=False):
    """A trimmed string, or None when empty and not required. One-line fields (names, shortcuts,
    e-mail, phone...) lose their format characters first (`visible`): a name of invisible
    characters only is empty (required). Multi-line text (messages, greetings) keeps every
    character: it is shown as the customer's WhatsApp shows it."""
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise invalid(_("%(field)s must be text.", field=label))
    if single_line:
        value = visible(value)
    value = value.replace("\r\n", "\n").strip()
    if "\x00" in value or _CONTROL.search(value) or (single_line and "\n" in value):
        raise invalid(_("%(field)s contains invalid characters.", field=label))
    if not value:
        if required:
            raise invalid(_("%(field)s is required.", field=label))
        return None
    if len(value) > max_len:
        raise invalid(_("%(field)s is too long (at most %(max)d characters).", field=label, max=max_len))
    return value


def boolean(value, label) -> bool:
    if isinstance(value, bool):
        return value
    raise invalid(_("%(field)s must be yes or no (true or false).", field=label))


def integer(value, label, *, minimum=-MAX_INT, maximum=MAX_INT) -> int:
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,9}\s*", value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(_("%(field)s must be a whole number.", field=label))
    if not minimum <= value <= maximum:
        raise invalid(_("%(field)s must be between %(min)d and %(max)d.", field=label, min=minimum, max=maximum))
    return value


MAX_ID = 2**31 - 1  # what an INTEGER column holds: a larger id is unknown, never a database error
_DIGITS = re.compile(r"[0-9]{1,10}")


def as_id(value, *, digits: bool = False) -> int | None:
    """What an id is, the one rule for every id that comes from outside (JSON bodies, addresses,
    query strings, cursors): a whole number from 1 to MAX_ID. A JSON value must be a number with
    no fraction (2, not 2.9 nor 2.0, which `int()` would have cut to 2; a bool is no number);
    `digits`: also ASCII decimal digits in a string (an address, a query string, the ticket
    actions' JSON, which always took "2"), never "2.9", " 2", "1_0", "1e3" or "２" (all of which
    `int()` reads). None for anything else."""
    if digits and isinstance(value, str) and _DIGITS.fullmatch(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ID:
        return None
    return value


def ident(value, label, *, digits: bool = False) -> int:
    """A database id (`as_id`); anything else is refused (422, naming the field) before touching
    the database."""
    number = as_id(value, digits=digits)
    if number is None:
        raise invalid(_("%(field)s: invalid id.", field=label))
    return number


def fetch_one(model, value, not_found):
    """The row with this id. A value that is no INTEGER id (a bool, text, out of range) is as
    unknown as a missing row: NotFound(`not_found`), never a database error."""
    from app.models import db

    row = None
    if as_id(value) is not None:
        row = db.session.get(model, value)
    if row is None:
        raise NotFound(not_found)
    return row


def phone_number(value: str) -> str | None:
    """The one rule for a telephone number (a member's phone, the number of a Nova conversa): the
    digits with country code of a number the telephone plan has, as the phonenumbers library
    knows it (an area code that exists, a mobile number with its 9...), else None. Brazilian
    unless written with + (or 00) and a country code; "55" + DDD + number, as the team writes
    numbers, is Brazilian too ("5511987654321"; "5500987654321" has no area code 00)."""
    import phonenumbers

    text = value.strip()
    if text.startswith("00"):
        text = "+" + text[2:]
    elif not text.startswith("+") and re.fullmatch(r"55\d{10,11}", re.sub(r"\D", "", text)):
        text = "+" + text
    try:
        number = phonenumbers.parse(text, "BR")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)[1:]


def unique_name(model, value, current, label, taken):
    """A required one-line `name` that no other row of `model` has, ignoring case and accents
    ("Técnico" is "TECNICO"); `taken` (with %(name)s) is the refusal. Invisible characters are
    gone before the comparison (`text`, single_line): "Vendas\u200b" is "Vendas". The database's
    folded unique index does not strip them: rows stored before this rule keep theirs until edited."""
    name = text(value, label, required=True, max_len=MAX_NAME, single_line=True)
    existing = taken_by_another(model.name, name, current)
    if existing is not None:
        # The existing row's name as it is written ("Suporte Técnico"), not what was typed
        # ("suporte tecnico"): the message points at the row that is in the way.
        raise invalid(taken % {"name": existing})
    return name


def taken_by_another(column, value: str, current) -> str | None:
    """The value in `column` of a row other than `current` that has `value` there, ignoring case and
    accents (as that row has it: "Suporte Técnico" for "suporte tecnico"), or None. The database's
    unique index on the same folded column (app.models.base.unique_folded) settles a concurrent
    race."""
    from sqlalchemy import literal

    from app.models import db
    from app.models.base import folded

    clash = db.session.query(column).filter(folded(column) == folded(literal(value)))
    if current is not None:
        clash = clash.filter(column.class_.id != current.id)
    row = clash.first()
    return None if row is None else row[0]


def id_list(value, label) -> list[int]:
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise invalid(_("%(field)s must be a list of ids.", field=label))
    if len(value) > 1000:
        raise invalid(_("%(field)s: too many items.", field=label))
    result = []
    for item in value:
        i = ident(item, label)
        if i not in result:
            result.append(i)
    return result


def fetch_all(model, ids: list[int], label):
    """The rows with these ids, in the given order; an unknown id is an input error."""
    from app.models import db

    if not ids:
        return []
    rows = {r.id: r for r in db.session.query(model).filter(model.id.in_(ids))}
    missing = [str(i) for i in ids if i not in rows]
    if missing:
        raise invalid(_("%(field)s: not found: %(ids)s", field=label, ids=", ".join(missing)[:100]))
    return [rows[i] for i in ids]
