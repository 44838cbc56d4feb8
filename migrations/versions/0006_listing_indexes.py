"""Indexes for public listings: the API's list of every session's statements by date reads
(status, published_at, id) in order; the session page's counts by organisation and panel
read (session_id, status, organisation_id, panel_id, publish_at) without the table.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_statements_status_published", "statements", ["status", "published_at", "id"])
    op.create_index(
        "ix_statements_session_status_organisation",
        "statements",
        ["session_id", "status", "organisation_id", "panel_id", "publish_at"],
    )


def downgrade():
    op.drop_index("ix_statements_session_status_organisation", table_name="statements")
    op.drop_index("ix_statements_status_published", table_name="statements")
