"""RQ plumbing: Redis connection, queue names (namespaced), and the worker class."""
from functools import lru_cache

from flask import current_app
from redis import Redis
from rq import Queue

# Queues of the job workers, most urgent first. Bridge sessions have their own queue.
JOB_QUEUES = ("ingest", "outbound", "default")
BRIDGE_QUEUE = "bridge"


# How long a worker (RQ's loop) waits before trying Redis again after losing it. RQ doubles the
# wait up to 60 s, and after a Redis restart each stale pooled connection fails once more: a restart
# of a second kept the workers asleep for half a minute while inbound messages waited.
REDIS_RETRY_SECONDS = 2.0


@lru_cache(maxsize=8)
def _redis(url: str) -> Redis:
    return Redis.from_url(url)


def redis_conn(app=None) -> Redis:
    app = app or current_app
    return _redis(app.config["REDIS_URL"])


def key(name: str, app=None) -> str:
    """A Redis key in this installation's namespace."""
    app = app or current_app
    return f"{app.config['REDIS_NAMESPACE']}:{name}"


def queue_name(name: str, namespace: str) -> str:
    return f"{namespace}-{name}"


def get_queue(name: str = "default", app=None) -> Queue:
    app = app or current_app
    return Queue(queue_name(name, app.config["REDIS_NAMESPACE"]), connection=redis_conn(app))
