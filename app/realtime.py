"""Socket.IO: the server object shared by the web process, and an emitter for other processes.

Workers are not monkey-patched and run no Socket.IO server; they emit through the Redis message
queue with `publisher()`. Services never import this module: they return domain events and
their callers (views, jobs) publish them.
"""
from contextlib import contextmanager

import socketio as python_socketio
from flask_socketio import SocketIO

socketio = SocketIO()

_publishers: dict = {}


class Publisher(python_socketio.RedisManager):
    """A write-only Socket.IO client manager that reaches every web process through Redis (the
    message queue the web processes listen to). Inside `batch()` its emits are published in one
    Redis pipeline: a worker's batch of inbound messages costs one round trip, not one per event."""

    def __init__(self, redis_url: str, channel: str):
        super().__init__(redis_url, channel=channel, write_only=True)
        self._pending: list | None = None

    def _publish(self, data):
        if self._pending is not None:
            self._pending.append(data)
            return None
        return super()._publish(data)

    @contextmanager
    def batch(self):
        self._pending = []
        try:
            yield self
        finally:
            pending, self._pending = self._pending, None
            if pending:
                if not self.connected:
                    self._redis_connect()
                pipe = self.redis.pipeline(transaction=False)
                for data in pending:
                    pipe.publish(self.channel, self.json.dumps(data))
                pipe.execute()


def publisher(redis_url: str, namespace: str) -> Publisher:
    """The process's write-only emitter for this installation (see Publisher)."""
    key = (redis_url, namespace)
    if key not in _publishers:
        _publishers[key] = Publisher(redis_url, namespace + ":socketio")
    return _publishers[key]
