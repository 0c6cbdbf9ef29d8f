"""The simulated WhatsApp network, kept in Redis so the web process (control API, the page's
backend) and the bridge workers' Chromium pages share it.

Vocabulary: a *device* is one simulated WhatsApp Web page (one browser profile: its id and its
pairing token live in the page's localStorage, as WhatsApp's do); an *account* is a business
phone number that scanned a device's QR code; a *customer* is anyone writing to an account.

Keys (under the installation's namespace):
  sim:devices                 set of device ids
  sim:device:<id>             hash: qr, qr_at, phone, token, seen, cursor
  sim:qr:<qr>                 device id, while that code is the one shown
  sim:account:<phone>         hash: token (the valid pairing), lid:<customer phone> ...
  sim:events:<phone>          list of events for the account's devices (messages, calls)
  sim:msg:<phone>             hash: message id → message (inbound and sent)
  sim:unread:<phone>          set of unread inbound message ids
  sim:seq:<phone>             counter: the order of the account's messages (inbound and sent)
  sim:log                     list: what accounts did towards customers (the §7 log)
  sim:numbers                 hash: number typed → WhatsApp's id for it ("" = no WhatsApp); a
                              number not in it is on WhatsApp under its own id
On the Redis of SIMULATOR_REDIS_URL when set (the network outlives a restart of ours).
"""
import json
import os
import secrets
import time

from flask_babel import gettext as _

from flask import current_app

from app.workers import _redis, key, redis_conn

# WhatsApp rotates its QR about every 20 s; tests shorten it.
QR_SECONDS = float(os.environ.get("SIMULATOR_QR_SECONDS", "20"))
# A device that has not polled for this long is no longer listed by /simulator/api/sessions.
ALIVE_SECONDS = 15
MAX_BODY = 65536


class SimulatorError(Exception):
    def __init__(self, message, status=400):
        super().__init__(message)
        self.message, self.status = message, status


def _r():
    """The network's store: SIMULATOR_REDIS_URL, else the installation's Redis."""
    url = current_app.config.get("SIMULATOR_REDIS_URL")
    return _redis(url) if url else redis_conn()


def _now() -> float:
    return time.time()


def digits(value) -> str:
    return "".join(ch for ch in str(value or "") if ch.isdigit())


def _new_qr(device_id: str) -> str:
    # Shaped like WhatsApp's (ref, then keys), never the same twice.
    return "2@" + secrets.token_urlsafe(24) + "," + secrets.token_urlsafe(16) + "," + device_id


def _device(device_id: str) -> dict:
    raw = _r().hgetall(key(f"sim:device:{device_id}"))
    return {k.decode(): v.decode() for k, v in raw.items()}


def _account_token(phone: str) -> str | None:
    token = _r().hget(key(f"sim:account:{phone}"), "token")
    return token.decode() if token else None


def _events_len(phone: str) -> int:
    return _r().llen(key(f"sim:events:{phone}"))


# ------------------------------------------------------------------------------------------
# The page's side
# ------------------------------------------------------------------------------------------

def poll(device_id: str, phone: str | None, token: str | None, ack_cursor: int | None = None) -> dict:
    """One poll of a page: its pairing state, the QR to show (rotated when due) and the events
    delivered to it since its last poll. Events handed out here are consumed, as on the real
    network: if the page dies before the bridge handles them, only the unread state remains."""
    if not device_id or len(device_id) > 64:
        raise SimulatorError(_("bad device"))
    r = _r()
    dkey = key(f"sim:device:{device_id}")
    r.sadd(key("sim:devices"), device_id)
    r.hset(dkey, "seen", _now())
    phone = digits(phone)
    if phone and token:
        if _account_token(phone) != token:
            # Unlinked from the phone while this page was away (or never valid).
            r.hdel(dkey, "phone", "token")
            return {"state": "LOGGED_OUT"}
        device = _device(device_id)
        r.hset(dkey, mapping={"phone": phone, "token": token})
        r.hdel(dkey, "qr", "qr_at")
        if "cursor" not in device:
            # A device linked before this poll gets what arrived since it was linked.
            device["cursor"] = str(_events_len(phone))
        cursor = int(device["cursor"])
        raw = r.lrange(key(f"sim:events:{phone}"), cursor, -1)
        r.hset(dkey, "cursor", cursor + len(raw))
        return {"state": "CONNECTED", "phone": phone, "events": [json.loads(e) for e in raw]}
    device = _device(device_id)
    if device.get("token") and device.get("phone") and device.get("paired_fresh") == "1":
        # Scanned since the last poll: hand the pairing to the page (it keeps it in its profile).
        r.hdel(dkey, "paired_fresh")
        return {"state": "PAIRED", "phone": device["phone"], "token": device["token"]}
    qr = device.get("qr")
    if not qr or _now() - float(device.get("qr_at", 0)) >= QR_SECONDS:
        if qr:
            r.delete(key(f"sim:qr:{qr}"))
        qr = _new_qr(device_id)
        r.hset(dkey, mapping={"qr": qr, "qr_at": _now()})
        r.set(key(f"sim:qr:{qr}"), device_id, ex=int(QR_SECONDS * 3) + 5)
    return {"state": "QRCODE", "qr": qr}


def _check_token(phone: str, token: str):
    phone = digits(phone)
    if not phone or _account_token(phone) != token:
        raise SimulatorError(_("not linked"), 401)
    return phone


def page_logout(phone: str, token: str) -> None:
    phone = _check_token(phone, token)
    _r().hdel(key(f"sim:account:{phone}"), "token")


def chats(phone: str, token: str) -> list[dict]:
    """The account's chats, as WhatsApp Web's chat list: each with its messages oldest first
    (`unread` flags the unread ones), its unread count and `t`, the time of its last message."""
    phone = _check_token(phone, token)
    r = _r()
    unread = {raw.decode() for raw in r.smembers(key(f"sim:unread:{phone}"))}
    found: dict[str, dict] = {}
    for raw_id, raw in r.hgetall(key(f"sim:msg:{phone}")).items():
        msg = json.loads(raw)
        msg["unread"] = raw_id.decode() in unread
        found.setdefault(msg["chat"], []).append(msg)
    out = []
    for chat_id, messages in found.items():
        messages.sort(key=lambda m: (m["seq"], m["t"]))
        out.append({"id": chat_id, "unreadCount": sum(1 for m in messages if m["unread"]),
                    "t": max(m["t"] for m in messages), "messages": messages})
    return sorted(out, key=lambda c: c["messages"][0]["seq"])


def chat_messages(phone: str, token: str, chat: str) -> list[dict]:
    """One chat's messages, oldest first (WhatsApp Web's chat.getMessages reads one chat)."""
    found = [c for c in chats(phone, token) if c["id"] == chat]
    return found[0]["messages"] if found else []


def _read_chat(phone: str, chat: str) -> int:
    """The account reads a chat: its unread messages become read and the customer sees it."""
    r = _r()
    count = 0
    for raw_id in r.smembers(key(f"sim:unread:{phone}")):
        raw = r.hget(key(f"sim:msg:{phone}"), raw_id)
        if raw and _same_chat(json.loads(raw)["chat"], chat):
            r.srem(key(f"sim:unread:{phone}"), raw_id)
            count += 1
    if count:
        _log("seen", phone, _customer_of(chat), "", chat=chat)
    return count


def mark_read(phone: str, token: str, chat: str) -> int:
    """The page marks a chat read (chat.markIsRead)."""
    return _read_chat(_check_token(phone, token), chat)


def lid_to_phone(phone: str, token: str, lid: str) -> str | None:
    _check_token(phone, token)
    found = _r().hget(key("sim:lids"), lid)
    return found.decode() if found else None


def get_message(phone: str, token: str, message_id: str) -> dict | None:
    phone = _check_token(phone, token)
    raw = _r().hget(key(f"sim:msg:{phone}"), message_id)
    return json.loads(raw) if raw else None


def _whatsapp_id(number: str) -> str | None:
    """WhatsApp's id for a number: itself unless set otherwise (set_number); None: no WhatsApp."""
    found = _r().hget(key("sim:numbers"), number)
    if found is None:
        return number
    return found.decode() or None


def query_exists(phone: str, token: str, chat: str) -> str | None:
    """contact.queryExists: the chat id WhatsApp has for a number's chat, or None."""
    _check_token(phone, token)
    if not isinstance(chat, str) or not chat.endswith("@c.us") or not digits(chat.split("@")[0]):
        raise SimulatorError(_("bad chat id"))
    found = _whatsapp_id(digits(chat.split("@")[0]))
    return f"{found}@c.us" if found else None


def send(phone: str, token: str, chat: str, kind: str, body: str, message_id: str | None,
         mark_read_too: bool, extra: dict | None = None) -> dict:
    """The account sends something to a chat (text, list or media). A number's chat under an id
    WhatsApp does not know it by (no WhatsApp, or the ninth-digit twin of its id) cannot be made:
    WhatsApp Web fails the send."""
    phone = _check_token(phone, token)
    if not isinstance(chat, str) or not chat.endswith(("@c.us", "@g.us", "@lid")):
        raise SimulatorError(_("bad chat id"))
    if chat.endswith("@c.us") and _whatsapp_id(chat.split("@")[0]) != chat.split("@")[0]:
        raise SimulatorError(_("chat not found"), 404)
    message_id = message_id or ("3EB0" + secrets.token_hex(8).upper())
    r = _r()
    if r.hexists(key(f"sim:msg:{phone}"), message_id):
        raise SimulatorError(_("duplicate message id"), 409)
    msg = {"id": message_id, "chat": chat, "from_me": True, "type": kind, "body": str(body)[:MAX_BODY],
           "from": phone + "@c.us", "to": chat, "t": int(_now()), "seq": _next_seq(phone),
           # The customers' phones are always on: delivered at once (ack 2); the page reports
           # the acks a moment later (fake-wpp.js), and a page opened after has it from here.
           "ack": 2}
    if extra:
        msg.update(extra)
    r.hset(key(f"sim:msg:{phone}"), message_id, json.dumps(msg))
    if mark_read_too:
        mark_read(phone, token, chat)
    _log(kind, phone, _customer_of(chat), msg["body"], chat=chat, id=message_id, **(extra or {}))
    return msg


def reject_call(phone: str, token: str, call_id: str) -> bool:
    phone = _check_token(phone, token)
    r = _r()
    raw = r.hget(key("sim:calls"), call_id)
    if not raw:
        return False
    call = json.loads(raw)
    if call.get("to") != phone or call.get("rejected"):
        return False
    call["rejected"] = True
    r.hset(key("sim:calls"), call_id, json.dumps(call))
    _log("call_rejected", phone, call["from"], "", id=call_id)
    return True


def media(phone: str, token: str, message_id: str) -> dict | None:
    msg = get_message(phone, token, message_id)
    return msg.get("media") if msg else None


def _same_chat(a: str, b: str) -> bool:
    """A chat may be named by its @lid or by the phone number behind it."""
    if a == b:
        return True
    lids = key("sim:lids")
    mapped_a = _r().hget(lids, a) if a.endswith("@lid") else None
    mapped_b = _r().hget(lids, b) if b.endswith("@lid") else None
    return (mapped_a and mapped_a.decode() == b) or (mapped_b and mapped_b.decode() == a) or False


def _customer_of(chat: str) -> str:
    if chat.endswith("@lid"):
        mapped = _r().hget(key("sim:lids"), chat)
        chat = mapped.decode() if mapped else chat
    return chat.split("@")[0] if chat.endswith("@c.us") else chat


def _log(kind: str, account: str, customer: str, body: str, **extra) -> None:
    entry = {"type": "media" if kind in ("image", "audio", "video", "document", "sticker") else kind,
             "from": account, "to": customer, "body": body, "at": round(_now(), 3)}
    for name in ("id", "chat", "sections", "filename", "mimetype", "caption"):
        if extra.get(name) is not None:
            entry[name] = extra[name]
    _r().rpush(key("sim:log"), json.dumps(entry))


# ------------------------------------------------------------------------------------------
# The control API's side (the phone and the customers)
# ------------------------------------------------------------------------------------------

def set_number(number: str, whatsapp: str | None) -> dict:
    """How WhatsApp knows a number: under another id (`whatsapp`: a Brazilian mobile registered
    before its ninth digit, "551187654321" for "5511987654321"), or not at all (None)."""
    number, target = digits(number), digits(whatsapp) if whatsapp else ""
    if not 8 <= len(number) <= 20 or (whatsapp is not None and not 8 <= len(target) <= 20):
        raise SimulatorError(_("bad number"))
    r = _r()
    r.hset(key("sim:numbers"), number, target)
    if target and target != number:
        r.hset(key("sim:numbers"), target, target)  # the account itself is on WhatsApp under its id
    return {"number": number, "whatsapp": target or None}


def sessions() -> list[dict]:
    r = _r()
    out = []
    for raw_id in sorted(r.smembers(key("sim:devices"))):
        device = _device(raw_id.decode())
        if _now() - float(device.get("seen", 0)) > ALIVE_SECONDS:
            continue
        phone = device.get("phone")
        if phone and device.get("token") and _account_token(phone) == device["token"]:
            out.append({"qr": None, "state": "CONNECTED", "phone": phone})
        elif device.get("qr"):
            out.append({"qr": device["qr"], "state": "QRCODE", "phone": None})
    return out


def scan(qr: str, phone: str) -> dict:
    phone = digits(phone)
    if not isinstance(qr, str) or not qr:
        raise SimulatorError(_("qr is required"))
    if not 10 <= len(phone) <= 15:
        raise SimulatorError(_("phone must have 10 to 15 digits"))
    r = _r()
    device_id = r.get(key(f"sim:qr:{qr}"))
    if not device_id:
        raise SimulatorError(_("unknown or expired QR code"), 404)
    device_id = device_id.decode()
    if _device(device_id).get("qr") != qr:
        raise SimulatorError(_("unknown or expired QR code"), 404)
    token = secrets.token_urlsafe(24)
    r.delete(key(f"sim:qr:{qr}"))
    r.hset(key(f"sim:account:{phone}"), "token", token)
    r.hset(key(f"sim:device:{device_id}"), mapping={"phone": phone, "token": token, "paired_fresh": "1",
                                                    "cursor": _events_len(phone)})
    r.hdel(key(f"sim:device:{device_id}"), "qr", "qr_at")
    return {"phone": phone, "state": "CONNECTED"}


def logout(phone: str) -> dict:
    phone = digits(phone)
    if not _r().hdel(key(f"sim:account:{phone}"), "token"):
        raise SimulatorError(_("no device linked to this number"), 404)
    return {"phone": phone, "state": "LOGGED_OUT"}


def read_on_phone(phone: str, customer: str) -> dict:
    """Someone reads a customer's chat on the phone itself (or on another linked device): its
    messages are read, whether or not a WhatsApp Web page saw them."""
    phone, customer = digits(phone), digits(customer)
    if not 10 <= len(phone) <= 15 or not 10 <= len(customer) <= 15:
        raise SimulatorError(_("'phone' and 'customer' must be phone numbers (10 to 15 digits)"))
    if not _account_token(phone):
        raise SimulatorError(_("no device linked to this number"), 404)
    return {"count": _read_chat(phone, customer + "@c.us")}  # its @lid chat too (_same_chat)


def _next_seq(phone: str) -> int:
    return int(_r().incr(key(f"sim:seq:{phone}")))


def _lid_for(customer: str) -> str:
    """A stable @lid for a customer (WhatsApp hides some senders' numbers behind one)."""
    r = _r()
    existing = r.hget(key("sim:lid_of"), customer)
    if existing:
        return existing.decode()
    lid = str(10 ** 14 + int(secrets.token_hex(5), 16)) + "@lid"
    r.hset(key("sim:lid_of"), customer, lid)
    r.hset(key("sim:lids"), lid, customer + "@c.us")
    return lid


def message(to: str, sender: str, name: str | None, body: str | None, group: dict | None = None,
            lid: bool = False, media_file: dict | None = None) -> dict:
    """A customer writes to an account. Delivered to the account's live pages at their next poll,
    or when one comes back."""
    to, sender = digits(to), digits(sender)
    if not 10 <= len(to) <= 15 or not 10 <= len(sender) <= 15:
        raise SimulatorError(_("'to' and 'from' must be phone numbers (10 to 15 digits)"))
    if body is not None and not isinstance(body, str):
        raise SimulatorError(_("body must be text"))
    body = body or ""
    if len(body) > MAX_BODY:
        raise SimulatorError(_("body too long"))
    if not body and not media_file:
        raise SimulatorError(_("body is required"))
    if name is not None and not isinstance(name, str):
        raise SimulatorError(_("name must be text"))
    sender_jid = _lid_for(sender) if lid else sender + "@c.us"
    chat, chat_name = sender_jid, ""
    if group is not None:
        if not isinstance(group, dict) or not group.get("id"):
            raise SimulatorError(_("group needs an id"))
        gid = str(group["id"])
        chat = gid if gid.endswith("@g.us") else digits(gid) + "@g.us"
        if chat == "@g.us":
            raise SimulatorError(_("bad group id"))
        chat_name = str(group.get("name") or "")[:200]
    seq = _next_seq(to)
    msg = {"id": "SIM" + secrets.token_hex(10).upper(), "seq": seq, "chat": chat, "from_me": False,
           "type": "chat", "body": body, "from": chat, "to": to + "@c.us",
           "author": sender_jid if group is not None else None, "notifyName": (name or "")[:200],
           "chatName": chat_name, "t": int(_now())}
    if media_file:
        kind = media_file.get("type") or "document"
        if kind not in ("image", "audio", "video", "document", "sticker"):
            raise SimulatorError(_("bad media type"))
        msg.update({"type": kind, "body": "", "caption": body, "mimetype": media_file.get("mime") or
                    "application/octet-stream", "filename": media_file.get("name") or "arquivo",
                    "media": {"data": media_file.get("data") or "", "mime": media_file.get("mime")}})
    r = _r()
    r.hset(key(f"sim:msg:{to}"), msg["id"], json.dumps(msg))
    r.sadd(key(f"sim:unread:{to}"), msg["id"])
    event = dict(msg, kind="message")
    event.pop("media", None)
    r.rpush(key(f"sim:events:{to}"), json.dumps(event))
    return {"id": msg["id"]}


def call(to: str, sender: str) -> dict:
    to, sender = digits(to), digits(sender)
    if not 10 <= len(to) <= 15 or not 10 <= len(sender) <= 15:
        raise SimulatorError(_("'to' and 'from' must be phone numbers (10 to 15 digits)"))
    call_id = "CALL" + secrets.token_hex(8).upper()
    r = _r()
    r.hset(key("sim:calls"), call_id, json.dumps({"to": to, "from": sender, "rejected": False}))
    r.rpush(key(f"sim:events:{to}"), json.dumps({"kind": "call", "id": call_id, "from": sender + "@c.us",
                                                 "t": int(_now())}))
    return {"id": call_id}


def log(customer: str | None = None) -> list[dict]:
    entries = [json.loads(e) for e in _r().lrange(key("sim:log"), 0, -1)]
    if customer:
        wanted = digits(customer) or customer
        entries = [e for e in entries if e["to"] == wanted or e["to"] == customer]
    return entries
