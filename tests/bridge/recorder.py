"""BRIDGE_INBOUND_SINK for the bridge's boundary tests: records each inbound payload in Redis
(key <namespace>:test:inbound) instead of handing it to the engine."""
import json
import os

from redis import Redis


def record(payload: dict) -> None:
    json.dumps(payload)  # the contract: plain JSON types only
    redis = Redis.from_url(os.environ["REDIS_URL"])
    redis.rpush(f"{os.environ['REDIS_NAMESPACE']}:test:inbound", json.dumps(payload))
