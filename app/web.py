"""The web process: `python -m app.web`. The only process that is monkey-patched."""
import os
import signal
import sys

ASYNC_MODE = os.environ.get("ASYNC_MODE", "eventlet")

if ASYNC_MODE == "eventlet":
    import eventlet

    eventlet.monkey_patch()
    # psycopg waits for PostgreSQL in C (wait_c) unless it sees gevent's patching: under eventlet
    # one request waiting for a lock froze every request and socket of the process. Its select()
    # wait goes through eventlet's green select. (Before psycopg is imported: it chooses then.)
    os.environ.setdefault("PSYCOPG_WAIT_FUNC", "wait_select")


def build():
    """The web process's app, its start-up heap settled (app.settle_heap)."""
    from app import create_app, settle_heap

    app = create_app(async_mode=ASYNC_MODE)
    settle_heap()
    return app


def wait_for_gate() -> bool:
    """Started by run.py before its migrations (run.Child.start_gated): the app is built, and it
    serves once run.py writes a byte to the descriptor named by CONECTA_START_GATE. End of file
    (the preparation failed or was stopped, run.py died) means there is nothing to serve: False."""
    gate = os.environ.pop("CONECTA_START_GATE", None)
    if gate is None:
        return True
    fd = int(gate)
    try:
        return os.read(fd, 1) == b"1"
    finally:
        os.close(fd)


# How long a stopping web process lets the requests already running finish and answer (run.py
# gives its children 10 s before it kills them).
STOP_GRACE_SECONDS = 5.0
# How long Socket.IO clients get to receive their close packet before the server stops.
SOCKETS_CLOSE_SECONDS = 0.5


class InFlight:
    """WSGI middleware counting the HTTP requests being answered (Socket.IO's own, long polls and
    websockets that last as long as the page, excepted): until their response is sent."""

    def __init__(self, wsgi_app, socketio_prefix="/socket.io"):
        self.wsgi_app, self.socketio_prefix, self.count = wsgi_app, socketio_prefix, 0

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO", "").startswith(self.socketio_prefix):
            return self.wsgi_app(environ, start_response)
        from werkzeug.wsgi import ClosingIterator

        self.count += 1
        try:
            result = self.wsgi_app(environ, start_response)
        except BaseException:
            self.count -= 1
            raise
        return ClosingIterator(result, self._done)  # the server closes it once the body is sent

    def _done(self):
        self.count -= 1


def serve(app, socketio, host: str, port: int, log_output: bool) -> None:
    """eventlet's WSGI server (as socketio.run starts it), stopped cleanly by SIGTERM (run.py's
    stop, or anyone's) or SIGINT: a request already running was committed and may have been sent
    to WhatsApp; killed before answering, its sender gets no answer and may send it again. So:
    Socket.IO clients get a close packet (the chat page reconnects, to the restarted process, and
    fetches what it missed), the server stops accepting (eventlet closes idle keep-alive
    connections, and the busy ones once answered), the running requests get STOP_GRACE_SECONDS to
    answer, then it returns."""
    import eventlet
    import eventlet.wsgi
    from eventlet.green import socket

    in_flight = InFlight(app.wsgi_app)
    app.wsgi_app = in_flight
    address = socket.getaddrinfo(host, port)[0]
    listener = eventlet.listen(address[4], address[0])
    pool = eventlet.GreenPool(eventlet.wsgi.DEFAULT_MAX_SIMULTANEOUS_REQUESTS)
    server = eventlet.spawn(eventlet.wsgi.server, listener, app, custom_pool=pool, log_output=log_output)
    stop = []
    # The handler only takes note: it runs in whatever greenlet the signal interrupts (the hub's,
    # most often), where nothing may block or switch. The loop below looks every 0.2 s.
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.append(signum))
    signal.signal(signal.SIGINT, lambda signum, frame: stop.append(signum))
    while not stop and not server.dead:
        eventlet.sleep(0.2)
    if server.dead:
        server.wait()  # it failed: raise its error
        return
    print("[web] parando: terminando as requisições em andamento...", file=sys.stderr, flush=True)
    socketio.server.eio.disconnect()
    socketio.server.shutdown()
    eventlet.sleep(SOCKETS_CLOSE_SECONDS)
    # SystemExit ends eventlet's accept loop, which then marks every connection to close after its
    # current request and shuts the idle ones down; the listening socket is closed here at once
    # (eventlet closes it only once every connection has ended).
    server.kill(SystemExit())
    listener.close()
    deadline = eventlet.hubs.get_hub().clock() + STOP_GRACE_SECONDS
    while in_flight.count and eventlet.hubs.get_hub().clock() < deadline:
        eventlet.sleep(0.05)
    if in_flight.count:
        print(f"[web] {in_flight.count} requisição(ões) ainda em andamento após {STOP_GRACE_SECONDS:.0f}s; "
              "parando assim mesmo", file=sys.stderr, flush=True)


def main() -> int:
    from app.preflight import StartupError, check_port, port_number
    from app.realtime import socketio

    app = build()
    if not wait_for_gate():
        return 0
    host = os.environ.get("HOST", "127.0.0.1")
    try:
        port = port_number(os.environ.get("PORT"))
        # eventlet listens with SO_REUSEPORT: without this check, right before it binds, a port
        # another program (another Conecta, say) took since run.py checked it would be shared with
        # it instead of refused.
        check_port(host, port)
    except StartupError as exc:
        print(f"[web] Erro: {exc}", file=sys.stderr, flush=True)
        return 2
    log_output = os.environ.get("ACCESS_LOG") == "1"
    if ASYNC_MODE == "eventlet":
        serve(app, socketio, host, port, log_output)
    else:
        socketio.run(app, host=host, port=port, log_output=log_output)
    return 0


if __name__ == "__main__":
    sys.exit(main())
