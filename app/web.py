"""The web process: `python -m app.web`. The only process that is monkey-patched."""
import os
import sys

ASYNC_MODE = os.environ.get("ASYNC_MODE", "eventlet")

if ASYNC_MODE == "eventlet":
    import eventlet

    eventlet.monkey_patch()


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
    socketio.run(app, host=host, port=port, log_output=os.environ.get("ACCESS_LOG") == "1")
    return 0


if __name__ == "__main__":
    sys.exit(main())
