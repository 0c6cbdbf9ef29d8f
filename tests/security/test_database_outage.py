"""The database going away under a request answers 503 with a message (clients retry), never a 500
that reads as a bug (app.views.errors.database_unavailable). The connection is really cut: its
PostgreSQL backend is terminated from another connection while the request runs. Cut after the
answer was made, the answer is sent (app.views.errors.end_session); and whatever escapes Flask is a
plain 500 in Portuguese, never a traceback (app.views.errors.LastResort)."""
from contextlib import contextmanager

import psycopg
import pytest
from flask import request_tearing_down, request, request_finished, request_started
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

pytestmark = pytest.mark.postgresql_only


def terminate_backend_of_session(app):
    from app.models import db

    dsn = app.config["SQLALCHEMY_DATABASE_URI"].replace("postgresql+psycopg://", "postgresql://")
    pid = db.session.scalar(text("select pg_backend_pid()"))
    with psycopg.connect(dsn, autocommit=True) as other:
        other.execute("select pg_terminate_backend(%s)", [pid])


@contextmanager
def connection_cut_in_requests(app, swallowed: bool):
    """Each API request's database connection is terminated once the request began; with
    `swallowed`, a query then fails and the error is caught and ignored, as code that logs and
    goes on does (the transaction is left invalid)."""
    from app.models import db

    def cut(sender, **extra):
        if not request.path.startswith("/api/v1/ticket"):
            return
        terminate_backend_of_session(app)
        if swallowed:
            try:
                db.session.execute(text("select 1"))
            except OperationalError:
                pass

    request_started.connect(cut, app)
    try:
        yield
    finally:
        request_started.disconnect(cut, app)


@pytest.mark.parametrize("swallowed", [False, True], ids=["error raised", "error swallowed before"])
def test_a_connection_lost_mid_request_is_a_503_and_the_next_request_works(app, admin_api, swallowed):
    with connection_cut_in_requests(app, swallowed):
        r = admin_api.get("/api/v1/ticket/")
    assert r.status_code == 503, r.data
    assert r.get_json() == {"message": "Serviço temporariamente indisponível. Tente de novo em instantes."}
    assert admin_api.get("/api/v1/ticket/").status_code == 200  # the pool replaced the connection


def test_a_connection_lost_after_the_answer_was_made_still_sends_it(app, admin_api):
    """PostgreSQL gone between the view's last query and the end of the request's transaction
    (found by the bridge fault test: one ticket list in thousands answered 500, its body eventlet's
    traceback of the teardown's ROLLBACK)."""
    def cut(sender, response, **extra):
        if request.path.startswith("/api/v1/ticket"):
            terminate_backend_of_session(app)

    request_finished.connect(cut, app)
    try:
        r = admin_api.get("/api/v1/ticket/")
    finally:
        request_finished.disconnect(cut, app)
    assert r.status_code == 200, r.data
    assert r.get_json()["result"] == []
    assert admin_api.get("/api/v1/ticket/").status_code == 200  # the pool replaced the connection


@pytest.mark.parametrize("path, kind", [("/api/v1/ticket/", "json"), ("/chat/api/tickets", "json"), ("/chat/", "html")])
def test_an_error_escaping_flask_is_a_plain_500_in_portuguese(app, admin_api, client, path, kind):
    raised = []

    def fail(sender, **extra):
        if request.path == path and not raised:
            raised.append(True)
            raise RuntimeError("segredo: /srv/conecta/app.py SELECT * FROM ab_user")

    request_tearing_down.connect(fail, app)
    try:
        r = admin_api.get(path) if path.startswith("/api/") else client.get(path)
    finally:
        request_tearing_down.disconnect(fail, app)
    assert r.status_code == 500
    body = r.get_data(as_text=True)
    assert "segredo" not in body and "Traceback" not in body
    if kind == "json":
        assert r.get_json() == {"message": "Algo deu errado do nosso lado. Tente de novo em instantes."}
    else:
        assert "Erro interno" in body and r.mimetype == "text/html"


def test_an_error_escaping_flask_and_its_error_page_is_a_bare_500(app, admin_api):
    def fail(sender, **extra):
        if request.path == "/api/v1/ticket/":
            raise RuntimeError("segredo")

    request_tearing_down.connect(fail, app)
    try:
        r = admin_api.get("/api/v1/ticket/")
    finally:
        request_tearing_down.disconnect(fail, app)
    assert r.status_code == 500
    assert r.get_data(as_text=True) == "Erro interno. Tente de novo em instantes."


def query_then_lose_connection():
    """An RQ job whose database connection dies after its work was done (before its session ends)."""
    from flask import current_app

    terminate_backend_of_session(current_app)
    return "done"


def test_a_job_whose_connection_died_after_its_work_ends_well_and_the_worker_goes_on(app, test_env):
    from redis import Redis
    from rq.job import JobStatus

    from app.workers import get_queue
    from app.workers.worker import AppWorker

    with app.app_context():
        queue = get_queue("default")
        worker = AppWorker([queue], connection=Redis.from_url(test_env["REDIS_URL"]))
        cut = queue.enqueue(query_then_lose_connection)
        after = queue.enqueue(query_then_lose_connection)
        worker.work(burst=True)
    assert cut.get_status(refresh=True) == JobStatus.FINISHED and cut.return_value() == "done"
    assert after.get_status(refresh=True) == JobStatus.FINISHED  # a new connection from the pool
