"""Socket.IO: the server object shared by the web process, and an emitter for other processes.

Workers are not monkey-patched and run no Socket.IO server; they emit through the Redis message
queue with `publisher()`. Services never import this module: they return domain events and
their callers (views, jobs) publish them.
"""
from flask_socketio import SocketIO

socketio = SocketIO()

_publishers: dict = {}


def publisher(redis_url: str, namespace: str) -> SocketIO:
    """A write-only Socket.IO instance that reaches every web process through Redis."""
    key = (redis_url, namespace)
    if key not in _publishers:
        _publishers[key] = SocketIO(message_queue=redis_url, channel=namespace + ":socketio")
    return _publishers[key]
