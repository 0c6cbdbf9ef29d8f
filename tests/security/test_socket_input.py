"""Bad input on the Socket.IO handlers, against the real web process (eventlet): a logged-in member
sends every client event the namespace has (and unknown ones) with malformed payloads. The web
process must not crash or log a traceback, the connection must stay usable, nothing may change
for malformed or invisible ids, and no event about an invisible ticket may reach the client."""
import time

import pytest
import socketio

from tests.chat.conftest import Desk
from tests.chat.test_socket import wait_for
from tests.conftest import SocketRecorder, session_cookie

pytestmark = pytest.mark.slow

NUL = "1\x00"
RTL = "\u202e1\u202c"
EMOJI = "🎫1"
MEGABYTE = "9" * (1024 * 1024)


def bad_ids(invisible_id):
    """Every wrong id the member may send: wrong types, out of range, unicode edges, not theirs."""
    return [None, True, False, 1.0, 1.5, float("nan"), "1", "", [1], [], {"id": 1}, {},
            -1, 0, -2 ** 31, 2 ** 31, 2 ** 63, 10 ** 40, NUL, RTL, EMOJI, "１", MEGABYTE[:1000],
            invisible_id, str(invisible_id)]


def bad_payloads(invisible_id):
    payloads = [None, "x", 1, [1], True, {}, {"ticket": 1}, {"ID": 1}, NUL, RTL, EMOJI]
    payloads += [{"id": value} for value in bad_ids(invisible_id)]
    return payloads


@pytest.fixture
def web(stack, tmp_path):
    """The web process, its stderr kept in a file the test reads."""
    stderr_path = tmp_path / "web.stderr"
    with open(stderr_path, "wb") as stderr:
        stack.start_web(stderr=stderr)
        stack.stderr_path = stderr_path
        yield stack


def commands(connection_id):
    """The read commands queued for the connection's bridge (read without consuming them)."""
    from app.workers import key, redis_conn

    return redis_conn().lrange(key(f"bridge:{connection_id}:commands"), 0, -1)


def test_socket_handlers_survive_malformed_input(app, db, factory, web):
    from app.models import Ticket

    desk = Desk(app, db, factory)
    mine = desk.ticket(desk.vendas, phone="5511911112001")
    hidden = desk.ticket(desk.suporte, phone="5511911112002")
    assert (mine.unread_count, hidden.unread_count) == (1, 1)
    ids = {"mine": mine.id, "hidden": hidden.id}
    queued_before = commands(desk.connection.id)

    ana = SocketRecorder(web.url, session_cookie(web.url, "ana@teste.com.br"))
    try:
        answers = []
        for payload in bad_payloads(ids["hidden"]):
            answer = ana.sio.call("open_ticket", payload, timeout=20)
            answers.append((repr(payload)[:40], answer))
        # More than one argument, no argument, unknown events (with and without ack).
        ana.sio.emit("open_ticket", ({"id": ids["hidden"]}, {"id": ids["hidden"]}))
        ana.sio.emit("open_ticket")
        for event in ("close_ticket", "send_message", "transfer", "accept", "mark_read", NUL, RTL, EMOJI, "x" * 5000):
            ana.sio.emit(event, {"id": ids["hidden"], "body": "oi"})
        with pytest.raises(socketio.exceptions.TimeoutError):
            ana.sio.call("no_such_event", {"id": ids["hidden"]}, timeout=2)

        refused = [(p, a) for p, a in answers if not (isinstance(a, dict) and a.get("ok") is False)]
        assert not refused, f"malformed or invisible ids were accepted: {refused}"

        # Nothing changed for the ticket she may not see (nor for hers), nothing queued for WhatsApp.
        db.session.expire_all()
        assert db.session.get(Ticket, ids["hidden"]).unread_count == 1
        assert db.session.get(Ticket, ids["mine"]).unread_count == 1
        assert commands(desk.connection.id) == queued_before

        # The same connection still works: opening her own ticket resets it and queues the receipt.
        assert ana.sio.connected
        assert ana.sio.call("open_ticket", {"id": ids["mine"]}, timeout=10) == {"ok": True}
        db.session.expire_all()
        assert db.session.get(Ticket, ids["mine"]).unread_count == 0
        assert db.session.get(Ticket, ids["hidden"]).unread_count == 1
        new_commands = commands(desk.connection.id)[len(queued_before):]
        assert len(new_commands) == 1 and b"5511911112001@c.us" in new_commands[0], new_commands
        assert wait_for(lambda: ids["mine"] in ana.every_ticket_id())
        time.sleep(1.0)  # anything else in flight has arrived by now
        assert ids["hidden"] not in ana.every_ticket_id(), "an event about an invisible ticket reached the client"

        # A 1 MB body: the server may drop the connection that sent it (its packet limit), but it
        # must not change anything nor fall over; a new connection works.
        ana.sio.emit("open_ticket", MEGABYTE)
        ana.sio.emit("open_ticket", {"id": MEGABYTE})
        time.sleep(1.0)
    finally:
        if ana.sio.connected:
            ana.sio.disconnect()
    # Packets no client library writes, on the Engine.IO socket: JSON nested past Python's
    # recursion limit, packets that are no JSON, an unknown packet type. Each ends the connection
    # that sent it (one line in the log, not a traceback per packet).
    deep = 50000
    for raw in ('2["open_ticket",' + "[" * deep + "]" * deep + "]",
                '2["open_ticket",{"id":' + '{"a":' * deep + "1" + "}" * deep + "}]",
                '2["open_ticket",{"id":', "2{", '2["open_ticket"', "9xyz"):
        hostile = SocketRecorder(web.url, session_cookie(web.url, "ana@teste.com.br"))
        try:
            hostile.sio.eio.send(raw)
            assert wait_for(lambda: not hostile.sio.connected), raw[:40]
        finally:
            hostile.close()
    again = SocketRecorder(web.url, session_cookie(web.url, "ana@teste.com.br"))
    try:
        assert again.sio.call("open_ticket", {"id": ids["hidden"]}, timeout=10)["ok"] is False
        assert again.sio.call("open_ticket", {"id": ids["mine"]}, timeout=10) == {"ok": True}
    finally:
        again.sio.disconnect()
    db.session.expire_all()
    assert db.session.get(Ticket, ids["hidden"]).unread_count == 1
    assert len(commands(desk.connection.id)) == len(queued_before) + 1

    assert web.procs["web"].poll() is None, "the web process died"
    log = web.stderr_path.read_text(errors="replace")
    assert "Traceback" not in log, log[-4000:]
