"""The web process: `python -m app.web`. The only process that is monkey-patched."""
import os

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


def main():
    from app.realtime import socketio

    app = build()
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "5000"))
    socketio.run(app, host=host, port=port, log_output=os.environ.get("ACCESS_LOG") == "1")


if __name__ == "__main__":
    main()
