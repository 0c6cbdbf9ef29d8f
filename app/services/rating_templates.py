"""Avaliações: rating templates (name, message and the options a customer may answer).

Options are `[{"value": 1, "label": "Insatisfeito"}, ...]` (values are whole numbers the customer
types, unique within a template); a template needs at least two.
"""
import re

from flask_babel import gettext as _, lazy_gettext

from app.models import RatingOption, RatingTemplate, db
from app.services import inputs, templates

FIELDS = ("name", "message", "options")
LABELS = {"name": lazy_gettext("Name"), "message": lazy_gettext("Message"), "options": lazy_gettext("Options"),
          "value": lazy_gettext("Option value"), "label": lazy_gettext("Option label")}
MAX_OPTIONS = 10


def get(template_id) -> RatingTemplate:
    return inputs.fetch_one(RatingTemplate, template_id, lazy_gettext("Rating not found."))


def clean_options(value) -> list[tuple[int, str]]:
    if not isinstance(value, list):
        raise inputs.invalid(_("The options must be a list of value and label."))
    if len(value) > MAX_OPTIONS:
        raise inputs.invalid(_("A rating has at most %(max)d options.", max=MAX_OPTIONS))
    # Each option before their count: what is wrong with the one sent ("a" as its value) is what
    # the admin must fix first, not that a second one is missing.
    result, seen = [], set()
    for item in value:
        if not isinstance(item, dict) or set(item) - {"value", "label", "id"} or not {"value", "label"} <= set(item):
            raise inputs.invalid(_("Each option needs a value and a label."))
        number = inputs.integer(item["value"], LABELS["value"], minimum=0, maximum=99)
        label = inputs.text(item["label"], LABELS["label"], required=True, max_len=100, single_line=True)
        if number in seen:
            raise inputs.invalid(_("The option value %(value)d is repeated.", value=number))
        seen.add(number)
        result.append((number, label))
    if len(result) < 2:
        raise inputs.invalid(_("A rating needs at least two options."))
    return sorted(result)


class OptionsText(str):
    """The admin form's options: one per line, "1 - Insatisfeito" (options_from_text reads them).
    The service takes them as `options` so that their refusal comes with the other fields'; JSON
    (the API) is never one."""


def _clean(data: dict, current: RatingTemplate | None) -> dict:
    data = inputs.require_object(data)
    inputs.reject_unknown(data, FIELDS)
    clean = {}
    refused = inputs.Refusals()  # every field's refusal at once
    if current is None or "name" in data:
        with refused.about("name"):
            clean["name"] = inputs.unique_name(RatingTemplate, data.get("name"), current, LABELS["name"],
                                               lazy_gettext("A rating named \"%(name)s\" already exists."))
    if current is None or "message" in data:
        with refused.about("message"):
            clean["message"] = inputs.text(data.get("message"), LABELS["message"], required=True)
            templates.check(clean["message"], LABELS["message"], stored=getattr(current, "message", None))
    if current is None or "options" in data:
        with refused.about("options"):
            options = data.get("options")
            clean["options"] = clean_options(options_from_text(options) if isinstance(options, OptionsText) else options)
    refused.check()
    return clean


def _apply(template: RatingTemplate, clean: dict) -> None:
    options = clean.pop("options", None)
    for key, value in clean.items():
        setattr(template, key, value)
    if options is not None:
        template.options = []
        db.session.flush()  # old options out before the new ones (unique value per template)
        template.options = [RatingOption(value=v, label=label) for v, label in options]


def _commit():
    inputs.commit_or_conflict(_("The rating could not be saved because it was changed at the same time. Try again."))


def create(data: dict) -> RatingTemplate:
    clean = _clean(data, None)
    template = RatingTemplate()
    db.session.add(template)
    _apply(template, clean)
    _commit()
    return template


def update(template_id, data: dict) -> RatingTemplate:
    template = get(template_id)
    clean = _clean(data, template)
    _apply(template, clean)
    _commit()
    return template


def delete(template_id) -> None:
    from app.services import DomainError
    from app.services.settings import LABELS as SETTING_LABELS, get_settings

    template = get(template_id)
    settings = get_settings()
    if (settings.send_ratings or settings.rating_required) and not settings.external_rating \
            and db.session.query(RatingTemplate.id).filter(RatingTemplate.id != template.id).first() is None:
        # The rule of the options (settings.no_rating_to_send), kept when the last rating goes.
        raise DomainError(_("This is the only rating and \"%(required)s\" is on in the options: turn it off or "
                            "add another rating before deleting this one.",
                            required=SETTING_LABELS["rating_required" if settings.rating_required
                                                    else "send_ratings"]), status=422)
    db.session.delete(template)
    _commit()


def options_as_dicts(template: RatingTemplate) -> list[dict]:
    return [{"value": o.value, "label": o.label} for o in template.options]


# --- The form's way of writing options: one per line, "1 - Insatisfeito" ----------------------

_LINE = re.compile(r"\s*(\d{1,2})\s*(?:[-–=:.)]\s*)?(.*)")


def options_from_text(text: str) -> list[dict]:
    result = []
    for line in (text or "").splitlines():
        if not line.strip():
            continue
        m = _LINE.fullmatch(line)
        if not m or not m.group(2).strip():
            raise inputs.invalid(_("Write one option per line as number - label, e.g. 1 - Insatisfeito."))
        result.append({"value": int(m.group(1)), "label": m.group(2).strip()})
    return result


def options_text(template: RatingTemplate) -> str:
    return "\n".join(f"{o.value} - {o.label}" for o in template.options)
