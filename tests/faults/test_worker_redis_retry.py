"""Workers come back within seconds of Redis (app.workers.REDIS_RETRY_SECONDS): RQ's own loop
doubles its wait after each failed attempt up to 60 s, so a Redis down for ten seconds would keep a
worker asleep for up to another sixteen while inbound messages wait. The worker runs as run.py
starts it (`rq worker -w <class>`), against a private redis-server that the test stops and starts."""
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue

from tests.conftest import wait_until
from tests.faults.conftest import PrivateRedis

pytestmark = pytest.mark.slow

DOWN_SECONDS = 9  # RQ's doubling would be at "retrying in 8 seconds" by then (1 + 2 + 4)


@pytest.mark.parametrize("worker_class", ["app.workers.worker.AppWorker", "app.bridge.worker.BridgeWorker"])
def test_a_worker_retries_redis_every_two_seconds_at_most(test_env, tmp_path, worker_class):
    redis = PrivateRedis()
    redis.start()
    log_path = tmp_path / "worker.log"
    queue_name = f"{test_env['REDIS_NAMESPACE']}-retry"
    worker, name = None, f"retry-{os.getpid()}-{time.monotonic_ns()}"
    try:
        with open(log_path, "w") as log:
            worker = subprocess.Popen(
                [str(Path(sys.executable).with_name("rq")), "worker", "-w", worker_class, "--url", redis.url,
                 "--name", name, queue_name],
                env=dict(os.environ, **dict(test_env, REDIS_URL=redis.url)), stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        connection = Redis.from_url(redis.url)
        # Waiting for jobs: RQ's first maintenance (registry cleaning) is over. Redis lost in the
        # middle of that ends an RQ worker (its loop quits on any error there; run.py starts it
        # again): not what this test measures.
        assert wait_until(lambda: connection.hget(f"rq:worker:{name}", "state") == b"idle", 60)
        time.sleep(0.5)
        redis.kill()
        time.sleep(DOWN_SECONDS)
        redis.start()
        # Still the worker of before (it was not restarted), and it works again: it runs a job.
        job = Queue(queue_name, connection=Redis.from_url(redis.url)).enqueue("os.getpid")
        assert wait_until(lambda: job.get_status(refresh=True) == "finished", 60), log_path.read_text()[-3000:]
        assert worker.poll() is None
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(30)
        redis.destroy()
    waits = [int(w) for w in re.findall(r"retrying in (\d+) seconds", log_path.read_text())]
    assert len(waits) >= 3, "the worker noticed Redis gone and tried again"
    assert max(waits) <= 2, waits
