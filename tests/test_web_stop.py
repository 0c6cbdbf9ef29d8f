"""SIGTERM to the web process (run.py's stop and restart send it) lets the requests already
running finish and answer, stops accepting new ones, closes the Socket.IO clients (the chat page
reconnects) and exits 0. Before, the default handler killed it: an agent's message committed and
sent to WhatsApp got "Remote end closed connection without response", and a retry sent it twice.
A real `python -m app.web` (eventlet), a real Socket.IO client, PostgreSQL or SQLite."""
import json
import signal
import socket
import threading
import time

import pytest
import requests

from tests.conftest import ADMIN_EMAIL, PASSWORD, SocketRecorder, session_cookie, wait_until
from tests.engine.test_concurrency_and_crash import DatabaseLock


def _open_ticket(factory):
    """A customer's ticket, accepted by nobody yet (the Admin answers it below)."""
    from app.models import db
    from app.services import inbox

    connection = factory.connection(queues=[factory.queue()])
    phone = "5511988887777"
    event_id = inbox.receive({"v": 1, "kind": "message", "connection_id": connection.id, "channel_id": "wamid-stop-1",
                              "chat_id": f"{phone}@c.us", "is_group": False, "sender_id": f"{phone}@c.us",
                              "sender_phone": phone, "sender_name": "Maria", "type": "text", "body": "Olá",
                              "timestamp": 1764000000})
    inbox.process(event_id)
    from app.models import Ticket

    return db.session.query(Ticket).one().id


def _logged_in(url, ticket_id):
    token = requests.post(url + "/api/v1/security/login", timeout=10,
                          json={"username": ADMIN_EMAIL, "password": PASSWORD, "provider": "db"}).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert requests.post(f"{url}/api/v1/ticket/{ticket_id}/accept", headers=headers, timeout=10).status_code == 200
    return headers


def _refused(port):
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.slow
def test_sigterm_stops_accepting_lets_the_running_request_answer_and_exits_0(app, db, factory, stack):
    """The request is running (its body still arriving, from a slow network) when SIGTERM comes."""
    from app.models import Message

    ticket_id = _open_ticket(factory)
    url = stack.start_web()
    headers = _logged_in(url, ticket_id)
    page = SocketRecorder(url, session_cookie(url, ADMIN_EMAIL))
    reasons = []
    page.sio.on("disconnect", lambda reason=None: reasons.append(reason))
    web = stack.procs["web"]

    body = json.dumps({"body": "sua resposta"}).encode()
    agent = socket.create_connection(("127.0.0.1", stack.port), timeout=30)
    agent.sendall((f"POST /api/v1/ticket/{ticket_id}/messages HTTP/1.1\r\nHost: 127.0.0.1:{stack.port}\r\n"
                   f"Authorization: {headers['Authorization']}\r\nContent-Type: application/json\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n").encode() + body[:5])
    time.sleep(1.0)  # the request is in the application, which waits for the rest of its body
    web.send_signal(signal.SIGTERM)
    assert wait_until(lambda: _refused(stack.port), 5), "still accepting connections after SIGTERM"
    # the Socket.IO client was closed by the server, at the transport: the chat page reconnects
    # (to the restarted process) instead of reloading, which "io server disconnect" would make it do
    assert wait_until(lambda: not page.sio.connected, 5)
    assert reasons and reasons[0] != "io server disconnect", reasons
    assert web.poll() is None, "the web process ended with a request running"
    agent.sendall(body[5:])
    response = b""
    while chunk := agent.recv(65536):  # the server closes the connection after this answer
        response += chunk
    agent.close()
    assert response.startswith(b"HTTP/1.1 201"), response[:300]
    web.wait(15)  # bounded: app.web.STOP_GRACE_SECONDS
    assert web.returncode == 0
    db.session.rollback()
    assert db.session.query(Message).filter_by(body="sua resposta").count() == 1


@pytest.mark.slow
def test_sigterm_while_a_request_waits_for_the_database_answers_it(app, db, factory, stack, test_env):
    """As QA saw it: agents sending while the process is stopped; this one's transaction waits for
    a lock when SIGTERM comes. It commits, is answered once, and the process exits 0."""
    from app.models import Message

    ticket_id = _open_ticket(factory)
    url = stack.start_web()
    headers = _logged_in(url, ticket_id)
    web = stack.procs["web"]
    answer = {}

    def send():
        try:
            answer["response"] = requests.post(f"{url}/api/v1/ticket/{ticket_id}/messages", headers=headers,
                                               json={"body": "sua resposta"}, timeout=30)
        except requests.RequestException as exc:
            answer["error"] = exc

    with DatabaseLock(test_env["DATABASE_URL"]) as lock:
        sender = threading.Thread(target=send)
        sender.start()
        time.sleep(1.0)  # the request is inside its transaction, waiting for the lock
        assert sender.is_alive() and "error" not in answer
        web.send_signal(signal.SIGTERM)
        time.sleep(1.0)
        lock.release()
    sender.join(30)
    assert "error" not in answer, answer.get("error")
    assert answer["response"].status_code == 201, answer["response"].text
    web.wait(15)
    assert web.returncode == 0
    db.session.rollback()
    assert db.session.query(Message).filter_by(body="sua resposta").count() == 1
