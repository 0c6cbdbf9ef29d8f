"""search finds messages by the name of their file: a trigram index on the folded media_name

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 01:00:00

PostgreSQL only, partial (messages with a file), on conecta_fold(media_name) as search compares it
(app.services.search); SQLite reads the table.
"""
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_message_media_name_folded_trgm ON message "
                   "USING gin (conecta_fold(media_name) gin_trgm_ops) WHERE media_name IS NOT NULL")


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX ix_message_media_name_folded_trgm")
