"""The simulator's control API (DESIGN.md §7) and its page backend, without a browser."""
import pytest


@pytest.fixture(scope="module")
def sim_app(app):
    from app import create_app

    return create_app({"TESTING": True, "SIMULATOR": True})


@pytest.fixture
def sc(sim_app, test_env):
    from redis import Redis

    redis = Redis.from_url(test_env["REDIS_URL"])
    for k in redis.scan_iter(match=test_env["REDIS_NAMESPACE"] + ":sim:*", count=1000):
        redis.delete(k)
    return sim_app.test_client()


def page(sc, op, **body):
    return sc.post(f"/simulator/web/api/{op}", json=body)


def pair(sc, device="dev-a", phone="5511999990000"):
    qr = page(sc, "poll", device=device).get_json()["qr"]
    assert sc.post("/simulator/api/scan", json={"qr": qr, "phone": phone}).status_code == 200
    paired = page(sc, "poll", device=device).get_json()
    assert paired["state"] == "PAIRED" and paired["phone"] == phone
    return paired["token"]


def test_not_mounted_without_simulator(client):
    assert client.get("/simulator/api/sessions").status_code == 404
    assert client.get("/simulator/web/").status_code == 404


def test_pages_are_served_with_a_strict_csp(sc):
    for url in ("/simulator/web/", "/simulator/phone/"):
        r = sc.get(url)
        assert r.status_code == 200
        assert "script-src 'self'" in r.headers["Content-Security-Policy"]
        assert "unsafe-inline" not in r.headers["Content-Security-Policy"].split("script-src")[1].split(";")[0]
    assert "Celular virtual" in sc.get("/simulator/phone/").get_data(as_text=True)


def test_pairing_is_listed_and_a_code_works_once(sc):
    first = page(sc, "poll", device="dev-a").get_json()
    assert first["state"] == "QRCODE" and first["qr"].startswith("2@")
    assert sc.get("/simulator/api/sessions").get_json() == [{"qr": first["qr"], "state": "QRCODE", "phone": None}]
    assert sc.post("/simulator/api/scan", json={"qr": first["qr"], "phone": "5511999990000"}).status_code == 200
    again = sc.post("/simulator/api/scan", json={"qr": first["qr"], "phone": "5511999990000"})
    assert again.status_code == 404 and again.get_json()["message"] == "QR code desconhecido ou expirado"
    token = page(sc, "poll", device="dev-a").get_json()["token"]
    connected = page(sc, "poll", device="dev-a", phone="5511999990000", token=token).get_json()
    assert connected == {"state": "CONNECTED", "phone": "5511999990000", "events": []}
    assert sc.get("/simulator/api/sessions").get_json() == [{"qr": None, "state": "CONNECTED", "phone": "5511999990000"}]


def test_bad_input_is_refused_and_changes_nothing(sc):
    token = pair(sc)
    for body in ({"to": "5511999990000", "body": "x"},
                 {"to": "abc", "from": "5511988887777", "body": "x"},
                 {"to": "5511999990000", "from": "5511988887777", "body": ""},
                 {"to": "5511999990000", "from": "5511988887777", "body": 5},
                 {"to": "5511999990000", "from": "5511988887777", "body": "x" * 70000},
                 {"to": "5511999990000", "from": "5511988887777", "body": "x", "group": {"name": "sem id"}}):
        r = sc.post("/simulator/api/messages", json=body)
        assert r.status_code == 400, body
        assert r.get_json()["message"]
    assert sc.post("/simulator/api/messages", data="not json").status_code == 400
    assert sc.post("/simulator/api/scan", json={"qr": "x", "phone": "12"}).status_code == 400
    assert sc.post("/simulator/api/logout", json={"phone": "5511000000000"}).status_code == 404
    events = page(sc, "poll", device="dev-a", phone="5511999990000", token=token).get_json()["events"]
    assert events == []


def test_messages_are_delivered_once_and_stay_unread_until_read(sc):
    token = pair(sc)
    auth = {"phone": "5511999990000", "token": token}
    mid = sc.post("/simulator/api/messages", json={"to": "5511999990000", "from": "5511988887777", "name": "Maria",
                                                   "body": "<b>oi</b>"}).get_json()["id"]
    events = page(sc, "poll", device="dev-a", **auth).get_json()["events"]
    assert [(e["id"], e["body"], e["notifyName"]) for e in events] == [(mid, "<b>oi</b>", "Maria")]
    assert page(sc, "poll", device="dev-a", **auth).get_json()["events"] == []  # consumed
    chats = page(sc, "chats", **auth).get_json()
    assert [(c["id"], c["unreadCount"]) for c in chats] == [("5511988887777@c.us", 1)]
    assert [(m["id"], m["unread"]) for m in chats[0]["messages"]] == [(mid, True)]
    assert page(sc, "read", chat="5511988887777@c.us", **auth).get_json() == {"count": 1}
    # Read, the chat stays in the list (as in WhatsApp's), with its message no longer unread.
    chats = page(sc, "chats", **auth).get_json()
    assert [(c["id"], c["unreadCount"]) for c in chats] == [("5511988887777@c.us", 0)]
    assert [(m["id"], m["unread"]) for m in chats[0]["messages"]] == [(mid, False)]
    log = sc.get("/simulator/api/log?phone=5511988887777").get_json()
    assert [(e["type"], e["from"], e["to"]) for e in log] == [("seen", "5511999990000", "5511988887777")]


def test_a_chat_lists_its_messages_in_order_sent_ones_included_with_the_time_of_the_last(sc):
    token = pair(sc)
    auth = {"phone": "5511999990000", "token": token}
    first = sc.post("/simulator/api/messages", json={"to": "5511999990000", "from": "5511988887777",
                                                     "body": "um"}).get_json()["id"]
    assert page(sc, "send", chat="5511988887777@c.us", kind="text", body="resposta", **auth).status_code == 200
    second = sc.post("/simulator/api/messages", json={"to": "5511999990000", "from": "5511988887777",
                                                      "body": "dois"}).get_json()["id"]
    [chat] = page(sc, "chats", **auth).get_json()
    assert [(m["body"], m["from_me"]) for m in chat["messages"]] == [("um", False), ("resposta", True),
                                                                     ("dois", False)]
    assert [m["id"] for m in chat["messages"] if not m["from_me"]] == [first, second]
    assert chat["t"] == max(m["t"] for m in chat["messages"]) and chat["unreadCount"] == 2


def test_the_phone_reads_a_chat_whether_or_not_a_page_saw_it(sc):
    token = pair(sc)
    auth = {"phone": "5511999990000", "token": token}
    for sender in ("5511988887777", "5511977776666"):
        sc.post("/simulator/api/messages", json={"to": "5511999990000", "from": sender, "body": "oi"})
    sc.post("/simulator/api/messages", json={"to": "5511999990000", "from": "5511988887777", "body": "lid",
                                             "lid": True})
    r = sc.post("/simulator/api/read", json={"phone": "5511999990000", "customer": "5511988887777"})
    assert r.status_code == 200 and r.get_json() == {"count": 2}  # its @lid chat too
    chats = {c["id"]: c["unreadCount"] for c in page(sc, "chats", **auth).get_json()}
    assert chats["5511977776666@c.us"] == 1 and sum(chats.values()) == 1
    assert [e["type"] for e in sc.get("/simulator/api/log?phone=5511988887777").get_json()] == ["seen"]
    for body, status in (({"phone": "5511999990000"}, 400), ({"phone": "55", "customer": "5511988887777"}, 400),
                         ({"phone": "5511000000000", "customer": "5511988887777"}, 404)):
        r = sc.post("/simulator/api/read", json=body)
        assert r.status_code == status and r.get_json()["message"], body


def test_log_lists_what_was_sent_to_each_customer_oldest_first(sc):
    token = pair(sc)
    auth = {"phone": "5511999990000", "token": token}
    for chat, body in (("5511988887777@c.us", "um"), ("5511977776666@c.us", "outro"), ("5511988887777@c.us", "dois")):
        assert page(sc, "send", chat=chat, kind="text", body=body, **auth).status_code == 200
    log = sc.get("/simulator/api/log?phone=5511988887777").get_json()
    assert [(e["type"], e["body"]) for e in log] == [("text", "um"), ("text", "dois")]
    assert set(log[0]) >= {"type", "from", "to", "body", "at"}
    assert log[0]["at"] <= log[1]["at"]
    assert len(sc.get("/simulator/api/log").get_json()) == 3


def test_logout_from_the_phone_ends_the_pairing(sc):
    token = pair(sc)
    assert sc.post("/simulator/api/logout", json={"phone": "5511999990000"}).status_code == 200
    assert page(sc, "poll", device="dev-a", phone="5511999990000", token=token).get_json() == {"state": "LOGGED_OUT"}
    assert page(sc, "send", chat="5511988887777@c.us", kind="text", body="x", phone="5511999990000",
                token=token).status_code == 401


def test_calls_are_rejected_once(sc):
    token = pair(sc)
    auth = {"phone": "5511999990000", "token": token}
    call_id = sc.post("/simulator/api/calls", json={"to": "5511999990000", "from": "5511988887777"}).get_json()["id"]
    events = page(sc, "poll", device="dev-a", **auth).get_json()["events"]
    assert events[0]["kind"] == "call" and events[0]["id"] == call_id
    assert page(sc, "reject_call", id=call_id, **auth).get_json() == {"ok": True}
    assert page(sc, "reject_call", id=call_id, **auth).get_json() == {"ok": False}
    assert [e["type"] for e in sc.get("/simulator/api/log?phone=5511988887777").get_json()] == ["call_rejected"]


def test_whatsapp_knows_numbers_as_registered(sc):
    """/simulator/api/numbers: a mobile registered before its ninth digit is found (queryExists)
    and reached only under its old id; a number with no WhatsApp is neither; any other number is on
    WhatsApp under its own id."""
    token = pair(sc)
    auth = {"phone": "5511999990000", "token": token}
    assert sc.post("/simulator/api/numbers", json={"number": "+55 (11) 98765-4321", "whatsapp": "551187654321"}
                   ).get_json() == {"number": "5511987654321", "whatsapp": "551187654321"}
    assert sc.post("/simulator/api/numbers", json={"number": "5511976543210", "whatsapp": None}
                   ).get_json() == {"number": "5511976543210", "whatsapp": None}

    def exists(chat):
        return page(sc, "exists", chat=chat, **auth).get_json()["wid"]
    assert exists("5511987654321@c.us") == "551187654321@c.us"
    assert exists("551187654321@c.us") == "551187654321@c.us"
    assert exists("5511976543210@c.us") is None
    assert exists("5511955554444@c.us") == "5511955554444@c.us"
    assert page(sc, "exists", chat="x@g.us", **auth).status_code == 400
    assert page(sc, "exists", chat="5511955554444@c.us", phone="5511999990000", token="wrong").status_code != 200

    for chat in ("5511987654321@c.us", "5511976543210@c.us"):
        r = page(sc, "send", chat=chat, kind="text", body="oi", **auth)
        assert r.status_code == 404 and r.get_json()["message"] == "conversa não encontrada"
    assert page(sc, "send", chat="551187654321@c.us", kind="text", body="oi", **auth).status_code == 200
    assert [e["to"] for e in sc.get("/simulator/api/log").get_json()] == ["551187654321"]

    for body in ({"number": "12", "whatsapp": None}, {"number": "5511987654321", "whatsapp": 5},
                 {"number": "5511987654321", "whatsapp": "1"}, {"number": "5511987654321"}, {"whatsapp": None}):
        r = sc.post("/simulator/api/numbers", json=body)
        assert r.status_code == 400 and r.get_json()["message"], body
    assert exists("5511987654321@c.us") == "551187654321@c.us"  # unchanged by the refusals
