"""Socket.IO: the server object shared by the web process, and an emitter for other processes.

Workers are not monkey-patched and run no Socket.IO server; they emit through the Redis message
queue with `publisher()`. Services never import this module: they return domain events and
their callers (views, jobs) publish them.
"""
import time
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


# A member's sockets are in the rooms computed at connect (visibility.rooms_for). When what the
# member may see changes (queues, profile, removal), those rooms are stale: every socket of the
# member is disconnected, in every web process, and the chat page reconnects with fresh rooms (or
# is refused). Other web processes hear it as a `close_room` of this prefixed name on the Redis
# message queue (python-socketio's own cross-process message; no room of that name exists).
REVOKE_PREFIX = "conecta-revoke:"


def _disconnect_room(manager, room: str, namespace: str = "/") -> None:
    """Disconnect the sockets of this process that are in `room`."""
    for sid, _eio_sid in list(manager.get_participants(namespace, room)):
        manager.server.disconnect(sid, namespace=namespace, ignore_queue=True)


# Told to every socket of a web process whose Redis listener was cut and is back: what was
# published meanwhile never reached it (Redis pub/sub keeps nothing), so the page fetches its
# list and open conversation again, as after a reconnection of its own.
RESYNC = {"method": "emit", "event": "resync", "data": None, "namespace": "/", "room": None,
          "skip_sid": None, "callback": None, "host_id": None}


class WebManager(python_socketio.RedisManager):
    """The web process's client manager: python-socketio's Redis manager, which also obeys a
    member's socket revocation sent by another process (REVOKE_PREFIX), and tells its sockets to
    fetch again what they may have missed while it could not hear Redis (RESYNC)."""

    def _redis_listen_with_retries(self):
        """python-socketio's listening loop (RedisManager's, which doubles its wait up to 60 s
        between attempts) with the wait kept at REDIS_RETRY_SECONDS, and RESYNC handed to this
        process's sockets once listening again after a loss."""
        from app.workers import REDIS_RETRY_SECONDS

        lost = False
        while True:
            try:
                self._redis_connect()
                self.pubsub.subscribe(self.channel)
                if lost:
                    lost = False
                    self._get_logger().warning("listening to Redis again: the pages fetch what they missed")
                    yield {"channel": self.channel.encode("utf-8"), "type": "message", "data": RESYNC}
                yield from self.pubsub.listen()
            except Exception as exc:  # noqa: BLE001 - any loss of Redis: try again shortly
                if not lost:
                    self._get_logger().error("cannot receive from Redis (%s); trying again every %s s",
                                             exc.__class__.__name__, REDIS_RETRY_SECONDS)
                lost = True
                time.sleep(REDIS_RETRY_SECONDS)

    def _handle_close_room(self, message):
        room = message.get("room") or ""
        if room.startswith(REVOKE_PREFIX):
            _disconnect_room(self, room[len(REVOKE_PREFIX):], message.get("namespace") or "/")
            return None
        return super()._handle_close_room(message)


def refuse_malformed_packets(server) -> None:
    """A packet no Socket.IO client writes (not JSON, JSON nested past Python's recursion limit, an
    unknown packet type) makes python-socketio raise inside Engine.IO's message handler, which logs
    a traceback per packet: anyone, logged in or not, could fill the log with them. Such a packet
    now ends the connection that sent it, with one line in the log. (Engine.IO's own `message`
    handler is python-socketio's dispatcher; it is wrapped, not replaced.)"""
    dispatch = server.eio.handlers["message"]

    def guarded(eio_sid, data):
        try:
            return dispatch(eio_sid, data)
        except (ValueError, RecursionError) as exc:  # json.JSONDecodeError is a ValueError
            server.logger.warning("malformed Socket.IO packet (%s): connection closed", exc.__class__.__name__)
            server.eio.disconnect(eio_sid)
            return None

    server.eio.on("message", guarded)


def revoke_member_sockets(member_id: int) -> None:
    """Disconnect every socket of this member in every web process (see REVOKE_PREFIX). Called
    by the web process after a change of the member's access has been committed."""
    revoke_room_sockets(f"user:{member_id}")


def revoke_room_sockets(room: str) -> None:
    """Disconnect every socket in `room` (a member's, a browser session's), in every web process."""
    if socketio.server is None:
        return
    manager = socketio.server.manager
    if isinstance(manager, WebManager):
        manager.close_room(REVOKE_PREFIX + room, namespace="/")  # here, then published to the others
    else:  # one process, no message queue
        _disconnect_room(manager, room)


def publisher(redis_url: str, namespace: str) -> Publisher:
    """The process's write-only emitter for this installation (see Publisher)."""
    key = (redis_url, namespace)
    if key not in _publishers:
        _publishers[key] = Publisher(redis_url, namespace + ":socketio")
    return _publishers[key]
