"""BRIDGE_INBOUND_SINK for the bridge's boundary tests: records each inbound payload in Redis
(key <namespace>:test:inbound) instead of handing it to the engine."""
import json
import os

from redis import Redis


def record(payload: dict) -> None:
    json.dumps(payload)  # the contract: plain JSON types only
    redis = Redis.from_url(os.environ["REDIS_URL"])
    redis.rpush(f"{os.environ['REDIS_NAMESPACE']}:test:inbound", json.dumps(payload))


def record_failing_once(payload: dict) -> None:
    """Like record, but a message whose body starts with "falha" fails the first time (the
    engine's database was down): the session restarts and must find it again, in its place."""
    redis = Redis.from_url(os.environ["REDIS_URL"])
    namespace = os.environ["REDIS_NAMESPACE"]
    if (payload.get("body") or "").startswith("falha") and redis.set(
            f"{namespace}:test:failed:{payload['channel_id']}", 1, nx=True):
        redis.rpush(f"{namespace}:test:sink_failures", payload["channel_id"])
        raise RuntimeError("the inbox is unavailable")
    record(payload)


# BRIDGE_OUTBOX for the same tests: the five functions of app.services.outbound's contract over
# Redis (the engine keeps its outbox in the database).

def _r():
    return Redis.from_url(os.environ["REDIS_URL"])


def _k(name):
    return f"{os.environ['REDIS_NAMESPACE']}:test:{name}"


def queue_message(redis, namespace, message_id, **command):
    """Test side: store a queued outbound message (as the engine would) and wake the session."""
    redis.hset(f"{namespace}:test:outbox", message_id, json.dumps(dict(command, message_id=message_id)))
    redis.sadd(f"{namespace}:test:queued:{command['connection_id']}", message_id)
    redis.rpush(f"{namespace}:bridge:{command['connection_id']}:commands", json.dumps({"op": "send", "message_id": message_id}))


def pending_for(connection_id):
    return sorted(int(x) for x in _r().smembers(_k(f"queued:{connection_id}")))


def claim(message_id):
    from types import SimpleNamespace

    raw = _r().hget(_k("outbox"), message_id)
    if not raw:
        return None
    command = json.loads(raw)
    if not _r().sismember(_k(f"queued:{command['connection_id']}"), message_id):
        return None
    return SimpleNamespace(**command)


def _done(message_id, outcome, **extra):
    command = json.loads(_r().hget(_k("outbox"), message_id))
    _r().srem(_k(f"queued:{command['connection_id']}"), message_id)
    _r().rpush(_k(outcome), json.dumps(dict(extra, message_id=message_id)))


def mark_sent(message_id, channel_id):
    _done(message_id, "sent", channel_id=channel_id)


def mark_failed(message_id, error):
    _done(message_id, "failed", error=error)


def chat_moved(message_id, chat_id):
    _r().rpush(_k("moved"), json.dumps({"message_id": message_id, "chat_id": chat_id}))


def awaiting_ack(connection_id, since, limit=200):
    return []  # acks are recorded, not applied, at this boundary
