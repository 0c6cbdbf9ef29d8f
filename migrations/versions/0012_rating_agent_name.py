"""the name of the agent a rating was given to: rating.agent_name

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-07 16:50:00

Deleting a member set the agent of their ratings to nobody (the foreign key's SET NULL):
Avaliações recebidas showed "—" where the agent had been (QA). The rating keeps the agent's name
as it was when the customer answered; ratings stored before take the member's name of now.
"""
import sqlalchemy as sa
from alembic import op

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('rating') as batch_op:
        batch_op.add_column(sa.Column('agent_name', sa.String(length=128), nullable=True))
    op.execute("UPDATE rating SET agent_name = (SELECT TRIM(COALESCE(ab_user.first_name, '') || ' ' || "
               "COALESCE(ab_user.last_name, '')) FROM ab_user WHERE ab_user.id = rating.user_id)")


def downgrade():
    with op.batch_alter_table('rating') as batch_op:
        batch_op.drop_column('agent_name')
