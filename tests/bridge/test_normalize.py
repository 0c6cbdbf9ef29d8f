"""Inbound normalisation: what reaches the engine, and what never does."""
from app.bridge.whatsapp_web import ack_payload, call_payload, message_payload, skip_reason


def raw(**kw):
    base = {"id": "ABC123", "from_me": False, "type": "chat", "body": "oi", "chat": "5511988887777@c.us",
            "is_group": False, "sender": "5511988887777@c.us", "t": 1764000000, "notify_name": "Maria"}
    base.update(kw)
    return base


def test_text_message_payload_v1():
    p = message_payload(3, raw())
    assert p == {"v": 1, "kind": "message", "connection_id": 3, "channel_id": "ABC123",
                 "chat_id": "5511988887777@c.us", "is_group": False, "chat_name": "",
                 "sender_id": "5511988887777@c.us", "sender_phone": "5511988887777", "sender_name": "Maria",
                 "type": "text", "body": "oi", "selected_id": None, "media": None, "timestamp": 1764000000}


def test_traps_are_skipped():
    assert skip_reason(raw()) is None
    assert skip_reason(raw(type="ciphertext", body="")) == "ciphertext"
    assert skip_reason(raw(chat="status@broadcast")) == "status"
    assert skip_reason(raw(broadcast=True)) == "status"
    assert skip_reason(raw(chat="1203630000@newsletter")) == "newsletter"
    assert skip_reason(raw(from_me=True)) == "echo"
    assert skip_reason(raw(type="e2e_notification")) == "not a message"
    assert skip_reason(raw(type="revoked")) == "not a message"


def test_lid_sender_is_mapped_to_the_phone_number():
    p = message_payload(1, raw(chat="101040627167565@lid", sender="101040627167565@lid",
                               sender_phone="5511977776666@c.us", chat_phone="5511977776666@c.us"))
    assert p["chat_id"] == "5511977776666@c.us"
    assert p["sender_id"] == "5511977776666@c.us"
    assert p["sender_phone"] == "5511977776666"


def test_group_message_is_flagged_with_its_sender():
    p = message_payload(1, raw(chat="120363111@g.us", is_group=True, sender="5511955554444@c.us",
                               chat_name="Equipe"))
    assert p["is_group"] is True
    assert p["chat_id"] == "120363111@g.us"
    assert p["chat_name"] == "Equipe"
    assert p["sender_phone"] == "5511955554444"


def test_types_and_list_reply():
    assert message_payload(1, raw(type="ptt"))["type"] == "audio"
    p = message_payload(1, raw(type="image", caption="foto", body="base64junk"),
                        media={"path": "1/x.jpg", "mime": "image/jpeg", "name": "x.jpg"})
    assert (p["type"], p["body"], p["media"]["path"]) == ("image", "foto", "1/x.jpg")
    p = message_payload(1, raw(type="list_response", body="Vendas", selected_id="queue-2"))
    assert (p["type"], p["selected_id"]) == ("list_reply", "queue-2")


def test_ack_and_call_payloads():
    assert ack_payload(1, {"id": "3EB0X", "ack": 2})["ack"] == "delivered"
    assert ack_payload(1, {"id": "3EB0X", "ack": 3})["ack"] == "read"
    assert ack_payload(1, {"id": "3EB0X", "ack": -1})["ack"] == "failed"
    assert ack_payload(1, {"id": "3EB0X", "ack": 0}) is None  # "pending" is no news
    c = call_payload(1, {"id": "CALL1", "from": "5511988887777@c.us", "t": 5})
    assert (c["kind"], c["sender_phone"], c["chat_id"]) == ("call", "5511988887777", "5511988887777@c.us")


def test_missed_messages_are_taken_once_each_chat_in_whatsapps_order():
    from app.bridge.whatsapp_web import missed_in_order

    def raw(id_, chat, t):
        return {"id": id_, "chat": chat, "t": t}

    # An old unread message (before the catch-up's time), then the recent ones; "B2" in both.
    unread = [raw("A1", "a@c.us", 100), raw("B2", "b@c.us", 500)]
    recent = [raw("B1", "b@c.us", 400), raw("B2", "b@c.us", 500), raw("B3", "b@c.us", 500),
              raw("A2", "a@c.us", 450), raw(None, "a@c.us", 460)]
    ordered = missed_in_order(unread, recent)
    assert [m["id"] for m in ordered] == ["A1", "A2", "B1", "B2", "B3"]
    assert missed_in_order([], []) == []
