"""The base: migrations on this engine, roles, settings row, first Admin, login, Portuguese."""
import os

import pytest

from sqlalchemy import inspect

from tests.conftest import ADMIN_EMAIL, PASSWORD, login


# SQLite cannot reflect expression indexes; the search indexes on folded text are PostgreSQL's
# only (ddl_if) and are compared there.
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index")
def test_migrations_match_models(app, db):
    """The Alembic migrations create exactly what the models declare (no forgotten migration)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
    assert diff == []


def test_bootstrap_creates_roles_settings_and_admin(app, db):
    from app.models import Settings

    sm = app.appbuilder.sm
    for role in ("Admin", "Supervisor", "User"):
        assert sm.find_role(role) is not None
    assert db.session.get(Settings, 1) is not None
    admin = sm.find_user(email=ADMIN_EMAIL)
    assert admin.profile == "admin"
    assert admin.password != PASSWORD  # hashed
    tables = set(inspect(db.engine).get_table_names())
    assert {"connection", "queue", "ticket", "message", "settings", "rating_template"} <= tables


def test_login_by_email_in_portuguese(app, client):
    page = client.get("/login/").get_data(as_text=True)
    assert "Senha" in page  # FAB's own screens in pt_BR
    r = login(client, ADMIN_EMAIL, "senha errada")
    assert r.status_code in (200, 302)
    assert client.get("/api/v1/_openapi").status_code in (200, 401)
    r = login(client, ADMIN_EMAIL)
    assert r.status_code == 302
    home = client.get("/", follow_redirects=True)
    assert home.status_code == 200
    assert "Sair" in home.get_data(as_text=True)  # logged-in navbar, in Portuguese


def test_long_running_processes_settle_their_start_up_heap(app, test_env):
    """The web process and every RQ worker move what start-up built to the garbage collector's
    permanent generation (app.settle_heap): a full collection would otherwise walk it all, and
    the web process would stall every socket meanwhile."""
    import gc
    import subprocess
    import sys

    from redis import Redis

    from app.workers import get_queue
    from app.workers.worker import AppWorker
    from tests.conftest import ROOT

    code = "import gc; from app import web; web.build(); print(gc.get_freeze_count())"
    env = dict(os.environ, **test_env, ASYNC_MODE="threading")
    out = subprocess.run([sys.executable, "-c", code], cwd=str(ROOT), env=env, capture_output=True, text=True,
                         check=True).stdout
    assert int(out.split()[-1]) > 100000

    gc.unfreeze()
    try:
        with app.app_context():
            AppWorker([get_queue("ingest")], connection=Redis.from_url(test_env["REDIS_URL"]))
        assert gc.get_freeze_count() > 100000
    finally:
        gc.unfreeze()
