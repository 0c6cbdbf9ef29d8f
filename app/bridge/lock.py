"""One live session per connection, across processes and hosts: a Redis lock with a TTL that the
holder renews. Its value names the holder (host, pid, random), so the supervisor of a bridge worker
that died running a session can release the lock at once instead of waiting for the TTL."""
import os
import socket
import time
import uuid

from redis import Redis

LOCK_TTL = float(os.environ.get("BRIDGE_LOCK_TTL") or 30)  # seconds without renewal before another may take over
RENEW_EVERY = LOCK_TTL / 3

_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end"


class LockLost(RuntimeError):
    """Another process holds the session now: stop at once."""


def holder_prefix(pid: int | None = None) -> str:
    return f"{socket.gethostname()}:{pid or os.getpid()}:"


class SessionLock:
    def __init__(self, redis: Redis, name: str, ttl: float = LOCK_TTL):
        self.redis, self.name, self.ttl = redis, name, ttl
        self.value = holder_prefix() + uuid.uuid4().hex
        self.renewed_at = 0.0

    def acquire(self) -> bool:
        if self.redis.set(self.name, self.value, nx=True, px=int(self.ttl * 1000)):
            self.renewed_at = time.monotonic()
            return True
        return False

    def renew(self) -> None:
        if not self.redis.eval(_RENEW, 1, self.name, self.value, int(self.ttl * 1000)):
            raise LockLost(self.name)
        self.renewed_at = time.monotonic()

    def renew_if_due(self) -> None:
        if time.monotonic() - self.renewed_at >= RENEW_EVERY:
            self.renew()

    def release(self) -> None:
        self.redis.eval(_RELEASE, 1, self.name, self.value)


def holder(redis: Redis, name: str) -> str | None:
    value = redis.get(name)
    return value.decode() if value else None


def release_if_held_by(redis: Redis, name: str, pid: int) -> bool:
    """Release the lock when the process `pid` of this host held it (it died holding it)."""
    value = holder(redis, name)
    if value and value.startswith(holder_prefix(pid)):
        return bool(redis.eval(_RELEASE, 1, name, value))
    return False
