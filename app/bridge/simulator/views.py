"""HTTP side of the simulator: the page, its backend, the control API of DESIGN.md §7 and the
"celular virtual". Thin: every rule is in app.bridge.simulator.state."""
import io

import qrcode
from flask_babel import gettext as _
from flask import Blueprint, jsonify, make_response, render_template, request, send_file

from app.bridge.simulator import state

blueprint = Blueprint("simulator", __name__, url_prefix="/simulator", static_folder="static",
                      template_folder="templates")

# Like WhatsApp Web's: no inline script may run, so the bridge must inject with add_init_script.
PAGE_CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
            "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")


@blueprint.errorhandler(state.SimulatorError)
def _simulator_error(error):
    return jsonify(message=error.message), error.status


def _json() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise state.SimulatorError(_("a JSON object is required"))
    return data


def _text(data: dict, name: str, required=True) -> str | None:
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or (required and not value):
        raise state.SimulatorError(_("'%(name)s' is required (text)", name=name))
    return value


def _no_cache(response):
    response.headers["Cache-Control"] = "no-store"
    return response


# ------------------------------------------------------------------------------------------
# The page standing in for web.whatsapp.com
# ------------------------------------------------------------------------------------------

@blueprint.get("/web/")
def web_page():
    response = _no_cache(make_response(render_template("simulator/web.html")))
    response.headers["Content-Security-Policy"] = PAGE_CSP
    return response


@blueprint.get("/qr.png")
def qr_png():
    code = request.args.get("code", "")
    if not code or len(code) > 512:
        raise state.SimulatorError(_("code is required"))
    buffer = io.BytesIO()
    qrcode.make(code, box_size=6, border=2).save(buffer, format="PNG")
    buffer.seek(0)
    return _no_cache(send_file(buffer, mimetype="image/png"))


@blueprint.post("/web/api/<op>")
def page_api(op):
    data = _json()
    phone, token = data.get("phone"), data.get("token")
    if op == "poll":
        return jsonify(state.poll(_text(data, "device"), phone, token))
    if op == "logout":
        state.page_logout(phone, token)
        return jsonify(ok=True)
    if op == "chats":
        return jsonify(state.chats(phone, token))
    if op == "chat":
        return jsonify(messages=state.chat_messages(phone, token, _text(data, "chat")))
    if op == "read":
        return jsonify(count=state.mark_read(phone, token, _text(data, "chat")))
    if op == "lid":
        return jsonify(phone=state.lid_to_phone(phone, token, _text(data, "lid")))
    if op == "message":
        return jsonify(message=state.get_message(phone, token, _text(data, "id")))
    if op == "media":
        found = state.media(phone, token, _text(data, "id"))
        if not found:
            raise state.SimulatorError(_("no media"), 404)
        return jsonify(found)
    if op == "exists":
        return jsonify(wid=state.query_exists(phone, token, data.get("chat")))
    if op == "reject_call":
        return jsonify(ok=state.reject_call(phone, token, _text(data, "id")))
    if op == "send":
        kind = data.get("kind")
        if kind not in ("text", "list", "image", "audio", "video", "document", "sticker"):
            raise state.SimulatorError(_("bad kind"))
        extra = data.get("extra") if isinstance(data.get("extra"), dict) else None
        msg = state.send(phone, token, data.get("chat"), kind, data.get("body") or "",
                         _text(data, "id", required=False), bool(data.get("mark_read")), extra)
        return jsonify(msg)
    raise state.SimulatorError(_("unknown operation"), 404)


# ------------------------------------------------------------------------------------------
# Control API (DESIGN.md §7): the phone and the customers
# ------------------------------------------------------------------------------------------

@blueprint.get("/api/sessions")
def api_sessions():
    return _no_cache(jsonify(state.sessions()))


@blueprint.post("/api/scan")
def api_scan():
    data = _json()
    return jsonify(state.scan(data.get("qr"), _text(data, "phone")))


@blueprint.post("/api/messages")
def api_messages():
    data = _json()
    group = data.get("group")
    # Beyond §7, two optional fields play WhatsApp's other cases: "lid": true hides the sender's
    # number behind an @lid, "media": {"type", "name", "mime", "data" (base64)} sends a file.
    media_file = data.get("media")
    if media_file is not None and not isinstance(media_file, dict):
        raise state.SimulatorError(_("media must be an object"))
    return jsonify(state.message(_text(data, "to"), _text(data, "from"), data.get("name"), data.get("body"),
                                 group=group, lid=bool(data.get("lid")), media_file=media_file))


@blueprint.post("/api/numbers")
def api_numbers():
    """Beyond §7: how WhatsApp knows a number. {"number": "5511987654321", "whatsapp":
    "551187654321"} registers a mobile under its id from before the ninth digit; "whatsapp": null
    makes the number one with no WhatsApp. Numbers never set are on WhatsApp under their own id."""
    data = _json()
    if "whatsapp" in data and data["whatsapp"] is not None and not isinstance(data["whatsapp"], str):
        raise state.SimulatorError(_("bad number"))
    return jsonify(state.set_number(_text(data, "number"), data.get("whatsapp", "")))


@blueprint.post("/api/read")
def api_read():
    """Beyond §7: {"phone": <connection phone>, "customer": <customer phone>}: someone reads that
    customer's chat on the phone itself, whether or not Conecta has the messages → {"count": n}."""
    data = _json()
    return jsonify(state.read_on_phone(_text(data, "phone"), _text(data, "customer")))


@blueprint.post("/api/calls")
def api_calls():
    data = _json()
    return jsonify(state.call(_text(data, "to"), _text(data, "from")))


@blueprint.get("/api/log")
def api_log():
    return _no_cache(jsonify(state.log(request.args.get("phone"))))


@blueprint.post("/api/logout")
def api_logout():
    data = _json()
    return jsonify(state.logout(_text(data, "phone")))


# ------------------------------------------------------------------------------------------
# The "celular virtual"
# ------------------------------------------------------------------------------------------

@blueprint.get("/phone/")
def phone_page():
    response = _no_cache(make_response(render_template("simulator/phone.html")))
    response.headers["Content-Security-Policy"] = PAGE_CSP
    return response
