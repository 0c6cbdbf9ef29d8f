"""the queue a rating was given in: rating.queue_id

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 13:45:00

Avaliações recebidas showed the ticket's queue of now: a ticket rated in Vendas, reopened and
transferred to Suporte, was listed under Suporte. The rating keeps the queue it was given in (the
agent was already kept). Ratings stored before take their ticket's queue of now, the best known.
"""
import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('rating') as batch_op:
        batch_op.add_column(sa.Column('queue_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key('fk_rating_queue_id', 'queue', ['queue_id'], ['id'], ondelete='SET NULL')
    op.execute("UPDATE rating SET queue_id = (SELECT ticket.queue_id FROM ticket WHERE ticket.id = rating.ticket_id)")


def downgrade():
    with op.batch_alter_table('rating') as batch_op:
        batch_op.drop_constraint('fk_rating_queue_id', type_='foreignkey')
        batch_op.drop_column('queue_id')
