"""The base: migrations on this engine, roles, settings row, first Admin, login, Portuguese."""
import contextlib
import os

import pytest

from sqlalchemy import inspect

from tests.conftest import ADMIN_EMAIL, PASSWORD, login


# SQLite cannot reflect expression indexes, and the search indexes on folded text are PostgreSQL's
# only (ddl_if) and are compared there; the folded unique names (both engines) are compared there
# and proven on SQLite by tests/admin/test_services.py (test_folded_names_are_unique_in_the_database).
@pytest.mark.filterwarnings("ignore:autogenerate skipping metadata-specified expression-based index")
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index")
def test_migrations_match_models(app, db):
    """The Alembic migrations create exactly what the models declare (no forgotten migration)."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from app.models.base import include_for_dialect

    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_object": include_for_dialect(conn.dialect.name)})
        diff = compare_metadata(context, db.metadata)
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


@contextlib.contextmanager
def database_at(revision: str, tmp_path):
    """A new database of the suite's engine migrated up to `revision`: (app, url); dropped after."""
    import uuid

    import psycopg
    from flask_migrate import upgrade

    from app import create_app
    from tests.conftest import PG_ADMIN_DSN, database_engine

    created = None
    if database_engine() == "postgresql":
        created = "conecta_migration_" + uuid.uuid4().hex[:10]
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{created}"')
        url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{created}"
    else:
        url = "sqlite:///" + str(tmp_path / "old.db")
    try:
        app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url})
        with app.app_context():
            upgrade(revision=revision)
        yield app, url
    finally:
        if created:
            with psycopg.connect(PG_ADMIN_DSN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{created}" WITH (FORCE)')


def test_upgrade_renames_names_that_now_clash(tmp_path):
    """Migration 0003 makes names unique ignoring case and accents; names an older version let in
    ("Vendas" and "VENDAS") are renamed instead of stopping the upgrade, the oldest row keeping its
    name, and no row's name is lost or emptied."""
    from flask_migrate import upgrade
    from sqlalchemy import create_engine, text

    with database_at("0002", tmp_path) as (app, url):
        engine = create_engine(url)
        with engine.begin() as conn:
            for n, name in enumerate(("Vendas", "VENDAS", "vendas (2)", "Técnico", "Tecnico", "Único")):
                conn.execute(text("INSERT INTO queue (name, color, bot_order) VALUES (:n, :c, 0)"),
                             {"n": name, "c": "#00000%d" % n})
            for name in ("Loja", "LOJA", "x" * 100, "X" * 100):
                conn.execute(text("INSERT INTO connection (name, channel, is_default, read_receipts, status, "
                                  "enabled, status_changed_at) VALUES (:n, 'whatsapp', false, false, "
                                  "'DISCONNECTED', true, CURRENT_TIMESTAMP)"), {"n": name})
            for shortcut in ("horário", "horario", "horario2"):
                conn.execute(text("INSERT INTO quick_reply (shortcut, message) VALUES (:s, 'm')"), {"s": shortcut})
        with app.app_context():
            upgrade()
        with engine.connect() as conn:
            def names(sql):
                return [r[0] for r in conn.execute(text(sql))]
            assert names("SELECT name FROM queue ORDER BY id") == [
                "Vendas", "VENDAS (3)", "vendas (2)", "Técnico", "Tecnico (2)", "Único"]
            assert names("SELECT name FROM connection ORDER BY id") == ["Loja", "LOJA (2)", "x" * 100,
                                                                       "X" * 96 + " (2)"]
            assert names("SELECT shortcut FROM quick_reply ORDER BY id") == ["horário", "horario3", "horario2"]
        engine.dispose()


def test_upgrade_gives_older_ratings_their_agents_name(tmp_path):
    """Migration 0012: ratings stored before it get the name of the member they were given to."""
    from flask_migrate import upgrade
    from sqlalchemy import create_engine, text

    with database_at("0011", tmp_path) as (old, url):
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO ab_user (first_name, last_name, username, email, active, sign_messages) "
                              "VALUES ('Ana', 'Souza', 'ana', 'ana@teste.com.br', true, false)"))
            conn.execute(text("INSERT INTO contact (channel, jid, phone, name, is_group, created_at) "
                              "VALUES ('whatsapp', '5511@c.us', '5511', 'Maria', false, CURRENT_TIMESTAMP)"))
            conn.execute(text("INSERT INTO connection (name, channel, is_default, read_receipts, status, enabled, "
                              "status_changed_at) VALUES ('Loja', 'whatsapp', true, false, 'DISCONNECTED', true, "
                              "CURRENT_TIMESTAMP)"))
            for n in (1, 2):
                conn.execute(text("INSERT INTO ticket (contact_id, connection_id, status, user_id, is_group, "
                                  "awaiting_menu, unread_count, awaiting_rating, created_at, updated_at) SELECT "
                                  "contact.id, connection.id, 'closed', CASE WHEN :n = 1 THEN ab_user.id END, false, "
                                  "false, 0, false, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP FROM contact, connection, "
                                  "ab_user"), {"n": n})
            conn.execute(text("INSERT INTO rating (ticket_id, user_id, value, label, created_at) SELECT ticket.id, "
                              "ticket.user_id, 3, 'Ótimo', CURRENT_TIMESTAMP FROM ticket"))
        with old.app_context():
            upgrade()
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT user_id IS NULL, agent_name FROM rating ORDER BY id")).all()
        assert sorted((bool(no_member), name or "") for no_member, name in rows) == [(False, "Ana Souza"), (True, "")]
        engine.dispose()
