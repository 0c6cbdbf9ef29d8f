"""Nothing lost, nothing duplicated, under faults, with the real bridge (issue 6, part 1, fault d).

The product runs as in production: `python run.py` (web with the simulator mounted, two RQ workers,
scheduler, bridge supervisor and its bridge workers, Chromium) against a private PostgreSQL and a
private Redis. An admin starts the connection through the REST API and the phone scans its QR code
through the simulator's control API (DESIGN.md §7). Then customers write through the control API,
the bridge's Chromium receives their messages on the simulated WhatsApp Web and hands them to the
engine, an agent answers through the REST API, and the bridge sends the answers back to the
simulator, where the test reads what each customer received (`/simulator/api/log`).

While the stream flows the test kills -9 the bridge session job (the bridge worker process running
the BridgeSession; what happens to its Playwright driver and Chromium is checked), restarts Redis
(contents lost: queues, session lock, command lists), crashes and restarts PostgreSQL, kills -9 an
RQ worker and kills -9 the web process (the simulator's web side goes down with it: customers and
the page retry). The simulated WhatsApp network keeps its state in a Redis of its own
(SIMULATOR_REDIS_URL), which is not restarted: WhatsApp's servers do not forget when ours do.
After recovery:
- every message the simulated network accepted from a customer is stored exactly once, in the
  order the customer sent it (per ticket), although the simulator hands unread messages out again
  to a restarted session, as WhatsApp does;
- every outbound message was received by its customer exactly once, or is marked failed;
- nothing of the killed session is left running, and exactly one browser runs the live session.
"""
import collections
import json
import os
import signal
import threading
import time

import psutil
import pytest
import requests

from tests.faults.conftest import PrivateRedis, Supervised
from tests.faults.stream import (Agent, Api, Faults, customers_done, installation, scalar_now, steady_workers, wait_for,
                                 wait_stream_recovered)

pytestmark = [pytest.mark.slow, pytest.mark.browser]

PHONE = "5511999990000"  # the connection's number
CUSTOMERS = 12
MESSAGES_EACH = 20
SEND_INTERVAL = 0.15  # seconds between two customer messages (all customers together)
RECOVERY_TIMEOUT = 120
BRIDGE_ENV = {"SIMULATOR": "1", "BRIDGE_SUPERVISOR_SECONDS": "1", "BRIDGE_OUTBOX_SECONDS": "1",
              "BRIDGE_CHECK_SECONDS": "2", "BRIDGE_LOCK_TTL": "10"}


def customer_phone(customer):
    return f"55119{customer:08d}"


class Customers(threading.Thread):
    """Customers writing through the simulator's control API, retried while the web process is
    down. What the network accepted is read back from the simulator afterwards, so a retry of a
    request that had been accepted before the process died is just one more message."""

    def __init__(self, base_url):
        super().__init__(daemon=True)
        self.url = base_url + "/simulator/api/messages"
        self.retries = 0
        self.error = None

    def run(self):
        try:
            for n in range(MESSAGES_EACH):
                for customer in range(CUSTOMERS):
                    body = {"to": PHONE, "from": customer_phone(customer), "name": f"Cliente {customer}",
                            "body": f"cliente {customer} mensagem {n}"}
                    deadline = time.monotonic() + 90
                    while True:
                        try:
                            r = requests.post(self.url, json=body, timeout=5)
                            if r.status_code == 200:
                                break
                        except requests.RequestException:
                            pass
                        if time.monotonic() > deadline:
                            raise RuntimeError("the simulator did not come back")
                        self.retries += 1
                        time.sleep(0.3)
                    time.sleep(SEND_INTERVAL)
        except Exception as exc:  # pragma: no cover - reported by the test
            self.error = exc


def network_messages(redis, namespace):
    """What the simulated network accepted from customers for our number: id → message."""
    raw = redis.hgetall(f"{namespace}:sim:msg:{PHONE}")
    found = {k.decode(): json.loads(v) for k, v in raw.items()}
    return {mid: m for mid, m in found.items() if not m.get("from_me")}


def received_log(base_url):
    r = requests.get(base_url + "/simulator/api/log", timeout=10)
    r.raise_for_status()
    return r.json()


def browsers(profile):
    """The main Chromium processes on the profile (one per running browser)."""
    from app.bridge.whatsapp_web import chromium_processes

    out = []
    for proc in chromium_processes(profile):
        try:
            parent = proc.parent()
            if proc.status() != psutil.STATUS_ZOMBIE and not (parent and "chromium" in parent.name()):
                out.append(proc)
        except psutil.Error:
            continue
    return out


def session_process(redis, namespace, connection_id):
    """The process running the connection's BridgeSession: the pid in its Redis lock."""
    value = redis.get(f"{namespace}:bridge:{connection_id}:lock")
    return int(value.decode().split(":")[1]) if value else None


@pytest.fixture
def whatsapp_network():
    """The simulated WhatsApp's own Redis: never restarted by the test."""
    network = PrivateRedis()
    try:
        network.start()
        yield network
    finally:
        network.destroy()


def test_real_bridge_stream_survives_faults(private_servers, fault_env, whatsapp_network):
    from redis import Redis
    from sqlalchemy import func, select

    from app.bridge.runner import profile_dir
    from app.bridge.whatsapp_web import chromium_processes
    from app.models import InboundEvent, Message, MessageStatus, Ticket, db

    pg, our_redis = private_servers
    fault_env.update(BRIDGE_ENV, SIMULATOR_REDIS_URL=whatsapp_network.url)
    namespace = fault_env["REDIS_NAMESPACE"]
    redis, network_redis = Redis.from_url(fault_env["REDIS_URL"]), Redis.from_url(whatsapp_network.url)
    app, connection_id = installation()
    with app.app_context():
        profile = profile_dir(connection_id)

    product = Supervised(fault_env)
    stop = threading.Event()
    product.start()
    customers, agent = Customers(product.url), Agent(product.url, stop)
    agent_thread = threading.Thread(target=agent.run, daemon=True)
    faults, chromium_notes = Faults(product, pg, our_redis), []
    try:
        # The admin starts the connection; the phone scans the QR code the API shows.
        admin = Api(product.url)
        assert admin.call("POST", f"/api/v1/connection/{connection_id}/start").status_code == 200

        def scanned():
            body = admin.call("GET", f"/api/v1/connection/{connection_id}/qr").json()
            if body["status"] == "QRCODE" and body["qr"]:
                r = requests.post(product.url + "/simulator/api/scan", json={"qr": body["qr"], "phone": PHONE},
                                  timeout=5)
                return r.status_code == 200
            return False
        wait_for(scanned, 90, "the QR code shown and scanned")

        def connected():
            return admin.call("GET", f"/api/v1/connection/{connection_id}/qr").json()["status"] == "CONNECTED"
        wait_for(connected, 60, "the connection CONNECTED")

        customers.start()
        agent_thread.start()
        product.wait_child("rq", "worker")

        # (d) kill -9 the bridge session job: the bridge worker process running BridgeSession.
        time.sleep(5)
        session_pid = session_process(redis, namespace, connection_id)
        assert session_pid, "a session holds the connection's lock"
        session = psutil.Process(session_pid)
        assert "app.bridge.supervisor" in " ".join(session.parent().cmdline()), \
            "the lock holder is a bridge worker (forked by the bridge supervisor)"
        session_tree = session.children(recursive=True)
        old_browsers = browsers(profile)
        assert len(old_browsers) == 1, "one browser on the profile before the kill"
        old_chromium = {p.pid for p in chromium_processes(profile)}
        driver = [p for p in session_tree if p.pid not in old_chromium]
        os.kill(session_pid, signal.SIGKILL)
        faults.done.append("kill -9 bridge session process")
        killed_at = time.monotonic()

        def session_tree_gone():
            return not [p for p in session_tree if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        wait_for(session_tree_gone, 30, "the killed session's Playwright driver and Chromium gone")
        chromium_notes.append(f"killed session process {session_pid}: its {len(old_chromium)} Chromium processes and "
                              f"{len(driver)} driver process(es) gone after {time.monotonic() - killed_at:.1f}s")

        def new_session():
            pid = session_process(redis, namespace, connection_id)
            return pid and pid != session_pid and connected() and len(browsers(profile)) == 1
        wait_for(new_session, 60, "a new session CONNECTED with one browser")
        chromium_notes.append(f"new session CONNECTED {time.monotonic() - killed_at:.1f}s after the kill")

        time.sleep(3)
        faults.restart_redis()
        time.sleep(4)
        faults.crash_postgres()
        time.sleep(4)
        faults.kill_rq_worker()
        workers_running = steady_workers(product)
        time.sleep(4)
        faults.kill_web("kill -9 web process (and the simulator's web side)")

        customers_done(workers_running, customers, MESSAGES_EACH * CUSTOMERS * SEND_INTERVAL + 180, stop,
                       agent_thread)

        expected = network_messages(network_redis, namespace)

        wait_stream_recovered(app, expected, RECOVERY_TIMEOUT)
        wait_for(connected, 60, "the connection CONNECTED at the end")
        time.sleep(3)  # late duplicates, if any, would show up now

        unprocessed_now = select(func.count()).where(InboundEvent.processed_at.is_(None))
        # acks of the last sends included
        wait_for(lambda: not scalar_now(app, unprocessed_now), RECOVERY_TIMEOUT, "every inbox event processed")

        log = [e for e in received_log(product.url) if e["from"] == PHONE]
        live_browsers = browsers(profile)
        live_chromium = chromium_processes(profile)
        with app.app_context():
            inbound = db.session.execute(select(Message.id, Message.ticket_id, Message.channel_id).where(
                Message.from_me.is_(False), Message.type == "text").order_by(Message.id)).all()
            outbound_rows = db.session.execute(select(Message.id, Message.status, Message.user_id, Message.channel_id)
                                               .where(Message.from_me.is_(True))).all()
            tickets = db.session.execute(select(Ticket.id, Ticket.contact_id)).all()
            unprocessed = db.session.scalar(select(func.count()).where(InboundEvent.processed_at.is_(None)))
    finally:
        stop.set()
        product.stop()
    left_after_stop = chromium_processes(profile)

    # Inbound: the network's messages, each stored once, in each customer's order.
    by_channel = collections.Counter(row.channel_id for row in inbound)
    stored = sum(1 for mid in expected if by_channel[mid])
    duplicated = sum(n - 1 for n in by_channel.values() if n > 1)
    lost = len(expected) - stored
    unknown = sum(1 for c in by_channel if c not in expected)
    out_of_order = 0
    per_ticket = collections.defaultdict(list)
    for row in inbound:
        if row.channel_id in expected:
            per_ticket[row.ticket_id].append(expected[row.channel_id]["seq"])
    for seqs in per_ticket.values():
        out_of_order += sum(1 for a, b in zip(seqs, seqs[1:]) if b <= a)

    # Outbound: what each customer received, by our channel id.
    received = collections.Counter(e.get("id") for e in log if e["type"] in ("text", "list", "media"))
    outbound_ids = {row.id for row in outbound_rows}
    failed = [row for row in outbound_rows if row.status == MessageStatus.FAILED]
    failed_but_received = sum(1 for row in failed if received[row.channel_id])
    delivered = [row for row in outbound_rows if row.status != MessageStatus.FAILED]
    received_once = sum(1 for row in delivered if received[row.channel_id] == 1)
    out_duplicated = sum(received[row.channel_id] - 1 for row in outbound_rows if received[row.channel_id] > 1)
    never_received = sum(1 for row in delivered if not received[row.channel_id])
    agent_lost = sum(1 for mid in agent.queued if mid not in outbound_ids)

    print(f"\nfaults: {'; '.join(faults.done)}")
    print("chromium: " + "; ".join(chromium_notes) +
          f"; at the end {len(live_browsers)} browser ({len(live_chromium)} processes) on the profile, "
          f"{len(left_after_stop)} after run.py stopped")
    print(f"inbound: sent={len(expected)} stored={stored} duplicated={duplicated} lost={lost} "
          f"out_of_order={out_of_order} unknown={unknown} tickets={len(tickets)} unprocessed_events={unprocessed} "
          f"customer_retries={customers.retries}")
    automatic = sum(1 for r in outbound_rows if r.user_id is None)
    print(f"outbound: queued={len(outbound_rows)} (agent={len(outbound_rows) - automatic} of which "
          f"{len(agent.queued)} answered 201, automatic={automatic}) received={received_once} "
          f"failed={len(failed)} (received anyway={failed_but_received}) duplicated={out_duplicated} "
          f"never_received={never_received} agent_lost={agent_lost} agent_errors={dict(agent.errors)}")

    assert len(expected) >= CUSTOMERS * MESSAGES_EACH
    assert lost == 0 and duplicated == 0 and unknown == 0, "customer messages lost or duplicated"
    assert out_of_order == 0, "messages out of order within a ticket"
    assert len(tickets) == CUSTOMERS, "one ticket per customer"
    assert unprocessed == 0
    assert agent.queued, "the agent could not queue anything"
    assert not [e for e in agent.errors if " 500" in e], agent.errors
    assert agent_lost == 0, "a message the API accepted is not in the database"
    assert out_duplicated == 0 and never_received == 0, "outbound messages received twice or never"
    assert len(live_browsers) == 1, "exactly one browser runs the live session"
    assert not left_after_stop, "Chromium left running after run.py stopped"
