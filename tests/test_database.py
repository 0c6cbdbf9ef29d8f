"""The PostgreSQL connection (app.models.base.PlanKeepingConnection): a read-only transaction ends
keeping the connection's prepared statements; anything that wrote is still rolled back."""
import pytest
from sqlalchemy import select, text

from app.models import Queue

pytestmark = pytest.mark.postgresql_only  # prepared statements and transaction ids are PostgreSQL's

PROBE = select(Queue.id).where(Queue.name == "ninguém")


def prepared(conn) -> list[str]:
    return list(conn.exec_driver_sql("SELECT statement FROM pg_prepared_statements").scalars())


def test_read_only_transactions_keep_their_prepared_statements(app, db):
    """psycopg prepares a statement the 5th time a connection runs it; every request ends its
    transaction with a rollback, which made psycopg forget them all (nothing was ever prepared
    across requests)."""
    with db.engine.connect() as conn:
        for _ in range(7):  # each time in a transaction of its own, ended as a request ends it
            conn.execute(PROBE).all()
            conn.rollback()
        assert any("FROM queue" in s and "queue.name = $1" in s for s in prepared(conn)), prepared(conn)
        conn.rollback()


def test_a_rollback_still_undoes_what_the_transaction_wrote(app, db, factory):
    with db.engine.connect() as conn:
        conn.execute(text("INSERT INTO queue (name, color, bot_order) VALUES ('Escrita', '#123456', 1)"))
        conn.rollback()
        assert conn.execute(select(Queue.id).where(Queue.name == "Escrita")).first() is None
        conn.rollback()
    vendas = factory.queue(name="Vendas")
    db.session.get(Queue, vendas.id).name = "Mudou"
    db.session.flush()  # written, not committed
    db.session.rollback()
    db.session.expire_all()
    assert db.session.get(Queue, vendas.id).name == "Vendas"


def test_a_rollback_after_a_row_lock_or_an_error_is_a_real_one(app, db, factory):
    vendas = factory.queue(name="Vendas")
    with db.engine.connect() as conn:
        conn.execute(select(Queue.id).where(Queue.id == vendas.id).with_for_update()).all()
        conn.rollback()
        # an error: the transaction is aborted; the rollback ends it and the connection goes on
        with pytest.raises(Exception):
            conn.execute(text("SELECT 1 / 0"))
        conn.rollback()
        assert conn.execute(text("SELECT 2")).scalar() == 2
        conn.rollback()
    # nothing was left locked by the first connection
    with db.engine.connect() as other:
        other.execute(text("SET LOCAL lock_timeout = '1s'"))
        other.execute(select(Queue.id).where(Queue.id == vendas.id).with_for_update()).all()
        other.rollback()


def test_prepared_statements_are_planned_for_their_own_parameters(app, db):
    """After five runs PostgreSQL may give a prepared statement one generic plan, blind to its
    parameters: search, one statement for every typed text, went from 28 ms to 1.6 s that way."""
    with db.engine.connect() as conn:
        for n in range(12):
            conn.execute(PROBE.where(Queue.bot_order == n)).all()
            conn.rollback()
        plans = conn.exec_driver_sql("SELECT generic_plans, custom_plans FROM pg_prepared_statements "
                                     "WHERE statement LIKE '%%queue.bot_order = $2%%'").all()
        assert plans and all(generic == 0 and custom > 0 for generic, custom in plans), plans
        conn.rollback()
