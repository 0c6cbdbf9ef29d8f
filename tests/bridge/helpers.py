"""Helpers of the bridge tests: waiting, the simulator's control API, what the bridge submitted."""
import json
import time

import requests


def wait_for(predicate, timeout=30.0, interval=0.2, message="condition"):
    """Poll until predicate() returns something truthy; returns it."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {message} (last: {last!r})")


class Sim:
    """The simulator's control API (DESIGN.md §7), as tests and scripts outside the project use it."""

    def __init__(self, base):
        self.base = base.rstrip("/") + "/simulator"

    def sessions(self):
        r = requests.get(self.base + "/api/sessions", timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    def scan(self, qr, phone):
        return requests.post(self.base + "/api/scan", json={"qr": qr, "phone": phone}, timeout=10)

    def message(self, to, sender, body, name="Cliente", **extra):
        r = requests.post(self.base + "/api/messages", json=dict({"to": to, "from": sender, "name": name,
                                                                   "body": body}, **extra), timeout=10)
        assert r.status_code == 200, r.text
        return r.json()["id"]

    def call(self, to, sender):
        r = requests.post(self.base + "/api/calls", json={"to": to, "from": sender}, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()["id"]

    def number(self, number, whatsapp):
        """How WhatsApp knows a number: under another id, or not at all (whatsapp=None)."""
        r = requests.post(self.base + "/api/numbers", json={"number": number, "whatsapp": whatsapp}, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    def log(self, phone=None):
        r = requests.get(self.base + "/api/log", params={"phone": phone} if phone else None, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    def read(self, phone, customer):
        """Someone reads the customer's chat on the phone itself."""
        r = requests.post(self.base + "/api/read", json={"phone": phone, "customer": customer}, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()["count"]

    def logout(self, phone):
        return requests.post(self.base + "/api/logout", json={"phone": phone}, timeout=10)


def recorded(redis, namespace):
    """What the bridge submitted to the inbox (with BRIDGE_INBOUND_SINK=tests.bridge.recorder:record)."""
    return [json.loads(x) for x in redis.lrange(f"{namespace}:test:inbound", 0, -1)]


class SocketIOEvents:
    """Every Socket.IO event published through the Redis message queue (channel
    <namespace>:socketio), as the web processes receive it to deliver to their clients."""

    def __init__(self, redis_url, namespace):
        import threading

        from redis import Redis

        self.events = []
        self._closing = False
        self._pubsub = Redis.from_url(redis_url).pubsub(ignore_subscribe_messages=True)
        self._pubsub.subscribe(namespace + ":socketio")
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()

    def _listen(self):
        from redis.exceptions import ConnectionError as RedisConnectionError

        try:
            for message in self._pubsub.listen():
                try:
                    self.events.append(json.loads(message["data"]))
                except (TypeError, ValueError):
                    continue
        except (RedisConnectionError, AttributeError, ValueError):
            if not self._closing:  # lost during the test: let it show
                raise
            # close() shut the connection under the blocked read: the end of listening.

    def named(self, name):
        return [e for e in self.events if e.get("method") == "emit" and e.get("event") == name]

    def close(self):
        self._closing = True
        try:
            self._pubsub.close()
        except Exception:  # noqa: BLE001
            pass
