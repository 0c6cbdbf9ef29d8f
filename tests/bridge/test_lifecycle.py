"""Sessions in real processes: the bridge supervisor, its RQ bridge workers, Chromium and the
simulator served by the web process. Inbound events and the outbox are observed at the bridge's
boundary (BRIDGE_INBOUND_SINK / BRIDGE_OUTBOX = tests.bridge.recorder)."""
import json
import time

import pytest
from redis import Redis

from app.bridge.runner import profile_dir
from app.bridge.whatsapp_web import chromium_processes
from tests.bridge.helpers import SocketIOEvents, recorded, wait_for
from tests.bridge.recorder import queue_message

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = "5511999990000"
PHONE_2 = "5521988880000"
MARIA = "5511988887777"
BRIDGE_ENV = {"BRIDGE_INBOUND_SINK": "tests.bridge.recorder:record", "BRIDGE_OUTBOX": "tests.bridge.recorder",
              "BRIDGE_LOCK_TTL": "6", "BRIDGE_SUPERVISOR_SECONDS": "1", "BRIDGE_OUTBOX_SECONDS": "1",
              "BRIDGE_CHECK_SECONDS": "2"}


@pytest.fixture
def redis(test_env):
    return Redis.from_url(test_env["REDIS_URL"])


@pytest.fixture
def ns(test_env):
    return test_env["REDIS_NAMESPACE"]


def connection_row(app, db, connection_id):
    from app.models import Connection

    db.session.expire_all()
    row = db.session.get(Connection, connection_id)
    db.session.commit()
    return row


def wait_status(app, db, connection_id, status, timeout=60):
    return wait_for(lambda: (lambda c: c if c.status == status else None)(connection_row(app, db, connection_id)),
                    timeout=timeout, message=f"connection {connection_id} {status}")


def scan_connection(app, db, sim, connection_id, phone):
    row = wait_status(app, db, connection_id, "QRCODE")
    assert row.qr, "the QR code is kept on the connection while QRCODE"
    r = sim.scan(row.qr, phone)
    if r.status_code == 404:  # rotated between our read and the scan
        row = wait_for(lambda: (lambda c: c if c.qr and c.qr != row.qr else None)(connection_row(app, db, connection_id)),
                       message="next QR")
        r = sim.scan(row.qr, phone)
    assert r.status_code == 200, r.text
    connected = wait_status(app, db, connection_id, "CONNECTED")
    assert connected.phone == phone
    return connected


def inbound(redis, ns, **match):
    return [p for p in recorded(redis, ns) if all(p.get(k) == v for k, v in match.items())]


def no_chromium(app, connection_id):
    with app.app_context():
        profile = profile_dir(connection_id)
    return wait_for(lambda: chromium_processes(profile) == [] or None, timeout=20,
                    message="no Chromium left on the profile")


def test_scan_inbound_outbound_receipts_calls_and_restart_without_rescan(app, db, factory, sim_stack, sim, redis, ns):
    conn = factory.connection(enabled=True, read_receipts=False)
    sim_stack.start_bridge(**BRIDGE_ENV)
    scan_connection(app, db, sim, conn.id, PHONE)

    # Inbound → submitted once, with the ciphertext copy and the status/newsletter posts dropped.
    sim.message(PHONE, MARIA, "quero um orçamento", name="Maria")
    payload = wait_for(lambda: inbound(redis, ns, kind="message", body="quero um orçamento"), message="inbound")[0]
    assert (payload["connection_id"], payload["sender_phone"], payload["chat_id"]) == (conn.id, MARIA, MARIA + "@c.us")
    time.sleep(1)
    assert [p["body"] for p in inbound(redis, ns, kind="message")] == ["quero um orçamento"]

    # Outbound → the customer receives it once; acks come back through the inbox.
    queue_message(redis, ns, 1, connection_id=conn.id, chat_id=MARIA + "@c.us", type="text",
                  body="Olá Maria, segue o orçamento", channel_id="3EB0C0FFEE01")
    wait_for(lambda: [e for e in sim.log(MARIA) if e["type"] == "text"], message="text in the simulator log")
    wait_for(lambda: {a["ack"] for a in inbound(redis, ns, kind="ack", channel_id="3EB0C0FFEE01")} >= {"sent", "delivered"},
             message="acks")
    assert [json.loads(x)["channel_id"] for x in redis.lrange(f"{ns}:test:sent", 0, -1)] == ["3EB0C0FFEE01"]

    # Confirmação de Leitura off: a mark_read command does nothing on WhatsApp.
    redis.rpush(f"{ns}:bridge:{conn.id}:commands", json.dumps({"op": "mark_read", "chat_id": MARIA + "@c.us"}))
    call_id = sim.call(PHONE, MARIA)
    wait_for(lambda: inbound(redis, ns, kind="call", channel_id=call_id), message="call submitted")
    redis.rpush(f"{ns}:bridge:{conn.id}:commands", json.dumps({"op": "reject_call", "call_id": call_id,
                                                                "chat_id": MARIA + "@c.us"}))
    wait_for(lambda: [e for e in sim.log(MARIA) if e["type"] == "call_rejected"], message="call rejected")
    assert "seen" not in [e["type"] for e in sim.log(MARIA)]
    # ... on: it does.
    conn_row = connection_row(app, db, conn.id)
    conn_row.read_receipts = True
    db.session.commit()
    redis.rpush(f"{ns}:bridge:{conn.id}:commands", json.dumps({"op": "mark_read", "chat_id": MARIA + "@c.us"}))
    wait_for(lambda: [e for e in sim.log(MARIA) if e["type"] == "seen"], message="seen")

    # Every bridge process killed at once; a customer writes meanwhile.
    sim_stack.kill("bridge", 9)
    no_chromium(app, conn.id)
    sim.message(PHONE, MARIA, "alguém aí?")
    queue_message(redis, ns, 2, connection_id=conn.id, chat_id=MARIA + "@c.us", type="text",
                  body="Estamos aqui", channel_id="3EB0C0FFEE02")
    sim_stack.start_bridge(**BRIDGE_ENV)
    # Back without a scan: the status never shows a QR code again.
    seen_statuses = set()

    def connected_again():
        row = connection_row(app, db, conn.id)
        seen_statuses.add(row.status)
        return row.status == "CONNECTED" and inbound(redis, ns, kind="message", body="alguém aí?")

    wait_for(connected_again, timeout=60, interval=0.1, message="reconnected with the offline message")
    assert "QRCODE" not in seen_statuses
    wait_for(lambda: [e for e in sim.log(MARIA) if e["body"] == "Estamos aqui"], message="queued reply sent")
    time.sleep(2)
    bodies = [p["body"] for p in inbound(redis, ns, kind="message")]
    assert sorted(bodies) == ["alguém aí?", "quero um orçamento"]  # nothing lost, nothing twice
    assert [e["body"] for e in sim.log(MARIA) if e["type"] == "text"] == ["Olá Maria, segue o orçamento", "Estamos aqui"]


def test_killing_the_session_job_leaves_no_chromium_and_the_session_restarts(app, db, factory, sim_stack, sim, redis, ns):
    from rq.command import send_stop_job_command

    from app.bridge.jobs import session_job_id

    conn = factory.connection(enabled=True)
    sim_stack.start_bridge(**BRIDGE_ENV)
    scan_connection(app, db, sim, conn.id, PHONE)
    with app.app_context():
        job_id = session_job_id(conn.id)
        profile = profile_dir(conn.id)
    assert chromium_processes(profile), "the session runs Chromium on the connection's profile"
    before = {p.pid for p in chromium_processes(profile)}
    send_stop_job_command(redis, job_id)
    wait_for(lambda: not ({p.pid for p in chromium_processes(profile)} & before), timeout=20,
             message="the stopped session's Chromium gone")
    # The supervisor starts it again; the saved profile logs in without a scan.
    wait_for(lambda: chromium_processes(profile), timeout=30, message="a new Chromium")
    wait_status(app, db, conn.id, "CONNECTED")
    sim.message(PHONE, MARIA, "depois do reinício")
    wait_for(lambda: inbound(redis, ns, kind="message", body="depois do reinício"), message="inbound after restart")
    assert len([p for p in chromium_processes(profile) if p.parent() and "chromium" not in p.parent().name()]) == 1


def test_a_message_that_failed_to_reach_the_inbox_comes_back_before_the_chats_later_ones(app, db, factory, sim_stack,
                                                                                         sim, redis, ns):
    """The page hands a message over once; if the engine could not take it, the restarted
    session finds it among the unread, and a later message of that chat, which the new page
    hands over live, must not reach the engine before it."""
    conn = factory.connection(enabled=True)
    sim_stack.start_bridge(**dict(BRIDGE_ENV, BRIDGE_INBOUND_SINK="tests.bridge.recorder:record_failing_once"))
    scan_connection(app, db, sim, conn.id, PHONE)
    sim.message(PHONE, MARIA, "antes")
    wait_for(lambda: inbound(redis, ns, kind="message", body="antes"), message="first message")
    sim.message(PHONE, MARIA, "falha na primeira vez")
    wait_for(lambda: redis.llen(f"{ns}:test:sink_failures"), message="the inbox failing")
    sim.message(PHONE, MARIA, "depois")  # while the session restarts
    wait_for(lambda: inbound(redis, ns, kind="message", body="depois"), timeout=40, message="the later message")
    time.sleep(1)
    # The restarted session submits the unread ones again (the inbox ignores what it has): what
    # counts is the order in which each reached it first.
    first_seen = list(dict.fromkeys(p["body"] for p in inbound(redis, ns, kind="message")))
    assert first_seen == ["antes", "falha na primeira vez", "depois"]


def test_two_connections_at_once(app, db, factory, sim_stack, sim, redis, ns, test_env):
    first = factory.connection(enabled=True)
    second = factory.connection(enabled=True)
    socket_events = SocketIOEvents(test_env["REDIS_URL"], ns)
    sim_stack.start_bridge(**BRIDGE_ENV)
    scan_connection(app, db, sim, first.id, PHONE)
    scan_connection(app, db, sim, second.id, PHONE_2)
    # Each status change was pushed live to the admin screens (rooms admins and staff).
    wait_for(lambda: [e for e in socket_events.named("connection") if e["data"][0]["id"] == second.id
                      and e["data"][0]["status"] == "CONNECTED"], message="CONNECTED event")
    socket_events.close()
    for connection in (first, second):
        pushed = [e for e in socket_events.named("connection") if e["data"][0]["id"] == connection.id]
        statuses = [e["data"][0]["status"] for e in pushed]
        assert statuses[0] == "OPENING" and "QRCODE" in statuses and statuses[-1] == "CONNECTED"
        assert statuses.index("QRCODE") < statuses.index("CONNECTED")
        qr_event = next(e["data"][0] for e in pushed if e["data"][0]["status"] == "QRCODE")
        assert qr_event["qr"].startswith("2@")
        assert pushed[-1]["data"][0]["phone"] == (PHONE if connection is first else PHONE_2)
        assert all(sorted(e["room"]) == ["admins", "staff"] for e in pushed)
        # Every member hears whether the number is up, and nothing else of it (no QR code).
        told = [e["data"][0] for e in socket_events.named("channel") if e["data"][0]["id"] == connection.id]
        assert told and all(set(data) == {"id", "connected"} for data in told) and told[-1]["connected"] is True
    sim.message(PHONE_2, MARIA, "para o segundo número")
    sim.message(PHONE, MARIA, "para o primeiro número")
    wait_for(lambda: len(inbound(redis, ns, kind="message")) >= 2, message="two messages")
    by_body = {p["body"]: p["connection_id"] for p in inbound(redis, ns, kind="message")}
    assert by_body == {"para o segundo número": second.id, "para o primeiro número": first.id}
    # SIGTERM (what run.py sends on Ctrl-C) stops both sessions, Chromium included.
    sim_stack.procs["bridge"].send_signal(15)
    sim_stack.procs["bridge"].wait(30)
    no_chromium(app, first.id)
    no_chromium(app, second.id)


def test_the_catch_up_mark_is_kept_while_connected_and_forgotten_when_a_qr_code_shows(app, db, factory, sim_stack,
                                                                                     sim):
    """The mark a new session catches up from (Connection.inbound_stored_until) moves on while
    the session runs; a QR code means a new pairing, whose history is not ours to catch up."""
    import datetime as dt

    from app.models.base import utcnow

    conn = factory.connection(enabled=True)
    stale = utcnow() - dt.timedelta(days=2)
    row = connection_row(app, db, conn.id)
    row.inbound_stored_until = stale  # from the number paired before
    db.session.commit()
    sim_stack.start_bridge(**dict(BRIDGE_ENV, BRIDGE_MARK_SECONDS="1"))
    wait_status(app, db, conn.id, "QRCODE")
    assert connection_row(app, db, conn.id).inbound_stored_until is None
    scanned_at = utcnow()
    scan_connection(app, db, sim, conn.id, PHONE)
    first = wait_for(lambda: connection_row(app, db, conn.id).inbound_stored_until, message="the mark written")
    assert first >= scanned_at - dt.timedelta(seconds=1)
    wait_for(lambda: (connection_row(app, db, conn.id).inbound_stored_until or first) > first, timeout=10,
             message="the mark moving on")


def test_start_on_a_running_session_restarts_it_without_a_new_scan(app, db, factory, sim_stack, sim, redis, ns):
    """"Iniciar / reiniciar sessão" on a connected number: the status went to OPENING and stayed
    there (the running session never wrote it again), found in QA. The session now reopens its
    browser on the same profile, and reports CONNECTED again."""
    from app.services import connections

    conn = factory.connection(enabled=True)
    sim_stack.start_bridge(**BRIDGE_ENV)
    scan_connection(app, db, sim, conn.id, PHONE)
    with app.app_context():
        profile = profile_dir(conn.id)
    before = {p.pid for p in chromium_processes(profile)}
    assert connections.request_start(conn.id)["status"] == "OPENING"
    seen = set()

    def restarted():
        row = connection_row(app, db, conn.id)
        seen.add(row.status)
        now = {p.pid for p in chromium_processes(profile)}
        return row.status == "CONNECTED" and now and not now & before

    wait_for(restarted, timeout=40, interval=0.1, message="the session restarted and connected")
    assert "QRCODE" not in seen
    sim.message(PHONE, MARIA, "depois de reiniciar")
    wait_for(lambda: inbound(redis, ns, kind="message", body="depois de reiniciar"), message="inbound after restart")


def test_nobody_scans_then_timeout(app, db, factory, sim_stack, sim):
    conn = factory.connection(enabled=True)
    sim_stack.start_bridge(**dict(BRIDGE_ENV, BRIDGE_QR_TIMEOUT="6"))
    wait_status(app, db, conn.id, "QRCODE")
    row = wait_status(app, db, conn.id, "TIMEOUT", timeout=40)
    assert row.enabled is False and row.qr is None
    no_chromium(app, conn.id)


def test_logout_unlinks_and_wipes_the_profile(app, db, factory, sim_stack, sim, redis, ns):
    conn = factory.connection(enabled=True)
    sim_stack.start_bridge(**BRIDGE_ENV)
    scan_connection(app, db, sim, conn.id, PHONE)
    with app.app_context():
        profile = profile_dir(conn.id)
    assert profile.exists()
    redis.rpush(f"{ns}:bridge:{conn.id}:commands", json.dumps({"op": "logout"}))
    row = wait_status(app, db, conn.id, "DISCONNECTED")
    assert row.enabled is False
    wait_for(lambda: not profile.exists(), message="profile wiped")
    no_chromium(app, conn.id)
    assert sim.logout(PHONE).status_code == 404, "the phone no longer lists the device"


def test_phone_side_logout_is_reported(app, db, factory, sim_stack, sim):
    conn = factory.connection(enabled=True)
    sim_stack.start_bridge(**BRIDGE_ENV)
    scan_connection(app, db, sim, conn.id, PHONE)
    assert sim.logout(PHONE).status_code == 200
    row = wait_status(app, db, conn.id, "DISCONNECTED")
    assert row.status_reason and row.enabled is False
    no_chromium(app, conn.id)


def test_stale_profile_lock_from_another_host_is_cleared_once_the_redis_lock_is_ours(app, db, factory, sim_stack, sim):
    import os

    conn = factory.connection(enabled=True)
    with app.app_context():
        profile = profile_dir(conn.id)
    profile.mkdir(parents=True)
    # What a crash on another host leaves behind: Chromium refuses the profile while it exists.
    os.symlink("outro-servidor-12345", profile / "SingletonLock")
    os.symlink("outro-servidor-12345", profile / "SingletonCookie")
    sim_stack.start_bridge(**BRIDGE_ENV)
    wait_status(app, db, conn.id, "QRCODE")
    # Gone, or rewritten by the full Chromium (Debian's chromium-headless-shell writes none).
    stale = [name for name in ("SingletonLock", "SingletonCookie")
             if (profile / name).is_symlink() and os.readlink(profile / name) == "outro-servidor-12345"]
    assert stale == []


def test_watchdog_restarts_a_session_that_never_becomes_ready(app, db, factory, sim_stack, sim):
    conn = factory.connection(enabled=True)
    # A page where WhatsApp never becomes ready (wa-js finds no WhatsApp in it).
    sim_stack.start_bridge(**dict(BRIDGE_ENV, BRIDGE_READY_TIMEOUT="4",
                                  WHATSAPP_WEB_URL=sim_stack.url + "/simulator/phone/"))
    row = wait_for(lambda: (lambda c: c if c.status == "DISCONNECTED" and c.status_reason else None)(
        connection_row(app, db, conn.id)), timeout=40, message="watchdog")
    assert "não ficou pronto" in row.status_reason
    # ... and opens it again (with backoff), one Chromium at a time.
    wait_status(app, db, conn.id, "OPENING", timeout=20)
    with app.app_context():
        profile = profile_dir(conn.id)
    assert len([p for p in chromium_processes(profile) if "chromium" not in p.parent().name()]) <= 1
