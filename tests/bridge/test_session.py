"""BridgeSession (Playwright + Chromium) against the simulator, at the bridge's own boundary:
what it would submit to the inbox and what the simulated customers receive."""
import base64
import time
from types import SimpleNamespace

import pytest

from app.bridge.whatsapp_web import BridgeSession, chromium_processes

pytestmark = pytest.mark.browser

PHONE = "5511999990000"
MARIA = "5511988887777"


class Driver:
    """Pumps a session, keeping every event and every payload it would submit."""

    def __init__(self, session):
        self.session = session
        self.events, self.payloads = [], []

    def pump(self, seconds=0.3):
        for event in self.session.pump(seconds):
            self.events.append(event)
            if event["type"] == "message":
                payload = self.session.inbound_payload(event["msg"])
                if payload:
                    self.payloads.append(payload)
        return self.events

    def until(self, predicate, timeout=20, message="event"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pump()
            found = predicate(self)
            if found:
                return found
        raise AssertionError(f"timed out waiting for {message}; events: {self.events[-8:]}")

    def last(self, kind):
        found = [e for e in self.events if e["type"] == kind]
        return found[-1] if found else None


@pytest.fixture
def open_session(sim, tmp_path):
    sessions = []

    def make(connection_id=1, profile=None):
        s = BridgeSession(connection_id, profile or tmp_path / f"profile-{connection_id}", sim.base + "/web/",
                          tmp_path / "media")
        s.open()
        sessions.append(s)
        return Driver(s)

    yield make
    for s in sessions:
        s.close()


def connect(driver, sim, phone=PHONE):
    qr = driver.until(lambda d: (d.last("qr") or {}).get("code"), message="QR code")
    assert sim.scan(qr, phone).status_code == 200
    ready = driver.until(lambda d: d.last("ready"), message="ready")
    assert ready["me"] == phone + "@c.us"


def test_qr_rotates_and_a_stale_code_is_refused(open_session, sim):
    d = open_session()
    first = d.until(lambda d: (d.last("qr") or {}).get("code"), message="QR")
    second = d.until(lambda d: d.last("qr")["code"] != first and d.last("qr")["code"], timeout=15,
                     message="QR rotation")
    assert second != first
    assert sim.scan(first, PHONE).status_code == 404
    assert {"qr": second, "state": "QRCODE", "phone": None} in sim.sessions()
    assert sim.scan(second, PHONE).status_code == 200
    d.until(lambda d: d.last("ready"), message="ready")
    assert {"qr": None, "state": "CONNECTED", "phone": PHONE} in sim.sessions()


def test_inbound_traps(open_session, sim):
    d = open_session()
    connect(d, sim)
    sim.message(PHONE, MARIA, "olá, preciso de ajuda", name="Maria")
    sim.message(PHONE, "5511977776666", "sou lid", name="Lia", lid=True)
    sim.message(PHONE, "5511955554444", "no grupo", name="Gil", group={"id": "120363111", "name": "Equipe"})
    d.until(lambda d: len(d.payloads) >= 3, message="three payloads")
    d.pump(1.0)
    by_body = {p["body"]: p for p in d.payloads}
    # Exactly once each (the ciphertext copies and the status/newsletter posts never reach the engine).
    assert sorted(by_body) == ["no grupo", "olá, preciso de ajuda", "sou lid"]
    assert len(d.payloads) == 3
    ciphertexts = [e for e in d.events if e["type"] == "message" and e["msg"]["type"] == "ciphertext"]
    assert len(ciphertexts) == 3, "the simulator must play the duplicate-ciphertext trap"
    assert any(e["msg"]["chat"] == "status@broadcast" for e in d.events if e["type"] == "message")
    maria = by_body["olá, preciso de ajuda"]
    assert (maria["chat_id"], maria["sender_phone"], maria["sender_name"]) == (MARIA + "@c.us", MARIA, "Maria")
    lid = by_body["sou lid"]
    assert (lid["chat_id"], lid["sender_phone"]) == ("5511977776666@c.us", "5511977776666")
    group = by_body["no grupo"]
    assert (group["is_group"], group["chat_id"], group["chat_name"], group["sender_phone"]) == (
        True, "120363111@g.us", "Equipe", "5511955554444")


def test_inbound_media_is_stored_under_media_dir(open_session, sim, tmp_path):
    d = open_session()
    connect(d, sim)
    png = base64.b64encode(b"\x89PNG\r\n\x1a\nfake-image").decode()
    sim.message(PHONE, MARIA, "a foto", media={"type": "image", "name": "foto.png", "mime": "image/png", "data": png})
    payload = d.until(lambda d: d.payloads and d.payloads[-1], message="media payload")
    assert (payload["type"], payload["body"], payload["media"]["mime"]) == ("image", "a foto", "image/png")
    stored = tmp_path / "media" / payload["media"]["path"]
    assert stored.read_bytes() == b"\x89PNG\r\n\x1a\nfake-image"
    assert not payload["media"]["path"].startswith("/")


def test_inbound_media_over_the_limit_never_leaves_the_page(open_session, sim, tmp_path, monkeypatch):
    """A customer's file over MAX_MEDIA_BYTES is refused in the page: none of it crosses to Python
    (a 2 GB video would be 2.7 GB of base64 in the bridge); the message still arrives, without it."""
    from app.bridge import whatsapp_web

    monkeypatch.setattr(whatsapp_web, "MAX_MEDIA_BYTES", 32)
    d = open_session()
    connect(d, sim)
    answers = []
    real_call = d.session.call

    def recording_call(op, *args, **kwargs):
        answer = real_call(op, *args, **kwargs)
        if op == "download":
            answers.append(answer)
        return answer

    monkeypatch.setattr(d.session, "call", recording_call)
    big = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"0" * 64).decode()
    sim.message(PHONE, MARIA, "grande", media={"type": "image", "name": "grande.png", "mime": "image/png", "data": big})
    payload = d.until(lambda d: d.payloads and d.payloads[-1], message="payload of the big file")
    assert (payload["type"], payload["body"], payload["media"]) == ("image", "grande", None)
    assert answers and not any("data" in a for a in answers), answers
    assert not list((tmp_path / "media").rglob("*grande*"))
    small = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"0" * 8).decode()
    sim.message(PHONE, MARIA, "pequena", media={"type": "image", "name": "p.png", "mime": "image/png", "data": small})
    payload = d.until(lambda d: d.payloads and d.payloads[-1]["body"] == "pequena" and d.payloads[-1],
                      message="payload of the small file")
    assert payload["media"] and (tmp_path / "media" / payload["media"]["path"]).stat().st_size == 16


def test_outbound_text_list_and_file_with_acks(open_session, sim, tmp_path):
    d = open_session()
    connect(d, sim)
    sent = d.session.send(SimpleNamespace(chat_id=MARIA + "@c.us", type="text", body="Olá! http://exemplo.com",
                                          channel_id="3EB0AAAA0001"))
    assert sent == "3EB0AAAA0001"
    d.session.send(SimpleNamespace(chat_id=MARIA + "@c.us", type="list", body="Escolha a fila",
                                   channel_id="3EB0AAAA0002", sections=[{"title": "Filas", "rows": [
                                       {"id": "1", "title": "Vendas"}, {"id": "2", "title": "Suporte"}]}]))
    (tmp_path / "media").mkdir(exist_ok=True)
    (tmp_path / "media" / "boleto.pdf").write_bytes(b"%PDF-1.4 fake")
    d.session.send(SimpleNamespace(chat_id=MARIA + "@c.us", type="document", body="seu boleto",
                                   channel_id="3EB0AAAA0003",
                                   media={"path": "boleto.pdf", "mime": "application/pdf", "name": "boleto.pdf"}))
    log = sim.log(MARIA)
    assert [(e["type"], e["body"], e["from"]) for e in log] == [
        ("text", "Olá! http://exemplo.com", PHONE), ("list", "Escolha a fila", PHONE), ("media", "seu boleto", PHONE)]
    assert log[1]["sections"][0]["rows"][1]["title"] == "Suporte"
    assert log[2]["filename"] == "boleto.pdf"
    # Acks come back for our ids; the echoes of our sends never become inbound payloads.
    d.until(lambda d: {(e["id"], e["ack"]) for e in d.events if e["type"] == "ack"} >= {
        ("3EB0AAAA0001", 1), ("3EB0AAAA0001", 2), ("3EB0AAAA0003", 2)}, message="acks")
    assert d.payloads == []
    # Sending never marks the chat read behind the agent's back.
    assert "seen" not in [e["type"] for e in sim.log(MARIA)]
    # A resend after a crash is recognised.
    assert d.session.already_sent(MARIA + "@c.us", "3EB0AAAA0001")
    assert not d.session.already_sent(MARIA + "@c.us", "3EB0AAAA0999")


def test_mark_read_and_call_rejection(open_session, sim):
    d = open_session()
    connect(d, sim)
    sim.message(PHONE, MARIA, "oi")
    d.until(lambda d: d.payloads, message="message")
    d.session.mark_read(MARIA + "@c.us")
    assert [e["type"] for e in sim.log(MARIA)] == ["seen"]
    call_id = sim.call(PHONE, MARIA)
    call = d.until(lambda d: d.last("call"), message="call")
    assert call["id"] == call_id and call["from"] == MARIA + "@c.us"
    assert d.session.reject_call(call_id) is True
    assert [e["type"] for e in sim.log(MARIA)] == ["seen", "call_rejected"]


def test_restart_reuses_the_profile_and_picks_up_unread(open_session, sim, tmp_path):
    profile = tmp_path / "profile-kept"
    d = open_session(profile=profile)
    connect(d, sim)
    sim.message(PHONE, MARIA, "antes de cair")
    d.until(lambda d: d.payloads, message="first message")
    d.session.close()
    assert chromium_processes(profile) == []
    sim.message(PHONE, MARIA, "enquanto estava fora")
    d2 = open_session(profile=profile)
    ready = d2.until(lambda d: d.last("ready"), message="ready without scanning")
    assert ready["me"] == PHONE + "@c.us"
    assert d2.last("qr") is None or d2.last("qr").get("code") is None
    # Delivered on reconnect, and both (still unread) are found again by the unread pick-up;
    # the inbox dedupes by channel_id, the session itself by id.
    d2.until(lambda d: any(p["body"] == "enquanto estava fora" for p in d.payloads), message="offline message")
    unread = [m["body"] for m in d2.session.unread_messages()]
    assert unread == ["antes de cair", "enquanto estava fora"]


def test_logout_from_the_phone(open_session, sim):
    d = open_session()
    connect(d, sim)
    assert sim.logout(PHONE).status_code == 200
    d.until(lambda d: d.last("logout"), message="logout event")
    d.until(lambda d: (d.last("qr") or {}).get("code") and d.events.index(d.last("qr")) > d.events.index(d.last("logout")),
            message="a new QR after logout")
    assert sim.logout(PHONE).status_code == 404


def test_virtual_phone_scans_and_chats_as_a_customer(open_session, sim):
    from app.bridge.whatsapp_web import CHROMIUM_ARGS, find_chromium

    d = open_session()
    d.until(lambda d: (d.last("qr") or {}).get("code"), message="QR")
    # A second browser from the same Playwright (one sync Playwright per thread).
    browser = d.session._pw.chromium.launch(executable_path=find_chromium(None), headless=True, args=CHROMIUM_ARGS)
    try:
        phone = browser.new_page()
        phone.goto(sim.base + "/phone/")
        phone.fill("#company", "5521912345678")
        phone.click("#sessions button")
        ready = d.until(lambda d: d.last("ready"), message="ready through the virtual phone")
        assert ready["me"] == "5521912345678@c.us"
        phone.fill("#customer", "5511966665555")
        phone.fill("#customer-name", "Joana")
        phone.fill("#body", "Bom dia, quero ajuda")
        phone.click("#send-form button[type=submit]")
        payload = d.until(lambda d: d.payloads and d.payloads[-1], message="the customer's message")
        assert (payload["body"], payload["sender_phone"], payload["sender_name"]) == (
            "Bom dia, quero ajuda", "5511966665555", "Joana")
        hostile = '<img src=x onerror="window.__xss=1">Olá Joana'
        d.session.send(SimpleNamespace(chat_id="5511966665555@c.us", type="text", body=hostile,
                                       channel_id="3EB0BBBB0001"))
        phone.wait_for_selector("#chat .bubble:has-text('Olá Joana')")
        assert hostile in phone.text_content("#chat")  # shown as text, never as HTML
        assert phone.evaluate("window.__xss") is None
    finally:
        browser.close()


def test_the_page_sees_a_desktop_chrome_not_a_headless_one(open_session, sim):
    """WhatsApp Web refuses HeadlessChrome: neither the user agent nor its client hints (which
    Debian's chromium-headless-shell fills with a "HeadlessChrome" brand) may say so."""
    from app.bridge.whatsapp_web import USER_AGENT

    d = open_session()
    seen = d.session.page.evaluate(
        "() => navigator.userAgentData.getHighEntropyValues(['fullVersionList', 'platform'])"
        ".then(v => ({ua: navigator.userAgent, brands: navigator.userAgentData.brands.map(b => b.brand),"
        " full: v.fullVersionList.map(b => b.brand), platform: v.platform, webdriver: navigator.webdriver}))")
    assert seen["ua"] == USER_AGENT
    assert "Google Chrome" in seen["brands"] and "Google Chrome" in seen["full"]
    assert not [b for b in seen["brands"] + seen["full"] if "Headless" in b]
    assert seen["platform"] == "Linux" and seen["webdriver"] is False


def test_marking_a_chat_read_stores_its_unread_messages_first(app, factory, open_session, sim):
    """Confirmação de Leitura marks the whole chat read on WhatsApp, also a message that reached
    the page but waits in the session's queue for the engine. Were the session to fail then (the
    database restarting), the message was lost: no longer unread, the next session never picked it
    up (tests/faults/test_bridge_stream.py lost messages that way, with the agent answering). The
    runner now stores the chat's unread messages before marking it read."""
    from app.bridge.runner import SessionRunner

    conn_id = factory.connection(enabled=True, read_receipts=True).id
    d = open_session(connection_id=conn_id)
    connect(d, sim)
    stored = []
    runner = SessionRunner(conn_id, sink=stored.append)
    runner.session = d.session
    sim.message(PHONE, MARIA, "primeira")
    d.until(lambda d: d.payloads, message="first message")
    stored.clear()
    sim.message(PHONE, MARIA, "chegou agora")  # reaches the page; nobody pumps its event
    sim.message(PHONE, "5511977776666", "outro cliente")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not [m for m in d.session.unread_messages(MARIA + "@c.us")
                                               if m["body"] == "chegou agora"]:
        time.sleep(0.2)
    runner.run_command({"op": "mark_read", "chat_id": MARIA + "@c.us"})
    assert [e["type"] for e in sim.log(MARIA)][-1] == "seen"
    # that chat's message not stored yet, before the mark ("primeira" was; the other chat waits)
    assert [p["body"] for p in stored] == ["chegou agora"]
    d.session.close()  # the session fails before its queue is read: nothing was lost


def test_recent_messages_reads_chats_active_since_a_time_read_or_not_in_pages(open_session, sim):
    """The catch-up read: every customer message stamped since a time, read or not, across pages
    of WhatsApp's history (RECENT_PAGE is 50), oldest first, at most `limit` per chat."""
    d = open_session()
    connect(d, sim)
    before = int(time.time()) - 1
    bodies = [f"linha {n}" for n in range(60)]
    for body in bodies:
        sim.message(PHONE, MARIA, body)
    d.session.send(SimpleNamespace(chat_id=MARIA + "@c.us", type="text", body="nossa resposta", channel_id=None))
    sim.message(PHONE, "5511977776666", "outro cliente")
    assert sim.read(PHONE, MARIA) == 60
    recent = d.session.recent_messages(before)
    assert [m["body"] for m in recent if m["chat"] == MARIA + "@c.us"] == bodies  # no echo of ours
    assert [m["body"] for m in recent if m["chat"] != MARIA + "@c.us"] == ["outro cliente"]
    assert [m["body"] for m in d.session.recent_messages(before, limit=5) if m["chat"] == MARIA + "@c.us"] == bodies[-5:]
    assert d.session.recent_messages(int(time.time()) + 600) == []


@pytest.mark.parametrize("read_by", ["the phone", "Conecta"])
def test_a_message_read_before_it_was_stored_is_caught_up_by_the_next_session(app, factory, open_session, sim, tmp_path,
                                                                              read_by):
    """A message reached the page (WhatsApp hands it over once) and waited in the session's queue;
    the chat was then read, on the phone or by Conecta's own mark (a message arriving during the
    mark), and the session failed before storing it. No longer unread, nor delivered again: the
    next session finds it only by reading the chats active since the catch-up mark."""
    from app.bridge.runner import SessionRunner
    from app.bridge.status import set_inbound_stored_until
    from app.models.base import utcnow

    conn_id = factory.connection(enabled=True).id
    profile = tmp_path / "profile-kept"
    d = open_session(connection_id=conn_id, profile=profile)
    connect(d, sim)
    sim.message(PHONE, MARIA, "guardada")
    d.until(lambda d: d.payloads, message="first message")
    with app.app_context():
        set_inbound_stored_until(conn_id, utcnow())  # what the runner writes while connected
    sim.message(PHONE, MARIA, "perdida")  # reaches the page and the session's queue; nobody pumps it
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not [e for e in d.session.events if e["type"] == "message"
                                               and e["msg"]["body"] == "perdida" and e["msg"]["type"] == "chat"]:
        d.session.state()  # a call to the page, during which its events reach the queue
        time.sleep(0.2)
    if read_by == "the phone":
        assert sim.read(PHONE, MARIA) == 2
    else:
        d.session.mark_read(MARIA + "@c.us")
    d.session.close()

    d2 = open_session(connection_id=conn_id, profile=profile)
    d2.until(lambda d: d.last("ready"), message="ready without scanning")
    d2.pump(1.0)
    assert not [p for p in d2.payloads if p["body"] == "perdida"], "delivered again: nothing to catch up"
    stored = []
    with app.app_context():
        from app.services import inbox

        inbox.receive(d.payloads[0])  # "guardada" is in the inbox: not submitted again
        runner = SessionRunner(conn_id, sink=stored.append)
        runner.session = d2.session
        runner.pick_up_missed()
    assert [p["body"] for p in stored] == ["perdida"]


def test_a_cut_emoji_from_the_page_is_stored_with_the_rest(app, factory, open_session, sim):
    """A JavaScript string with a lone surrogate (an emoji cut in half) reaches Python as it is:
    stored as it was, it failed its whole burst, and again after every restart of the session, so
    no later message of the number got through (QA, through the simulator). The runner's real
    sink now stores it, U+FFFD in place of the broken half, with the messages around it."""
    from app.bridge.runner import SessionRunner
    from app.models import InboundEvent, db

    conn_id = factory.connection(enabled=True).id
    d = open_session(connection_id=conn_id)
    connect(d, sim)
    sim.message(PHONE, MARIA, "oi \ud83d quebrado", name="Zé \ud83d")
    sim.message(PHONE, "5511977776666", "depois")
    d.until(lambda d: len(d.payloads) >= 2, message="two payloads")
    assert "\ud83d" in d.payloads[0]["body"] + d.payloads[1]["body"]  # as the page handed it over
    runner = SessionRunner(conn_id)
    runner.session = d.session
    runner.submit_all(list(d.payloads))
    db.session.expire_all()
    stored = sorted(e.payload for e in db.session.query(InboundEvent).filter_by(connection_id=conn_id))
    assert len(stored) == 2
    assert any('"oi \ufffd quebrado"' in p and '"Zé \ufffd"' in p for p in stored), stored


def test_a_chat_marked_read_keeps_its_messages_in_order_whatever_the_mark_made_read(app, factory, open_session, sim):
    """QA, Confirmação de Leitura on: a mark read the chat's unread messages (only n1), then
    marked read n1 and n2, which had reached WhatsApp in between; the next mark found only n3
    unread and stored it, n2 coming later through its live event: stored n1, n3, n2. The mark
    now stores the chat's messages after the newest one stored, read or not, in WhatsApp's
    order, and the live events already handed over are dropped as seen. The interleaving is
    played here by the customer's n2 arriving as the page marks the chat read."""
    from app.bridge.runner import SessionRunner

    conn_id = factory.connection(enabled=True, read_receipts=True).id
    d = open_session(connection_id=conn_id)
    connect(d, sim)
    stored = []
    runner = SessionRunner(conn_id, sink=stored.append)
    runner.session = d.session
    sim.message(PHONE, MARIA, "n1")
    d.until(lambda d: d.payloads, message="n1")
    stored.extend(d.payloads)  # what the runner's loop stores of a pump
    real_mark_read = d.session.mark_read
    marks = []

    def mark_read_as_n2_arrives(chat_id):
        if not marks:
            sim.message(PHONE, MARIA, "n2")  # reached WhatsApp after the read, before the mark
        marks.append(chat_id)
        real_mark_read(chat_id)

    d.session.mark_read = mark_read_as_n2_arrives
    runner.run_command({"op": "mark_read", "chat_id": MARIA + "@c.us"})
    assert not [m for m in d.session.unread_messages(MARIA + "@c.us") if m["body"] == "n2"], "n2 was marked read"
    sim.message(PHONE, MARIA, "n3")
    runner.run_command({"op": "mark_read", "chat_id": MARIA + "@c.us"})
    # The live events of n2 and n3, handled as the runner's loop does at its next pumps.
    seen_live = set()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and seen_live < {"n2", "n3"}:
        for event in d.session.pump(0.3):
            if event["type"] == "message" and event["msg"]["type"] == "chat":
                seen_live.add(event["msg"]["body"])
                payload = d.session.inbound_payload(event["msg"])
                if payload is not None:
                    stored.append(payload)
    assert seen_live >= {"n2", "n3"}
    assert [p["body"] for p in stored if p["chat_id"] == MARIA + "@c.us"] == ["n1", "n2", "n3"]
    assert len(marks) == 2


def _queued_message(db, conn_id, channel_id, body):
    from app.models import Contact, Message, MessageStatus, Ticket

    contact = db.session.query(Contact).filter_by(jid=MARIA + "@c.us").first()
    if contact is None:
        contact = Contact(channel="whatsapp", jid=MARIA + "@c.us", phone=MARIA, name="Maria")
        db.session.add(contact)
        db.session.flush()
    ticket = db.session.query(Ticket).filter_by(contact_id=contact.id).first()
    if ticket is None:
        ticket = Ticket(contact_id=contact.id, connection_id=conn_id, status="open")
        db.session.add(ticket)
        db.session.flush()
    message = Message(ticket_id=ticket.id, connection_id=conn_id, channel_id=channel_id, from_me=True, type="text",
                      body=body, status=MessageStatus.QUEUED)
    db.session.add(message)
    db.session.commit()
    return message.id


def _process_inbox(db, conn_id):
    from app.models import InboundEvent
    from app.services import inbox

    for event_id in [e.id for e in db.session.query(InboundEvent).filter_by(connection_id=conn_id, processed_at=None)
                     .order_by(InboundEvent.id)]:
        inbox.process(event_id)
    db.session.expire_all()


def test_acks_lost_with_a_session_are_read_from_the_page_by_the_next_one(app, db, factory, open_session, sim, tmp_path):
    """QA: the bridge stopped (SIGTERM or kill -9) between a send and its acks; the message stayed
    "sent" for good, though WhatsApp had delivered it: acks are handed over once, and nothing
    asked again. A new session now reads where our recent messages stand and submits the acks
    that move them on; a message already further on is not asked, never moved back."""
    from app.bridge.runner import SessionRunner
    from app.models import Message, MessageStatus

    conn_id = factory.connection(enabled=True).id
    profile = tmp_path / "profile-kept"
    d = open_session(connection_id=conn_id, profile=profile)
    connect(d, sim)
    first = _queued_message(db, conn_id, "3EB0ACK00001", "primeira")
    second = _queued_message(db, conn_id, "3EB0ACK00002", "segunda")
    runner = SessionRunner(conn_id)  # the real inbox and outbox
    runner.session = d.session
    assert runner.lock.acquire()
    try:
        runner.send(first)
        runner.send(second)
        d.session.close()  # before any pump: its acks die with it
        db.session.expire_all()
        assert [db.session.get(Message, m).status for m in (first, second)] == ["sent", "sent"]
        db.session.get(Message, second).status = MessageStatus.READ  # a read ack came before the end
        db.session.commit()

        d2 = open_session(connection_id=conn_id, profile=profile)
        d2.until(lambda d: d.last("ready"), message="ready without scanning")
        runner.session = d2.session
        runner.pick_up_missed()  # what the runner does once ready
    finally:
        runner.lock.release()
    _process_inbox(db, conn_id)
    assert [db.session.get(Message, m).status for m in (first, second)] == ["delivered", "read"]
