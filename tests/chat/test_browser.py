"""The chat screen in a real Chromium (Playwright), against the real web process and an RQ worker:
two agents in different queues and a supervisor, each in a browser context of their own.

Screenshots of the main screens (pt_BR) go to test-artifacts/screenshots/ (git-ignored)."""
import re
import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.conftest import ROOT, browser_login

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = ROOT / "test-artifacts" / "screenshots"
XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture
def desk_live(stack, desk):
    stack.start_web()
    stack.start_worker()
    desk.url = stack.url
    return desk


class Agent:
    """One member's browser context on the chat screen; fails the test on any JS dialog or error."""

    def __init__(self, browser, url, email, init_script=None, viewport=None):
        self.context = browser.new_context(locale="pt-BR", timezone_id="America/Sao_Paulo",
                                           viewport=viewport or {"width": 1366, "height": 800})
        if init_script:
            self.context.add_init_script(init_script)
        self.page = self.context.new_page()
        self.dialogs, self.errors = [], []
        self.page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        browser_login(self.page, url + "/login/", email)
        self.page.wait_for_url(re.compile(r".*/chat/.*"))
        self.connected()

    def connected(self):
        # the script exposes nothing globally; the banner is hidden once the socket is up
        # (null-safe: right after a reload the new document may not have the banner yet)
        self.page.wait_for_function("() => { const b = document.getElementById('chat-banner'); return b && b.hidden; }",
                                    timeout=15000)

    def tab(self, name):
        self.page.click(f".chat-tabs [data-tab={name}]")

    def accept(self, text):
        """Open the waiting ticket whose row shows `text`, accept it, and wait for the composer."""
        self.row(text).click()
        self.page.click("[data-action=accept]")
        self.page.locator("#chat-composer:not([hidden])").wait_for()

    def row(self, text):
        return self.page.locator(".chat-ticket", has_text=text)

    def shot(self, name):
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"))

    def close(self):
        self.context.close()


@pytest.fixture
def agents(browser, desk_live):
    opened = []

    def open_as(email, init_script=None, url=None, viewport=None):
        agent = Agent(browser, url or desk_live.url, email, init_script, viewport)
        opened.append(agent)
        return agent

    yield open_as
    for agent in opened:
        assert agent.dialogs == [], agent.dialogs  # no alert() ever ran
        assert agent.errors == [], agent.errors
        agent.close()


def customer_writes(desk, queue, body, name="Maria Cliente", phone=None, **payload):
    """Through the engine's ingest job in the worker, as the bridge would."""
    from app.workers.ingest import submit

    desk.connection.queues = [queue]
    desk.db.session.commit()
    submit(desk.engine.message(desk.connection, phone=phone or "55119" + str(uuid.uuid4().int)[:8],
                               name=name, body=body, **payload))


def test_a_whole_conversation_live_in_three_browsers(desk_live, agents, db):
    from app.models import Message, QuickReply, RatingOption, RatingTemplate, Ticket
    from app.services.settings import get_settings

    desk = desk_live
    template = RatingTemplate(name="Satisfação", message="Como foi o atendimento? 1 a 3",
                              options=[RatingOption(value=1, label="Insatisfeito"),
                                       RatingOption(value=3, label="Muito satisfeito")])
    db.session.add_all([template, QuickReply(shortcut="boasvindas", message="Olá! Em que posso ajudar?"),
                        QuickReply(shortcut="horário", message="Das 8h às 18h.")])
    s = get_settings()
    s.send_ratings = True
    db.session.commit()

    ana, bruno, sara = agents("ana@teste.com.br"), agents("bruno@teste.com.br"), agents("sara@teste.com.br")
    for agent in (ana, bruno, sara):
        agent.tab("pending")

    customer_writes(desk, desk.vendas, "Quero comprar um plano", name="Joana Compras")
    ana.row("Joana Compras").wait_for()
    sara.row("Joana Compras").wait_for()
    assert "Quero comprar um plano" in ana.row("Joana Compras").inner_text()
    expect(ana.page.locator('[data-count="pending"]')).to_have_text("1")
    ana.shot("01-aguardando")
    bruno.page.wait_for_timeout(1000)
    assert bruno.row("Joana Compras").count() == 0  # not his queue: never shown

    # Accept and reply. Opening the ticket clears its unread badge.
    expect(ana.row("Joana Compras").locator(".chat-unread")).to_have_text("1")
    ana.row("Joana Compras").click()
    expect(ana.row("Joana Compras").locator(".chat-unread")).to_have_count(0)
    ana.page.locator(".chat-msg.in", has_text="Quero comprar um plano").wait_for()
    ana.page.click("[data-action=accept]")
    ana.page.locator("#chat-composer:not([hidden])").wait_for()
    expect(ana.page.locator('[data-count="open"]')).to_have_text("1")
    # The list follows the accepted ticket to Atendendo, where it is the current one.
    expect(ana.page.locator('.chat-tabs [data-tab="open"]')).to_have_class(re.compile(r"\bactive\b"))
    expect(ana.row("Joana Compras")).to_have_class(re.compile(r"\bcurrent\b"))
    expect(ana.page.locator('[data-count="pending"]')).to_have_text("")
    ana.page.fill("#chat-input", "Bom dia! Vou te ajudar.")
    ana.page.press("#chat-input", "Enter")
    ana.page.locator(".chat-msg.out", has_text="Bom dia! Vou te ajudar.").wait_for()
    ana.page.type("#chat-input", "linha 1")
    ana.page.keyboard.press("Shift+Enter")
    ana.page.type("#chat-input", "linha 2")
    ana.page.keyboard.press("Enter")
    ana.page.locator(".chat-msg.out", has_text="linha 2").wait_for()
    ana.page.type("#chat-input", "/HORARIO")  # neither case nor accents count
    ana.page.locator("#chat-quick li", has_text="horário").wait_for()
    ana.page.fill("#chat-input", "")
    ana.page.type("#chat-input", "/boas")
    ana.page.locator("#chat-quick li", has_text="boasvindas").wait_for()
    expect(ana.page.locator("#chat-quick li")).to_have_count(1)
    ana.page.keyboard.press("Enter")
    assert ana.page.input_value("#chat-input") == "Olá! Em que posso ajudar?"
    ana.page.click("#chat-emoji")
    ana.page.click("#chat-emoji-panel button >> nth=16")  # 👍
    ana.page.keyboard.press("Enter")
    ana.page.locator(".chat-msg.out", has_text="Olá! Em que posso ajudar?👍").wait_for()
    ticket_id = db.session.query(Ticket.id).filter(Ticket.status == "open").scalar()
    db.session.expire_all()
    bodies = [m.body for m in db.session.query(Message).filter_by(ticket_id=ticket_id, from_me=True).order_by(Message.id)]
    assert bodies == ["Bom dia! Vou te ajudar.", "linha 1\nlinha 2", "Olá! Em que posso ajudar?👍"]
    # The supervisor follows the conversation live.
    sara.tab("all")
    sara.row("Joana Compras").click()
    sara.page.locator(".chat-msg.out", has_text="Bom dia! Vou te ajudar.").wait_for()
    ana.tab("open")
    ana.row("Joana Compras").wait_for()
    expect(ana.page.locator("#chat-emoji-panel")).to_be_hidden()  # closed once the message went
    ana.shot("02-conversa")

    # A failed send shows the error and can be retried.
    from app.services import outbound
    from app.workers.publish import publish

    failed_id = db.session.query(Message.id).filter_by(ticket_id=ticket_id, from_me=True).order_by(Message.id).first()[0]
    publish(outbound.mark_failed(failed_id, "Número sem WhatsApp"), desk.app)
    failed = ana.page.locator(f'.chat-msg[data-id="{failed_id}"]')
    failed.locator(".chat-tick.failed").wait_for()
    assert "Número sem WhatsApp" in failed.inner_text()
    failed.locator(".chat-retry").click()
    ana.page.locator(f'.chat-msg[data-id="{failed_id}"] .chat-tick.queued').wait_for()

    # Transfer to Suporte: gone from Ana, live in Bruno's Aguardando.
    ana.page.click("[data-action=transfer]")
    ana.page.select_option("#chat-transfer-queue", str(desk.suporte.id))
    ana.shot("03-transferir")
    ana.page.click("#chat-transfer-form button[type=submit]")
    bruno.row("Joana Compras").wait_for()
    ana.page.locator("#chat-conversation").wait_for(state="hidden")
    assert ana.row("Joana Compras").count() == 0

    # Bruno accepts and resolves with a rating.
    bruno.row("Joana Compras").click()
    bruno.page.click("[data-action=accept]")
    bruno.page.locator("[data-action=close]:not([hidden])").wait_for()
    bruno.page.click("[data-action=close]")
    bruno.page.check(f'#chat-close input[name=rating][value="{template.id}"]')
    bruno.shot("04-resolver-com-avaliacao")
    bruno.page.click("#chat-close-form button[type=submit]")
    bruno.page.locator("[data-action=reopen]:not([hidden])").wait_for()
    assert "Aguardando avaliação" in bruno.page.inner_text("#chat-ticket-info")
    bruno.tab("closed")
    bruno.row("Joana Compras").wait_for()
    db.session.expire_all()
    ticket = db.session.get(Ticket, ticket_id)
    assert ticket.status == "closed" and ticket.awaiting_rating and ticket.user_id == desk.bruno.id
    rating_line = db.session.query(Message).filter(Message.ticket_id == ticket_id,
                                                   Message.body.startswith(template.message)).one()
    assert "3 - Muito satisfeito" in rating_line.body
    # Failed on a resolved ticket: shown, but not offered again (the server refuses it too).
    bruno.row("Joana Compras").click()
    publish(outbound.mark_failed(failed_id, "Número sem WhatsApp"), desk.app)
    failed = bruno.page.locator(f'.chat-msg[data-id="{failed_id}"]')
    failed.locator(".chat-tick.failed").wait_for()
    expect(failed.locator(".chat-retry")).to_be_hidden()
    sara.page.reload()
    sara.connected()
    sara.shot("05-supervisor")


def test_html_in_names_and_messages_is_text(desk_live, agents):
    ana = agents("ana@teste.com.br")
    ana.tab("pending")
    customer_writes(desk_live, desk_live.vendas, XSS + " e <script>alert(2)</script>", name=XSS)
    row = ana.row("onerror")
    row.wait_for()
    assert XSS in row.inner_text()
    row.click()
    bubble = ana.page.locator(".chat-msg.in", has_text="onerror")
    bubble.wait_for()
    assert bubble.locator(".chat-msg-body").inner_text() == XSS + " e <script>alert(2)</script>"
    assert XSS in ana.page.inner_text("#chat-contact-name")
    ana.page.wait_for_timeout(500)
    assert ana.page.locator("img[src=x]").count() == 0
    # Files: an image shown inline, a document as a download named as sent (as text).
    from app.models import Ticket

    db = desk_live.db
    ticket = db.session.query(Ticket).one()
    media_dir = Path(desk_live.app.config["MEDIA_DIR"])
    (media_dir / "inbound").mkdir(parents=True, exist_ok=True)
    png = (ROOT / "docs" / "screenshots" / "chat.png").read_bytes()
    (media_dir / "inbound" / "foto.png").write_bytes(png)
    (media_dir / "inbound" / "doc.pdf").write_bytes(b"%PDF-1.4 teste")
    for kind, path, mime, name in (("image", "inbound/foto.png", "image/png", "foto.png"),
                                   ("document", "inbound/doc.pdf", "application/pdf", XSS + ".pdf")):
        customer_writes(desk_live, desk_live.vendas, "", name=XSS, phone=ticket.contact.phone, type=kind,
                        media={"path": path, "mime": mime, "name": name})
    image = ana.page.locator(".chat-msg.in img")
    image.wait_for()
    ana.page.wait_for_function("() => document.querySelector('.chat-msg.in img').naturalWidth > 0")
    link = ana.page.locator(".chat-msg.in a.chat-file")
    link.wait_for()
    assert link.inner_text().strip() == XSS + ".pdf"
    assert link.get_attribute("href").startswith("/chat/media/")
    assert ana.page.locator("img[src=x]").count() == 0
    ana.shot("06-html-como-texto")


def test_queue_chips_and_tabs_filter_the_list_one_at_a_time(desk_live, agents):
    desk_live.ticket(desk_live.vendas, name="Vera Vendas")
    desk_live.ticket(desk_live.suporte, name="Sergio Suporte")
    sara = agents("sara@teste.com.br")
    sara.tab("pending")
    sara.row("Vera Vendas").wait_for()
    sara.row("Sergio Suporte").wait_for()
    active_chip = sara.page.locator("#chat-queue-filter .chat-chip.active")
    active_tab = sara.page.locator(".chat-tabs [data-tab].active")
    sara.page.click(f"#chat-queue-filter [data-queue='{desk_live.suporte.id}']")
    expect(sara.row("Vera Vendas")).to_have_count(0)
    expect(sara.row("Sergio Suporte")).to_have_count(1)
    expect(active_chip).to_have_count(1)
    expect(active_chip).to_have_attribute("data-queue", str(desk_live.suporte.id))
    sara.tab("all")  # the chosen queue stays chosen on another tab
    expect(active_tab).to_have_count(1)
    expect(active_tab).to_have_attribute("data-tab", "all")
    expect(sara.row("Sergio Suporte")).to_have_count(1)
    expect(sara.row("Vera Vendas")).to_have_count(0)
    sara.page.click("#chat-queue-filter [data-queue='']")
    expect(sara.row("Vera Vendas")).to_have_count(1)
    expect(active_chip).to_have_count(1)
    expect(active_chip).to_have_attribute("data-queue", "")


def test_user_cannot_reach_another_queues_ticket_by_url_or_socket(desk_live, agents, db):
    from app.models import Ticket

    ana, bruno = agents("ana@teste.com.br"), agents("bruno@teste.com.br")
    bruno.tab("pending")
    customer_writes(desk_live, desk_live.suporte, "Assunto do suporte", name="Cliente Suporte")
    bruno.row("Cliente Suporte").wait_for()
    ticket_id = db.session.query(Ticket.id).scalar()
    # By URL.
    ana.page.goto(f"{desk_live.url}/chat/?ticket={ticket_id}")
    ana.connected()
    ana.page.locator("#chat-empty", has_text="não encontrado").wait_for()
    assert ana.page.locator("#chat-conversation").is_hidden()
    # By Socket.IO, from her page: asking to join the queue's room gets her nothing.
    ana.page.evaluate("""(queueId) => {
        window.__heard = [];
        const s = io({transports: ["websocket"], forceNew: true});
        s.onAny((event) => window.__heard.push(event));
        s.on("connect", () => { s.emit("join", {room: "queue:" + queueId}); s.emit("join", "staff"); });
        window.__probe = s;
    }""", desk_live.suporte.id)
    ana.page.wait_for_function("() => window.__probe.connected")
    ana.tab("pending")
    customer_writes(desk_live, desk_live.suporte, "Mais um do suporte", name="Outro Cliente")
    bruno.row("Outro Cliente").wait_for()
    ana.page.wait_for_timeout(1000)
    assert ana.page.evaluate("window.__heard") == []
    assert ana.row("Outro Cliente").count() == 0 and ana.row("Cliente Suporte").count() == 0


def test_reconnection_fetches_what_was_missed(desk_live, agents, stack, db):
    from app.bridge.runner import publish
    from app.models import Message
    from app.models.connection import ConnectionStatus
    from app.services import connections, outbound

    ana = agents("ana@teste.com.br")
    ana.tab("pending")
    customer_writes(desk_live, desk_live.vendas, "Primeira mensagem", name="Cliente Fiel", phone="5511955550001")
    ana.accept("Cliente Fiel")
    ana.page.fill("#chat-input", "Já verifico")
    ana.page.press("#chat-input", "Enter")
    ana.page.locator(".chat-msg.out .chat-tick.queued").wait_for()
    ana.tab("pending")

    stack.kill("web")
    ana.page.locator("#chat-banner:not([hidden])").wait_for()
    # While no web process runs: a new ticket, a new message on her open ticket, an ack.
    customer_writes(desk_live, desk_live.vendas, "Escrevi enquanto vocês caíram", name="Cliente Paciente")
    customer_writes(desk_live, desk_live.vendas, "Ainda aí?", name="Cliente Fiel", phone="5511955550001")
    sent = db.session.query(Message).filter_by(from_me=True, body="Já verifico").one()
    outbound.mark_sent(sent.id)
    # ...and the conversation's number went down: its `channel` event reached no page either.
    publish(connections.set_status(desk_live.connection.id, ConnectionStatus.DISCONNECTED), desk_live.app)
    db.session.commit()
    ana.page.wait_for_timeout(1500)  # the jobs ran; their events reached no web process
    assert ana.page.locator("#chat-connection-down").is_hidden()
    stack.start_web()
    try:
        ana.row("Cliente Paciente").wait_for(timeout=30000)
        ana.page.locator(".chat-msg.in", has_text="Ainda aí?").wait_for()
        ana.page.locator(f'.chat-msg[data-id="{sent.id}"] .chat-tick.sent').wait_for()
        expect(ana.page.locator("#chat-connection-down")).to_contain_text("não está conectado")
    finally:
        ana.shot("07-reconexao")


def test_the_page_fetches_again_when_its_web_process_heard_redis_again(desk_live, agents, stack):
    """A web process that lost Redis sends `resync` once it hears it again (app.realtime.RESYNC;
    tests/faults/test_socket_resync.py cuts Redis for real): what was published meanwhile never
    came, and the page fetches its list again."""
    from app.realtime import publisher
    from app.services import inbox

    ana = agents("ana@teste.com.br")
    ana.tab("pending")
    desk_live.connection.queues = [desk_live.vendas]
    desk_live.db.session.commit()
    # Stored and routed, but its events lost (never published), as while the web process was deaf.
    event_id = inbox.receive(desk_live.engine.message(desk_live.connection, phone="5511955550002",
                                                      name="Cliente Perdido", body="Escrevi durante a queda"))
    inbox.process(event_id)
    ana.page.wait_for_timeout(1500)
    assert ana.row("Cliente Perdido").count() == 0
    publisher(stack.env["REDIS_URL"], stack.env["REDIS_NAMESPACE"]).emit(
        "resync", None, namespace="/", room=f"queue:{desk_live.vendas.id}")
    ana.row("Cliente Perdido").wait_for(timeout=15000)


NOTIFICATION_RECORDER = """
    window.__notes = [];
    window.__beeps = 0;
    class RecordedNotification {
        constructor(title, options) { window.__notes.push({title: title, body: (options || {}).body}); }
        close() {}
    }
    RecordedNotification.permission = "granted";
    RecordedNotification.requestPermission = () => Promise.resolve("granted");
    window.Notification = RecordedNotification;
    const RealAudio = window.AudioContext;
    window.AudioContext = class extends RealAudio {
        createOscillator() { window.__beeps += 1; return super.createOscillator(); }
    };
"""


def test_sound_and_notification_for_new_waiting_tickets_and_messages_on_my_tickets(desk_live, agents):
    # Headless Chromium shows no notifications: the page's Notification and AudioContext are
    # wrapped to record what the screen asked for.
    ana = agents("ana@teste.com.br", NOTIFICATION_RECORDER)
    bruno = agents("bruno@teste.com.br", NOTIFICATION_RECORDER)
    notes = lambda agent: agent.page.evaluate("window.__notes")  # noqa: E731
    customer_writes(desk_live, desk_live.vendas, "Oi", name="Primeira Cliente", phone="5511966660001")
    ana.page.wait_for_function("() => window.__notes.length === 1")
    assert notes(ana) == [{"title": "Novo atendimento aguardando", "body": "Primeira Cliente"}]
    assert ana.page.evaluate("window.__beeps") == 1
    ana.tab("pending")
    ana.accept("Primeira Cliente")
    expect(ana.page.locator('.chat-tabs [data-tab="open"]')).to_have_class(re.compile(r"\bactive\b"))
    customer_writes(desk_live, desk_live.vendas, "Olá", name="Segunda Cliente", phone="5511966660002")
    ana.tab("pending")
    ana.row("Segunda Cliente").click()  # now she looks at another ticket
    ana.page.locator(".chat-msg.in", has_text="Olá").wait_for()
    customer_writes(desk_live, desk_live.vendas, "Alguém aí?", name="Primeira Cliente", phone="5511966660001")
    ana.page.wait_for_function("() => window.__notes.length === 3")
    assert notes(ana)[2] == {"title": "Nova mensagem · Primeira Cliente", "body": "Alguém aí?"}
    # Bruno is in Suporte: nothing of Vendas rang for him.
    assert notes(bruno) == [] and bruno.page.evaluate("window.__beeps") == 0
    assert bruno.page.locator("#chat-notify").is_hidden()


def test_history_has_day_separators_and_loads_older_messages(desk_live, agents, db):
    import datetime as dt
    from zoneinfo import ZoneInfo

    from app.models import Message, Ticket

    ana = agents("ana@teste.com.br")
    ana.tab("pending")
    customer_writes(desk_live, desk_live.vendas, "primeira mensagem", name="Cliente Antigo")
    ana.row("Cliente Antigo").wait_for()
    ticket = db.session.query(Ticket).one()
    # Days are São Paulo's (the screen's time zone): the moments are placed around its noon, so
    # that no message crosses a midnight whatever the hour of the run (from UTC "now", the 60
    # landed on the first message's day between 00:00 and 01:40 there).
    noon = dt.datetime.now(ZoneInfo("America/Sao_Paulo")).replace(hour=12, minute=0, second=0, microsecond=0)

    def stored(moment):  # naive UTC, as the database keeps moments
        return moment.astimezone(dt.timezone.utc).replace(tzinfo=None)

    # The conversation is in arrival (id) order: the first message is dated 11 days back, then
    # 60 from 10 days back, one from yesterday, one from now.
    db.session.query(Message).update({"created_at": stored(noon - dt.timedelta(days=11))})
    line = dict(ticket_id=ticket.id, connection_id=ticket.connection_id)
    db.session.add_all([Message(body=f"antiga {i}", created_at=stored(noon - dt.timedelta(days=10, minutes=100 - i)),
                                **line) for i in range(60)])
    db.session.add(Message(body="mensagem de ontem", created_at=stored(noon - dt.timedelta(days=1)), **line))
    db.session.add(Message(body="mensagem de hoje", created_at=stored(dt.datetime.now(dt.timezone.utc)), **line))
    db.session.commit()
    ana.row("Cliente Antigo").click()
    ana.page.locator(".chat-msg", has_text="mensagem de hoje").wait_for()
    days = ana.page.locator(".chat-day").all_inner_texts()
    assert len(days) == 3 and days[1:] == ["Ontem", "Hoje"] and re.match(r"\w+-?\w*, \d\d de \w+ de \d{4}", days[0])
    assert ana.page.locator(".chat-msg", has_text="primeira mensagem").count() == 0
    ana.page.click("#chat-older")
    ana.page.locator(".chat-msg", has_text="primeira mensagem").wait_for()
    assert ana.page.locator("#chat-older").is_hidden()
    assert ana.page.locator(".chat-msg.in").count() == 63
    assert len(ana.page.locator(".chat-day").all_inner_texts()) == 4


# Records, on every page load of the context, each Socket.IO event the chat page's own socket
# receives (window.__heard) and the address of every page loaded in the tab (sessionStorage
# survives a reload): `io` is wrapped as the vendored client defines it, before the chat script
# uses it.
SOCKET_RECORDER = """
    window.__heard = [];
    sessionStorage.setItem("__loads", JSON.stringify(
        JSON.parse(sessionStorage.getItem("__loads") || "[]").concat([location.href])));
    Object.defineProperty(window, "io", {
        configurable: true,
        set(real) {
            const wrapped = function () {
                const socket = real.apply(this, arguments);
                socket.onAny((event, payload) => window.__heard.push([event, payload]));
                return socket;
            };
            Object.assign(wrapped, real);
            Object.defineProperty(window, "io", {value: wrapped, writable: true, configurable: true});
        },
    });
"""


def loads(agent):
    """The addresses of the pages loaded in this agent's tab, in order."""
    return agent.page.evaluate("JSON.parse(sessionStorage.getItem('__loads'))")


def heard(agent, ticket_id):
    """The events this load of the page heard about a ticket: the ticket, its removal or one of
    its messages."""
    return agent.page.evaluate("""(ticketId) => window.__heard.filter(([event, p]) => {
        p = p || {};
        return ((p.ticket && p.ticket.id) || (p.message && p.message.ticket_id) || p.id) === ticketId;
    })""", ticket_id)


HEARD_MESSAGE = "(body) => window.__heard.some(([e, p]) => e === 'message' && p.message.body === body)"


def test_a_member_losing_a_queue_has_her_open_page_start_again_without_it(desk_live, agents, db):
    """An Admin takes Vendas away from Ana in the team screen: the server drops her sockets and her
    open chat page loads again by itself, with her new access: the Vendas ticket is gone from her
    list and from the conversation pane, and nothing of Vendas reaches her page any more."""
    from app.models import Ticket

    vendas_phone, suporte_phone = "5511977770001", "5511977770002"  # the two customers' phones
    ana = agents("ana@teste.com.br", SOCKET_RECORDER)
    sara = agents("sara@teste.com.br", SOCKET_RECORDER)
    admin = agents("admin@teste.com.br")
    sara.tab("pending")
    customer_writes(desk_live, desk_live.suporte, "Pedido de suporte", name="Cliente Suporte", phone=suporte_phone)
    sara.row("Cliente Suporte").wait_for()  # routed to Suporte before the connection's queue changes
    ana.tab("pending")
    customer_writes(desk_live, desk_live.vendas, "Quero um orçamento", name="Cliente Vendas", phone=vendas_phone)
    ana.row("Cliente Vendas").click()
    ana.page.locator(".chat-msg.in", has_text="Quero um orçamento").wait_for()
    assert ana.row("Cliente Suporte").count() == 0  # not hers yet
    vendas_ticket = db.session.query(Ticket.id).filter(Ticket.queue_id == desk_live.vendas.id).scalar()
    assert ana.page.url.endswith(f"/chat/?ticket={vendas_ticket}")
    assert heard(ana, vendas_ticket)  # the recorder hears her events
    loaded = len(loads(ana))
    ana.page.evaluate("window.__same_page = true")  # gone once the page is loaded again

    # The Admin edits Ana in the team screen: Vendas out, Suporte in (a User needs a queue).
    admin.page.goto(f"{desk_live.url}/team/edit/{desk_live.ana.id}")
    admin.page.locator(".select2-selection__choice", has_text="Vendas").locator(
        ".select2-selection__choice__remove").click()
    admin.page.locator(".select2-search__field").first.fill("Suporte")
    admin.page.keyboard.press("Enter")
    with admin.page.expect_navigation():
        admin.page.click("form button[type=submit]")
    assert not admin.page.locator(".alert-danger").count(), admin.page.inner_text(".alert-danger")
    db.session.expire_all()
    assert [q.name for q in desk_live.ana.queues] == ["Suporte"]

    # Her page loads again by itself (once), at the same address, with her new access.
    ana.page.wait_for_function("() => !window.__same_page", timeout=10000)
    ana.connected()
    assert loads(ana)[loaded:] == [f"{desk_live.url}/chat/?ticket={vendas_ticket}"]
    ana.page.locator("#chat-empty", has_text="não está mais disponível para você").wait_for()
    assert ana.page.locator("#chat-conversation").is_hidden()
    ana.tab("pending")
    ana.row("Cliente Suporte").wait_for()  # the list as the server now gives it to her
    assert ana.row("Cliente Vendas").count() == 0

    # A new message on the Vendas ticket: Sara (supervisor) hears it, Ana's page hears nothing of
    # it. Suporte is hers now: its next message, sent after, reaches her live.
    customer_writes(desk_live, desk_live.vendas, "Ainda em vendas", name="Cliente Vendas", phone=vendas_phone)
    sara.page.wait_for_function(HEARD_MESSAGE, arg="Ainda em vendas")
    customer_writes(desk_live, desk_live.suporte, "Agora é com a Ana", name="Cliente Suporte", phone=suporte_phone)
    ana.page.wait_for_function(HEARD_MESSAGE, arg="Agora é com a Ana")
    assert heard(ana, vendas_ticket) == []
    assert not ana.page.evaluate(HEARD_MESSAGE, "Ainda em vendas")
    assert ana.row("Cliente Vendas").count() == 0
    assert len(loads(ana)) == loaded + 1


def test_a_removed_member_has_her_open_page_end_at_the_login(desk_live, agents, db):
    """An Admin removes Ana in the team screen: her open chat page loads again by itself and, her
    session being of no member any more, ends at the login page."""
    from app.models import Member

    ana = agents("ana@teste.com.br", SOCKET_RECORDER)
    admin = agents("admin@teste.com.br")
    ana.page.evaluate("window.__same_page = true")
    loaded = len(loads(ana))
    admin.page.goto(f"{desk_live.url}/team/list/")
    admin.page.click(f'[id="btn-delete-/team/delete/{desk_live.ana.id}"]')
    with admin.page.expect_navigation():
        admin.page.click("#modal-confirm-ok")
    db.session.expire_all()
    assert db.session.query(Member).filter_by(email="ana@teste.com.br").count() == 0
    ana.page.wait_for_url(re.compile(r".*/login/.*"), timeout=10000)
    ana.page.locator("input[name=username]").wait_for()
    assert ana.page.evaluate("window.__same_page") is None
    assert len(loads(ana)) == loaded + 1 and "/login/" in loads(ana)[-1]


def test_a_member_on_another_web_process_has_her_page_start_again_too(desk_live, agents, stack, db):
    """Ana's page is served by a second web process; the Admin takes Vendas away from her through
    the REST API of the first one: the revocation crosses the Redis message queue and her page
    loads again by itself, without the Vendas ticket."""
    import requests

    from app.models import Ticket
    from tests.chat.test_socket import admin_token, wait_for

    other = stack.start_web(name="web2")
    ana = agents("ana@teste.com.br", SOCKET_RECORDER, url=other)
    customer_writes(desk_live, desk_live.suporte, "Pedido de suporte", name="Cliente Suporte")
    assert wait_for(lambda: db.session.query(Ticket).filter_by(queue_id=desk_live.suporte.id).count() == 1)
    ana.tab("pending")
    customer_writes(desk_live, desk_live.vendas, "Quero um orçamento", name="Cliente Vendas")
    ana.row("Cliente Vendas").wait_for()
    assert ana.row("Cliente Suporte").count() == 0
    ana.page.evaluate("window.__same_page = true")
    loaded = len(loads(ana))
    r = requests.put(f"{desk_live.url}/api/v1/team/{desk_live.ana.id}", json={"queues": [desk_live.suporte.id]},
                     headers=admin_token(desk_live.url), timeout=10)
    assert r.status_code == 200, r.text
    ana.page.wait_for_function("() => !window.__same_page", timeout=10000)
    ana.connected()
    assert loads(ana)[loaded:] == [f"{other}/chat/"]
    ana.tab("pending")
    ana.row("Cliente Suporte").wait_for()  # the list as the server now gives it to her
    assert ana.row("Cliente Vendas").count() == 0


def test_staff_tabs_stay_on_one_line_with_counts(desk_live, agents):
    """A supervisor has four tabs; with a count on Aguardando the label wrapped onto a second line
    (the tab bar grew taller and the count sat under the word)."""
    for n in range(3):
        desk_live.ticket(desk_live.vendas, name=f"Cliente {n}")
    sara = agents("sara@teste.com.br")
    page = sara.page
    expect(page.locator(".chat-tabs [data-count=pending]")).to_have_text("3")
    # The word and its count on the same line: the count starts above the word's bottom.
    word, count = page.eval_on_selector(".chat-tabs [data-tab=pending]", """b => {
        const range = document.createRange();
        range.selectNodeContents(b.firstChild);
        const w = range.getBoundingClientRect(), c = b.querySelector('.chat-count').getBoundingClientRect();
        return [[w.top, w.bottom], [c.top, c.bottom]];
    }""")
    assert count[0] < word[1], (word, count)
    bar = page.eval_on_selector(".chat-tabs", "e => [e.scrollWidth, e.clientWidth]")
    assert bar[0] <= bar[1], bar  # nothing cut off at the side


def test_an_agent_starts_a_conversation_and_writes_first(desk_live, agents, db):
    """Nova conversa: a wrong number is refused in Portuguese with the dialog still open; a right one
    opens the conversation in Atendendo with the agent, the composer ready; the supervisor sees it
    among all tickets; the agent corrects the contact's name and both lists show the new one."""
    from app.models import Message, Ticket

    sara, ana = agents("sara@teste.com.br"), agents("ana@teste.com.br")
    page = ana.page
    ana.tab("pending")
    page.click("#chat-new")
    expect(page.locator("#chat-new-dialog")).to_be_visible()
    expect(page.locator("#chat-new-queue")).to_have_count(0)  # one queue: nothing to choose
    page.fill("#chat-new-phone", "123")
    page.click("#chat-new-form [type=submit]")
    expect(page.locator("#chat-new-error")).to_contain_text("Digite um número de WhatsApp válido, com DDD")
    expect(page.locator("#chat-new-dialog")).to_be_visible()
    page.fill("#chat-new-phone", "(11) 98765-4321")
    page.fill("#chat-new-name", "Dona Rosa")
    ana.shot("nova-conversa")
    page.click("#chat-new-form [type=submit]")
    expect(page.locator("#chat-new-dialog")).to_be_hidden()
    expect(page.locator(".chat-tabs [data-tab=open]")).to_have_class(re.compile(r"\bactive\b"))
    expect(page.locator("#chat-contact-name")).to_have_text("Dona Rosa")
    expect(page.locator("#chat-contact-phone")).to_have_text("+55 (11) 98765-4321")
    expect(ana.row("Dona Rosa")).to_have_count(1)
    expect(page.locator("#chat-input")).to_be_focused()
    page.fill("#chat-input", "Olá, Dona Rosa! Aqui é a Ana.")
    page.click("#chat-send")
    expect(page.locator("#chat-message-list")).to_contain_text("Olá, Dona Rosa! Aqui é a Ana.")
    sara.tab("all")
    expect(sara.row("Dona Rosa")).to_have_count(1)
    # The contact's name is corrected from the conversation's header, live for the supervisor too.
    page.click("#chat-contact-edit")
    expect(page.locator("#chat-rename-name")).to_have_value("Dona Rosa")
    page.fill("#chat-rename-name", "Rosa da Floricultura")
    page.click("#chat-rename-form [type=submit]")
    expect(page.locator("#chat-rename-dialog")).to_be_hidden()
    expect(page.locator("#chat-contact-name")).to_have_text("Rosa da Floricultura")
    expect(ana.row("Rosa da Floricultura")).to_have_count(1)
    expect(sara.row("Rosa da Floricultura")).to_have_count(1)
    db.session.expire_all()
    ticket = db.session.query(Ticket).one()
    assert (ticket.status, ticket.user_id, ticket.queue_id) == ("open", desk_live.ids["ana"], desk_live.ids["vendas"])
    assert [m.body for m in db.session.query(Message).filter_by(ticket_id=ticket.id)] == ["Olá, Dona Rosa! Aqui é a Ana."]


def test_an_agent_works_on_a_phone_sized_screen(desk_live, agents):
    """390×844: the list takes the whole width; opening a ticket shows the conversation in its
    place (before, the list kept its 380 px and the conversation was squeezed to a few pixels),
    with the actions and the composer on screen; the back button brings the list again."""
    ana = agents("ana@teste.com.br", viewport={"width": 390, "height": 844})
    ana.tab("pending")
    customer_writes(desk_live, desk_live.vendas, "Estou no celular", name="Paula Celular")
    ana.row("Paula Celular").wait_for()
    assert ana.page.locator("#chat-tickets").bounding_box()["width"] >= 380
    ana.row("Paula Celular").click()
    ana.page.locator(".chat-msg.in", has_text="Estou no celular").wait_for()
    expect(ana.page.locator(".chat-side")).to_be_hidden()
    assert ana.page.locator(".chat-messages").bounding_box()["width"] >= 380
    ana.page.click("[data-action=accept]")
    composer = ana.page.locator("#chat-composer:not([hidden])")
    composer.wait_for()
    box = composer.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["y"] + box["height"] <= 844
    for action in ("transfer", "close"):
        button = ana.page.locator(f"[data-action={action}]").bounding_box()
        assert button["x"] + button["width"] <= 390, action
    assert ana.page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing sideways
    # The text box has a line of its own (it was squeezed to 109 px between the buttons).
    assert ana.page.locator("#chat-input").bounding_box()["width"] >= 340
    ana.page.fill("#chat-input", "Respondendo pelo celular")
    ana.page.press("#chat-input", "Enter")
    ana.page.locator(".chat-msg.out", has_text="Respondendo pelo celular").wait_for()
    ana.shot("phone-conversation")
    ana.page.click("#chat-back")
    expect(ana.page.locator(".chat-side")).to_be_visible()
    expect(ana.page.locator(".chat-main")).to_be_hidden()
    ana.row("Paula Celular").wait_for()
    ana.shot("phone-list")


def test_a_quick_reply_is_expanded_with_the_tickets_variables(desk_live, agents, db):
    """/ola expands in the composer to the text the customer will get: {{nome}} and {{atendente}}
    filled in (before, the customer received the braces)."""
    from app.models import QuickReply

    db.session.add(QuickReply(shortcut="ola", message="Olá, {{nome}}! Aqui é {{atendente}}, da {{fila}}."))
    db.session.commit()
    ana = agents("ana@teste.com.br")
    ana.tab("pending")
    customer_writes(desk_live, desk_live.vendas, "Oi", name="Rita Lemos")
    ana.accept("Rita Lemos")
    ana.page.type("#chat-input", "/ola")
    ana.page.locator("#chat-quick li", has_text="Rita Lemos").wait_for()
    ana.page.keyboard.press("Enter")
    expect(ana.page.locator("#chat-input")).to_have_value("Olá, Rita Lemos! Aqui é Ana, da Vendas.")
    ana.page.keyboard.press("Enter")
    ana.page.locator(".chat-msg.out", has_text="Olá, Rita Lemos! Aqui é Ana, da Vendas.").wait_for()


def test_a_shortcut_typed_before_the_quick_replies_arrive_shows_them_when_they_do(desk_live, agents, db):
    """The conversation's quick replies are fetched when it opens; an agent quick to type "/ola"
    (or a slow server) had an empty list then, and nothing drew it once they came (seen in a
    full run under load: the list never showed)."""
    from app.models import QuickReply

    db.session.add(QuickReply(shortcut="ola", message="Olá, {{nome}}!"))
    db.session.commit()
    ana = agents("ana@teste.com.br")
    ana.tab("pending")
    customer_writes(desk_live, desk_live.vendas, "Oi", name="Rita Rápida")
    held = []
    ana.page.route("**/chat/api/quick-replies*", lambda route: held.append(route))
    ana.accept("Rita Rápida")
    ana.page.type("#chat-input", "/ola")
    assert held and ana.page.locator("#chat-quick").is_hidden()
    for route in held:
        route.continue_()
    ana.page.locator("#chat-quick li", has_text="Olá, Rita Rápida!").wait_for()


def test_a_ticket_transferred_to_me_rings_and_one_i_accept_does_not(desk_live, agents):
    """Bruno hands his Suporte ticket to Ana: her screen rings and notifies (before, it only
    appeared in her Atendendo, silently); the ticket she accepts herself does not ring again."""
    ana = agents("ana@teste.com.br", NOTIFICATION_RECORDER)
    bruno = agents("bruno@teste.com.br")
    notes = lambda: ana.page.evaluate("window.__notes")  # noqa: E731
    customer_writes(desk_live, desk_live.vendas, "Oi", name="Cliente da Ana", phone="5511966660011")
    ana.page.wait_for_function("() => window.__notes.length === 1")  # a new waiting ticket in Vendas
    ana.tab("pending")
    ana.row("Cliente da Ana").click()
    ana.page.click("[data-action=accept]")
    expect(ana.page.locator('[data-count="open"]')).to_have_text("1")
    ana.page.wait_for_timeout(1000)
    assert len(notes()) == 1
    customer_writes(desk_live, desk_live.suporte, "Preciso de ajuda", name="Cliente do Bruno", phone="5511966660012")
    bruno.tab("pending")
    bruno.accept("Cliente do Bruno")
    bruno.page.click("[data-action=transfer]")
    bruno.page.select_option("#chat-transfer-user", label="Ana")
    bruno.page.click("#chat-transfer-form button[type=submit]")
    ana.page.wait_for_function("() => window.__notes.length === 2")
    assert notes()[1] == {"title": "Atendimento transferido para você", "body": "Cliente do Bruno"}
    ana.row("Cliente do Bruno").wait_for()
    expect(ana.page.locator('[data-count="open"]')).to_have_text("2")


def test_a_ticket_heard_while_the_list_loads_is_not_lost(desk_live, agents):
    """The list's answer was read before a customer wrote and arrives after the live event: the
    new ticket stays in the list (before, the late answer wiped it until the next reload)."""
    import time

    from app.workers.ingest import submit

    bruno = agents("bruno@teste.com.br")
    desk_live.connection.queues = [desk_live.suporte]
    desk_live.db.session.commit()
    payload = desk_live.engine.message(desk_live.connection, phone="5511966660021", name="Cliente do Meio",
                                       body="Cheguei no meio")

    def late_answer(route):
        answer = route.fetch()  # read now, before the ticket exists
        with desk_live.app.app_context():  # Playwright calls back in a greenlet of its own
            submit(payload)
        time.sleep(3)  # the worker stores it and the page hears the event
        route.fulfill(response=answer)

    bruno.page.route(re.compile(r".*/chat/api/tickets\?tab=pending.*"), late_answer)
    bruno.tab("pending")
    bruno.row("Cliente do Meio").wait_for(timeout=10000)
    bruno.page.unroute(re.compile(r".*/chat/api/tickets\?tab=pending.*"))
    bruno.page.wait_for_timeout(500)
    expect(bruno.row("Cliente do Meio")).to_have_count(1)
    expect(bruno.page.locator('[data-count="pending"]')).to_have_text("1")


def test_web_addresses_in_messages_are_links(desk_live, agents):
    """A customer's link opens in a new tab, as on WhatsApp (before, plain text to copy); only
    http(s) and www addresses, the sentence's punctuation left out, the text unchanged."""
    ana = agents("ana@teste.com.br")
    ana.tab("pending")
    body = "Veja https://exemplo.com.br/pedido?id=1&x=2. Ou www.loja.com.br! Não: javascript:alert(1) <b>oi</b>"
    customer_writes(desk_live, desk_live.vendas, body, name="Cliente do Link")
    ana.row("Cliente do Link").click()
    message = ana.page.locator(".chat-msg.in .chat-msg-body")
    message.wait_for()
    assert message.inner_text() == body
    links = message.locator("a")
    expect(links).to_have_count(2)
    assert links.nth(0).get_attribute("href") == "https://exemplo.com.br/pedido?id=1&x=2"
    assert links.nth(0).inner_text() == "https://exemplo.com.br/pedido?id=1&x=2"
    assert links.nth(1).get_attribute("href") == "http://www.loja.com.br"
    for i in range(2):
        assert links.nth(i).get_attribute("target") == "_blank"
        assert "noopener" in links.nth(i).get_attribute("rel")
    assert message.locator("b").count() == 0


def test_the_contacts_number_is_shown_as_people_write_it(desk_live, agents):
    """+55 (11) 98765-0002, not 5511987650002; a contact without a name (named by the number) is
    listed by it."""
    ana = agents("ana@teste.com.br")
    ana.tab("pending")
    customer_writes(desk_live, desk_live.vendas, "Oi", name="Cliente Número", phone="5511987650002")
    customer_writes(desk_live, desk_live.vendas, "Oi", name="", phone="551133334444")
    ana.row("Cliente Número").click()
    expect(ana.page.locator("#chat-contact-phone")).to_have_text("+55 (11) 98765-0002")
    ana.row("+55 (11) 3333-4444").click()
    expect(ana.page.locator("#chat-contact-name")).to_have_text("+55 (11) 3333-4444")


def test_the_transfer_dialog_lists_queues_and_agents_added_since_the_page_opened(desk_live, agents, factory):
    """An Admin adds a queue and a member while Ana works: her next transfer offers them (before,
    the first answer was kept until the page was reloaded)."""
    ana = agents("ana@teste.com.br")
    ana.tab("pending")
    customer_writes(desk_live, desk_live.vendas, "Oi", name="Cliente Transferível")
    ana.accept("Cliente Transferível")
    ana.page.click("[data-action=transfer]")
    expect(ana.page.locator("#chat-transfer-queue option")).to_have_count(3)
    ana.page.click("#chat-transfer [data-dismiss]")
    financeiro = factory.queue(name="Financeiro")
    factory.member("user", queues=[financeiro], email="fabio@teste.com.br", name="Fábio")
    ana.page.click("[data-action=transfer]")
    expect(ana.page.locator("#chat-transfer-queue option", has_text="Financeiro")).to_have_count(1)
    ana.page.select_option("#chat-transfer-queue", label="Financeiro")
    expect(ana.page.locator("#chat-transfer-user option")).to_have_text(["—", "Fábio"])


def test_a_voice_note_plays_in_the_conversation(desk_live, agents, app):
    """A customer's voice note ("audio/ogg; codecs=opus", as WhatsApp gives it) is a player in the
    conversation (before: a file link to download, for the most common media in Brazil)."""
    from pathlib import Path

    folder = Path(app.config["MEDIA_DIR"], "inbound")
    folder.mkdir(parents=True, exist_ok=True)
    Path(folder, "nota-de-voz.ogg").write_bytes(b"OggS" + b"0" * 200)
    ana = agents("ana@teste.com.br")
    ana.tab("pending")
    customer_writes(desk_live, desk_live.vendas, "", name="Cliente Áudio", type="audio",
                    media={"path": "inbound/nota-de-voz.ogg", "mime": "audio/ogg; codecs=opus", "name": "audio.ogg"})
    ana.row("Cliente Áudio").click()
    ana.page.locator(".chat-msg.in audio").wait_for()
    expect(ana.page.locator(".chat-msg.in .chat-file")).to_have_count(0)


HIDDEN_TAB = """
    let hidden = false;
    Object.defineProperty(document, "hidden", {get: () => hidden, configurable: true});
    Object.defineProperty(document, "visibilityState", {get: () => hidden ? "hidden" : "visible", configurable: true});
    window.__setHidden = (value) => { hidden = value; document.dispatchEvent(new Event("visibilitychange")); };
"""


def test_coming_back_to_the_tab_reads_what_arrived_meanwhile(desk_live, agents, db):
    """Ana's conversation with Maria is on screen but her browser tab is in the background when
    Maria writes: the message waits unread. Back to the tab, it is read: the badge goes and, with
    Confirmação de Leitura on, WhatsApp is told (before, it stayed unread until she clicked the
    conversation again or answered)."""
    from app.models import Ticket

    desk = desk_live
    desk.connection.read_receipts = True
    db.session.commit()
    ana = agents("ana@teste.com.br", HIDDEN_TAB)
    ana.tab("pending")
    customer_writes(desk, desk.vendas, "Oi", name="Maria Aba", phone="5511966662001")
    ana.accept("Maria Aba")
    desk.engine.commands(desk.connection)  # what opening and accepting told WhatsApp
    ana.page.evaluate("window.__setHidden(true)")
    customer_writes(desk, desk.vendas, "Ainda está aí?", name="Maria Aba", phone="5511966662001")
    ana.page.locator(".chat-msg.in", has_text="Ainda está aí?").wait_for()
    expect(ana.row("Maria Aba").locator(".chat-unread")).to_have_text("1")
    db.session.expire_all()
    assert db.session.query(Ticket).one().unread_count == 1
    ana.page.evaluate("window.__setHidden(false)")
    expect(ana.row("Maria Aba").locator(".chat-unread")).to_have_count(0)
    db.session.expire_all()
    assert db.session.query(Ticket).one().unread_count == 0
    assert {"op": "mark_read", "chat_id": "5511966662001@c.us"} in desk.engine.commands(desk.connection)


def test_coming_back_to_the_tab_reads_it_while_the_conversation_is_still_being_fetched(desk_live, agents, db):
    """The ticket event that brings the unread count makes the page fetch the conversation again;
    the member may come back to the tab before that answer. The count heard is enough to read it
    (before, the page looked only at the conversation's older copy, saw 0 and did nothing: the
    badge stayed, seen once in a full run)."""
    from app.models import Ticket

    desk = desk_live
    ana = agents("ana@teste.com.br", HIDDEN_TAB)
    ana.tab("pending")
    customer_writes(desk, desk.vendas, "Oi", name="Maria Atraso", phone="5511966662002")
    ana.accept("Maria Atraso")
    ticket_id = db.session.query(Ticket).one().id
    held = []
    ana.page.route(f"**/chat/api/tickets/{ticket_id}", lambda route: held.append(route))
    ana.page.evaluate("window.__setHidden(true)")
    customer_writes(desk, desk.vendas, "Ainda está aí?", name="Maria Atraso", phone="5511966662002")
    expect(ana.row("Maria Atraso").locator(".chat-unread")).to_have_text("1")
    for _ in range(200):  # the badge may be drawn a moment before the fetch goes out
        if held:
            break
        ana.page.wait_for_timeout(50)
    assert held, "the page fetches the conversation again after its ticket event"
    ana.page.evaluate("window.__setHidden(false)")
    expect(ana.row("Maria Atraso").locator(".chat-unread")).to_have_count(0)
    db.session.expire_all()
    assert db.session.query(Ticket).one().unread_count == 0
    for route in held:
        route.continue_()


def test_a_list_menu_shows_the_agent_the_options_the_customer_got(desk_live, agents, db):
    """Tipo Chatbot = list: the customer gets the greeting with a list of the queues (a WhatsApp
    list message). The conversation shows the agent those options under the text, with the list's
    button (before: only "Escolha o setor:" and, after a wrong answer, "Opção inválida. Por favor,
    escolha uma das opções abaixo:" with nothing below)."""
    from app.services.settings import get_settings

    desk = desk_live
    get_settings().chatbot_type = "list"
    desk.connection.queues = [desk.vendas, desk.suporte]
    desk.connection.greeting_message = "Olá! Escolha o setor:"
    db.session.commit()
    sara = agents("sara@teste.com.br")
    sara.tab("pending")
    desk.engine.deliver(desk.engine.message(desk.connection, phone="5511966663001", name="Lia Lista", body="Oi"))
    desk.engine.deliver(desk.engine.message(desk.connection, phone="5511966663001", name="Lia Lista", body="hã?"))
    sara.row("Lia Lista").click()
    menus = sara.page.locator(".chat-msg.out")
    expect(menus).to_have_count(2)
    for index in (0, 1):
        expect(menus.nth(index).locator(".chat-msg-options li")).to_have_text(["Vendas", "Suporte"])
        expect(menus.nth(index).locator(".chat-msg-options")).to_contain_text("Opções")
    expect(menus.nth(1)).to_contain_text("Opção inválida")


def png(width, height):
    """A real PNG of one colour (the page lays it out at its size once loaded)."""
    import struct
    import zlib

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + b"\x2e\x7d\x32" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


AT_THE_END = """() => {
    const s = document.getElementById('chat-messages');
    const img = document.querySelector('.chat-msg.in img');
    return img && img.complete && img.naturalHeight > 0 && s.scrollHeight - s.scrollTop - s.clientHeight < 5;
}"""


def test_a_conversation_ending_with_a_photo_opens_showing_it_whole(desk_live, agents, app):
    """The customer's last message is a photo with a caption: opening the conversation shows it
    whole, caption and time included (before, the view went to the end before the photo had
    loaded and grown, so it stayed hidden under the composer)."""
    from pathlib import Path

    folder = Path(app.config["MEDIA_DIR"], "inbound")
    folder.mkdir(parents=True, exist_ok=True)
    Path(folder, "comprovante.png").write_bytes(png(240, 420))
    desk = desk_live
    for n in range(12):
        customer_writes(desk, desk.vendas, f"Mensagem {n}", name="Cliente Foto", phone="5511966664001")
    customer_writes(desk, desk.vendas, "segue o comprovante", name="Cliente Foto", phone="5511966664001",
                    type="image", media={"path": "inbound/comprovante.png", "mime": "image/png", "name": "comprovante.png"})
    ana = agents("ana@teste.com.br")
    ana.tab("pending")
    ana.row("Cliente Foto").wait_for()
    expect(ana.row("Cliente Foto")).to_contain_text("segue o comprovante")
    ana.row("Cliente Foto").click()
    ana.page.wait_for_function(AT_THE_END, timeout=10000)
    expect(ana.page.locator(".chat-msg.in", has_text="segue o comprovante")).to_be_in_viewport(ratio=1)


def test_a_shared_location_opens_on_a_map(desk_live, agents):
    """A customer shares their location (WhatsApp gives latitude and longitude): the conversation
    shows a link that opens it on a map, with the coordinates (before: "-23.5613,-46.6565" as a
    plain text the agent had to copy into a map herself)."""
    ana = agents("ana@teste.com.br")
    ana.tab("pending")
    customer_writes(desk_live, desk_live.vendas, "-23.5613,-46.6565", name="Cliente Entrega", type="location")
    ana.row("Cliente Entrega").click()
    link = ana.page.locator(".chat-msg.in a", has_text="Localização (abrir o mapa)")
    expect(link).to_have_attribute("href", "https://www.google.com/maps/search/?api=1&query=-23.5613%2C-46.6565")
    expect(link).to_have_attribute("target", "_blank")
    expect(ana.page.locator(".chat-msg.in")).to_contain_text("-23.5613,-46.6565")


def test_a_late_ticket_event_does_not_undo_what_the_page_knows(desk_live, agents):
    """An event published before a change the page already knows of arrives after it (under load
    the answer to Ana's own accept came first): it would put the ticket back among the waiting
    ones and announce it a second time. The page keeps the newer state."""
    from app.models import Ticket
    from app.realtime import publisher
    from app.services import presenters

    ana = agents("ana@teste.com.br", NOTIFICATION_RECORDER)
    customer_writes(desk_live, desk_live.vendas, "Oi", name="Cliente Atrasado", phone="5511966660031")
    ana.page.wait_for_function("() => window.__notes.length === 1")
    ana.tab("pending")
    ana.row("Cliente Atrasado").click()
    ana.page.locator(".chat-msg.in", has_text="Oi").wait_for()
    desk_live.db.session.expire_all()
    ticket = desk_live.db.session.query(Ticket).one()
    stale = presenters.ticket_json(ticket)  # waiting: what an event published now says
    assert stale["status"] == "pending"
    ana.page.click("[data-action=accept]")
    expect(ana.page.locator('[data-count="open"]')).to_have_text("1")
    config = desk_live.app.config
    publisher(config["REDIS_URL"], config["REDIS_NAMESPACE"]).emit(
        "ticket", {"ticket": stale}, to=[f"queue:{desk_live.vendas.id}"], namespace="/")
    ana.page.wait_for_timeout(1500)
    assert ana.page.evaluate("window.__notes.length") == 1
    expect(ana.page.locator('[data-count="open"]')).to_have_text("1")


def viewing(agent, name):
    """The conversation with `name` on screen, its number in the address."""
    expect(agent.page.locator("#chat-contact-name")).to_have_text(name)
    expect(agent.page.locator(".chat-main")).to_be_visible()
    expect(agent.page).to_have_url(re.compile(r"/chat/\?ticket=\d+$"))


def on_the_list(agent):
    """The list on screen (a phone shows it instead of the conversation), the address the list's;
    the page not left nor loaded again (a mark put on it is still there)."""
    expect(agent.page.locator(".chat-side")).to_be_visible()
    expect(agent.page.locator("#chat-conversation")).to_be_hidden()
    expect(agent.page).to_have_url(re.compile(r"/chat/$"))
    assert agent.page.evaluate("window.sameChatPage") is True, "the page was left or loaded again"


def test_back_and_forward_move_between_the_list_and_a_conversation_on_a_phone(desk_live, agents):
    """390×844. QA: opening a conversation only replaced the address, so the phone's Back left the
    help desk (to the login's redirect) instead of closing the conversation. Now Back brings the
    list, as "Voltar à lista" does, and Forward the conversation again; "Voltar à lista" leaves no
    entry behind (Back from the list leaves the page, as before any conversation was opened)."""
    customer_writes(desk_live, desk_live.vendas, "Oi, pelo celular", name="Paula Celular")
    ana = agents("ana@teste.com.br", viewport={"width": 390, "height": 844})
    page = ana.page
    page.evaluate("window.sameChatPage = true")
    ana.tab("pending")
    start = page.evaluate("history.length")
    ana.row("Paula Celular").click()
    viewing(ana, "Paula Celular")
    page.go_back()
    on_the_list(ana)
    page.go_forward()
    viewing(ana, "Paula Celular")
    page.locator(".chat-msg.in", has_text="Oi, pelo celular").wait_for()
    page.go_back()
    on_the_list(ana)
    ana.row("Paula Celular").click()  # again: the entry Forward had is replaced, not added to
    viewing(ana, "Paula Celular")
    page.click("#chat-back")
    on_the_list(ana)
    assert page.evaluate("history.length") == start + 1
    page.go_forward()  # the conversation "Voltar à lista" came back from
    viewing(ana, "Paula Celular")


def test_switching_conversations_keeps_one_entry_and_the_address_reopens_it(desk_live, agents):
    """1366 px: going from one conversation to another replaces its entry (Back is the list in one
    step, not every conversation seen); a reload of ?ticket=N opens it, and Back is still the list;
    so is Back from a conversation reached by its address."""
    for name in ("Rita Um", "Caio Dois", "Lia Três"):
        customer_writes(desk_live, desk_live.vendas, "Bom dia", name=name)
    ana = agents("ana@teste.com.br")
    page = ana.page
    ana.tab("pending")
    ana.row("Lia Três").wait_for()
    start = page.evaluate("history.length")
    for name in ("Rita Um", "Caio Dois", "Lia Três", "Caio Dois"):
        ana.row(name).click()
        viewing(ana, name)
    assert page.evaluate("history.length") == start + 1
    address = page.url
    page.reload()
    ana.connected()
    viewing(ana, "Caio Dois")
    assert page.url == address
    page.go_back()
    expect(page).to_have_url(re.compile(r"/chat/$"))
    ana.connected()
    expect(page.locator("#chat-conversation")).to_be_hidden()
    expect(page.locator("#chat-empty")).to_be_visible()
    page.goto(address)  # by its address (a link, typed)
    ana.connected()
    viewing(ana, "Caio Dois")
    page.evaluate("window.sameChatPage = true")
    page.go_back()
    on_the_list(ana)
    page.go_forward()
    viewing(ana, "Caio Dois")
