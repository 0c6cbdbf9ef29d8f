"""Translations: `python -m app.i18n compile | check | extract`.

Message ids are English (Flask-AppBuilder's convention, so its catalogue and ours merge); pt_BR is
the default locale. The pt_BR catalogue is kept in parts, one file per area of the product
(translations/pt_BR/parts/*.po), so work on different areas never collides; `compile` merges them
into translations/pt_BR/LC_MESSAGES/messages.mo, `check` lists every wrapped string of ours that
has no pt_BR translation, and every id two parts translate differently (only one would be used).
"""
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "translations"
PARTS = TRANSLATIONS / "pt_BR" / "parts"
METHOD_MAP = [("**/node_modules/**", "ignore"), ("**.py", "python"), ("**/templates/**.html", "jinja2")]
KEYWORDS = {"_": None, "gettext": None, "lazy_gettext": None, "_l": None, "ngettext": (1, 2),
            "lazy_ngettext": (1, 2)}


def merged_catalog() -> Catalog:
    catalog = Catalog(locale="pt_BR", domain="messages")
    for part in sorted(PARTS.glob("*.po")):
        with part.open("rb") as fh:
            for msg in read_po(fh, locale="pt_BR"):
                if msg.id and msg.string:
                    catalog[msg.id] = msg
    return catalog


def compile_catalog() -> Path:
    out = TRANSLATIONS / "pt_BR" / "LC_MESSAGES" / "messages.mo"
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("wb") as fh:
        write_mo(fh, merged_catalog())
    return out


def extracted_ids() -> dict[str, str]:
    """Every message id wrapped in our source, with one place it appears."""
    ids: dict[str, str] = {}
    for sub in ("app",):
        for filename, lineno, message, comments, context in extract_from_dir(
            ROOT / sub, METHOD_MAP, keywords=KEYWORDS, options_map={"**/templates/**.html": {"extensions": "jinja2.ext.do"}}
        ):
            for mid in (message if isinstance(message, tuple) else (message,)):
                if mid:
                    ids.setdefault(mid, f"{sub}/{filename}:{lineno}")
    return ids


def conflicting_translations() -> dict[str, list[str]]:
    """Message ids translated differently in two parts. The merged catalogue keeps only the first
    translation, so one screen silently shows the other's word: give the two meanings two ids."""
    found: dict[str, dict[str, str]] = {}
    for part in sorted(PARTS.glob("*.po")):
        with part.open("rb") as fh:
            for msg in read_po(fh, locale="pt_BR"):
                if msg.id and msg.string:
                    key = msg.id if isinstance(msg.id, str) else msg.id[0]
                    found.setdefault(key, {}).setdefault(str(msg.string), part.name)
    return {mid: [f"{part}: {text}" for text, part in texts.items()] for mid, texts in found.items() if len(texts) > 1}


def missing_translations() -> dict[str, str]:
    catalog = merged_catalog()
    return {mid: where for mid, where in extracted_ids().items() if catalog.get(mid) is None}


def main(argv):
    cmd = argv[1] if len(argv) > 1 else "compile"
    if cmd == "compile":
        compile_catalog()
    elif cmd == "check":
        missing = missing_translations()
        for mid, where in sorted(missing.items(), key=lambda kv: kv[1]):
            print(f"{where}: {mid!r}")
        print(f"{len(missing)} string(s) without pt_BR translation")
        conflicts = conflicting_translations()
        for mid, texts in sorted(conflicts.items()):
            print(f"{mid!r} translated differently: {'; '.join(texts)}")
        if conflicts:
            print(f"{len(conflicts)} string(s) with conflicting pt_BR translations")
        return 1 if missing or conflicts else 0
    elif cmd == "stub":
        # Prints .po entries for the missing strings, to paste into a part and translate.
        for mid, where in sorted(missing_translations().items(), key=lambda kv: kv[1]):
            esc = mid.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
            print(f'#: {where}\nmsgid "{esc}"\nmsgstr ""\n')
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
