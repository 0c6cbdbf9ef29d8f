"""After a commit: push bridge commands and emit Socket.IO events for a `Changes`.

Used by every shell (REST API, Socket.IO handlers, RQ jobs, the bridge). Commands go on the
connection's Redis list `<ns>:bridge:<id>:commands`; events go through the Redis message queue
(`app.realtime.publisher`) so any process can emit and every web process delivers them.
"""
import json
import logging

from flask import current_app

from app.realtime import publisher
from app.workers import key, redis_conn

log = logging.getLogger(__name__)


def command_key(connection_id: int, app=None) -> str:
    return key(f"bridge:{connection_id}:commands", app)


def push_command(connection_id: int, command: dict, app=None) -> None:
    redis_conn(app).rpush(command_key(connection_id, app), json.dumps(command))


def publish(changes, app=None) -> None:
    """Never raises: the change is committed already, and the bridge also polls the outbox, so a
    Redis hiccup here loses nothing."""
    if not changes:
        return
    app = app or current_app
    try:
        for connection_id, command in changes.bridge_commands():
            push_command(connection_id, command, app)
    except Exception:
        log.exception("could not push bridge commands")
    try:
        emitter = publisher(app.config["REDIS_URL"], app.config["REDIS_NAMESPACE"])
        with emitter.batch():
            for event in changes.events():
                emitter.emit(event.name, event.data, to=event.rooms, namespace="/")
    except Exception:
        log.exception("could not publish events")
