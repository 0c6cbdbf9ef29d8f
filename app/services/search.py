"""Ticket search: the one place that decides what a search finds and how the database is asked.

What matches (the same on PostgreSQL and SQLite):
- A ticket matches when its contact's name, its contact's number or any of its messages contains
  the text typed, ignoring case and accents on both sides ("joao" and "JOÃO" find "João Ávila";
  "acucar" finds "açúcar"; app.models.base.folded: the same for accented letters and ç on
  PostgreSQL and SQLite). `%`, `_` and `\\` are literal characters, never wildcards.
- The number is compared by its digits, when the text has at least 3 of them: "(11) 98765-0002"
  finds 5511987650002. A mobile typed with its ninth digit also finds the contact WhatsApp knows by
  the id from before it ("(11) 98765-4321" finds 551187654321; app.services.contacts).
- Message text, and the name of a message's file ("boleto_marco.pdf", received or sent), are
  searched when the text has a word of at least 3 letters or digits (what a trigram index can
  narrow down). Shorter text ("jo", "5", "%", "a b") finds the contacts one of
  whose name's words starts with it: what an agent typing a name sees first, as fast on 1 000 000
  messages as on 10 (searching it in every message would read them all).
- Text with no letter or digit at all ("%", "+", "--", blanks, NULs) finds nothing (it would have to read every
  contact and message and means nothing on its own).
- Visibility is the caller's `base` statement (app.services.visibility): search only narrows it.

How (PostgreSQL): pg_trgm GIN indexes on message.body_folded and contact.name_folded (the folded
text, stored by the database: folding each message or contact probed was half the time of a
common word or surname), the folded message.media_name (partial: messages with a file; `folded`,
the very expression compared here) and on contact.phone (see the models). One OR across contacts and
messages made the planner read every matching message (a word in 10 % of 1 000 000 messages:
300+ ms); so each source is asked on its own for its first `limit`
tickets of `base` in list order, and the list is drawn from their union (`page_clause`). Asked
alone, the planner either walks the visible tickets newest first and probes each one's messages
(a common word: it stops after a page) or reads the few matches out of the trigram index (a rare
word). SQLite has no trigram index: the same statements, answered by reading the tables (correct,
slower; SQLite is for small installs).
"""
import re

from sqlalchemy import Text, and_, exists, false, func, literal, or_, select, union, union_all

from app.models import Contact, Message, Ticket
from app.models.base import folded
from app.services import contacts

MAX_LENGTH = 100  # characters of a search that are used; the rest is ignored
MIN_WORD = 3  # a word this long (letters or digits) searches message text
MIN_DIGITS = 3  # this many digits search contact numbers
LIST_ORDER = (Ticket.updated_at.desc(), Ticket.id.desc())
WORD = re.compile(r"[^\W_]+")


def normalise(text) -> str | None:
    """The search as used: None when there is none (no `q`, or an empty one: the whole list);
    otherwise the text without NUL characters (no text column holds one), stripped and cut to
    MAX_LENGTH characters. That may leave "" (spaces or NULs only): a search with no letter or
    digit, which finds nothing, like "--"."""
    if text is None or text == "":
        return None
    return str(text).replace("\x00", "").strip()[:MAX_LENGTH].strip()


def escape_like(text: str) -> str:
    """`text` for a LIKE pattern with ESCAPE '\\': its %, _ and \\ match themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def searches_messages(text: str) -> bool:
    return any(len(word) >= MIN_WORD for word in WORD.findall(text))


def contains(column, pattern: str, *, already_folded: bool = False):
    """`column` LIKE `pattern` (escaped with escape_like), both folded by the database's own
    function (so both sides fold alike; PostgreSQL folds the pattern once, when it plans).
    `already_folded`: the column holds folded text (Message.body_folded), compared as it is."""
    return (column if already_folded else folded(column)).like(folded(literal(pattern, Text())), escape="\\")


def _contacts(text: str):
    """Ids of the contacts `text` finds (by name, and by number when it has enough digits)."""
    escaped = escape_like(text)
    if searches_messages(text):
        by = [contains(Contact.name_folded, f"%{escaped}%", already_folded=True)]
    else:  # short: the start of a word of the name (trigram-indexed on PostgreSQL: anchored)
        by = [contains(Contact.name_folded, f"{escaped}%", already_folded=True),
              contains(Contact.name_folded, f"% {escaped}%", already_folded=True)]
    digits = "".join(c for c in text if c in "0123456789")
    if len(digits) >= MIN_DIGITS:
        by.append(Contact.phone.like(f"%{digits}%"))
        old_form = contacts.typed_without_ninth_digit(digits)
        if old_form:
            by.append(Contact.phone.like(f"%{old_form}%"))
    return select(Contact.id).where(or_(*by))


def source_clauses(text: str) -> list:
    """One WHERE clause on Ticket per source `text` is searched in (contact; messages when long
    enough). A ticket matches when any of them holds; none when the list is empty."""
    text = normalise(text) or ""
    if not WORD.search(text):
        return []
    clauses = [Ticket.contact_id.in_(_contacts(text))]
    if searches_messages(text):
        pattern = f"%{escape_like(text)}%"
        # One source for the text and the file name: a third branch cost every search its own
        # probe of the visible tickets (bench/ticket_list.py); an OR of the two indexed expressions
        # is answered from both indexes at once.
        clauses.append(exists().where(Message.ticket_id == Ticket.id, or_(
            contains(Message.body_folded, pattern, already_folded=True),
            and_(Message.media_name.isnot(None), contains(Message.media_name, pattern)))))
    return clauses


def _ids(base, clause, limit=None):
    """`base` (a select of Ticket) narrowed by `clause`, as a subquery of ticket ids in list order."""
    branch = base.with_only_columns(Ticket.id).where(clause).order_by(None).correlate(None)
    if limit is not None:
        branch = branch.order_by(*LIST_ORDER).limit(limit)
    return select(branch.subquery().c.id)


def page_clause(base, text: str, limit: int):
    """A WHERE clause on Ticket: among the first `limit` tickets of `base` (in LIST_ORDER) that
    `text` (a search, not None) finds. Add it to `base` itself, then order by LIST_ORDER and take at
    most `limit`: that is `base` filtered by the search, asked the fast way (module doc)."""
    clauses = source_clauses(text)
    if not clauses:
        return false()
    return Ticket.id.in_(union_all(*(_ids(base, clause, limit) for clause in clauses)))


# A search counts its tickets up to this many: an exact count of a common word would read every
# message holding it (hundreds of ms at a million messages), for a figure no one pages through.
COUNT_CAP = 1000


def count(base, text: str, cap: int | None = None):
    """A statement counting the tickets of `base` that `text` finds (each ticket once); all of
    them when `text` is no search (None: normalise). With `cap`, a search stops counting past `cap` (the result
    is then cap + 1 or a little more: "more than cap"), each source reading at most cap + 1 ids."""
    if text is None:
        return select(func.count()).select_from(base.order_by(None).subquery())
    clauses = source_clauses(text)
    if not clauses:
        return select(func.count()).where(false())
    return select(func.count()).select_from(
        union(*(_ids(base, clause, None if cap is None else cap + 1) for clause in clauses)).subquery())
