#!/usr/bin/env python
"""Inbound message -> the agent's Socket.IO client: latency at a steady rate, on the real stack.

The stack is the real one, on its own temporary PostgreSQL database and Redis namespace (removed at
the end): the web process `python -m app.web` (eventlet, as run.py starts it) and 2 RQ worker
processes. The agent is a User (profile "user") in 3 queues, logged in through /login/, whose
python-socketio client connects with that session cookie over WebSocket, as the chat page does.

Set-up (not timed): `--chats` customers write and pick one of the 3 queues from the menu. Then a
producer process plays the bridge for `--seconds` at `--rate` messages/s (open loop): every pump
(app.bridge.whatsapp_web.PUMP_STEP) it hands the messages due since the last one to
app.workers.ingest.submit_many, as app.bridge.runner does. Timed: from that call to the moment
the agent's client receives the message's "message" event (one clock: same machine).

Ceiling, same run, same web process, same client: a bare event published on the web process's
Socket.IO message queue (Redis) to the agent's room by this script, to its arrival at the client
(what any event costs with no database, no job and no app code), sent 10 times a second during the
run (and 100 times before it, on the idle stack).

Usage: .venv/bin/python bench/socket_latency.py [--rate 50] [--seconds 30] [--workers 2] [--chats 60]
"""
import argparse
import gc
import multiprocessing as mp
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from socket_stack import (ChannelWatch, Profiler, SocketStack, inbound, load_line, login_cookie,  # noqa: E402
                          machine_line, open_tickets, percentile, summary)


def producer(env: dict, connection_id: int, chats: list, rate: float, seconds: float, start_at: float, out):
    """Plays the bridge: returns {body: (time due, time handed to submit_many)}."""
    os.environ.update(env)
    from app import create_app
    from app.bridge.whatsapp_web import PUMP_STEP
    from app.workers.ingest import submit_many

    app = create_app()
    sent, seq = {}, 0
    with app.app_context():
        while time.time() < start_at:
            time.sleep(0.001)
        t0 = time.time()
        while time.time() < start_at + seconds:
            now = time.time()
            burst, due = [], []
            while t0 + seq / rate <= now:
                body = f"lat-{seq}"
                burst.append(inbound(connection_id, chats[seq % len(chats)], body))
                due.append((body, t0 + seq / rate))
                seq += 1
            if burst:
                handed = time.time()
                submit_many(burst, app)
                sent.update({body: (d, handed) for body, d in due})
            else:
                time.sleep(min(PUMP_STEP, max(0.0, t0 + seq / rate - time.time())))
    out.put(sent)


class Agent:
    """The agent's real Socket.IO client (python-socketio, WebSocket, session cookie)."""

    def __init__(self, url: str, cookie: str):
        import socketio

        self.messages: dict[str, float] = {}
        self.pings: list[float] = []
        self.sio = socketio.Client(reconnection=False)
        self.sio.on("message", self._message)
        self.sio.on("bench_ping", self._ping)
        self.sio.connect(url, headers={"Cookie": cookie}, transports=["websocket"], wait_timeout=10)

    def _message(self, data):
        seen = time.time()
        self.messages.setdefault(data["message"]["body"], seen)

    def _ping(self, data):
        self.pings.append(1000 * (time.time() - data["t"]))


def ping(stack, room: str, count: int, per_second: float, stop: threading.Event | None = None):
    """Publish bare events on the web process's message queue, as any other process emits."""
    import socketio

    emitter = socketio.RedisManager(stack.redis_url, channel=stack.channel, write_only=True)
    for _ in range(count):
        if stop is not None and stop.is_set():
            break
        emitter.emit("bench_ping", {"t": time.time(), "pad": "x" * 600}, room=room, namespace="/")
        time.sleep(1 / per_second)


def rq_job_times(stack, since: float, until: float) -> list[tuple[float, float]]:
    """(ms waiting in the queue, ms running) of each finished RQ job of the ingest queue enqueued
    in the window [since, until]."""
    from datetime import datetime

    from redis import Redis

    r, out = Redis.from_url(stack.redis_url), []
    origin = f"{stack.namespace}-ingest".encode()
    for k in r.scan_iter(match="rq:job:*", count=1000):
        if r.type(k) != b"hash":
            continue
        job = r.hgetall(k)
        if job.get(b"origin") != origin or not job.get(b"ended_at"):
            continue
        t = {f: datetime.fromisoformat(job[f.encode()].decode().replace("Z", "+00:00")).timestamp()
             for f in ("enqueued_at", "started_at", "ended_at")}
        if since <= t["enqueued_at"] <= until:
            out.append((1000 * (t["started_at"] - t["enqueued_at"]), 1000 * (t["ended_at"] - t["started_at"])))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chats", type=int, default=60)
    parser.add_argument("--py-spy", metavar="DIR", help="record the web process and workers with py-spy into DIR")
    args = parser.parse_args()

    with SocketStack("socklat") as stack:
        connection_id, queues, queue_ids = stack.add_connection()
        [(agent_id, email)] = stack.add_members(1, queues)
        stack.start_web()
        workers = stack.start_workers(args.workers)
        chats = list(range(args.chats))
        open_tickets(stack, connection_id, range(args.chats), queue_ids)
        agent = Agent(stack.url, login_cookie(stack.url, email))
        gc.collect()
        gc.freeze()  # this process stamps receive times: no long garbage collections in them
        time.sleep(1)

        ping(stack, f"user:{agent_id}", 100, 20)  # idle ceiling
        time.sleep(0.5)
        idle_pings, agent.pings = agent.pings, []

        ctx = mp.get_context("spawn")
        out = ctx.Queue()
        start_at = time.time() + 5
        proc = ctx.Process(target=producer, args=(stack.env, connection_id, chats, args.rate, args.seconds,
                                                  start_at, out))
        proc.start()
        while time.time() < start_at:
            time.sleep(0.01)
        load_before = load_line()
        watch = ChannelWatch(stack.redis_url, stack.channel)
        watch.start()
        profiler = Profiler(args.py_spy, {"web": stack.procs["web"].pid,
                                          **{f"worker{i}": w.pid for i, w in enumerate(workers)}})
        profiler.start()
        stop = threading.Event()
        pinger = threading.Thread(target=ping, args=(stack, f"user:{agent_id}", int(args.seconds * 10), 10, stop),
                                  daemon=True)
        pinger.start()
        sent = out.get(timeout=args.seconds + 120)
        proc.join()
        profiler.stop()
        load_end = load_line()
        deadline = time.time() + 60
        while time.time() < deadline and len(agent.messages) < len(sent):
            time.sleep(0.1)
        stop.set()
        pinger.join()
        busy_pings = agent.pings
        jobs = rq_job_times(stack, start_at, start_at + args.seconds)
        pids = {"web": stack.procs["web"].pid, "workers": [w.pid for w in workers]}
        agent.sio.disconnect()

    received = [body for body in sent if body in agent.messages]
    from_submit = [1000 * (agent.messages[b] - sent[b][1]) for b in received]
    from_due = [1000 * (agent.messages[b] - sent[b][0]) for b in received]
    to_queue = [1000 * (watch.seen[b] - sent[b][1]) for b in received if b in watch.seen]
    from_queue = [1000 * (agent.messages[b] - watch.seen[b]) for b in received if b in watch.seen]
    p95, ceiling_p95 = percentile(from_submit, 95), percentile(busy_pings, 95)
    print(machine_line())
    print(f"load average at the start of the window: {load_before}; at its end: {load_end}")
    print(f"{args.rate:.0f} messages/s for {args.seconds:.0f} s over {args.chats} tickets in 3 queues; "
          f"{args.workers} RQ worker processes; web process eventlet (pids {pids})")
    print(f"sent {len(sent)}, received by the agent's client {len(received)}")
    print(f"submit_many -> agent's Socket.IO client: {summary(from_submit)} (target p95 <= 150 ms)")
    print(f"  (from the moment each message was due, incl. the wait for the bridge's pump: {summary(from_due)})")
    print(f"  of which submit_many -> event on the message queue (inbox, RQ job, routing, publish): "
          f"{summary(to_queue)}")
    print(f"  and message queue -> agent's client (web process): {summary(from_queue)}")
    if jobs:
        waits, runs = zip(*jobs)
        print(f"  RQ ingest jobs enqueued in the window: {len(jobs)}; wait in the queue {summary(list(waits))}; "
              f"run {summary(list(runs))}")
    print(f"ceiling, bare event via the message queue -> same web process -> same client, during the run: "
          f"{summary(busy_pings)}")
    print(f"ceiling, same, idle stack before the run: {summary(idle_pings)}")
    print(f"ratio p95 ours / ceiling during the run: {p95 / ceiling_p95:.1f}; "
          f"p50: {percentile(from_submit, 50) / percentile(busy_pings, 50):.1f}")
    print(f"target p95 <= 150 ms: {'met' if p95 <= 150 and len(received) == len(sent) else 'NOT met'}")


if __name__ == "__main__":
    main()
