"""SessionRunner without a browser: the lock that keeps a session single, what it does with
an event the engine's inbox refuses, and a failed page call that was a logout."""
import time

from tests.bridge.test_lifecycle import connection_row


def test_a_session_never_runs_twice_and_a_held_lock_protects_the_profile(app, db, factory, test_env):
    import os

    from redis import Redis

    from app.bridge.runner import SessionRunner, lock_key, profile_dir

    redis = Redis.from_url(test_env["REDIS_URL"])
    conn = factory.connection(enabled=True)
    profile = profile_dir(conn.id)
    profile.mkdir(parents=True)
    os.symlink("outro-servidor-12345", profile / "SingletonLock")
    redis.set(lock_key(conn.id), "outro-servidor:4242:abc", px=30_000)
    try:
        assert SessionRunner(conn.id, sink=lambda p: None).run() == "already running"
    finally:
        redis.delete(lock_key(conn.id))
    assert os.readlink(profile / "SingletonLock") == "outro-servidor-12345"
    assert connection_row(app, db, conn.id).status == "DISCONNECTED"


def test_an_event_the_inbox_refuses_is_dropped_not_retried_forever(app, db, factory):
    from app.bridge.runner import SessionRunner
    from app.models import InboundEvent

    conn = factory.connection()
    runner = SessionRunner(conn.id)  # the real sink: app.workers.ingest.submit
    bad = {"v": 1, "kind": "message", "connection_id": conn.id, "channel_id": "X" * 300, "chat_id": "5511988887777@c.us",
           "type": "text", "body": "oi", "timestamp": 1}
    assert runner.submit(bad) is False
    good = dict(bad, channel_id="3EB0GOOD")
    assert runner.submit(good) is True
    assert [e.channel_id for e in db.session.query(InboundEvent)] == ["3EB0GOOD"]


def test_session_lock_is_exclusive_renewable_and_released_only_by_its_holder(test_env):
    import os

    import pytest
    from redis import Redis

    from app.bridge import lock as session_lock

    redis = Redis.from_url(test_env["REDIS_URL"])
    name = test_env["REDIS_NAMESPACE"] + ":test:lock"
    first = session_lock.SessionLock(redis, name, ttl=5)
    second = session_lock.SessionLock(redis, name, ttl=5)
    assert first.acquire() and not second.acquire()
    first.renew()
    assert 4000 < redis.pttl(name) <= 5000
    second.release()  # not its lock: nothing happens
    assert session_lock.holder(redis, name) == first.value
    assert not session_lock.release_if_held_by(redis, name, os.getpid() + 1)
    # Taken over (it expired while we were stuck): the old holder learns it at its next renewal.
    redis.set(name, second.value)
    with pytest.raises(session_lock.LockLost):
        first.renew()
    assert session_lock.release_if_held_by(redis, name, os.getpid())  # the dead horse's lock, freed
    assert session_lock.holder(redis, name) is None


def test_a_send_the_channel_refuses_shows_the_agent_a_portuguese_error_not_the_exception(app, db, factory):
    """What the agent reads under a failed message (and every member who sees the ticket gets in
    its event): a sentence in Portuguese, never the exception's text, which is English and may
    hold the server's paths; the detail goes to the log."""
    from app.bridge.runner import SessionRunner
    from app.models import Contact, Message, MessageStatus, Ticket

    conn = factory.connection()
    contact = Contact(channel="whatsapp", jid="5511988887777@c.us", phone="5511988887777", name="Maria")
    db.session.add(contact)
    db.session.flush()
    ticket = Ticket(contact_id=contact.id, connection_id=conn.id, status="open")
    db.session.add(ticket)
    db.session.flush()
    message = Message(ticket_id=ticket.id, connection_id=conn.id, channel_id="3EB0FALHA", from_me=True, type="document",
                      body="", media_path="outbound/sumiu.pdf", media_mime="application/pdf", media_name="boleto.pdf",
                      status=MessageStatus.QUEUED)
    db.session.add(message)
    db.session.commit()
    secret = "/srv/conecta/instance/media/outbound/sumiu.pdf"

    class Session:
        def resolve_chat(self, chat_id):
            return chat_id

        def already_sent(self, chat_id, channel_id):
            return False

        def send(self, command):
            raise FileNotFoundError(f"[Errno 2] No such file or directory: '{secret}'")

    runner = SessionRunner(conn.id, sink=lambda p: None)
    runner.session = Session()
    assert runner.lock.acquire()
    try:
        runner.send(message.id)
    finally:
        runner.lock.release()
    db.session.expire_all()
    failed = db.session.get(Message, message.id)
    assert failed.status == MessageStatus.FAILED
    assert failed.error == "O WhatsApp não aceitou a mensagem. Tente enviar de novo."


class _PageThatLoggedOut:
    """What the session's page does when the phone unlinks it: its calls fail ("aparelho não
    conectado") before it reports the logout, an instant later (`events` at the next pump)."""

    def __init__(self, batches):
        """`batches`: what each pump returns in turn (then nothing), or an exception it raises."""
        self.batches, self.closed = batches if isinstance(batches, Exception) else list(batches), False

    def pump(self, seconds):
        if isinstance(self.batches, Exception):
            raise self.batches
        if self.batches:
            return self.batches.pop(0)
        time.sleep(min(seconds, 0.05))  # a real pump waits for events
        return []

    def close(self):
        self.closed = True


def _runner_whose_call_fails(conn_id, page):
    from app.bridge.runner import SessionRunner, Stop

    class Runner(SessionRunner):
        lives = 0

        def browser_life(self):
            self.lives += 1
            if self.lives > 1:  # a second browser: the first failure was taken for a crash
                raise Stop("restarted")
            self.session = page
            raise RuntimeError("Page.evaluate: Error: aparelho não conectado")

        def sleep(self, seconds):
            pass

    return Runner(conn_id, sink=lambda p: None)


def test_a_call_failing_because_the_phone_logged_out_is_a_logout_not_a_crash(app, db, factory):
    """The phone logged out while the session was picking up unread messages: the call failed
    first, and the session reconnected to a QR code as after a crash, the connection still enabled
    and the logout never told (tests/bridge/test_lifecycle.py failed that way in a full run)."""
    conn_id = factory.connection(enabled=True).id
    page = _PageThatLoggedOut([[{"type": "message"}], [{"type": "logout"}]])
    runner = _runner_whose_call_fails(conn_id, page)
    assert runner.run() == "logout"
    row = connection_row(app, db, conn_id)
    assert (row.status, row.status_reason, row.enabled) == ("DISCONNECTED", "Desconectado pelo celular", False)
    assert page.closed


def test_a_call_failing_for_another_reason_is_still_retried(app, db, factory):
    from app.bridge.whatsapp_web import SessionClosed

    for events in ([[{"type": "message"}]], SessionClosed("browser gone")):
        conn_id = factory.connection(enabled=True).id
        runner = _runner_whose_call_fails(conn_id, _PageThatLoggedOut(events))
        assert runner.run() == "restarted" and runner.failures == 1
        row = connection_row(app, db, conn_id)
        assert row.enabled is True and row.status_reason.startswith("Reconectando após uma falha")


def test_a_stop_asked_during_a_pump_stores_what_that_pump_handed_over_first(app, db, factory, sim, monkeypatch):
    """QA: SIGTERM to the bridge worker left the last messages "sent": the stop was acted on
    between a pump and the handling of its events, and the acks it had taken from the page were
    dropped (the page hands each over once). The stop now comes once the pump's events are
    stored. Played with the real page: the stop is asked as the first ack is pumped."""
    from app.bridge import runner as runner_module
    from app.bridge.whatsapp_web import BridgeSession
    from app.models import InboundEvent
    from app.bridge.contract import ACKS
    from tests.bridge.test_session import PHONE, _queued_message

    conn_id = factory.connection(enabled=True).id
    message_id = _queued_message(db, conn_id, "3EB0STOP0001", "até logo")
    pumped_acks = []

    class StoppedWhilePumping(BridgeSession):
        def pump(self, seconds):
            events = super().pump(seconds)
            for event in events:
                if event.get("type") == "qr" and event.get("code"):
                    assert sim.scan(event["code"], PHONE).status_code == 200
                if event.get("type") == "ack":
                    pumped_acks.append(event)
                    runner_module.STOP.set()  # SIGTERM, while this pump was running
            return events

    monkeypatch.setattr(runner_module, "BridgeSession", StoppedWhilePumping)
    monkeypatch.setitem(app.config, "WHATSAPP_WEB_URL", sim.base + "/web/")
    try:
        assert runner_module.SessionRunner(conn_id).run() == "stopped"
    finally:
        runner_module.STOP.clear()
    assert pumped_acks and message_id
    db.session.expire_all()
    stored = {e.channel_id for e in db.session.query(InboundEvent).filter_by(connection_id=conn_id)}
    assert {f"ack:{ACKS[a['ack']]}:{a['id']}" for a in pumped_acks} <= stored
