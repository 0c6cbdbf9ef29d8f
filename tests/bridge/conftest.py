"""Fixtures of the bridge tests: the simulator served by a real web process."""
import pytest

from tests.bridge.helpers import Sim


@pytest.fixture
def sim_stack(stack):
    """A web process with the simulator mounted (QR rotating every 4 s)."""
    stack.start_web(SIMULATOR="1", SIMULATOR_QR_SECONDS="4")
    return stack


@pytest.fixture
def sim(sim_stack, test_env):
    """The control API, over a simulated network emptied for this test."""
    from redis import Redis

    redis = Redis.from_url(test_env["REDIS_URL"])
    for k in redis.scan_iter(match=test_env["REDIS_NAMESPACE"] + ":sim:*", count=1000):
        redis.delete(k)
    redis.delete(test_env["REDIS_NAMESPACE"] + ":test:inbound")
    return Sim(sim_stack.url)

