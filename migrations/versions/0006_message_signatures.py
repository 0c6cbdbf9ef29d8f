"""message signatures: the member's "Assinar" switch and whether a message went out signed

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-25 03:00:00

ab_user.sign_messages: off for every member, those already there included (the guide's "quando
habilitado": each member turns it on; what integrations send through the API does not change). message.signed: false for every message already
stored (none of them was sent signed).
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    op.add_column('ab_user', sa.Column('sign_messages', sa.Boolean(), nullable=False, server_default=sa.false()))
    op.add_column('message', sa.Column('signed', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade():
    with op.batch_alter_table('message') as batch_op:
        batch_op.drop_column('signed')
    with op.batch_alter_table('ab_user') as batch_op:
        batch_op.drop_column('sign_messages')
