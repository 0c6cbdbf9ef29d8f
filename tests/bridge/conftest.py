"""Fixtures of the bridge tests: the simulator served by a real web process."""
import pytest

from tests.bridge.helpers import Sim


@pytest.fixture(autouse=True)
def fresh_sessions(test_env):
    """Connection ids restart with every test: so must their browser profiles (and no Chromium
    of an earlier test may survive it)."""
    import shutil
    from pathlib import Path

    from app.bridge.whatsapp_web import chromium_processes

    sessions = Path(test_env["INSTANCE_DIR"]) / "sessions"
    shutil.rmtree(sessions, ignore_errors=True)
    yield
    leftovers = [p for p in sessions.glob("*") if chromium_processes(p)] if sessions.exists() else []
    shutil.rmtree(sessions, ignore_errors=True)
    assert not leftovers, f"Chromium left running on {leftovers}"


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

