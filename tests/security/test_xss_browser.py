"""Hostile text in every field a member or a customer can type, shown in a real Chromium: it must
stay text. Every value is stored through the path that stores it in real life (the REST API and the
admin forms for what the team types, the ingest job for what customers type, the chat screen for
what agents type), then every screen that shows it is opened, with a dialog handler, and checked:
- no payload ran: no dialog, and the global each payload would set (`window.__xss`) is unset;
- no payload became markup: no element carries an event handler, script or `javascript:` URL
  made of it;
- the text is shown literally (not silently dropped, not double-escaped, templates not evaluated):
  in the page's text, or as the value of the form field that edits it.

Each payload carries its own number, so a failure names the field it came from."""
import re
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

import pytest
import requests

from tests.conftest import ADMIN_EMAIL, PASSWORD, ROOT, Api, browser_login

pytestmark = [pytest.mark.browser, pytest.mark.slow]


class Payloads:
    """Numbered payloads of several shapes; `where(n)` names the field that holds payload n."""

    def __init__(self):
        self.fields: dict[int, str] = {}

    def _n(self, field):
        n = len(self.fields) + 1
        self.fields[n] = field
        return n

    def where(self, n):
        return self.fields.get(n, f"#{n}") if isinstance(n, int) else repr(n)

    # Names (64 characters at most, one line).
    def tag(self, field):  # leaves the attribute and injects elements
        n = self._n(field)
        return f"'\"><img src=x onerror=__xss={n}><svg onload=alert({n})>{{{{7*7}}}}"

    def script(self, field):  # leaves a <script> block (the chat's JSON boot data)
        n = self._n(field)
        return f"</script><script>__xss={n}</script>${{7*7}}{{{{7*7}}}}"

    def attr(self, field):  # inside a tag: new attributes that fire by themselves (in text: an <img>)
        n = self._n(field)
        return f"\" autofocus onfocus=\"__xss={n}\" x='<img src=x onerror=alert({n})>"

    def url(self, field):  # a field that might become a link
        n = self._n(field)
        return f"javascript:__xss={n}//{{{{7*7}}}}"

    def text(self, field):  # free text (messages): every shape, on several lines
        n = self._n(field)
        return (f"Olá '\"><img src=x onerror=__xss={n}> e <svg onload=alert({n})>\n"
                f"</textarea></script><script>__xss={n}</script> {{{{7*7}}}} ${{7*7}} <%= 7*7 %>\n"
                f"\" autofocus onfocus=\"__xss={n}\" x=' onmouseover='alert({n})\n"
                f"javascript:__xss={n}// <a href=\"javascript:alert({n})\">link</a>")

    def template(self, field):  # a message template: free text, but {{...}} only for the variables there are
        # (templates.check refuses "{{7*7}}" when saved); other template languages' shapes stay
        return self.text(field).replace("{{7*7}}", "{7*7} #{7*7}")


# What the page holds: the marker (dialogs are collected by the handler); markup built from a payload
# (an on* attribute with a payload's code, a payload's own <script> block, its <img src=x>, any
# javascript: URL); the text shown; the values of form fields (select options: their text).
SCAN = r"""() => {
  const code = /__xss|alert\(/;
  const bad = [];
  for (const el of document.querySelectorAll("*")) {
    for (const a of el.attributes) {
      const name = a.name.toLowerCase();
      if (name.startsWith("on") && code.test(a.value)) bad.push(el.tagName + " " + name + "=" + a.value);
      if (["href", "src", "action", "formaction", "xlink:href", "data"].includes(name)
          && /^\s*javascript:/i.test(a.value)) bad.push(el.tagName + " " + name + "=" + a.value);
    }
    // (a payload inside a script's string literal, JSON-escaped, is text: only a payload's own block counts)
    if (el.tagName === "SCRIPT" && /^\s*(__xss|alert\()/.test(el.textContent)) bad.push("SCRIPT " + el.textContent);
    if (el.tagName === "IMG" && el.getAttribute("src") === "x") bad.push("IMG src=x");
  }
  const values = [];
  for (const f of document.querySelectorAll("input, textarea")) values.push(f.value);
  for (const o of document.querySelectorAll("option")) values.push(o.textContent);
  return {marker: window.__xss === undefined ? null : window.__xss, bad: bad,
          text: document.body.innerText, values: values};
}"""


def squash(text):
    return re.sub(r"\s+", " ", text or "").strip()


class Screen:
    """One Chromium page, reused for every screen; any dialog fails the test."""

    def __init__(self, page, url, payloads):
        self.page, self.url, self.payloads = page, url, payloads
        self.dialogs, self.errors = [], []
        page.on("dialog", lambda d: (self.dialogs.append((page.url, d.message)), d.dismiss()))
        page.on("pageerror", lambda e: self.errors.append((page.url, str(e))))

    def visit(self, path, shown=(), values=()):
        self.page.goto(self.url + path, wait_until="load")
        self.check(path, shown, values)

    def check(self, where, shown=(), values=()):
        state = self.page.evaluate(SCAN)
        ran = state["marker"]
        assert ran is None, f"{where}: the payload of {self.payloads.where(ran)} ran"
        assert self.dialogs == [], f"{where}: dialogs {self.dialogs}"
        assert state["bad"] == [], f"{where}: markup made of a payload: {state['bad']}"
        text = squash(state["text"])
        for value in shown:
            assert squash(value) in text, f"{where}: not shown literally: {value!r}"
        field_values = [squash(v) for v in state["values"]]
        for value in values:
            assert squash(value) in field_values, f"{where}: no form field holds {value!r}"

    def save_form(self):
        """Submit the form as shown (the caller compares what is stored afterwards), then check the
        screen it leads to."""
        where = self.page.url
        with self.page.expect_navigation():
            self.page.click("form button[type=submit]")
        assert not self.page.locator(".alert-danger").count(), f"{where}: {self.page.inner_text('.alert-danger')}"
        self.check(f"after saving {where}")

    def wait_text(self, text, within="body"):
        """Until the page shows `text` (whitespace squashed) in the element `within` (a selector);
        if it never does, check() says why."""
        from playwright.sync_api import TimeoutError

        try:
            self.page.wait_for_function(
                "([t, within]) => { const box = document.querySelector(within);"
                " return !!box && box.innerText.replace(/\\s+/g, ' ').includes(t); }",
                arg=[squash(text), within], timeout=10000)
        except TimeoutError:
            self.check(f"{self.page.url}, waiting for {text[:40]!r}", [text])
            raise


class LiveServer:
    """The live web process over HTTP, shaped like Flask's test client for tests.conftest.Api."""

    def __init__(self, url):
        self.url, self.http = url, requests.Session()

    def get(self, path, **kw):
        return self.http.get(self.url + path, timeout=30, **kw)

    def post(self, path, **kw):
        return self.http.post(self.url + path, timeout=30, **kw)

    def put(self, path, **kw):
        return self.http.put(self.url + path, timeout=30, **kw)


@pytest.fixture
def live(stack, app, db):
    stack.start_web()
    return stack


def typed_text(db):
    """Every stored text the team or customers typed, by table and column (round trips keep it)."""
    from app.models import (Connection, Contact, Member, Message, QuickReply, Queue, RatingOption,
                            RatingTemplate, Settings)

    columns = {Connection: ("name", "greeting_message", "completion_message", "out_of_hours_message",
                            "status_reason", "phone"),
               Queue: ("name", "color", "greeting_message", "out_of_hours_message"),
               Member: ("first_name", "last_name", "email", "phone"),
               Contact: ("name", "phone"), Message: ("body", "media_name", "sender_name", "error"),
               RatingTemplate: ("name", "message"), RatingOption: ("label",), QuickReply: ("shortcut", "message"),
               Settings: ("external_rating_url", "call_rejection_message", "operator_greeting_text",
                          "transfer_message_text", "operator_farewell_text", "timezone")}
    db.session.expire_all()
    # (a rating's options are written again when the rating is saved: they are known by their value)
    key = lambda row: (row.template_id, row.value) if isinstance(row, RatingOption) else row.id  # noqa: E731
    return {(model.__tablename__, key(row)): tuple(getattr(row, c) for c in cols)
            for model, cols in columns.items() for row in db.session.query(model)}


def test_typed_text_is_inert_and_literal_on_every_screen(live, browser, app, db):
    from app.models import Connection, Member, Ticket
    from app.services import connections
    from tests.engine.conftest import Engine

    P = Payloads()
    server = LiveServer(live.url)
    login = server.post("/api/v1/security/login",
                        json={"username": ADMIN_EMAIL, "password": PASSWORD, "provider": "db"})
    api = Api(server, login.json()["access_token"])
    d = SimpleNamespace(P=P, app=app, db=db, engine=Engine(app, db, None))

    def ok(response):
        assert response.status_code in (200, 201), response.text
        return response.json()

    def refused(response):
        assert response.status_code == 422, response.text

    # ---- What the team types: the REST API (the forms are submitted again below) --------------
    d.q1 = {"name": P.tag("queue.name"), "color": "#12AB34", "bot_order": 1,
            "greeting_message": P.template("queue.greeting_message"),
            "out_of_hours_message": P.template("queue.out_of_hours_message"),
            "hours": [{"weekday": 0, "start": "08:00", "end": "18:00"}]}
    d.q2 = {"name": P.script("queue 2.name"), "color": "#AB1234", "bot_order": 2,
            "greeting_message": P.template("queue 2.greeting_message")}
    for q in (d.q1, d.q2):
        q["id"] = ok(api.post("/api/v1/queue/", json=q))["id"]
    # A colour is written into style attributes: only #RRGGBB is taken.
    refused(api.post("/api/v1/queue/", json={"name": "Cor", "color": "red;background:url(javascript:alert(1))"}))
    refused(api.post("/api/v1/queue/", json={"name": "Cor", "color": '#1"><b>'}))
    d.conn = {"name": P.attr("connection.name"), "greeting_message": P.template("connection.greeting_message"),
              "completion_message": P.template("connection.completion_message"),
              "out_of_hours_message": P.template("connection.out_of_hours_message"),
              "queues": [d.q1["id"], d.q2["id"]]}
    d.conn["id"] = ok(api.post("/api/v1/connection/", json=d.conn))["id"]
    # The logged-in Admin's own name is in the navbar of every screen.
    d.admin_name = P.tag("member (the logged-in Admin).name")
    admin_id = db.session.query(Member.id).filter_by(email=ADMIN_EMAIL).scalar()
    ok(api.put(f"/api/v1/team/{admin_id}", json={"name": d.admin_name}))
    # An e-mail may hold quotes and braces (not <>): it is a login, shown in lists and forms.
    d.agent = {"name": P.attr("member.name"), "email": "{{7*7}}'x=a@teste.com.br", "password": PASSWORD,
               "profile": "user", "queues": [d.q1["id"], d.q2["id"]], "default_connection": d.conn["id"]}
    d.agent["id"] = ok(api.post("/api/v1/team/", json=d.agent))["id"]
    refused(api.post("/api/v1/team/", json=dict(d.agent, email="b@teste.com.br", phone="<b>5511</b>")))
    d.rating = {"name": P.script("rating.name"), "message": P.template("rating.message"),
                "options": [{"value": 1, "label": P.tag("rating option 1.label")},
                            {"value": 2, "label": P.attr("rating option 2.label")}]}
    d.rating["id"] = ok(api.post("/api/v1/rating/", json=d.rating))["id"]
    d.labels = [o["label"] for o in d.rating["options"]]
    # A shortcut is one word without spaces or "/": markup without attributes still fits.
    d.quick = {"shortcut": "x\"'><b>{{7*7}}<i>", "message": P.template("quick reply.message")}
    d.quick["id"] = ok(api.post("/api/v1/quick_reply/", json=d.quick))["id"]
    # The one link field refuses what is not a web address; a web address full of markup is text.
    refused(api.put("/api/v1/settings/", json={"external_rating_url": "javascript:alert(1)"}))
    refused(api.put("/api/v1/settings/", json={"external_rating_url": " JavaScript:alert(1)//http://x"}))
    d.settings = {
        "send_ratings": True, "default_rating_template": d.rating["id"], "chatbot_type": "list",
        "external_rating_url": "https://avaliar.test/?q=" + P.tag("settings.external_rating_url").replace(" ", "/").replace("{{7*7}}", "{7*7}"),
        "ignore_group_messages": False, "accept_calls": False,
        "call_rejection_message": P.template("settings.call_rejection_message"),
        "operator_greeting": True,
        "operator_greeting_text": P.template("settings.operator_greeting_text") + " {{nome}} {{atendente}}",
        "transfer_message": True, "transfer_message_text": P.template("settings.transfer_message_text") + " {{fila}}",
        "operator_farewell": True, "operator_farewell_text": P.template("settings.operator_farewell_text")}
    ok(api.put("/api/v1/settings/", json=d.settings))
    # What the channel reports about the session (the bridge's path): a reason, the paired number.
    d.reason = P.text("connection.status_reason")[:255]
    connections.set_status(d.conn["id"], "DISCONNECTED", reason=d.reason, phone="<b>9</b>{{7*7}}")
    db.session.commit()
    d.phone = db.session.get(Connection, d.conn["id"]).phone
    assert d.phone == "977", d.phone  # a number keeps its digits only

    # ---- What customers type: the ingest job (inbox + RQ job), as the bridge submits it ---------
    d.connection = db.session.get(Connection, d.conn["id"])
    # The chat shows the number as +55 (11) 90000-0001 (the_chat below).
    d.customer = {"phone": "5511900000001", "name": P.tag("contact.name (WhatsApp push name)")}
    d.say = lambda body, **kw: d.engine.submit_and_drain(d.engine.message(  # noqa: E731
        d.connection, phone=d.customer["phone"], name=d.customer["name"], body=body, **kw))
    d.say("oi")  # the chatbot menu (a list whose rows are the queue names)
    d.say(d.q1["name"], type="list_reply", selected_id=f"queue:{d.q1['id']}")
    d.body_in = P.text("inbound message.body")
    d.say(d.body_in)
    d.body_url = P.url("inbound message.body (a bare URL)")
    d.say(d.body_url)
    media_dir = Path(app.config["MEDIA_DIR"]) / "inbound"
    media_dir.mkdir(parents=True, exist_ok=True)
    (media_dir / "doc.pdf").write_bytes(b"%PDF-1.4 teste")
    (media_dir / "foto.png").write_bytes((ROOT / "docs" / "screenshots" / "chat.png").read_bytes())
    d.doc_name, d.caption = P.tag("inbound document.name") + ".pdf", P.text("inbound document.caption")
    d.say(d.caption, type="document", media={"path": "inbound/doc.pdf", "mime": "application/pdf", "name": d.doc_name})
    # A file the customer calls a web page: never served as one (it would run on our origin).
    (media_dir / "pagina.html").write_text(f"<script>__xss={P._n('inbound file served back')}</script>")
    d.say("", type="document", media={"path": "inbound/pagina.html", "mime": "text/html", "name": "pagina.html"})
    d.image_name = P.attr("inbound image.name")
    d.say("", type="image", media={"path": "inbound/foto.png", "mime": "image/png", "name": d.image_name})
    d.engine.submit_and_drain(d.engine.call(d.connection, phone=d.customer["phone"], name=d.customer["name"]))
    d.group = {"name": P.script("group contact.name (group subject)"),
               "sender": P.attr("group message.sender_name"), "body": P.text("group message.body")}
    d.engine.submit_and_drain(d.engine.group_message(d.connection, group_name=d.group["name"], name=d.group["sender"],
                                                     body=d.group["body"]))
    d.ticket = db.session.query(Ticket).join(Ticket.contact).filter_by(phone=d.customer["phone"]).one()
    assert d.ticket.queue_id == d.q1["id"], "the customer's choice of queue was not understood"
    d.group_ticket = db.session.query(Ticket).filter_by(is_group=True).one()
    stored = typed_text(db)

    context = browser.new_context(locale="pt-BR", timezone_id="America/Sao_Paulo",
                                  viewport={"width": 1366, "height": 900})
    page = context.new_page()
    screen = Screen(page, live.url, P)
    try:
        browser_login(page, live.url + "/login/?next=" + quote("javascript:__xss='login next'"))
        page.wait_for_url(re.compile(r".*/chat/.*"))
        screen.check("the chat screen, where the login lands", [d.admin_name])
        admin_screens(screen, d)
        # Every edit form was submitted as shown: nothing changed, nothing was added.
        assert typed_text(db) == stored
        admin_forms_typed(screen, d)
        chat_screen(screen, d)
        assert screen.errors == [], screen.errors
    finally:
        context.close()


def admin_screens(screen, d):
    nav = [d.admin_name]  # the navbar shows the logged-in member's name on every screen
    conn, q1, q2, agent, rating, quick = d.conn, d.q1, d.q2, d.agent, d.rating, d.quick
    conn_texts = [conn[k] for k in ("greeting_message", "completion_message", "out_of_hours_message")]

    screen.visit("/connections/list/", nav + [conn["name"], d.phone])
    screen.visit(f"/connections/show/{conn['id']}", nav + [conn["name"], q1["name"], q2["name"], d.reason, d.phone]
                 + conn_texts)
    screen.visit(f"/connections/edit/{conn['id']}", nav, [conn["name"], q1["name"], q2["name"]] + conn_texts)
    screen.save_form()
    screen.check("the connection list after saving", [conn["name"]])
    screen.visit("/connections/add", nav, [q1["name"], q2["name"]])
    screen.visit(f"/connections/qr/{conn['id']}", nav + [conn["name"], d.reason, d.phone])
    with screen.page.expect_response(lambda response: "/state" in response.url):
        pass  # the page's own refresh (it writes what it fetched into the page)
    screen.page.wait_for_load_state("networkidle")
    screen.check("the QR page after its refresh", [conn["name"], d.reason, d.phone])

    q_texts = [q1["greeting_message"], q1["out_of_hours_message"]]
    screen.visit("/queues/list/", nav + [q1["name"], q2["name"], q1["color"]])
    screen.visit(f"/queues/show/{q1['id']}", nav + [q1["name"]] + q_texts)
    screen.visit(f"/queues/edit/{q1['id']}", nav, [q1["name"]] + q_texts)
    screen.save_form()
    # A refused form comes back with what was typed, and a message that names it.
    screen.visit("/queues/add", nav)
    screen.page.fill("input[name=name]", q1["name"])
    screen.page.fill("textarea[name=greeting_message]", q1["greeting_message"])
    screen.page.click("form button[type=submit]")
    screen.page.wait_for_load_state("load")
    screen.check("the refused queue form", [q1["name"]], [q1["name"], q1["greeting_message"]])
    # A list filtered by a hostile search (the value comes from the URL: reflected).
    search = d.P.tag("queue list search (URL)")
    screen.visit("/queues/list/?_flt_0_name=" + quote(search), nav, [search])

    team = [agent["name"], agent["email"], q1["name"], q2["name"]]
    screen.visit("/team/list/", nav + team)
    screen.visit(f"/team/show/{agent['id']}", nav + team + [conn["name"]])
    screen.visit(f"/team/edit/{agent['id']}", nav, [agent["name"], agent["email"], q1["name"], conn["name"]])
    screen.page.click(".select2-container >> nth=0")  # the queue picker opens: its items are names
    screen.check("the member form's open queue picker", [q1["name"], q2["name"]])
    screen.page.keyboard.press("Escape")
    screen.save_form()
    screen.visit("/team/add", nav, [q1["name"], conn["name"]])
    screen.visit("/team/userinfo/", nav)
    screen.page.click("a[href*=userinfoedit]")
    screen.page.wait_for_load_state("load")
    screen.check("the own-profile form", nav, [d.admin_name])

    screen.visit("/ratings/list/", nav + [rating["name"]] + d.labels)
    screen.visit(f"/ratings/show/{rating['id']}", nav + [rating["name"], rating["message"]] + d.labels)
    screen.visit(f"/ratings/edit/{rating['id']}", nav, [rating["name"], rating["message"]])
    screen.save_form()

    screen.visit("/quick_replies/list/", nav + [quick["shortcut"], quick["message"]])
    screen.visit(f"/quick_replies/show/{quick['id']}", nav + [quick["shortcut"], quick["message"]])
    screen.visit(f"/quick_replies/edit/{quick['id']}", nav, [quick["shortcut"], quick["message"]])
    screen.save_form()

    texts = [d.settings[k] for k in ("call_rejection_message", "operator_greeting_text", "transfer_message_text",
                                     "operator_farewell_text", "external_rating_url")]
    screen.visit("/settings/form", nav, texts + [rating["name"]])
    screen.save_form()
    screen.check("the options after saving", nav, texts)


def admin_forms_typed(screen, d):
    """What an Admin types into the add forms (a rating's options are only parsed from its form's
    text) is stored as typed and shown as text."""
    from app.models import QuickReply, RatingTemplate

    page, P = screen.page, d.P
    rating = {"name": P.attr("rating (typed in the form).name"), "message": P.template("rating (form).message"),
              "labels": [P.tag("rating (form) option 1.label"), P.script("rating (form) option 2.label")]}
    screen.visit("/ratings/add", [d.admin_name])
    page.fill("input[name=name]", rating["name"])
    page.fill("textarea[name=message]", rating["message"])
    page.fill("textarea[name=options]", f"1 - {rating['labels'][0]}\n2 - {rating['labels'][1]}")
    screen.save_form()
    template = d.db.session.query(RatingTemplate).filter_by(name=rating["name"]).one()
    assert template.message == rating["message"] and [o.label for o in template.options] == rating["labels"]
    screen.visit(f"/ratings/show/{template.id}", [rating["name"], rating["message"]] + rating["labels"])
    quick = {"shortcut": "y\"'><b>{{7*7}}<i>", "message": P.template("quick reply (typed in the form).message")}
    screen.visit("/quick_replies/add", [d.admin_name])
    page.fill("input[name=shortcut]", quick["shortcut"])
    page.fill("textarea[name=message]", quick["message"])
    screen.save_form()
    assert d.db.session.query(QuickReply.message).filter_by(shortcut=quick["shortcut"]).scalar() == quick["message"]
    screen.visit("/quick_replies/list/", [quick["shortcut"], quick["message"]])
    d.quick_typed = quick


CONVERSATION = "#chat-message-list"  # (the list's previews repeat the last message)


def chat_screen(screen, d):
    from app.models import Message
    from app.services import outbound
    from app.services.attachments import clean_name
    from app.workers.publish import publish

    page, P, customer, group = screen.page, d.P, d.customer, d.group
    screen.visit(f"/chat/?ticket={d.ticket.id}")
    page.wait_for_function("() => document.getElementById('chat-banner').hidden", timeout=15000)
    page.click(".chat-tabs [data-tab=all]")
    page.locator(f'.chat-ticket[data-id="{d.group_ticket.id}"]').wait_for()
    screen.wait_text(d.caption, CONVERSATION)
    screen.check("the chat: list, queue filter, conversation, contact panel",
                 [d.admin_name, customer["name"], "+55 (11) 90000-0001", group["name"], d.q1["name"], d.q2["name"],
                  d.conn["greeting_message"], d.body_in, d.body_url, d.doc_name, d.caption,
                  d.settings["call_rejection_message"]])
    hrefs = page.eval_on_selector_all("#chat a", "links => links.map(a => a.getAttribute('href'))")
    assert hrefs and all(h.startswith("/chat/media/") for h in hrefs), hrefs
    page_link = page.locator(".chat-msg.in a.chat-file", has_text="pagina.html").get_attribute("href")
    served = page.request.get(screen.url + page_link)
    assert served.ok and served.headers["content-type"] == "application/octet-stream", served.headers
    assert served.headers["content-disposition"].startswith("attachment"), served.headers
    assert "sandbox" in served.headers["content-security-policy"], served.headers
    assert page.locator(".chat-msg.in img").get_attribute("alt") == d.image_name
    assert page.locator(".chat-msg.in a.chat-file", has_text=".pdf").get_attribute("download") == d.doc_name
    # The search box: what is typed is sent as a query and the list it brings is text.
    page.fill("#chat-search", customer["name"])
    page.locator(".chat-ticket").first.wait_for()
    page.wait_for_function("() => document.querySelectorAll('.chat-ticket').length === 1")
    screen.check("the list searched by a hostile name", [customer["name"]])
    page.fill("#chat-search", "")
    page.wait_for_function("() => document.querySelectorAll('.chat-ticket').length === 2")

    # Accept: the operator greeting is built from its template with the contact's and agent's names.
    page.click("[data-action=accept]")
    page.locator("#chat-composer:not([hidden])").wait_for()
    greeting = d.settings["operator_greeting_text"].replace("{{nome}}", customer["name"]).replace(
        "{{atendente}}", d.admin_name)
    screen.wait_text(greeting, CONVERSATION)
    screen.check("the greeting sent on accept", [greeting])

    # The agent types: a message, a file with a hostile name, a quick reply.
    typed = P.text("agent's message (chat composer)")
    page.fill("#chat-input", typed)
    page.press("#chat-input", "Enter")
    screen.wait_text(typed, CONVERSATION)
    upload_name = P.attr("agent's upload.name").replace("\"", "'") + " {{7+7}}.pdf"
    page.set_input_files("#chat-file", files=[{"name": upload_name, "mimeType": "application/pdf",
                                               "buffer": b"%PDF-1.4 anexo"}])
    page.locator("#chat-file-confirm[open]").wait_for()
    screen.check("the file about to be sent", [upload_name])
    page.click("#chat-file-form button[type=submit]")
    upload_name = clean_name(upload_name)  # stored without <>:"/\\|?*: what is left must stay text
    page.locator(".chat-msg.out a.chat-file", has_text="7+7").wait_for()
    page.type("#chat-input", "/")
    page.locator("#chat-quick li").first.wait_for()
    screen.check("the quick replies popup", [typed, upload_name, "/" + d.quick["shortcut"], d.quick["message"],
                                             "/" + d.quick_typed["shortcut"], d.quick_typed["message"]])
    page.keyboard.press("Enter")
    assert page.input_value("#chat-input") == d.quick["message"]  # the reply goes in as typed
    page.fill("#chat-input", "")

    # A message that failed shows the channel's error.
    failed = d.db.session.query(Message).filter(Message.ticket_id == d.ticket.id, Message.from_me.is_(True),
                                                Message.body == typed.strip()).one()
    error = P.text("failed message.error")
    publish(outbound.mark_failed(failed.id, error), d.app)
    screen.wait_text(error, CONVERSATION)
    # A customer writes while the conversation is open (the live Socket.IO path).
    live_body = P.text("inbound message.body (live)")
    d.say(live_body)
    screen.wait_text(live_body, CONVERSATION)
    screen.check("a failed message and a live inbound one", [error, live_body])

    # Transfer dialog: queue and agent names in its lists; the transfer message names the queue.
    page.click("[data-action=transfer]")
    page.locator("#chat-transfer-user option", has_text=d.agent["name"][:10]).wait_for(state="attached")
    screen.check("the transfer dialog", [], [d.q2["name"], d.agent["name"]])
    page.select_option("#chat-transfer-queue", str(d.q2["id"]))
    page.select_option("#chat-transfer-user", str(d.agent["id"]))
    page.click("#chat-transfer-form button[type=submit]")
    transfer = d.settings["transfer_message_text"].replace("{{fila}}", d.q2["name"])
    screen.wait_text(transfer, CONVERSATION)
    screen.check("after the transfer", [transfer])

    # Close with a rating: the dialog lists the rating's name; the rating message its labels.
    page.locator("[data-action=close]:not([hidden])").wait_for()
    page.click("[data-action=close]")
    screen.wait_text(d.rating["name"], "#chat-close")  # listed once the dialog has read the options
    screen.check("the close dialog", [d.rating["name"]])
    page.check(f'#chat-close input[name=rating][value="{d.rating["id"]}"]')
    page.click("#chat-close-form button[type=submit]")
    page.locator("[data-action=reopen]:not([hidden])").wait_for()
    screen.wait_text(d.labels[1], CONVERSATION)
    screen.check("after closing with a rating", [d.rating["message"], d.settings["operator_farewell_text"]] + d.labels)

    # The group ticket: the group's name and each sender's.
    page.locator(f'.chat-ticket[data-id="{d.group_ticket.id}"]').click()
    page.locator("#chat-contact-name", has_text=group["name"][:20]).wait_for()
    page.locator(".chat-msg.in .chat-msg-sender").first.wait_for()
    screen.wait_text(group["body"], CONVERSATION)
    screen.check("a group conversation", [group["name"], group["sender"], group["body"]])
    # A reload builds everything from the server again (the boot data, the lists).
    page.reload()
    page.wait_for_function("() => document.getElementById('chat-banner').hidden", timeout=15000)
    page.click(".chat-tabs [data-tab=all]")
    page.locator(f'.chat-ticket[data-id="{d.ticket.id}"]').wait_for()
    screen.check("the chat after a reload", [customer["name"], group["name"], d.q1["name"], d.q2["name"]])
