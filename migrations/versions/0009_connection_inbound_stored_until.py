"""the bridge's catch-up mark: connection.inbound_stored_until

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 07:30:00

When the bridge last had every customer message that reached its WhatsApp Web page stored (our
clock, UTC). A new session reads the chats active since then, read or not, so a message someone
read on the phone while the bridge was down, or one marked read while it waited in a session that
then failed, still reaches the engine (app.bridge.runner.SessionRunner.pick_up_missed). Nullable:
connections upgraded have none and pick up only their unread chats until their next session
writes it.
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('connection', sa.Column('inbound_stored_until', sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table('connection') as batch_op:
        batch_op.drop_column('inbound_stored_until')
