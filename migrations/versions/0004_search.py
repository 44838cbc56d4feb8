"""Full-text search: text extracted from stored files, and the index of published statements.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27

Files stored before this revision have no extracted text and nothing is indexed yet:
run `flask --app portal reindex` once after upgrading.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

# Frozen copies of portal/models/search.py's SEARCH_DDL (a migration must not change
# when the models do); hidden from autogenerate by include_object in migrations/env.py.
SEARCH_DDL = {
    "sqlite": [
        "CREATE VIRTUAL TABLE search_fts USING fts5(title, organisation, body, "
        "content='search_documents', content_rowid='statement_id', "
        "tokenize='porter unicode61 remove_diacritics 2')",
        "CREATE TRIGGER search_documents_fts_insert AFTER INSERT ON search_documents BEGIN "
        "INSERT INTO search_fts(rowid, title, organisation, body) "
        "VALUES (new.statement_id, new.title, new.organisation, new.body); END",
        "CREATE TRIGGER search_documents_fts_delete AFTER DELETE ON search_documents BEGIN "
        "INSERT INTO search_fts(search_fts, rowid, title, organisation, body) "
        "VALUES ('delete', old.statement_id, old.title, old.organisation, old.body); END",
        "CREATE TRIGGER search_documents_fts_update AFTER UPDATE ON search_documents BEGIN "
        "INSERT INTO search_fts(search_fts, rowid, title, organisation, body) "
        "VALUES ('delete', old.statement_id, old.title, old.organisation, old.body); "
        "INSERT INTO search_fts(rowid, title, organisation, body) "
        "VALUES (new.statement_id, new.title, new.organisation, new.body); END",
    ],
    "postgresql": [
        "ALTER TABLE search_documents ADD COLUMN tsv tsvector",
        "CREATE OR REPLACE FUNCTION search_documents_tsv() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "NEW.tsv := setweight(to_tsvector(NEW.config::regconfig, coalesce(NEW.title, '')), 'A') "
        "|| setweight(to_tsvector(NEW.config::regconfig, coalesce(NEW.organisation, '')), 'B') "
        "|| setweight(to_tsvector(NEW.config::regconfig, coalesce(NEW.body, '')), 'D'); "
        "RETURN NEW; END $$",
        "CREATE TRIGGER search_documents_tsv BEFORE INSERT OR UPDATE ON search_documents "
        "FOR EACH ROW EXECUTE FUNCTION search_documents_tsv()",
        "CREATE INDEX ix_search_documents_tsv ON search_documents USING gin (tsv)",
    ],
}


def upgrade():
    op.create_table(
        "document_texts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stored_file_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "ok", "empty", "failed", "refused",
                name="extraction_status", native_enum=False, create_constraint=True, length=32,
            ),
            nullable=False,
        ),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("characters", sa.Integer(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=True),
        sa.Column("truncated", sa.Boolean(), nullable=False),
        sa.Column("method", sa.String(length=64), nullable=False),
        sa.Column("extracted_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["stored_file_id"], ["stored_files.id"],
            name=op.f("fk_document_texts_stored_file_id_stored_files"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_texts")),
        sa.UniqueConstraint("stored_file_id", name=op.f("uq_document_texts_stored_file_id")),
    )
    op.create_table(
        "search_documents",
        sa.Column("statement_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=True),
        sa.Column("config", sa.String(length=32), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("organisation", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("indexed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["statement_id"], ["statements.id"],
            name=op.f("fk_search_documents_statement_id_statements"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["version_id"], ["statement_versions.id"],
            name=op.f("fk_search_documents_version_id_statement_versions"), ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("statement_id", name=op.f("pk_search_documents")),
    )
    for statement in SEARCH_DDL.get(op.get_bind().dialect.name, []):
        op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        op.execute("DROP TABLE IF EXISTS search_fts")
    op.drop_table("search_documents")
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS search_documents_tsv()")
    op.drop_table("document_texts")
