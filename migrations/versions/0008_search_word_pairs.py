"""PostgreSQL index of word pairs, for phrase searches: search_pairs(tsvector) gives a token
for each two lexemes one or two positions apart (hashed, so no text can make it too
long), and a GIN index on search_pairs(tsv) finds the statements holding all of a phrase's
pairs: a superset of the phrase's matches, which only those are then tested against.
Without it a phrase of common words ("related to discrimination") was tested on every
statement holding its words, some 200 ms at 100,000 statements. Building the index
computes the pairs of every indexed statement (about 1 ms each). Nothing changes on SQLite.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-28
"""

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# Frozen copy of portal/models/search.py's SEARCH_PAIRS_FUNCTION.
FUNCTION = (
    "CREATE OR REPLACE FUNCTION search_pairs(v tsvector) RETURNS tsvector "
    "LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE COST 100000 AS $$ "
    "WITH p AS (SELECT lexeme, unnest(positions) AS pos FROM unnest(v)) "
    "SELECT coalesce(array_to_tsvector(array_agg(DISTINCT to_hex(hashtext(a.lexeme || ' ' || d.k || ' ' || b.lexeme)))), "
    "''::tsvector) FROM p AS a CROSS JOIN (VALUES (1), (2)) AS d(k) JOIN p AS b ON b.pos = a.pos + d.k $$"
)


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTION)
    op.execute("CREATE INDEX ix_search_documents_tsv_pairs ON search_documents USING gin (search_pairs(tsv))")
    # ANALYZE would otherwise compute the pairs of every sampled row; the planner needs no statistics.
    op.execute("ALTER INDEX ix_search_documents_tsv_pairs ALTER COLUMN 1 SET STATISTICS 0")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP INDEX IF EXISTS ix_search_documents_tsv_pairs")
    op.execute("DROP FUNCTION IF EXISTS search_pairs(tsvector)")
