"""Index statements.publish_at: the public revision (portal/cache.py) asks on every public
request for the latest embargo that has ended, which the index answers without a scan.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_statements_publish_at", "statements", ["publish_at"])


def downgrade():
    op.drop_index("ix_statements_publish_at", table_name="statements")
