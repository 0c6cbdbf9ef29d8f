"""the chatbot menu as sent: ticket.menu_queue_ids

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07 04:05:00

The queues of the last menu sent to the ticket's customer, in the order they were numbered, so
that a reply's number means what that menu said even after an admin reorders, adds or removes
queues. Nullable, no default: adding it rewrites nothing. Tickets in the menu during the upgrade
have none and are read against the current order, as before.
"""
import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('ticket', sa.Column('menu_queue_ids', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('ticket') as batch_op:
        batch_op.drop_column('menu_queue_ids')
