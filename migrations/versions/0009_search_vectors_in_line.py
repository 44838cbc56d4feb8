"""PostgreSQL: each statement's tsvector kept in its row (STORAGE MAIN) instead of out of
line in the TOAST table. A vector is some 4 KB of lexemes and positions, which neither pglz
nor lz4 compresses, so with the default storage every vector was stored uncompressed in
TOAST chunks, and every search that tests a phrase, ranks or probes the newest statements
read each vector through the TOAST index. Kept in its row, reading 250 vectors to rank them
took 5.3 ms instead of 7.5 ms at 100,000 statements (tests/perf/bench_public.py). A vector
over some 8 KB still goes out of line, as before. Existing vectors are rewritten into their
rows (the trigger that computes them is held off meanwhile: they are copied, not
recomputed). Nothing changes on SQLite.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-29
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("ALTER TABLE search_documents ALTER COLUMN tsv SET STORAGE MAIN")
    # A new value (the vector joined with an empty one is the same vector) is stored afresh,
    # under the new storage; an unchanged one would keep its TOAST pointer.
    op.execute("ALTER TABLE search_documents DISABLE TRIGGER search_documents_tsv")
    op.execute("UPDATE search_documents SET tsv = tsv || ''::tsvector WHERE tsv IS NOT NULL")
    op.execute("ALTER TABLE search_documents ENABLE TRIGGER search_documents_tsv")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    # Vectors already in their rows stay there until they are next written.
    op.execute("ALTER TABLE search_documents ALTER COLUMN tsv SET STORAGE EXTENDED")
