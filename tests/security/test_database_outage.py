"""The database going away under a request answers 503 with a message (clients retry), never a 500
that reads as a bug (app.views.errors.database_unavailable). The connection is really cut: its
PostgreSQL backend is terminated from another connection while the request runs."""
from contextlib import contextmanager

import psycopg
import pytest
from flask import request, request_started
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

pytestmark = pytest.mark.postgresql_only


@contextmanager
def connection_cut_in_requests(app, swallowed: bool):
    """Each API request's database connection is terminated once the request began; with
    `swallowed`, a query then fails and the error is caught and ignored, as code that logs and
    goes on does (the transaction is left invalid)."""
    from app.models import db

    dsn = app.config["SQLALCHEMY_DATABASE_URI"].replace("postgresql+psycopg://", "postgresql://")

    def cut(sender, **extra):
        if not request.path.startswith("/api/v1/ticket"):
            return
        pid = db.session.scalar(text("select pg_backend_pid()"))
        with psycopg.connect(dsn, autocommit=True) as other:
            other.execute("select pg_terminate_backend(%s)", [pid])
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
