"""search without accents or case: trigram indexes on the folded name and message text

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 18:00:00

PostgreSQL: conecta_fold(text) = lower(unaccent(text)), declared IMMUTABLE so that indexes can be
built on it (unaccent() itself is only STABLE: its dictionary could be changed; ours is fixed by
naming it), and pg_trgm indexes on conecta_fold(name) and conecta_fold(body): the expressions
app.models.base.folded writes. SQLite: the function is Python's (app.models.base.fold_text,
registered on each connection); no index (search reads the tables there).
"""
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index('ix_contact_name_trgm', table_name='contact')
    op.drop_index('ix_message_body_trgm', table_name='message')
    if op.get_bind().dialect.name != "postgresql":
        return
    # A trusted extension since PostgreSQL 13, like pg_trgm: the database owner can create it.
    # COST 10 (a SQL function's default is 100, the price of a slow one): priced at 100, a search
    # counting a common word probing messages ticket by ticket was planned in parallel, whose
    # worker start alone cost 10 ms (bench/ticket_list.py: raw count 24 ms, 18 ms at COST 10).
    op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    schema = op.get_bind().exec_driver_sql(
        "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'unaccent'").scalar_one()
    op.execute(f"""CREATE OR REPLACE FUNCTION conecta_fold(text) RETURNS text
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE COST 10
        AS $$ SELECT lower({schema}.unaccent('{schema}.unaccent'::regdictionary, $1)) $$""")
    op.execute("CREATE INDEX ix_contact_name_folded_trgm ON contact USING gin (conecta_fold(name) gin_trgm_ops)")
    op.execute("CREATE INDEX ix_message_body_folded_trgm ON message USING gin (conecta_fold(body) gin_trgm_ops)")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_message_body_folded_trgm")
        op.execute("DROP INDEX ix_contact_name_folded_trgm")
        op.execute("DROP FUNCTION conecta_fold(text)")
        op.execute("CREATE INDEX ix_message_body_trgm ON message USING gin (body gin_trgm_ops)")
        op.execute("CREATE INDEX ix_contact_name_trgm ON contact USING gin (name gin_trgm_ops)")
    else:
        op.execute("CREATE INDEX ix_message_body_trgm ON message (body) WHERE 0")
        op.execute("CREATE INDEX ix_contact_name_trgm ON contact (name) WHERE 0")
