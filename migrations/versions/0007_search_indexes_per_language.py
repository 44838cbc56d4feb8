"""PostgreSQL full-text index per language configuration: one partial GIN index on
search_documents.tsv for each configuration (WHERE config = '<name>') instead of one for
all rows. A search ORs one condition per configuration (config = X AND tsv @@ query in X);
each branch now has an index that answers it exactly, so the rows it finds need no second
look at their tsvector (read out of TOAST, some 4 KB each), which made broad searches
slow at 100,000 statements. Nothing changes on SQLite.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# Frozen copy of portal/models/search.py's TSV_CONFIGS.
CONFIGS = ("arabic", "english", "french", "russian", "simple", "spanish")


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for config in CONFIGS:
        op.execute(
            f"CREATE INDEX ix_search_documents_tsv_{config} ON search_documents USING gin (tsv) WHERE config = '{config}'"
        )
    op.execute("DROP INDEX IF EXISTS ix_search_documents_tsv")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE INDEX ix_search_documents_tsv ON search_documents USING gin (tsv)")
    for config in CONFIGS:
        op.execute(f"DROP INDEX IF EXISTS ix_search_documents_tsv_{config}")
