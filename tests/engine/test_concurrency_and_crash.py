"""Nothing lost, nothing doubled: the same inbound event processed by several workers at once,
the first messages of a new contact arriving together, a worker killed mid-job, the sweep and the
scheduler."""
import datetime as dt
import sqlite3
import threading
import time

import psycopg
import pytest

from app.models import Contact, InboundEvent, Message, Ticket, TicketStatus
from tests.conftest import wait_until


def _in_threads(app, n, work):
    """Run work(i) in n threads, each with its own app context and database session, released
    together by a barrier. Returns the results (or raises the first error)."""
    barrier = threading.Barrier(n)
    results, errors = [None] * n, []

    def run(i):
        from app.models import db

        with app.app_context():
            try:
                barrier.wait()
                results[i] = work(i)
            except Exception as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    if errors:
        raise errors[0]
    return results


def test_the_same_event_processed_by_several_threads_at_once(engine, factory, app):
    from app.services import inbox

    q1, q2 = factory.queue(), factory.queue()
    c = factory.connection(queues=[q1, q2], greeting_message="Escolha")  # the menu is an outbound message
    event_id = inbox.receive(engine.message(c))
    results = _in_threads(app, 6, lambda i: inbox.process(event_id)[0])
    assert sorted(results).count("created") == 1 and set(results) <= {"created", "done", "duplicate"}
    assert engine.count(Contact) == 1 and engine.count(Ticket) == 1
    assert engine.count(Message, from_me=False) == 1
    assert engine.count(Message, from_me=True) == 1  # one menu, not six
    assert engine.tickets()[0].unread_count == 1
    assert engine.db.session.get(InboundEvent, event_id).processed_at is not None


def test_first_messages_of_a_new_contact_arriving_together_make_one_ticket(engine, factory, app):
    from app.services import inbox

    c = factory.connection(queues=[factory.queue(greeting_message="Olá")])
    ids = [inbox.receive(engine.message(c, body=f"parte {i}")) for i in range(5)]
    results = _in_threads(app, 5, lambda i: inbox.process(ids[i])[0])
    # A worker first processes the chat's earlier events still waiting (arrival order), so an event
    # may be found "done" by the worker its job ran in; on SQLite (no row locks) a worker may read
    # the event before another's commit and then find its message stored: "duplicate".
    assert results.count("created") <= 1 and set(results) <= {"created", "appended", "done", "duplicate"}
    assert engine.count(Contact) == 1
    assert [m.body for m in engine.db.session.query(Message).filter_by(from_me=False).order_by(Message.id)] == \
        [f"parte {i}" for i in range(5)]
    [ticket] = engine.tickets()
    assert ticket.status == TicketStatus.PENDING and ticket.unread_count == 5
    assert engine.count(Message, from_me=False) == 5
    assert engine.count(Message, from_me=True) == 1  # one greeting


@pytest.mark.slow
def test_the_same_event_ingested_by_several_worker_processes(engine, factory, stack):
    from app.services import inbox
    from app.workers import get_queue
    from app.workers.jobs import ingest

    c = factory.connection(queues=[factory.queue(greeting_message="Olá")])
    event_id = inbox.receive(engine.message(c))
    other_ids = [inbox.receive(engine.message(c, body=f"mais {i}")) for i in range(3)]
    queue = get_queue("ingest")
    jobs = [queue.enqueue(ingest, event_id) for _ in range(4)] + [queue.enqueue(ingest, i) for i in other_ids]
    for n in range(3):
        stack.start_worker(f"worker{n}")
    assert wait_until(lambda: all(j.get_status(refresh=True) == "finished" for j in jobs), 90), \
        [j.get_status() for j in jobs]
    assert engine.count(Contact) == 1 and engine.count(Ticket) == 1
    assert engine.count(Message, from_me=False) == 4 and engine.count(Message, from_me=True) == 1
    assert engine.tickets()[0].unread_count == 4


def drain_in_thread(app, lane):
    """A drain of `lane` running in a thread of its own (it blocks on a DatabaseLock, say): the
    thread, and a dict where it leaves how many events it took ("taken")."""
    from app.workers.jobs import drain_lane

    holder = {}

    def hold():
        from app.models import db

        with app.app_context():
            try:
                holder["taken"] = drain_lane(lane)
            finally:
                db.session.remove()

    thread = threading.Thread(target=hold)
    thread.start()
    return thread, holder


class DatabaseLock:
    """Holds a lock that makes a worker block inside its ingest transaction (the message insert on
    PostgreSQL, the first write on SQLite) until released."""

    def __init__(self, url):
        self.url = url

    def __enter__(self):
        if self.url.startswith("sqlite"):
            self.conn = sqlite3.connect(self.url.split("///", 1)[1], isolation_level=None)
            self.conn.execute("BEGIN IMMEDIATE")
        else:
            dsn = self.url.replace("postgresql+psycopg://", "postgresql://")
            self.conn = psycopg.connect(dsn)
            self.conn.execute("LOCK TABLE message IN EXCLUSIVE MODE")
        return self

    def release(self):
        if self.conn is not None:
            self.conn.rollback()
            self.conn.close()
            self.conn = None

    def __exit__(self, *exc):
        self.release()


@pytest.mark.slow
def test_a_worker_killed_mid_job_loses_nothing_and_the_event_is_processed_once(engine, factory, stack, test_env):
    from app.services import inbox
    from app.workers import get_queue
    from app.workers.jobs import ingest, sweep_inbox

    q1, q2 = factory.queue(), factory.queue()
    c = factory.connection(queues=[q1, q2], greeting_message="Escolha")
    event_id = inbox.receive(engine.message(c, body="socorro"))
    with DatabaseLock(test_env["DATABASE_URL"]) as lock:
        job = get_queue("ingest").enqueue(ingest, event_id)
        stack.start_worker("victim")
        assert wait_until(lambda: job.get_status(refresh=True) == "started", 60), job.get_status()
        time.sleep(1.0)  # well inside the job: blocked on the lock, its transaction open
        stack.kill("victim", 9)
        lock.release()
    engine.db.session.expire_all()
    assert engine.db.session.get(InboundEvent, event_id).processed_at is None
    assert engine.count(Message) == 0 and engine.count(Ticket) == 0  # the killed transaction left nothing

    # after the restart the periodic sweep finds the event (its job died with the worker)
    stack.start_worker("restarted")
    sweep = get_queue("default").enqueue(sweep_inbox, 0)
    assert wait_until(lambda: engine.db.session.get(InboundEvent, event_id, populate_existing=True).processed_at, 90)
    assert sweep.get_status(refresh=True) == "finished" and sweep.return_value() == 1
    assert engine.count(Ticket) == 1 and engine.count(Message, from_me=False) == 1
    assert engine.count(Message, from_me=True) == 1  # the menu, once
    # the sweep running again finds nothing to do
    again = get_queue("default").enqueue(sweep_inbox, 0)
    assert wait_until(lambda: again.get_status(refresh=True) == "finished", 30) and again.return_value() == 0


def test_sweep_reenqueues_lost_events_only(engine, factory):
    from app.services import inbox
    from app.workers.jobs import sweep_inbox

    c = factory.connection()
    lost = inbox.receive(engine.message(c, body="perdida"))  # stored, its job never enqueued
    poisoned = inbox.receive(engine.message(c, body="com defeito"))
    engine.db.session.get(InboundEvent, poisoned).attempts = inbox.MAX_ATTEMPTS
    engine.db.session.commit()
    assert inbox.due_events() == []  # too recent: its job may still be in the queue
    assert inbox.due_events(now=dt.datetime.utcnow() + dt.timedelta(minutes=2)) == [lost]
    assert sweep_inbox(0) == 1
    engine.drain()
    assert engine.db.session.get(InboundEvent, lost).processed_at is not None
    assert engine.count(Message, from_me=False) == 1


def test_scheduler_enqueues_each_periodic_job_once_per_period(engine, app):
    from app.workers import get_queue
    from app.workers.scheduler import PERIODIC, tick

    queue = get_queue("default")
    queue.empty()
    assert sorted(tick(app)) == sorted(PERIODIC)
    assert tick(app) == []  # a restarted or second scheduler does not enqueue again
    assert sorted(j.func_name for j in queue.jobs) == sorted(PERIODIC)
    queue.empty()


def test_submit_stores_then_enqueues_one_drain_per_lane(engine, factory):
    from app.services import inbox
    from app.workers import get_queue
    from app.workers.ingest import submit

    c = factory.connection()
    queue = get_queue("ingest")
    queue.empty()
    first = engine.message(c)
    event_id = submit(first)
    assert [(j.func_name, j.args) for j in queue.jobs] == [("app.workers.jobs.drain_lane", (inbox.lane_of(first),))]
    # more events of the chat while its drain waits in the queue: no job per event
    submit(engine.message(c, body="e mais isto"))
    assert submit(dict(first)) == event_id  # a duplicate is the first event
    assert len(queue.jobs) == 1
    engine.drain()
    assert engine.count(Message, from_me=False) == 2
    assert [m.body for m in engine.db.session.query(Message).filter_by(from_me=False).order_by(Message.id)] == \
        ["Olá", "e mais isto"]
    assert engine.count(InboundEvent, processed_at=None) == 0


def test_a_batch_keeps_chat_order_and_isolates_a_failing_event(engine, factory):
    """One lane's events in one transaction: in arrival order, a duplicate message stored once, and
    an ack for a message not stored yet left to the sweep without undoing the others."""
    from app.services import inbox
    from app.workers.jobs import drain_lane

    c = factory.connection(queues=[factory.queue(greeting_message="Olá")])
    payloads = [engine.message(c, body=f"parte {i}") for i in range(5)]
    lane = inbox.lane_of(payloads[0])
    ids = [inbox.receive(p) for p in payloads]
    # the same WhatsApp message under another inbox key cannot happen; the same message id twice
    # in one batch is stored once: receive dedups it before processing
    assert inbox.receive(dict(payloads[2])) == ids[2]
    # an ack in the same lane (so in the same batch) for a message not stored yet
    early_ack = next(a for a in (engine.ack(c, f"3EB0NAOENVIADA{i}", "delivered") for i in range(1000))
                     if inbox.lane_of(a) == lane)
    ack_id = inbox.receive(early_ack)
    ids.append(inbox.receive(engine.message(c, body="depois do ack")))
    assert drain_lane(lane) == 7
    engine.db.session.expire_all()
    bodies = [m.body for m in engine.db.session.query(Message).filter_by(from_me=False).order_by(Message.id)]
    assert bodies == [f"parte {i}" for i in range(5)] + ["depois do ack"]
    assert engine.count(Ticket) == 1 and engine.tickets()[0].unread_count == 6
    assert engine.count(Message, from_me=True) == 1  # the greeting, once
    ack = engine.db.session.get(InboundEvent, ack_id)
    assert ack.processed_at is None and ack.attempts == 1 and "NotYet" in ack.error
    assert all(engine.db.session.get(InboundEvent, i).processed_at for i in ids)
    assert not inbox.has_fresh(lane)
    assert drain_lane(lane) == 0  # nothing taken twice


@pytest.mark.postgresql_only  # SQLite locks the whole database: no event can be stored while the holder waits
def test_events_of_a_busy_lane_are_left_to_the_drain_holding_it(engine, factory, app, test_env):
    """While a drain holds a lane, an event submitted for it enqueues no job, and a drain queued
    earlier that starts meanwhile leaves at once; the holder, whose last read was before those
    events' commits, takes them before it stops (nothing waits for the sweep)."""
    from app.services import inbox
    from app.workers import get_queue
    from app.workers.ingest import submit
    from app.workers.jobs import drain_lane

    c = factory.connection()
    first, second, third = (engine.message(c, body=body) for body in ("primeira", "segunda", "terceira"))
    lane = inbox.lane_of(first)
    inbox.receive(first)
    queue = get_queue("ingest")
    queue.empty()
    with DatabaseLock(test_env["DATABASE_URL"]) as lock:
        thread, holder = drain_in_thread(app, lane)
        time.sleep(1.0)  # the holder has read the lane and waits inside its transaction
        assert thread.is_alive()
        submit(second)
        assert queue.jobs == []  # left to the holder
        inbox.receive(third)
        assert drain_lane(lane) == 0  # a drain queued before: the lane is busy, it leaves
        lock.release()
        thread.join(60)
    assert holder["taken"] == 3
    engine.db.session.expire_all()
    assert [m.body for m in engine.db.session.query(Message).filter_by(from_me=False).order_by(Message.id)] == \
        ["primeira", "segunda", "terceira"]
    assert engine.count(InboundEvent, processed_at=None) == 0


@pytest.mark.slow
def test_the_scheduler_process_drives_the_sweep_and_the_rating_expiry(engine, factory, stack):
    """`python -m app.workers.scheduler` + a worker: a lost event is processed, an expired rating
    wait ends, with nobody enqueuing anything by hand."""
    import subprocess
    import sys

    from app.services import inbox
    from tests.conftest import ROOT

    c = factory.connection()
    lost = inbox.receive(engine.message(c, body="ninguém me enfileirou"))
    event = engine.db.session.get(InboundEvent, lost)
    event.received_at = event.received_at - dt.timedelta(minutes=5)
    engine.deliver(engine.message(c, phone="5511955554444"))
    waiting = engine.tickets(contact_id=engine.db.session.query(Contact).filter_by(phone="5511955554444").one().id)[0]
    waiting.status, waiting.awaiting_rating = TicketStatus.CLOSED, True
    waiting.rating_expires_at = dt.datetime.utcnow() - dt.timedelta(minutes=1)
    engine.db.session.commit()

    stack.procs["scheduler"] = subprocess.Popen([sys.executable, "-m", "app.workers.scheduler"], env=stack.env,
                                                cwd=str(ROOT), start_new_session=True)
    stack.start_worker()

    def done():
        engine.db.session.expire_all()
        return (engine.db.session.get(InboundEvent, lost).processed_at is not None
                and not engine.db.session.get(Ticket, waiting.id).awaiting_rating)

    assert wait_until(done, 90)
    assert engine.count(Message, body="ninguém me enfileirou") == 1


def test_submit_many_stores_a_burst_in_one_transaction_and_refuses_only_the_bad_ones(engine, factory):
    """What the bridge hands over per pump of the page: valid events stored (once), a repeat
    inside the burst or of an earlier event answered with the first one's id, an invalid one
    refused alone, one drain per lane involved, and everything routed in order."""
    from app.services import DomainError, inbox
    from app.workers import get_queue
    from app.workers.ingest import submit, submit_many

    c = factory.connection(queues=[factory.queue(greeting_message="Olá")])
    queue = get_queue("ingest")
    queue.empty()
    earlier = engine.message(c, phone="5511911110000", body="antes")
    earlier_id = submit(earlier)
    burst = [engine.message(c, phone=f"551191111{n:04d}", body=f"msg {n}") for n in range(1, 7)]
    bad = dict(burst[2], kind="nada")
    burst = burst[:2] + [bad, dict(burst[1]), dict(earlier)] + burst[2:]
    results = submit_many(burst)
    assert isinstance(results[2], DomainError) and results[2].status == 422
    assert results[3] == results[1]  # the same event twice in the burst: stored once
    assert results[4] == earlier_id
    ids = [r for r in results if isinstance(r, int)]
    assert len(set(ids)) == 7 and engine.count(InboundEvent) == 7
    lanes = {inbox.lane_of(p) for p in burst if p is not bad}
    assert sorted(j.args[0] for j in queue.jobs) == sorted(lanes)  # one drain per lane
    engine.drain()
    bodies = sorted(m.body for m in engine.db.session.query(Message).filter_by(from_me=False))
    assert bodies == sorted(["antes"] + [f"msg {n}" for n in range(1, 7)])
    assert engine.count(InboundEvent, processed_at=None) == 0
    assert submit_many([bad]) and engine.count(InboundEvent) == 7  # a burst of only bad ones stores nothing


def test_a_cut_emoji_is_stored_and_does_not_stop_the_burst(engine, factory):
    """QA: a customer's text with a lone UTF-16 surrogate ("oi \\ud83d", an emoji cut in half:
    valid in WhatsApp Web's JavaScript, not writable as UTF-8) failed the whole burst it came in,
    and again after every restart of the session: no later message of the number got through.
    Now it is stored with the broken character as U+FFFD, with the rest of the burst, once; in a
    contact's name and in the chat id too, through submit_many and submit alike."""
    from app.models import Contact
    from app.workers.ingest import submit, submit_many

    c = factory.connection(queues=[factory.queue(greeting_message="Olá")])
    cut = engine.message(c, phone="5511922220001", name="Zé \ud83d", body="oi \ud83d quebrado")
    burst = [engine.message(c, phone="5511922220000", body="antes"), cut,
             engine.message(c, phone="5511922220002", body="depois")]
    results = submit_many(burst)
    assert all(isinstance(r, int) for r in results), results
    assert submit_many([cut]) == [results[1]]  # the same event again: the same one, not a second
    odd_chat = dict(engine.message(c, phone="5511922220003", body="grupo"), chat_id="1203\udc00@g.us")
    assert isinstance(submit(odd_chat), int)
    engine.drain()
    bodies = sorted(m.body for m in engine.db.session.query(Message).filter_by(from_me=False))
    assert bodies == sorted(["antes", "oi \ufffd quebrado", "depois", "grupo"])
    assert engine.db.session.query(Contact).filter_by(name="Zé \ufffd").count() == 1
    assert engine.count(InboundEvent, processed_at=None) == 0
