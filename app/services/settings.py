"""Configurações › Opções: the single settings row."""
import zoneinfo
from urllib.parse import urlsplit

from flask_babel import gettext as _, lazy_gettext

from app.models import RatingTemplate, Settings, db
from app.services import inputs, templates

SWITCHES = ("send_ratings", "rating_required", "external_rating", "business_hours",
            "open_tickets_out_of_hours", "ignore_group_messages", "group_actions", "accept_calls",
            "operator_greeting", "transfer_message", "operator_farewell")
TEXTS = ("external_rating_url", "call_rejection_message", "operator_greeting_text",
         "transfer_message_text", "operator_farewell_text")
CHATBOT_TYPES = ("text", "list")
FIELDS = SWITCHES + TEXTS + ("chatbot_type", "timezone", "rating_expiry_minutes", "default_rating_template")
LABELS = {
    "send_ratings": lazy_gettext("Send ratings"),
    "rating_required": lazy_gettext("Rating required?"),
    "external_rating": lazy_gettext("External rating?"),
    "external_rating_url": lazy_gettext("External rating URL"),
    "rating_expiry_minutes": lazy_gettext("Rating wait (minutes)"),
    "default_rating_template": lazy_gettext("Default rating"),
    "business_hours": lazy_gettext("Business hours management"),
    "open_tickets_out_of_hours": lazy_gettext("Open tickets out of hours?"),
    "ignore_group_messages": lazy_gettext("Ignore group messages"),
    "group_actions": lazy_gettext("Group actions?"),
    "accept_calls": lazy_gettext("Accept calls"),
    "call_rejection_message": lazy_gettext("Call rejection message"),
    "chatbot_type": lazy_gettext("Chatbot type"),
    "operator_greeting": lazy_gettext("Operator greeting message"),
    "operator_greeting_text": lazy_gettext("Greeting text"),
    "transfer_message": lazy_gettext("Transfer message"),
    "transfer_message_text": lazy_gettext("Transfer text"),
    "operator_farewell": lazy_gettext("Operator farewell message"),
    "operator_farewell_text": lazy_gettext("Farewell text"),
    "timezone": lazy_gettext("Time zone"),
}
# Which text a switch needs: on -> its text is required (accept_calls: off -> required).
REQUIRED_TEXT = {
    ("external_rating", True): "external_rating_url",
    ("accept_calls", False): "call_rejection_message",
    ("operator_greeting", True): "operator_greeting_text",
    ("transfer_message", True): "transfer_message_text",
    ("operator_farewell", True): "operator_farewell_text",
}


def get_settings() -> Settings:
    """The settings row, read fresh from the database (several processes change and read it, so
    nothing is cached in-process)."""
    settings = db.session.get(Settings, 1)
    if settings is None:
        settings = Settings(id=1)
        db.session.add(settings)
        db.session.flush()
    return settings


def as_dict(settings: Settings | None = None) -> dict:
    settings = settings or get_settings()
    result = {key: getattr(settings, key) for key in SWITCHES + TEXTS + ("chatbot_type", "timezone",
                                                                           "rating_expiry_minutes")}
    result["default_rating_template"] = settings.default_rating_template_id
    return result


def valid_timezone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
        return True
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False


def no_rating_to_send(required: bool) -> str:
    """Why ratings on need a rating registered (or the external link): with "Obrigatório Avaliar?"
    every close sends one (tickets.close), so no ticket could be resolved; with only "Enviar
    Avaliações", Resolver would offer nothing to send."""
    if required:
        return _("\"%(required)s\" needs a rating registered in Ratings (or \"%(external)s\" turned on): without "
                 "one, no ticket could be resolved.", required=LABELS["rating_required"],
                 external=LABELS["external_rating"])
    return _("\"%(send)s\" needs a rating registered in Ratings (or \"%(external)s\" turned on): without one, "
             "there is no rating to send.", send=LABELS["send_ratings"], external=LABELS["external_rating"])


def update_settings(data: dict) -> Settings:
    """Change some or all options; the result must be complete and consistent, or nothing changes."""
    data = inputs.require_object(data)
    inputs.reject_unknown(data, FIELDS)
    settings = get_settings()
    merged = as_dict(settings)
    merged.update(data)
    clean = {}
    refused = inputs.Refusals()  # every option's refusal at once
    for key in SWITCHES:
        with refused.about(key):
            if merged[key] is None:
                raise inputs.invalid(_("%(field)s is required.", field=LABELS[key]))
            clean[key] = inputs.boolean(merged[key], LABELS[key])
    for key in TEXTS:
        with refused.about(key):
            clean[key] = inputs.text(merged[key], LABELS[key],
                                     max_len=500 if key == "external_rating_url" else inputs.MAX_MESSAGE,
                                     single_line=key == "external_rating_url")
            templates.check(clean[key], LABELS[key], stored=getattr(settings, key))
    for (switch, state), text_key in REQUIRED_TEXT.items():
        if switch in clean and text_key in clean and clean[switch] == state and not clean[text_key]:
            with refused.about(text_key):
                raise inputs.invalid(_("%(field)s is required when \"%(switch)s\" is %(state)s.",
                                       field=LABELS[text_key], switch=LABELS[switch],
                                       state=_("on") if state else _("off")))
    if clean.get("external_rating_url"):
        url = clean["external_rating_url"]
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc or " " in url:
            with refused.about("external_rating_url"):
                raise inputs.invalid(_("The external rating URL must be a web address starting with http:// or "
                                       "https://."))
    if clean.get("rating_required") and "send_ratings" in clean and not clean["send_ratings"]:
        with refused.about("rating_required"):
            raise inputs.invalid(_("\"%(required)s\" needs \"%(send)s\" turned on.", required=LABELS["rating_required"],
                                   send=LABELS["send_ratings"]))
    if clean.get("send_ratings") and "external_rating" in clean and not clean["external_rating"] \
            and "rating_required" in clean and db.session.query(RatingTemplate.id).first() is None:
        with refused.about("send_ratings"):
            raise inputs.invalid(no_rating_to_send(clean["rating_required"]))
    chatbot_type = merged["chatbot_type"]
    with refused.about("chatbot_type"):
        if not isinstance(chatbot_type, str) or chatbot_type not in CHATBOT_TYPES:
            raise inputs.invalid(_("The chatbot type must be text or list."))
        clean["chatbot_type"] = chatbot_type
    with refused.about("timezone"):
        tz = inputs.text(merged["timezone"], LABELS["timezone"], required=True, max_len=64, single_line=True)
        if not valid_timezone(tz):
            raise inputs.invalid(_("\"%(value)s\" is not a known time zone (e.g. America/Sao_Paulo).", value=tz))
        clean["timezone"] = tz
    with refused.about("rating_expiry_minutes"):
        clean["rating_expiry_minutes"] = inputs.integer(merged["rating_expiry_minutes"],
                                                        LABELS["rating_expiry_minutes"], minimum=1, maximum=7 * 24 * 60)
    template_id = merged["default_rating_template"]
    if template_id in (None, ""):
        clean["default_rating_template_id"] = None
    else:
        with refused.about("default_rating_template"):
            clean["default_rating_template_id"] = inputs.fetch_all(
                RatingTemplate, [inputs.ident(template_id, LABELS["default_rating_template"])],
                LABELS["default_rating_template"])[0].id
    refused.check()
    for key, value in clean.items():
        setattr(settings, key, value)
    db.session.commit()
    return settings
