"""names unique ignoring case and accents: connections, queues, ratings and quick-reply shortcuts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 21:00:00

A unique index on conecta_fold(column) (migration 0002; on SQLite the Python function registered
on every connection, declared deterministic so that it may index) beside the exact unique
constraint of 0001, which stays: it is implied by the new one, and dropping it on SQLite would mean
rebuilding tables other tables point at.

Names that an older version let in and that now clash ("Vendas" and "VENDAS", "Técnico" and
"Tecnico") are renamed, the later row getting " (2)", " (3)"... (a shortcut, one word, gets "2",
"3"...), so that the upgrade never stops on existing data.
"""
import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

# (table, column, separator before the number added to a clashing name, column length)
FOLDED_UNIQUE = (
    ("connection", "name", " ", 100),
    ("queue", "name", " ", 100),
    ("rating_template", "name", " ", 100),
    ("quick_reply", "shortcut", "", 50),
)


def _rename_clashes(bind, table, column, separator, length):
    rows = bind.execute(sa.text(f"SELECT id, {column}, conecta_fold({column}) FROM {table} ORDER BY id")).all()
    taken = {key for _id, _value, key in rows}  # a new name must not clash with any row, later ones too
    kept = set()
    for row_id, value, key in rows:
        if key not in kept:  # the oldest row keeps its name
            kept.add(key)
            continue
        n = 2
        while True:
            suffix = f"{separator}({n})" if separator else str(n)
            candidate = value[:length - len(suffix)] + suffix
            key = bind.execute(sa.text("SELECT conecta_fold(:v)"), {"v": candidate}).scalar_one()
            if key not in taken:
                break
            n += 1
        bind.execute(sa.text(f"UPDATE {table} SET {column} = :v WHERE id = :id"), {"v": candidate, "id": row_id})
        taken.add(key)
        kept.add(key)


def upgrade():
    bind = op.get_bind()
    for table, column, separator, length in FOLDED_UNIQUE:
        _rename_clashes(bind, table, column, separator, length)
        op.execute(f"CREATE UNIQUE INDEX uq_{table}_{column}_folded ON {table} (conecta_fold({column}))")


def downgrade():
    for table, column, _separator, _length in FOLDED_UNIQUE:
        op.execute(f"DROP INDEX uq_{table}_{column}_folded")
