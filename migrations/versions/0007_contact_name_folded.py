"""search compares a stored folded contact name: contact.name_folded = conecta_fold(name), kept by the database

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07 03:50:00

A search by a common surname ("Souza") walks the visible tickets newest first and checks each
one's contact; lower(unaccent(name)) for each was half of that time (bench/ticket_list.py: the
capped count, 4 000 contacts checked, 11 -> 5.5 ms). As message.body_folded (0005): PostgreSQL
gets a STORED generated column and the trigram index moves from the expression to it (the
contact table is rewritten once: about a second per 100 000 contacts); SQLite a VIRTUAL column.
"""
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_contact_name_folded_trgm")
        op.execute("ALTER TABLE contact ADD COLUMN name_folded text GENERATED ALWAYS AS (conecta_fold(name)) STORED")
        op.execute("CREATE INDEX ix_contact_name_folded_trgm ON contact USING gin (name_folded gin_trgm_ops)")
    else:
        op.execute("ALTER TABLE contact ADD COLUMN name_folded TEXT GENERATED ALWAYS AS (conecta_fold(name)) VIRTUAL")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_contact_name_folded_trgm")
        op.execute("ALTER TABLE contact DROP COLUMN name_folded")
        op.execute("CREATE INDEX ix_contact_name_folded_trgm ON contact USING gin (conecta_fold(name) gin_trgm_ops)")
    else:
        op.execute("ALTER TABLE contact DROP COLUMN name_folded")
