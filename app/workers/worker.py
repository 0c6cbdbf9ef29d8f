"""The RQ worker class: builds the Flask app once and runs every job inside its app context,
without forking per job (a fork per job costs more than most jobs)."""
import logging

from rq import SimpleWorker

from app.workers import REDIS_RETRY_SECONDS

log = logging.getLogger(__name__)


class AppWorker(SimpleWorker):
    max_connection_wait_time = REDIS_RETRY_SECONDS

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        from app import create_app, settle_heap

        self.flask_app = create_app()
        settle_heap()

    def perform_job(self, job, queue, *args, **kwargs):
        from app.models import end_session

        with self.flask_app.app_context():
            try:
                # rq 3 passes the execution too: pass through whatever this rq version gives.
                return super().perform_job(job, queue, *args, **kwargs)
            finally:
                end_session()
