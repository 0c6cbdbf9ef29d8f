#!/usr/bin/env python
"""One event to 500 agent sockets held by one web process: delivery time to every socket.

The stack is the real one, on its own temporary PostgreSQL database and Redis namespace (removed at
the end): the web process `python -m app.web` (eventlet, as run.py starts it) and 2 RQ worker
processes. `--members` Users (profile "user"), all in the same 3 queues, log in through /login/;
each holds one python-socketio AsyncClient (WebSocket, session cookie), spread over `--client-procs`
separate processes (asyncio), so the clients are not the bottleneck.

Each round, a customer writes in a ticket of a queue they all belong to, through the pipeline
(app.workers.ingest.submit_many, as the bridge hands messages over): the product publishes the
"ticket" and "message" events to the ticket's rooms and the web process delivers them to all.
Timed per socket, one clock (same machine): from the moment the "message" event is seen on the
web process's Socket.IO message queue (Redis) to its arrival at that socket (fan-out), and from
the submit (end to end).

Ceiling, same run, same machine, same client processes: a bare Flask-SocketIO server on eventlet
with no app logic (every socket joins one room on connect), fed the very same two events
through its own Redis message queue, timed the same way.

Usage: .venv/bin/python bench/socket_fanout.py [--members 500] [--rounds 20] [--client-procs 2]
"""
import sys

if __name__ == "__main__" and "--bare-server" in sys.argv:  # the ceiling's server: patch first
    import eventlet

    eventlet.monkey_patch()

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import multiprocessing as mp  # noqa: E402
import os  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))


def bare_server():
    """Flask-SocketIO on eventlet, no app logic: connect -> join "all"; emits come via Redis."""
    from flask import Flask
    from flask_socketio import SocketIO, join_room

    app = Flask(__name__)
    sio = SocketIO(app, message_queue=os.environ["REDIS_URL"], channel=os.environ["BARE_CHANNEL"],
                   async_mode="eventlet")
    sio.on_event("connect", lambda auth=None: join_room("all"))
    gc.collect()
    gc.freeze()  # as the product's web process does (app.settle_heap): the two on equal terms
    sio.run(app, host="127.0.0.1", port=int(os.environ["BARE_PORT"]))


def clients(url: str, cookies: list, ready, go, out, event: str = "message"):
    """A process of asyncio Socket.IO clients: connects all, reports, records until `go` is
    cleared; sends back [receive times {body: time}] per client."""
    import asyncio

    import socketio

    async def run():
        received = [dict() for _ in cookies]
        socks = []
        gate = asyncio.Semaphore(25)

        async def one(i, cookie):
            sio = socketio.AsyncClient(reconnection=False)

            @sio.on(event)
            async def on_event(data):
                received[i].setdefault(data["message"]["body"], time.time())

            async with gate:
                await sio.connect(url, headers={"Cookie": cookie} if cookie else {}, transports=["websocket"],
                                  wait_timeout=30)
            socks.append(sio)

        results = await asyncio.gather(*(one(i, c) for i, c in enumerate(cookies)), return_exceptions=True)
        failed = [r for r in results if isinstance(r, Exception)]
        # A full collection of 250 clients' objects stalled this process for up to 270 ms,
        # timestamps included: the clients would have been the bottleneck.
        gc.collect()
        gc.freeze()
        ready.put((len(socks), repr(failed[0]) if failed else None))
        while go.is_set():
            await asyncio.sleep(0.1)
        await asyncio.gather(*(s.disconnect() for s in socks), return_exceptions=True)
        return received

    out.put(asyncio.run(run()))


def hold(url, cookie_lists, rounds, fire, pause, profiler=None):
    """Start the client processes on `url`, wait until all are connected, call fire(k) `rounds`
    times `pause` seconds apart, collect: {body: [receive time per socket]} and how many connected."""
    ctx = mp.get_context("spawn")
    ready, out, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    go.set()
    t0 = time.time()
    procs = [ctx.Process(target=clients, args=(url, cl, ready, go, out)) for cl in cookie_lists]
    for p in procs:
        p.start()
    connected = 0
    for _ in procs:
        n, error = ready.get(timeout=300)
        connected += n
        if error:
            print(f"  a client could not connect: {error}")
    connect_seconds = time.time() - t0
    time.sleep(1)
    if profiler:
        profiler.start()
    for k in range(rounds):
        fire(k)
        time.sleep(pause)
    time.sleep(2)
    if profiler:
        profiler.stop()
    go.clear()
    got: dict[str, list[float]] = {}
    for _ in procs:
        for per_client in out.get(timeout=120):
            for body, t in per_client.items():
                got.setdefault(body, []).append(t)
    for p in procs:
        p.join(30)
    return got, connected, connect_seconds


def delivery(got, origin: dict) -> list[float]:
    return [1000 * (t - origin[body]) for body, times in got.items() if body in origin for t in times]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--pause", type=float, default=1.5, help="seconds between events")
    parser.add_argument("--client-procs", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--per-round", action="store_true", help="print the figures of each round too")
    parser.add_argument("--py-spy", metavar="DIR", help="record the web process and workers with py-spy into DIR")
    args = parser.parse_args()

    import socketio

    from socket_stack import (ChannelWatch, Profiler, SocketStack, free_port, inbound, load_line, login_cookie,
                              machine_line, open_tickets, percentile, summary)

    with SocketStack("sockfan") as stack:
        from app.workers.ingest import submit_many

        connection_id, queues, queue_ids = stack.add_connection()
        members = stack.add_members(args.members, queues)
        stack.start_web()
        workers = stack.start_workers(args.workers)
        open_tickets(stack, connection_id, range(1), queue_ids)
        t0 = time.time()
        import requests

        http = requests.Session()
        cookies = []
        for _, email in members:
            http.cookies.clear()
            cookies.append(login_cookie(stack.url, email, http))
        login_seconds = time.time() - t0
        split = [cookies[i::args.client_procs] for i in range(args.client_procs)]

        watch = ChannelWatch(stack.redis_url, stack.channel)
        watch.start()
        submitted = {}

        def fire_ours(k):
            body = f"fan-{k}"
            submitted[body] = time.time()
            with stack.app.app_context():
                submit_many([inbound(connection_id, 0, body)], stack.app)

        load_before = load_line()
        pids = {"web": stack.procs["web"].pid, **{f"worker{i}": w.pid for i, w in enumerate(workers)}}
        ours, ours_connected, ours_connect_s = hold(stack.url, split, args.rounds, fire_ours, args.pause,
                                                    Profiler(args.py_spy, pids))
        load_ours = load_line()
        watch.running = False
        stack.stop("web")

        # the ceiling: the same two events, through a bare server's own message queue
        bare_port, bare_channel = free_port(), stack.namespace + ":bare"
        stack.start("bare", [sys.executable, __file__, "--bare-server"], BARE_PORT=str(bare_port),
                    BARE_CHANNEL=bare_channel)
        bare_url = f"http://127.0.0.1:{bare_port}"
        _wait_http(bare_url + "/socket.io/?EIO=4&transport=polling")
        bare_watch = ChannelWatch(stack.redis_url, bare_channel)
        bare_watch.start()
        emitter = socketio.RedisManager(stack.redis_url, channel=bare_channel, write_only=True)
        ticket_event, message_event = watch.last["ticket"], watch.last["message"]

        def fire_bare(k):
            data = json.loads(json.dumps(message_event["data"]))
            (data[0] if isinstance(data, list) else data)["message"]["body"] = f"bare-{k}"
            emitter.emit("ticket", ticket_event["data"][0] if isinstance(ticket_event["data"], list)
                         else ticket_event["data"], room="all", namespace="/")
            emitter.emit("message", data[0] if isinstance(data, list) else data, room="all", namespace="/")

        bare, bare_connected, bare_connect_s = hold(bare_url, [[None] * len(c) for c in split], args.rounds,
                                                    fire_bare, args.pause)
        load_after = load_line()
        bare_watch.running = False

    fan = delivery(ours, watch.seen)
    e2e = delivery(ours, submitted)
    ceiling = delivery(bare, bare_watch.seen)
    expected = args.rounds * args.members
    print(machine_line())
    print(f"load average before: {load_before}; after our rounds: {load_ours}; after the ceiling's: {load_after}")
    print(f"{args.members} logged-in Users in the same 3 queues (logins took {login_seconds:.1f} s), "
          f"{args.client_procs} client processes (asyncio python-socketio); one web process on eventlet, "
          f"{args.workers} RQ workers (pids {pids}); {args.rounds} events, {args.pause} s apart")
    print(f"connected {ours_connected} of {args.members} in {ours_connect_s:.1f} s (client processes' start "
          f"included; bare server: {bare_connect_s:.1f} s); deliveries {len(fan)} of {expected}")
    print(f"fan-out, event on the message queue -> each socket: {summary(fan)} (target p95 <= 250 ms)")
    print(f"  end to end, submit_many -> each socket: {summary(e2e)}")
    print(f"ceiling, bare Flask-SocketIO/eventlet server, same events, {bare_connected} sockets: {summary(ceiling)} "
          f"({len(ceiling)} deliveries)")
    p95, c95 = percentile(fan, 95), percentile(ceiling, 95)
    if args.per_round:
        for k in range(args.rounds):
            one = delivery({f"fan-{k}": ours.get(f"fan-{k}", [])}, watch.seen)
            two = delivery({f"bare-{k}": bare.get(f"bare-{k}", [])}, bare_watch.seen)
            print(f"  round {k}: ours {summary(one)}; bare {summary(two)}")
    print(f"ratio p95 ours / ceiling: {p95 / c95:.2f}; p50: {percentile(fan, 50) / percentile(ceiling, 50):.2f}")
    print(f"target p95 <= 250 ms: {'met' if p95 <= 250 and len(fan) == expected else 'NOT met'}")


def _wait_http(url, timeout=30):
    import requests

    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer")


if __name__ == "__main__":
    if "--bare-server" in sys.argv:
        bare_server()
    else:
        main()
