"""search compares a stored folded text: message.body_folded = conecta_fold(body), kept by the database

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 03:20:00

Searching a common word probes the visible tickets' messages one by one; computing
lower(unaccent(body)) for each was half of that time (bench/ticket_list.py: the capped count of a
word in 10 % of 1 000 000 messages, 33 -> 18 ms). PostgreSQL: a STORED generated column, and the
trigram index moves from the expression to it. Adding the column rewrites the message table once
(about 15 s per million messages on a 2-core machine, with the table locked): plan the upgrade
outside business hours. SQLite: a VIRTUAL column (SQLite cannot add a stored one to a table); its
search reads the table as before.
"""
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_message_body_folded_trgm")
        op.execute("ALTER TABLE message ADD COLUMN body_folded text GENERATED ALWAYS AS (conecta_fold(body)) STORED")
        op.execute("CREATE INDEX ix_message_body_folded_trgm ON message USING gin (body_folded gin_trgm_ops)")
    else:
        op.execute("ALTER TABLE message ADD COLUMN body_folded TEXT GENERATED ALWAYS AS (conecta_fold(body)) VIRTUAL")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_message_body_folded_trgm")
        op.execute("ALTER TABLE message DROP COLUMN body_folded")
        op.execute("CREATE INDEX ix_message_body_folded_trgm ON message USING gin (conecta_fold(body) gin_trgm_ops)")
    else:
        op.execute("ALTER TABLE message DROP COLUMN body_folded")
