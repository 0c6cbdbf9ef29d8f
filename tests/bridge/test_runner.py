"""SessionRunner without a browser: the lock that keeps a session single, and what it does with
an event the engine's inbox refuses."""
from tests.bridge.test_lifecycle import connection_row


def test_a_session_never_runs_twice_and_a_held_lock_protects_the_profile(app, db, factory, test_env):
    import os

    from redis import Redis

    from app.bridge.runner import SessionRunner, lock_key, profile_dir

    redis = Redis.from_url(test_env["REDIS_URL"])
    conn = factory.connection(enabled=True)
    profile = profile_dir(conn.id)
    profile.mkdir(parents=True)
    os.symlink("outro-servidor-12345", profile / "SingletonLock")
    redis.set(lock_key(conn.id), "outro-servidor:4242:abc", px=30_000)
    try:
        assert SessionRunner(conn.id, sink=lambda p: None).run() == "already running"
    finally:
        redis.delete(lock_key(conn.id))
    assert os.readlink(profile / "SingletonLock") == "outro-servidor-12345"
    assert connection_row(app, db, conn.id).status == "DISCONNECTED"


def test_an_event_the_inbox_refuses_is_dropped_not_retried_forever(app, db, factory):
    from app.bridge.runner import SessionRunner
    from app.models import InboundEvent

    conn = factory.connection()
    runner = SessionRunner(conn.id)  # the real sink: app.workers.ingest.submit
    bad = {"v": 1, "kind": "message", "connection_id": conn.id, "channel_id": "X" * 300, "chat_id": "5511988887777@c.us",
           "type": "text", "body": "oi", "timestamp": 1}
    assert runner.submit(bad) is False
    good = dict(bad, channel_id="3EB0GOOD")
    assert runner.submit(good) is True
    assert [e.channel_id for e in db.session.query(InboundEvent)] == ["3EB0GOOD"]


def test_session_lock_is_exclusive_renewable_and_released_only_by_its_holder(test_env):
    import os

    import pytest
    from redis import Redis

    from app.bridge import lock as session_lock

    redis = Redis.from_url(test_env["REDIS_URL"])
    name = test_env["REDIS_NAMESPACE"] + ":test:lock"
    first = session_lock.SessionLock(redis, name, ttl=5)
    second = session_lock.SessionLock(redis, name, ttl=5)
    assert first.acquire() and not second.acquire()
    first.renew()
    assert 4000 < redis.pttl(name) <= 5000
    second.release()  # not its lock: nothing happens
    assert session_lock.holder(redis, name) == first.value
    assert not session_lock.release_if_held_by(redis, name, os.getpid() + 1)
    # Taken over (it expired while we were stuck): the old holder learns it at its next renewal.
    redis.set(name, second.value)
    with pytest.raises(session_lock.LockLost):
        first.renew()
    assert session_lock.release_if_held_by(redis, name, os.getpid())  # the dead horse's lock, freed
    assert session_lock.holder(redis, name) is None
