"""Socket.IO against the real web process (eventlet) and a real RQ worker: python-socketio clients
logged in through /login/ receive only what their member may see, and cannot choose rooms."""
import time
import uuid

import pytest
import requests
import engineio
import socketio

from tests.conftest import PASSWORD, SocketRecorder, csrf_token, session_cookie

pytestmark = pytest.mark.slow


class Listener(SocketRecorder):
    """Also lists the ids and message bodies of one kind of event."""

    def ticket_ids(self, name="ticket"):
        with self.lock:
            return [(d.get("ticket") or {}).get("id") if name == "ticket" else d.get("id")
                    for e, d in self.events if e == name]

    def message_bodies(self):
        with self.lock:
            return [d["message"]["body"] for e, d in self.events if e == "message"]


def wait_for(predicate, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def live(stack, desk):
    stack.start_web()
    stack.start_worker()
    listeners = []

    def connect(email=None):
        cookie = session_cookie(stack.url, email) if email else None
        listener = Listener(stack.url, cookie)
        listeners.append(listener)
        return listener

    connect.url = stack.url
    yield connect
    for listener in listeners:
        listener.close()


def submit(desk, queue, body, phone=None, name="Maria"):
    """A customer message through the engine's real path: inbox + RQ ingest job in the worker."""
    from app.workers.ingest import submit as submit_event

    desk.connection.queues = [queue]
    desk.db.session.commit()
    phone = phone or "55119" + str(uuid.uuid4().int)[:8]
    submit_event(desk.engine.message(desk.connection, phone=phone, name=name, body=body))


def test_anonymous_socket_is_refused(live):
    with pytest.raises(socketio.exceptions.ConnectionError):
        live()


def test_events_reach_only_members_who_may_see_the_ticket(live, desk):
    ana, bruno, sara = live("ana@teste.com.br"), live("bruno@teste.com.br"), live("sara@teste.com.br")
    submit(desk, desk.vendas, "pedido de vendas")
    assert wait_for(lambda: "pedido de vendas" in sara.message_bodies())
    assert wait_for(lambda: "pedido de vendas" in ana.message_bodies())
    submit(desk, desk.suporte, "chamado de suporte")
    assert wait_for(lambda: "chamado de suporte" in sara.message_bodies())
    assert wait_for(lambda: "chamado de suporte" in bruno.message_bodies())
    time.sleep(1.0)  # anything else in flight has arrived by now
    assert "chamado de suporte" not in ana.message_bodies()
    assert "pedido de vendas" not in bruno.message_bodies()
    vendas_id = ana.ticket_ids()[0]
    assert vendas_id not in bruno.ticket_ids()


def test_a_client_cannot_join_other_rooms(live, desk):
    ana, bruno = live("ana@teste.com.br"), live("bruno@teste.com.br")
    for event, data in (("join", {"room": f"queue:{desk.suporte.id}"}), ("join_room", f"queue:{desk.suporte.id}"),
                        ("join", "staff"), ("subscribe", {"rooms": ["staff", f"user:{desk.bruno.id}"]})):
        ana.sio.emit(event, data)
    # An attacker-chosen auth payload at connect changes nothing either.
    sneaky = socketio.Client(reconnection=False)
    got = []
    sneaky.on("*", lambda event, data=None: got.append(event))
    sneaky.connect(live.url, headers={"Cookie": session_cookie(live.url, "ana@teste.com.br")},
                   auth={"rooms": ["staff"], "queue": desk.suporte.id}, transports=["websocket"])
    try:
        time.sleep(0.5)
        submit(desk, desk.suporte, "só para o suporte")
        assert wait_for(lambda: "só para o suporte" in bruno.message_bodies())
        time.sleep(1.0)
        assert ana.events == [] and got == []
    finally:
        sneaky.disconnect()


def test_open_ticket_marks_read_and_sends_read_receipt_only_when_on(live, desk, db):
    from app.models import Ticket

    ana = live("ana@teste.com.br")
    submit(desk, desk.vendas, "oi", phone="5511911110001")
    assert wait_for(lambda: ana.ticket_ids())
    ticket_id = ana.ticket_ids()[0]
    db.session.expire_all()
    assert db.session.get(Ticket, ticket_id).unread_count == 1
    desk.engine.commands(desk.connection)  # drop anything queued so far (none expected)
    answer = ana.sio.call("open_ticket", {"id": ticket_id}, timeout=10)
    assert answer == {"ok": True}
    db.session.expire_all()
    assert db.session.get(Ticket, ticket_id).unread_count == 0
    assert {"op": "mark_read", "chat_id": "5511911110001@c.us"} in desk.engine.commands(desk.connection)
    # Read receipts off: the count is reset, WhatsApp is told nothing.
    desk.connection.read_receipts = False
    db.session.commit()
    submit(desk, desk.vendas, "de novo", phone="5511911110001")
    assert wait_for(lambda: "de novo" in ana.message_bodies())
    assert ana.sio.call("open_ticket", {"id": ticket_id}, timeout=10) == {"ok": True}
    db.session.expire_all()
    assert db.session.get(Ticket, ticket_id).unread_count == 0
    assert [c for c in desk.engine.commands(desk.connection) if c["op"] == "mark_read"] == []


def test_open_ticket_of_another_queue_changes_nothing(live, desk, db):
    from app.models import Ticket

    bruno, ana = live("bruno@teste.com.br"), live("ana@teste.com.br")
    submit(desk, desk.suporte, "suporte aqui", phone="5511911110002")
    assert wait_for(lambda: bruno.ticket_ids())
    ticket_id = bruno.ticket_ids()[0]
    answer = ana.sio.call("open_ticket", {"id": ticket_id}, timeout=10)
    assert answer["ok"] is False
    for bad in ({"id": "1"}, {"id": True}, "x", None):
        assert ana.sio.call("open_ticket", bad, timeout=10) == {"ok": False}
    db.session.expire_all()
    assert db.session.get(Ticket, ticket_id).unread_count == 1
    assert desk.engine.commands(desk.connection) == []


def test_transfer_away_tells_the_rooms_that_lost_the_ticket(live, desk, chat_client):
    ana, bruno = live("ana@teste.com.br"), live("bruno@teste.com.br")
    submit(desk, desk.vendas, "quero trocar de setor")
    assert wait_for(lambda: ana.ticket_ids())
    ticket_id = ana.ticket_ids()[0]
    web = chat_client("ana@teste.com.br")
    assert web.post(f"/chat/api/tickets/{ticket_id}/accept").status_code == 200
    assert web.post(f"/chat/api/tickets/{ticket_id}/transfer", json={"queue": desk.suporte.id}).status_code == 200
    assert wait_for(lambda: ticket_id in ana.ticket_ids("ticket:removed"))
    assert wait_for(lambda: ticket_id in bruno.ticket_ids())


def test_a_deactivated_member_cannot_connect_with_an_old_session(live, desk, db):
    cookie = session_cookie(live.url, "ana@teste.com.br")
    desk.ana.active = False
    db.session.commit()
    with pytest.raises(socketio.exceptions.ConnectionError):
        Listener(live.url, cookie)


def admin_token(base_url):
    from tests.conftest import ADMIN_EMAIL

    r = requests.post(base_url + "/api/v1/security/login",
                      json={"username": ADMIN_EMAIL, "password": PASSWORD, "provider": "db"}, timeout=10)
    assert r.status_code == 200, r.text
    return {"Authorization": "Bearer " + r.json()["access_token"]}


def test_a_member_moved_out_of_a_queue_stops_hearing_it_at_once(live, desk):
    """Rooms are computed at connect: when an Admin takes a queue away from a member, the member's
    open sockets are dropped by the server (the page reconnects with the new rooms), so nothing
    of the old queue reaches them any more."""
    ana, sara = live("ana@teste.com.br"), live("sara@teste.com.br")
    headers = admin_token(live.url)
    # A change that does not touch her rooms keeps her connected.
    r = requests.put(f"{live.url}/api/v1/team/{desk.ana.id}", json={"name": "Ana Souza"}, headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    time.sleep(0.5)
    assert ana.sio.connected
    r = requests.put(f"{live.url}/api/v1/team/{desk.ana.id}", json={"queues": [desk.suporte.id]},
                     headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    assert wait_for(lambda: not ana.sio.connected, timeout=5)
    submit(desk, desk.vendas, "vendas depois da mudança")
    assert wait_for(lambda: "vendas depois da mudança" in sara.message_bodies())
    time.sleep(1.0)
    assert "vendas depois da mudança" not in ana.message_bodies()
    # Connecting again gives her the new queue's rooms, not the old one's.
    again = live("ana@teste.com.br")
    submit(desk, desk.vendas, "vendas de novo")
    assert wait_for(lambda: "vendas de novo" in sara.message_bodies())  # routed before the next one
    submit(desk, desk.suporte, "suporte agora é dela")
    assert wait_for(lambda: "suporte agora é dela" in again.message_bodies())
    time.sleep(1.0)
    assert "vendas de novo" not in again.message_bodies()


def test_a_removed_member_is_disconnected(live, desk):
    bruno = live("bruno@teste.com.br")
    r = requests.delete(f"{live.url}/api/v1/team/{desk.bruno.id}", headers=admin_token(live.url), timeout=10)
    assert r.status_code == 200, r.text
    assert wait_for(lambda: not bruno.sio.connected, timeout=5)


def test_a_new_password_disconnects_the_member_and_her_old_session_cannot_connect(live, desk):
    """A new password ends what the old one opened (app.security.login_stamp): her open socket is
    disconnected at once, and the cookie of the old session is refused at connect."""
    cookie = session_cookie(live.url, "bruno@teste.com.br")
    bruno = Listener(live.url, cookie)
    r = requests.put(f"{live.url}/api/v1/team/{desk.bruno.id}", json={"password": "outra-senha-nova"},
                     headers=admin_token(live.url), timeout=10)
    assert r.status_code == 200, r.text
    assert wait_for(lambda: not bruno.sio.connected, timeout=5)
    with pytest.raises(socketio.exceptions.ConnectionError):
        Listener(live.url, cookie)
    # The new password opens a new session that connects.
    fresh = Listener(live.url, session_cookie(live.url, "bruno@teste.com.br", "outra-senha-nova"))
    try:
        assert fresh.sio.connected
    finally:
        fresh.close()


def test_a_page_of_another_site_cannot_open_the_members_socket(live, desk):
    """Cross-site WebSocket hijacking: a page elsewhere that opens a socket to Conecta gets the
    member's cookie sent along where the browser allows it (SameSite=Lax leaves sibling subdomains
    and old browsers): its Origin is refused, on both transports; the page's own origin connects."""
    cookie = session_cookie(live.url, "ana@teste.com.br")
    for origin in ("http://atacante.example", "null", live.url.replace("127.0.0.1", "localhost")):
        for transports in (["websocket"], ["polling"]):
            sio = socketio.Client(reconnection=False)
            with pytest.raises((socketio.exceptions.ConnectionError, engineio.exceptions.ConnectionError)):
                sio.connect(live.url, headers={"Cookie": cookie, "Origin": origin}, transports=transports,
                            wait_timeout=5)
            sio.disconnect()
    # The page's own origin (the websocket client sends it by itself: one Origin header only).
    for transports, headers in ((["polling"], {"Origin": live.url}), (["websocket"], {})):
        own = socketio.Client(reconnection=False)
        own.connect(live.url, headers={"Cookie": cookie, **headers}, transports=transports, wait_timeout=5)
        try:
            assert own.connected
        finally:
            own.disconnect()


def test_a_removed_members_open_tickets_go_back_to_waiting_for_the_queue(live, desk, chat_client, factory, db):
    """Ana handles a Vendas ticket and is removed: the ticket goes back to Aguardando in Vendas
    (open with no agent it was in nobody's Atendendo nor any User's list), and her Vendas
    colleague hears it there at once."""
    from app.models import Ticket

    factory.member("user", queues=[desk.vendas], email="carla@teste.com.br", name="Carla")
    carla = live("carla@teste.com.br")
    submit(desk, desk.vendas, "estava sendo atendida pela Ana")
    assert wait_for(lambda: carla.ticket_ids())
    ticket_id = carla.ticket_ids()[0]
    assert chat_client("ana@teste.com.br").post(f"/chat/api/tickets/{ticket_id}/accept").status_code == 200
    assert wait_for(lambda: any(e == "ticket" and d["ticket"]["status"] == "open" for e, d in list(carla.events)))
    heard = len(carla.events)
    r = requests.delete(f"{live.url}/api/v1/team/{desk.ana.id}", headers=admin_token(live.url), timeout=10)
    assert r.status_code == 200, r.text
    db.session.expire_all()
    ticket = db.session.get(Ticket, ticket_id)
    assert (ticket.status, ticket.user_id, ticket.queue_id) == ("pending", None, desk.vendas.id)
    assert wait_for(lambda: any(e == "ticket" and d["ticket"]["id"] == ticket_id and d["ticket"]["status"] == "pending"
                                for e, d in list(carla.events)[heard:]))
    assert ticket_id in chat_client("carla@teste.com.br").ids(tab="pending")


def test_deleting_a_queue_disconnects_its_members(live, desk):
    """QA: a member's socket stayed in a deleted queue's room, and a queue created next got its id
    (SQLite reuses the highest one): she heard that new queue's tickets and messages. Her sockets
    are dropped now (the page reconnects with the rooms of now); a member without it keeps hers."""
    headers = admin_token(live.url)
    r = requests.post(f"{live.url}/api/v1/queue/", json={"name": "Diretoria", "color": "#0A0B0C"},
                      headers=headers, timeout=10)
    assert r.status_code == 201, r.text
    queue_id = r.json()["id"]
    r = requests.put(f"{live.url}/api/v1/team/{desk.ana.id}", json={"queues": [desk.vendas.id, queue_id]},
                     headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    ana, bruno = live("ana@teste.com.br"), live("bruno@teste.com.br")
    r = requests.delete(f"{live.url}/api/v1/queue/{queue_id}", headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    assert wait_for(lambda: not ana.sio.connected, timeout=5)
    time.sleep(0.5)
    assert bruno.sio.connected


def test_logging_out_ends_the_session_on_the_server(live, desk):
    """QA: the session is a signed cookie the server kept nothing of, so a copy taken before "Sair"
    (a shared computer) still read the chat's JSON, wrote with the page's CSRF token and opened the
    socket. Now the logout ends it: the copy is refused everywhere, the sockets that session opened
    are disconnected, another session of the same member goes on, and logging in again works."""
    from tests.chat.conftest import CSRF_META
    from tests.conftest import csrf_token

    def logged_in():
        http = requests.Session()
        token = csrf_token(http.get(live.url + "/login/", timeout=10).text)
        r = http.post(live.url + "/login/", data={"username": "ana@teste.com.br", "password": PASSWORD,
                                                  "csrf_token": token}, allow_redirects=False, timeout=10)
        assert r.status_code == 302, r.text
        return http, "; ".join(f"{c.name}={c.value}" for c in http.cookies)

    http, cookie = logged_in()
    other, other_cookie = logged_in()  # the same member on another computer
    page_token = CSRF_META.search(http.get(live.url + "/chat/", timeout=10).text).group(1)
    socket, other_socket = Listener(live.url, cookie), Listener(live.url, other_cookie)
    copy = {"Cookie": cookie}
    assert requests.get(live.url + "/chat/api/counts", headers=copy, timeout=10).status_code == 200
    r = requests.post(live.url + "/chat/api/signature", json={"on": True}, timeout=10,
                      headers=dict(copy, **{"X-CSRFToken": page_token}))
    assert r.status_code == 200, r.text  # the copy works until the logout

    logout_token = csrf_token(http.get(live.url + "/logout/", timeout=10).text)  # "Sair" posts its token
    assert http.post(live.url + "/logout/", data={"csrf_token": logout_token}, allow_redirects=False,
                     timeout=10).status_code == 302
    assert wait_for(lambda: not socket.sio.connected, timeout=5)
    assert requests.get(live.url + "/chat/api/counts", headers=copy, timeout=10).status_code == 401
    r = requests.post(live.url + "/chat/api/signature", json={"on": True}, timeout=10,
                      headers=dict(copy, **{"X-CSRFToken": page_token}))
    assert r.status_code in (400, 401, 403), r.text
    assert requests.get(live.url + "/api/v1/queue/", headers=copy, timeout=10).status_code == 401
    with pytest.raises(socketio.exceptions.ConnectionError):
        Listener(live.url, cookie)
    # The other computer's session is not this one.
    assert other_socket.sio.connected
    assert other.get(live.url + "/chat/api/counts", timeout=10).status_code == 200
    fresh = Listener(live.url, logged_in()[1])
    try:
        assert fresh.sio.connected
    finally:
        fresh.close()
        other_socket.close()
