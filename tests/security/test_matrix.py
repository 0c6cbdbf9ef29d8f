"""Authorization matrix (issue 6, part 2): every endpoint × every profile → allowed / 401 / 403 / 404.

Profiles: anonymous, a User in the ticket's queue, a User outside it, a Supervisor, an Admin.
The table is checked against the application's URL map: a new rule under a covered prefix that
the table does not list fails the test, so new endpoints cannot slip in unchecked.
"""
import itertools
import re
from dataclasses import dataclass
from typing import Callable

import pytest

from tests.conftest import ADMIN_EMAIL, PASSWORD, SocketRecorder, login, session_cookie

PROFILES = ("anonymous", "user_in", "user_out", "supervisor", "admin")
# Every rule under these prefixes must be in the table.
COVERED_PREFIXES = ("/api/v1/ticket", "/chat", "/api/v1/connection", "/connections/")

_phones = itertools.count(5511900000001)


@dataclass
class Case:
    name: str
    method: str
    rule: str
    # world -> (url, json body or None); called once per profile, on a fresh ticket
    make: Callable
    expect: dict  # profile -> status code
    check: Callable | None = None  # (world, profile, response) -> error text or None
    screen: bool = False  # the chat screen: session cookie, CSRF token in X-CSRFToken
    csrf: bool = True  # screen POSTs: send the page's token (False: prove it is required)


def _expect(anonymous=401, user_in=200, user_out=404, supervisor=200, admin=200):
    return dict(anonymous=anonymous, user_in=user_in, user_out=user_out, supervisor=supervisor, admin=admin)


class World:
    """Queues, a connection, one member per profile, and tickets made on demand."""

    def __init__(self, app, db, factory):
        from app.models import Connection

        self.app, self.db, self.factory = app, db, factory
        self.queue = factory.queue(name="Fila do ticket")
        self.other_queue = factory.queue(name="Outra fila")
        self.connection = factory.connection(queues=[self.queue])
        self.members = {
            "user_in": factory.member("user", queues=[self.queue], email="dentro@teste.com.br"),
            "colleague": factory.member("user", queues=[self.queue], email="colega@teste.com.br"),
            "user_out": factory.member("user", queues=[self.other_queue], email="fora@teste.com.br"),
            "supervisor": factory.member("supervisor", email="supervisor@teste.com.br"),
            "admin": factory.admin(),
        }
        self.member_ids = {k: v.id for k, v in self.members.items()}
        assert db.session.get(Connection, self.connection.id)

    def ticket(self, status="pending", queue="mine", agent=None, group=False, name=None):
        """A fresh ticket (new contact). queue: "mine" | "other" | None; agent: member key or None."""
        from app.models import Contact, Ticket, utcnow

        phone = str(next(_phones))
        contact = Contact(channel="whatsapp", jid=f"{phone}@{'g' if group else 'c'}.us", phone=phone,
                          name=name or f"Cliente {phone}", is_group=group)
        self.db.session.add(contact)
        self.db.session.flush()
        q = {"mine": self.queue, "other": self.other_queue, None: None}[queue]
        ticket = Ticket(contact_id=contact.id, connection_id=self.connection.id, status=status, is_group=group,
                        queue_id=q.id if q else None, user_id=self.member_ids[agent] if agent else None,
                        closed_at=utcnow() if status == "closed" else None)
        self.db.session.add(ticket)
        self.db.session.commit()
        return ticket

    def failed_message(self, ticket):
        from app.models import Message, MessageStatus

        message = Message(ticket_id=ticket.id, connection_id=ticket.connection_id, channel_id=f"conecta-x{ticket.id}",
                          from_me=True, type="text", body="não foi", status=MessageStatus.FAILED, error="offline")
        self.db.session.add(message)
        self.db.session.commit()
        return message


def _ids_in_list(response):
    return {t["id"] for t in response.get_json()["result"]}


def _list_check(world, profile, response):
    """The list shows exactly what the profile may see."""
    if profile == "anonymous":
        return None
    ids = _ids_in_list(response)
    mine, other, none = world.listed
    expected = {"user_in": {mine}, "user_out": {other}, "supervisor": {mine, other, none},
                "admin": {mine, other, none}}[profile]
    if ids != expected:
        return f"list shows {sorted(ids)}, expected {sorted(expected)}"
    return None


def _list_setup(world):
    if not hasattr(world, "listed"):
        world.listed = tuple(world.ticket(queue=q, name="Listado").id for q in ("mine", "other", None))
    return "/api/v1/ticket/?page_size=100", None


def _ticket_url(suffix="", status="pending", agent=None, queue="mine", body=None, group=False):
    def make(world):
        t = world.ticket(status=status, agent=agent, queue=queue, group=group)
        return f"/api/v1/ticket/{t.id}{suffix}", body
    return make


def _retry(other_ticket=False):
    def make(world):
        t = world.ticket(status="open", agent="user_in")
        m = world.failed_message(world.ticket() if other_ticket else t)
        return f"/api/v1/ticket/{t.id}/messages/{m.id}/retry", None
    return make


def _start(world, queue=None, serving=None, url="/api/v1/ticket/"):
    """Nova conversa with a new number, or with the number of a fresh ticket of queue `serving`."""
    phone = world.ticket(queue=serving).contact.phone if serving else str(next(_phones))
    return url, {"phone": phone, "queue": queue}


T = "/api/v1/ticket"
CASES = [
    Case("list: only visible tickets", "GET", f"{T}/", _list_setup, _expect(user_out=200), check=_list_check),
    Case("get", "GET", f"{T}/<ticket_id>", _ticket_url(), _expect()),
    Case("get a ticket of no queue", "GET", f"{T}/<ticket_id>", _ticket_url(queue=None), _expect(user_in=404)),
    Case("get a ticket assigned to me in another queue", "GET", f"{T}/<ticket_id>",
         _ticket_url(status="open", queue="other", agent="user_in"), _expect(user_out=200)),
    Case("get a ticket that does not exist", "GET", f"{T}/<ticket_id>", lambda w: (f"{T}/999999", None),
         _expect(user_in=404, supervisor=404, admin=404)),
    Case("get with an id past INTEGER", "GET", f"{T}/<ticket_id>", lambda w: (f"{T}/99999999999999999999", None),
         _expect(user_in=404, supervisor=404, admin=404)),
    Case("messages", "GET", f"{T}/<ticket_id>/messages", _ticket_url("/messages"), _expect()),
    Case("send", "POST", f"{T}/<ticket_id>/messages",
         _ticket_url("/messages", status="open", agent="user_in", body={"body": "olá"}),
         _expect(user_in=201, supervisor=201, admin=201)),
    Case("send on a waiting ticket (accept it first)", "POST", f"{T}/<ticket_id>/messages",
         _ticket_url("/messages", body={"body": "olá"}), _expect(user_in=400, supervisor=400, admin=400)),
    Case("send on a ticket another agent handles", "POST", f"{T}/<ticket_id>/messages",
         _ticket_url("/messages", status="open", agent="colleague", body={"body": "olá"}),
         _expect(user_in=403, supervisor=201, admin=201)),
    Case("retry a failed message", "POST", f"{T}/<ticket_id>/messages/<message_id>/retry", _retry(), _expect()),
    Case("retry a message of another ticket", "POST", f"{T}/<ticket_id>/messages/<message_id>/retry",
         _retry(other_ticket=True), _expect(user_in=404, supervisor=404, admin=404)),
    Case("accept", "POST", f"{T}/<ticket_id>/accept", _ticket_url("/accept"), _expect()),
    Case("accept a group ticket (group actions off)", "POST", f"{T}/<ticket_id>/accept",
         _ticket_url("/accept", group=True), _expect(user_in=403)),
    Case("transfer", "POST", f"{T}/<ticket_id>/transfer", lambda w: _ticket_url(
        "/transfer", body={"queue": w.other_queue.id})(w), _expect()),
    Case("close", "POST", f"{T}/<ticket_id>/close", _ticket_url("/close"), _expect()),
    Case("reopen", "POST", f"{T}/<ticket_id>/reopen", _ticket_url("/reopen", status="closed"), _expect()),
    Case("reopen another agent's ticket", "POST", f"{T}/<ticket_id>/reopen",
         _ticket_url("/reopen", status="closed", agent="colleague"), _expect(user_in=403)),
    Case("return to pending", "POST", f"{T}/<ticket_id>/return",
         _ticket_url("/return", status="open", agent="user_in"), _expect()),
    Case("return another agent's ticket", "POST", f"{T}/<ticket_id>/return",
         _ticket_url("/return", status="open", agent="colleague"), _expect(user_in=403)),
    Case("rename the contact", "POST", f"{T}/<ticket_id>/contact", _ticket_url("/contact", body={"name": "Dona Rosa"}),
         _expect()),
    Case("start a conversation in the queue", "POST", f"{T}/", lambda w: _start(w, queue=w.queue.id),
         _expect(user_in=201, user_out=422, supervisor=201, admin=201)),
    Case("start a conversation another team has", "POST", f"{T}/", lambda w: _start(w, serving="other"),
         _expect(user_in=409, user_out=200)),
]



def _chat_list_check(world, profile, response):
    if profile == "anonymous":
        return None
    ids = {t["id"] for t in response.get_json()["tickets"]}
    mine, other, none = world.listed
    expected = {"user_in": {mine}, "user_out": {other}, "supervisor": {mine, other, none},
                "admin": {mine, other, none}}[profile]
    return None if ids == expected else f"chat list shows {sorted(ids)}, expected {sorted(expected)}"


def _chat_list_setup(world):
    _list_setup(world)
    return "/chat/api/tickets?tab=pending&q=Listado", None


def _chat_list_setup_all(world):
    _list_setup(world)
    return "/chat/api/tickets?tab=all&q=Listado", None


def _chat_ticket(suffix="", **kw):
    def make(world):
        url, body = _ticket_url(suffix, **kw)(world)
        return url.replace("/api/v1/ticket/", "/chat/api/tickets/"), body
    return make


def _chat_retry(world):
    m = world.failed_message(world.ticket(status="open", agent="user_in"))
    return f"/chat/api/messages/{m.id}/retry", None


def _media(world):
    """A customer's picture on a ticket of the queue, stored where the bridge stores media."""
    import os

    from app.models import Message

    t = world.ticket()
    relative = f"inbound/matrix-{t.id}.png"
    path = os.path.join(world.app.config["MEDIA_DIR"], relative)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(b"\x89PNG\r\n\x1a\n" + b"0" * 64)
    m = Message(ticket_id=t.id, connection_id=t.connection_id, channel_id=f"wamid-media-{t.id}", from_me=False,
                type="image", body="", media_path=relative, media_mime="image/png", media_name="foto.png")
    world.db.session.add(m)
    world.db.session.commit()
    return f"/chat/media/{m.id}", None


C = "/chat"
STAFF_ONLY = _expect(user_in=404, anonymous=401)
CASES += [
    Case("chat page", "GET", f"{C}/", lambda w: (f"{C}/", None), _expect(anonymous=302, user_out=200), screen=True),
    Case("chat list: only visible tickets", "GET", f"{C}/api/tickets", _chat_list_setup, _expect(user_out=200),
         check=_chat_list_check, screen=True),
    Case("chat list, tab of every ticket", "GET", f"{C}/api/tickets", _chat_list_setup_all, _expect(user_out=200),
         check=_chat_list_check, screen=True),
    Case("chat counts", "GET", f"{C}/api/counts", lambda w: (f"{C}/api/counts", None), _expect(user_out=200),
         screen=True),
    Case("chat ticket", "GET", f"{C}/api/tickets/<int:ticket_id>", _chat_ticket(), _expect(), screen=True),
    Case("chat ticket of no queue", "GET", f"{C}/api/tickets/<int:ticket_id>", _chat_ticket(queue=None),
         STAFF_ONLY, screen=True),
    Case("chat messages", "GET", f"{C}/api/tickets/<int:ticket_id>/messages", _chat_ticket("/messages"), _expect(),
         screen=True),
    Case("chat send", "POST", f"{C}/api/tickets/<int:ticket_id>/messages",
         _chat_ticket("/messages", status="open", agent="user_in", body={"body": "oi"}),
         _expect(user_in=201, supervisor=201, admin=201), screen=True),
    Case("chat send on a waiting ticket", "POST", f"{C}/api/tickets/<int:ticket_id>/messages",
         _chat_ticket("/messages", body={"body": "oi"}), _expect(user_in=400, supervisor=400, admin=400), screen=True),
    Case("chat send without CSRF token", "POST", f"{C}/api/tickets/<int:ticket_id>/messages",
         _chat_ticket("/messages", body={"body": "oi"}), _expect(user_in=400, user_out=400, supervisor=400, admin=400),
         screen=True, csrf=False),
    Case("chat retry", "POST", f"{C}/api/messages/<int:message_id>/retry", _chat_retry, _expect(), screen=True),
    Case("chat accept", "POST", f"{C}/api/tickets/<int:ticket_id>/<action>", _chat_ticket("/accept"), _expect(),
         screen=True),
    Case("chat accept without CSRF token", "POST", f"{C}/api/tickets/<int:ticket_id>/<action>", _chat_ticket("/accept"),
         _expect(user_in=400, user_out=400, supervisor=400, admin=400), screen=True, csrf=False),
    Case("chat transfer", "POST", f"{C}/api/tickets/<int:ticket_id>/<action>",
         lambda w: _chat_ticket("/transfer", body={"queue": w.other_queue.id})(w), _expect(), screen=True),
    Case("chat close", "POST", f"{C}/api/tickets/<int:ticket_id>/<action>", _chat_ticket("/close"), _expect(),
         screen=True),
    Case("chat reopen another agent's ticket", "POST", f"{C}/api/tickets/<int:ticket_id>/<action>",
         _chat_ticket("/reopen", status="closed", agent="colleague"), _expect(user_in=403), screen=True),
    Case("chat return", "POST", f"{C}/api/tickets/<int:ticket_id>/<action>",
         _chat_ticket("/return", status="open", agent="user_in"), _expect(), screen=True),
    Case("chat unknown action", "POST", f"{C}/api/tickets/<int:ticket_id>/<action>", _chat_ticket("/explode"),
         _expect(user_in=404, supervisor=404, admin=404), screen=True),
    Case("media download", "GET", f"{C}/media/<int:message_id>", _media, _expect(), screen=True),
    Case("media of a message that does not exist", "GET", f"{C}/media/<int:message_id>",
         lambda w: (f"{C}/media/999999", None), _expect(user_in=404, supervisor=404, admin=404), screen=True),
    Case("quick replies", "GET", f"{C}/api/quick-replies", lambda w: (f"{C}/api/quick-replies", None),
         _expect(user_out=200), screen=True),
    Case("transfer targets", "GET", f"{C}/api/transfer-targets", lambda w: (f"{C}/api/transfer-targets", None),
         _expect(user_out=200), screen=True),
    Case("the Resolver dialog's rating options", "GET", f"{C}/api/close-options",
         lambda w: (f"{C}/api/close-options", None), _expect(user_out=200), screen=True),
    Case("chat signature switch (the caller's own)", "POST", f"{C}/api/signature",
         lambda w: (f"{C}/api/signature", {"on": True}), _expect(user_out=200), screen=True),
    Case("chat signature switch without CSRF token", "POST", f"{C}/api/signature",
         lambda w: (f"{C}/api/signature", {"on": True}),
         _expect(user_in=400, user_out=400, supervisor=400, admin=400), screen=True, csrf=False),
    Case("chat rename the contact", "POST", f"{C}/api/tickets/<int:ticket_id>/<action>",
         _chat_ticket("/rename", body={"name": "Dona Rosa"}), _expect(), screen=True),
    Case("chat new conversation", "POST", f"{C}/api/conversations",
         lambda w: _start(w, queue=w.queue.id, url=f"{C}/api/conversations"),
         _expect(user_in=201, user_out=422, supervisor=201, admin=201), screen=True),
    Case("chat new conversation another team has", "POST", f"{C}/api/conversations",
         lambda w: _start(w, serving="other", url=f"{C}/api/conversations"), _expect(user_in=409, user_out=200),
         screen=True),
    Case("chat new conversation without CSRF token", "POST", f"{C}/api/conversations",
         lambda w: _start(w, url=f"{C}/api/conversations"),
         _expect(user_in=400, user_out=400, supervisor=400, admin=400), screen=True, csrf=False),
]


def _connection(world, default=False):
    from app.models import Connection

    n = next(_phones)
    c = Connection(name=f"Conexão {n}", is_default=default)
    world.db.session.add(c)
    world.db.session.commit()
    return c


def _conn_url(suffix="", body=None):
    def make(world):
        return f"/api/v1/connection/{_connection(world).id}{suffix}", body
    return make


def _conn_view(prefix, suffix=""):
    def make(world):
        return f"/connections/{prefix}/{_connection(world).id}{suffix}", None
    return make


# Connections (DESIGN §4): Supervisors may see them, their QR code, and restart them; only Admins
# create, change, log out or delete. Users: nothing.
CN = "/api/v1/connection"
SUPERVISOR_TOO = _expect(user_in=403, user_out=403)
ADMIN_ONLY = _expect(user_in=403, user_out=403, supervisor=403)
CASES += [
    Case("connections: list", "GET", f"{CN}/", lambda w: (f"{CN}/", None), SUPERVISOR_TOO),
    Case("connections: get", "GET", f"{CN}/<int:pk>", _conn_url(), SUPERVISOR_TOO),
    # An id that is no whole number: 404 (as PUT and DELETE), after the same login and permission
    Case("connections: get of no id", "GET", f"{CN}/<pk>", lambda w: (f"{CN}/abc", None),
         _expect(user_in=403, user_out=403, supervisor=404, admin=404)),
    Case("connections: info", "GET", f"{CN}/_info", lambda w: (f"{CN}/_info", None), SUPERVISOR_TOO),
    Case("connections: create", "POST", f"{CN}/", lambda w: (f"{CN}/", {"name": f"Nova {next(_phones)}"}),
         _expect(user_in=403, user_out=403, supervisor=403, admin=201)),
    Case("connections: update", "PUT", f"{CN}/<pk>", _conn_url(body={"greeting_message": "Olá"}), ADMIN_ONLY),
    Case("connections: delete", "DELETE", f"{CN}/<pk>", _conn_url(), ADMIN_ONLY),
    Case("connections: QR code", "GET", f"{CN}/<pk>/qr", _conn_url("/qr"), SUPERVISOR_TOO),
    Case("connections: start (restart)", "POST", f"{CN}/<pk>/start", _conn_url("/start"), SUPERVISOR_TOO),
    Case("connections: log out", "POST", f"{CN}/<pk>/logout", _conn_url("/logout"), ADMIN_ONLY),
    Case("connections screen: list", "GET", "/connections/list/", lambda w: ("/connections/list/", None),
         _expect(anonymous=302, user_in=403, user_out=403), screen=True),
    Case("connections screen: show", "GET", "/connections/show/<pk>", _conn_view("show"),
         _expect(anonymous=302, user_in=403, user_out=403), screen=True),
    Case("connections screen: QR page", "GET", "/connections/qr/<pk>", _conn_view("qr"),
         _expect(anonymous=302, user_in=403, user_out=403), screen=True),
    Case("connections screen: QR state", "GET", "/connections/qr/<pk>/state", _conn_view("qr", "/state"),
         _expect(anonymous=302, user_in=403, user_out=403), screen=True),
    Case("connections screen: live statuses", "GET", "/connections/statuses",
         lambda w: (f"/connections/statuses?ids={_connection(w).id}", None),
         _expect(anonymous=302, user_in=403, user_out=403), screen=True),
    Case("connections screen: add form", "GET", "/connections/add", lambda w: ("/connections/add", None),
         _expect(anonymous=302, user_in=403, user_out=403, supervisor=403), screen=True),
    Case("connections screen: edit form", "GET", "/connections/edit/<pk>", _conn_view("edit"),
         _expect(anonymous=302, user_in=403, user_out=403, supervisor=403), screen=True),
]
def _delete_by_get(world):
    world.deleted_by_get = _connection(world).id
    return f"/connections/delete/{world.deleted_by_get}", None


def _still_there(world, profile, response):
    from app.models import Connection

    world.db.session.expire_all()
    if world.db.session.get(Connection, world.deleted_by_get) is None:
        return "a GET (no CSRF token possible) deleted the connection"
    return None


CASES.append(Case("connections screen: delete by GET (no CSRF)", "GET", "/connections/delete/<pk>",
                  _delete_by_get, _expect(anonymous=302, user_in=403, user_out=403, supervisor=403, admin=400),
                  check=_still_there, screen=True))
# Forms posted by the connection screens (add, edit, delete, start, logout) are checked for CSRF by
# tests/security/test_account.py::test_every_form_refuses_a_post_without_csrf_token.
SCREEN_POSTS_ELSEWHERE = ("/connections/",)


EMAILS = {"user_in": "dentro@teste.com.br", "user_out": "fora@teste.com.br",
          "supervisor": "supervisor@teste.com.br", "admin": ADMIN_EMAIL}
CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)"')


class Client:
    """Bearer token (API) or session cookie + the page's CSRF token (screen). Each request runs in
    an app context of its own: the test holds one open, and Flask would otherwise share `g` (and
    the member flask-login caches there) between clients."""

    def __init__(self, app, token=None, csrf=None):
        self.app, self.http, self.token, self.csrf = app, app.test_client(), token, csrf

    def request(self, method, url, json=None, csrf=True):
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        if csrf and self.csrf:
            headers["X-CSRFToken"] = self.csrf
        with self.app.app_context():
            return self.http.open(url, method=method, json=json, headers=headers, follow_redirects=False)


def _clients(app, world):
    clients = {"anonymous": Client(app)}
    for profile, email in EMAILS.items():
        c = Client(app)
        r = c.request("POST", "/api/v1/security/login", json={"username": email, "password": PASSWORD, "provider": "db"})
        assert r.status_code == 200, r.get_data(as_text=True)
        c.token = r.get_json()["access_token"]
        clients[profile] = c
    return clients


def _screen_clients(app):
    """Logged in through the login form, as a browser; the CSRF token from the chat page."""
    clients = {"anonymous": Client(app)}
    for profile, email in EMAILS.items():
        c = Client(app)
        with app.app_context():
            assert login(c.http, email).status_code == 302
        page = c.request("GET", "/chat/")
        match = CSRF_META.search(page.get_data(as_text=True)) if page.status_code == 200 else None
        c.csrf = match.group(1) if match else None  # the chat screen's POSTs need it
        clients[profile] = c
    return clients


def test_every_covered_rule_is_in_the_table(app):
    listed = {(c.rule, c.method) for c in CASES}
    missing = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith(COVERED_PREFIXES):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if method == "POST" and rule.rule.startswith(SCREEN_POSTS_ELSEWHERE):
                continue
            if (rule.rule, method) not in listed:
                missing.append(f"{method} {rule.rule}")
    assert not missing, "endpoints missing from the authorization matrix: " + ", ".join(missing)
    stale = listed - {(r.rule, m) for r in app.url_map.iter_rules() for m in r.methods}
    assert not stale, f"the table lists endpoints that no longer exist: {stale}"


def test_authorization_matrix(app, db, factory):
    world = World(app, db, factory)
    api_clients = _clients(app, world)
    screen_clients = _screen_clients(app) if any(c.screen for c in CASES) else {}
    failures, rows = [], []
    for case in CASES:
        got = {}
        clients = screen_clients if case.screen else api_clients
        for profile in PROFILES:
            url, body = case.make(world)
            response = clients[profile].request(case.method, url, json=body, csrf=case.csrf)
            got[profile] = response.status_code
            expected = case.expect[profile]
            if response.status_code != expected:
                failures.append(f"{case.name} as {profile}: {case.method} {url} → {response.status_code}, "
                                f"expected {expected}: {response.get_data(as_text=True)[:200]}")
                continue
            if response.status_code >= 400 and response.is_json:
                payload = response.get_json() or {}
                if not payload.get("message") or "msg" in payload:
                    failures.append(f"{case.name} as {profile}: error without a message: {payload}")
            if case.check:
                error = case.check(world, profile, response)
                if error:
                    failures.append(f"{case.name} as {profile}: {error}")
        rows.append(f"{case.name:<48} " + " ".join(f"{got[p]:>4}" for p in PROFILES))
    print("\n" + " " * 49 + " ".join(f"{p[:4]:>4}" for p in PROFILES))
    print("\n".join(rows))
    assert not failures, "\n".join(failures)


# ---------------------------------------------------------------------------------------------
# Socket.IO: the real web process, real python-socketio clients logged in through /login/
# ---------------------------------------------------------------------------------------------

class _Listener(SocketRecorder):
    """`refused` when the server turned it away."""

    def __init__(self, base_url, cookie=None):
        import socketio

        self.refused = False
        try:
            super().__init__(base_url, cookie)
        except socketio.exceptions.ConnectionError:
            self.refused = True


# What each profile must hear about: the ticket of the queue, one of another queue, one of no queue.
SOCKET_EXPECT = {
    "anonymous": None,  # refused at connect
    "user_in": {"mine"},
    "user_out": {"other"},
    "supervisor": {"mine", "other", "none"},
    "admin": {"mine", "other", "none"},
}


@pytest.mark.slow
def test_socketio_events_reach_only_those_who_may_see_the_ticket(app, db, factory, stack):
    """Every profile connects; a message is sent on three tickets (through the REST API, which
    publishes through Redis like every process); each client must hear exactly the tickets it may
    see, anonymous clients are refused, and asking to join a room gets nothing."""
    import time

    world = World(app, db, factory)
    # Accepted by the admin, who then answers each: the message events are what is heard.
    tickets = {k: world.ticket(status="open", agent="admin", queue=q)
               for k, q in (("mine", "mine"), ("other", "other"), ("none", None))}
    ids = {k: t.id for k, t in tickets.items()}
    stack.start_web()
    emails = {"user_in": "dentro@teste.com.br", "user_out": "fora@teste.com.br",
              "supervisor": "supervisor@teste.com.br", "admin": ADMIN_EMAIL}
    listeners = {"anonymous": _Listener(stack.url)}
    listeners.update({p: _Listener(stack.url, session_cookie(stack.url, e)) for p, e in emails.items()})
    try:
        assert listeners["anonymous"].refused, "an anonymous Socket.IO client was accepted"
        outsider = listeners["user_out"]
        for room in ("staff", "admins", f"queue:{world.queue.id}", f"user:{world.member_ids['user_in']}"):
            for event in ("join", "join_room", "subscribe", "enter_room"):
                outsider.sio.emit(event, {"room": room})
                outsider.sio.emit(event, room)
        admin = _clients(app, world)["admin"]
        for key, ticket_id in ids.items():
            r = admin.request("POST", f"/api/v1/ticket/{ticket_id}/messages", json={"body": f"para {key}"})
            assert r.status_code == 201, r.get_data(as_text=True)
        expected_ids = {p: {ids[k] for k in keys} for p, keys in SOCKET_EXPECT.items() if keys is not None}
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(
                not expected_ids[p] <= listeners[p].every_ticket_id() for p in expected_ids):
            time.sleep(0.1)
        time.sleep(1)  # anything that should not come has had time to come
        leaks, missing, rows = [], [], []
        for profile, expected in expected_ids.items():
            heard = listeners[profile].every_ticket_id()
            rows.append(f"{profile:<12} heard tickets {sorted(heard)} expected {sorted(expected)}")
            if heard - expected:
                leaks.append(f"{profile} heard about tickets {sorted(heard - expected)}")
            if expected - heard:
                missing.append(f"{profile} did not hear about {sorted(expected - heard)}")
        print("\n" + "\n".join(rows) + f"\nleaked events: {len(leaks)}")
        assert not leaks, leaks
        assert not missing, missing
    finally:
        for listener in listeners.values():
            listener.close()
