"""Periodic jobs (RQ 3 has no cron): `python -m app.workers.scheduler`, started by run.py.

Every tick it enqueues each job that is due. Due-ness is a Redis key with the job's period as
expiry (SET NX EX): restarting the scheduler, or running two, never enqueues a job twice per period,
and a scheduler that was down simply enqueues at its next tick.
"""
import logging
import signal
import time

from app.workers import get_queue, key, redis_conn

log = logging.getLogger(__name__)

# job path -> period in seconds (the inbox sweep's comes from the configuration, see periodic())
PERIODIC = {
    "app.workers.jobs.sweep_inbox": 30,
    "app.workers.jobs.expire_ratings": 60,
    # a lane whose drain died with a killed worker is drained again within seconds
    "app.workers.jobs.rescue_lanes": 5,
}


def periodic(app) -> dict[str, tuple[int, dict]]:
    """job path -> (period in seconds, keyword arguments)."""
    jobs = {job: (period, {}) for job, period in PERIODIC.items()}
    jobs["app.workers.jobs.sweep_inbox"] = (int(app.config.get("INBOX_SWEEP_EVERY", 30)),
                                            {"older_than_seconds": float(app.config.get("INBOX_SWEEP_AFTER", 60))})
    return jobs


def tick(app) -> list[str]:
    """Enqueue the jobs that are due; returns their names."""
    enqueued = []
    conn = redis_conn(app)
    for job, (period, kwargs) in periodic(app).items():
        if conn.set(key(f"scheduler:{job}", app), "1", nx=True, ex=period):
            get_queue("default", app).enqueue(job, kwargs=kwargs)
            enqueued.append(job)
    return enqueued


# A tick is one SET per job: often, so a job of a 5 s period runs every 5 to 6 s, not 10.
def main(interval: float = 1.0) -> None:
    from app import create_app

    app = create_app()
    running = True

    def stop(signum, frame):
        nonlocal running
        running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    while running:
        try:
            tick(app)
        except Exception:  # Redis down for a moment: try again at the next tick
            log.exception("scheduler tick failed")
        time.sleep(interval)


if __name__ == "__main__":
    main()
