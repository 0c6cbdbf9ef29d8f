"""which out-of-hours messages a contact got, and when: contact.out_of_hours_sent

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07 07:15:00

JSON: {"<which message>": "<when, naive UTC ISO>"} for those sent in the last 30 minutes. The
30-minute rule keeps each message from repeating; a department with its own message, chosen within
those 30 minutes, still sends it (before, the customer who chose it got nothing and the ticket was
closed in silence). Nullable: contacts upgraded have none, and out_of_hours_sent_at rules them as
before.
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('contact', sa.Column('out_of_hours_sent', sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table('contact') as batch_op:
        batch_op.drop_column('out_of_hours_sent')
