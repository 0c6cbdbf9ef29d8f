"""A web process that loses Redis for a while tells its connected pages to fetch again what they
may have missed (app.realtime.WebManager: Redis pub/sub keeps nothing for a listener that is away),
and hears events again: a real web process on a private redis-server that the test stops and
starts, and a real Socket.IO client logged in as an agent."""
import time

import pytest

from tests.conftest import ADMIN_EMAIL, SocketRecorder, session_cookie, wait_until
from tests.faults.conftest import PrivateRedis

pytestmark = pytest.mark.slow


def test_pages_fetch_again_after_the_web_process_lost_redis(app, stack):
    from app.realtime import publisher

    redis = PrivateRedis()
    redis.start()
    recorder = None
    try:
        stack.start_web(REDIS_URL=redis.url)
        recorder = SocketRecorder(stack.url, session_cookie(stack.url, ADMIN_EMAIL))
        time.sleep(1)
        assert not [e for e, _ in recorder.events if e == "resync"], "nothing to fetch again before a loss"
        redis.kill()
        time.sleep(5)
        redis.start()
        assert wait_until(lambda: [e for e, _ in recorder.events if e == "resync"], 30), recorder.events
        assert recorder.sio.connected, "the page stayed connected"
        # And it hears what is published after Redis came back.
        emitter = publisher(redis.url, stack.env["REDIS_NAMESPACE"])
        emitter.emit("ping-after-redis", {"n": 1}, namespace="/", room="admins")
        assert wait_until(lambda: ("ping-after-redis", {"n": 1}) in recorder.events, 30), recorder.events
    finally:
        if recorder is not None:
            recorder.close()
        stack.stop()
        redis.destroy()
