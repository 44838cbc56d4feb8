"""Text extracted from stored files, and the full-text index of published statements.

`SearchDocument` holds one row per statement whose published version is indexed; the
database keeps its full-text structures in step by itself: an FTS5 table with triggers on
SQLite, a `tsv` column filled by a trigger, a partial GIN index per language
configuration and a GIN index of word pairs (for phrases) on PostgreSQL. Those objects
are created here for `create_all` and by migrations 0004, 0007 and 0008, and hidden from
autogenerate.
"""

from __future__ import annotations

import enum
import itertools
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, backref, mapped_column, relationship

from portal.models.base import Base, str_enum, utcnow
from portal.models.statements import StoredFile


class ExtractionStatus(enum.StrEnum):
    """What became of extracting a file's text."""

    OK = "ok"
    EMPTY = "empty"  # readable, but no text in it (a scan without a text layer)
    FAILED = "failed"  # encrypted, damaged, or a format error
    REFUSED = "refused"  # would expand beyond the configured limit (a zip bomb)

    @property
    def label(self) -> str:
        return {
            "ok": "Text extracted",
            "empty": "No text found",
            "failed": "Text could not be extracted",
            "refused": "Refused",
        }[self.value]


class DocumentText(Base):
    """The text of one stored file, as extracted when it was stored (or by `flask reindex`)."""

    __tablename__ = "document_texts"

    id: Mapped[int] = mapped_column(primary_key=True)
    stored_file_id: Mapped[int] = mapped_column(
        sa.ForeignKey("stored_files.id", ondelete="CASCADE"), unique=True
    )
    status: Mapped[ExtractionStatus] = mapped_column(str_enum(ExtractionStatus, "extraction_status"))
    # Why there is no text (failed, empty, refused), or a note such as "truncated".
    message: Mapped[str] = mapped_column(sa.Text, default="")
    text: Mapped[str] = mapped_column(sa.Text, default="")
    characters: Mapped[int] = mapped_column(default=0)
    pages: Mapped[int | None]
    truncated: Mapped[bool] = mapped_column(default=False)
    method: Mapped[str] = mapped_column(sa.String(64), default="")  # e.g. "pypdf 7.1.1"
    extracted_at: Mapped[datetime] = mapped_column(default=utcnow)

    # `stored_file.extraction` on the other side; the database deletes the text with its file.
    stored_file: Mapped[StoredFile] = relationship(
        backref=backref("extraction", uselist=False, cascade="all, delete-orphan", passive_deletes=True)
    )

    def __repr__(self) -> str:
        return f"<DocumentText file#{self.stored_file_id} {self.status.value} {self.characters} chars>"


class SearchDocument(Base):
    """What the public search sees of one statement: its published version's text.

    Written only by portal.search; whether a row may be shown is still decided at query
    time by portal.queries.public_statements() (status and embargo).
    """

    __tablename__ = "search_documents"

    statement_id: Mapped[int] = mapped_column(
        sa.ForeignKey("statements.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    version_id: Mapped[int | None] = mapped_column(sa.ForeignKey("statement_versions.id", ondelete="SET NULL"))
    # PostgreSQL text search configuration of the statement's language (english, french, simple...).
    config: Mapped[str] = mapped_column(sa.String(32))
    title: Mapped[str] = mapped_column(sa.Text)
    organisation: Mapped[str] = mapped_column(sa.Text)
    body: Mapped[str] = mapped_column(sa.Text, default="")
    indexed_at: Mapped[datetime] = mapped_column(default=utcnow)


# --- database-specific full-text objects ---------------------------------------------
# The same statements run in migration 0004 (which imports them from here).

FTS_TABLE = "search_fts"
TSV_COLUMN = "tsv"
TSV_INDEX = "ix_search_documents_tsv"  # + "_<config>": one partial GIN index per configuration; + "_pairs_<config>"
# PostgreSQL text search configurations with an index (portal.search.LANGUAGE_CONFIGS uses
# these; migration 0007 has a frozen copy).
TSV_CONFIGS: tuple[str, ...] = ("arabic", "english", "french", "russian", "simple", "spanish")

TSV_PAIRS_INDEX = f"{TSV_INDEX}_pairs"
# search_pairs(tsvector): a token for each two lexemes one or two positions apart (the
# second case is a stop word between them: "related to discrimination"), hashed to a few
# hex digits so that no text, however long its words, gives a tsvector over PostgreSQL's
# 1 MB limit. A phrase can only be where all its own pairs are, so a GIN index on this
# finds a superset of a phrase's matches (a hash collision only adds candidates), which
# the phrase test then narrows; GIN alone has no positions to test a phrase with.
# Its COST tells the planner that computing it is dear (about 1 ms for a 4 KB vector): the
# index answers it. hashtext() has not changed since PostgreSQL 8.4; should one change it,
# REINDEX the ix_search_documents_tsv_pairs_<config> indexes. Frozen copy in migration 0008.
SEARCH_PAIRS_FUNCTION = (
    "CREATE OR REPLACE FUNCTION search_pairs(v tsvector) RETURNS tsvector "
    "LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE COST 100000 AS $$ "
    "WITH p AS (SELECT lexeme, unnest(positions) AS pos FROM unnest(v)) "
    "SELECT coalesce(array_to_tsvector(array_agg(DISTINCT to_hex(hashtext(a.lexeme || ' ' || d.k || ' ' || b.lexeme)))), "
    "''::tsvector) FROM p AS a CROSS JOIN (VALUES (1), (2)) AS d(k) JOIN p AS b ON b.pos = a.pos + d.k $$"
)

SEARCH_DDL: dict[str, list[str]] = {
    "sqlite": [
        # External-content FTS5 table over search_documents (rowid = statement_id); the
        # porter stemmer over unicode61, which also folds accents ("détention" = "detention").
        f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(title, organisation, body, "
        "content='search_documents', content_rowid='statement_id', "
        "tokenize='porter unicode61 remove_diacritics 2')",
        f"CREATE TRIGGER search_documents_fts_insert AFTER INSERT ON search_documents BEGIN "
        f"INSERT INTO {FTS_TABLE}(rowid, title, organisation, body) "
        "VALUES (new.statement_id, new.title, new.organisation, new.body); END",
        f"CREATE TRIGGER search_documents_fts_delete AFTER DELETE ON search_documents BEGIN "
        f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, title, organisation, body) "
        "VALUES ('delete', old.statement_id, old.title, old.organisation, old.body); END",
        f"CREATE TRIGGER search_documents_fts_update AFTER UPDATE ON search_documents BEGIN "
        f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, title, organisation, body) "
        "VALUES ('delete', old.statement_id, old.title, old.organisation, old.body); "
        f"INSERT INTO {FTS_TABLE}(rowid, title, organisation, body) "
        "VALUES (new.statement_id, new.title, new.organisation, new.body); END",
    ],
    "postgresql": [
        f"ALTER TABLE search_documents ADD COLUMN {TSV_COLUMN} tsvector",
        # Title weighs most, then the organisation, then the documents' text.
        "CREATE OR REPLACE FUNCTION search_documents_tsv() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"NEW.{TSV_COLUMN} := setweight(to_tsvector(NEW.config::regconfig, coalesce(NEW.title, '')), 'A') "
        "|| setweight(to_tsvector(NEW.config::regconfig, coalesce(NEW.organisation, '')), 'B') "
        "|| setweight(to_tsvector(NEW.config::regconfig, coalesce(NEW.body, '')), 'D'); "
        "RETURN NEW; END $$",
        "CREATE TRIGGER search_documents_tsv BEFORE INSERT OR UPDATE ON search_documents "
        "FOR EACH ROW EXECUTE FUNCTION search_documents_tsv()",
        # One partial index per configuration: a search's branch for configuration X
        # (config = X AND tsv @@ query in X) is answered by X's index alone, exactly.
        *(
            f"CREATE INDEX {TSV_INDEX}_{config} ON search_documents USING gin ({TSV_COLUMN}) WHERE config = '{config}'"
            for config in TSV_CONFIGS
        ),
        # Word pairs, for phrases (see SEARCH_PAIRS_FUNCTION). No statistics: ANALYZE would
        # compute the expression for every sampled row, and the planner needs none.
        # One partial index per configuration, as for the words.
        SEARCH_PAIRS_FUNCTION,
        *itertools.chain.from_iterable(
            (
                f"CREATE INDEX {TSV_PAIRS_INDEX}_{config} ON search_documents USING gin (search_pairs({TSV_COLUMN})) "
                f"WHERE config = '{config}'",
                f"ALTER INDEX {TSV_PAIRS_INDEX}_{config} ALTER COLUMN 1 SET STATISTICS 0",
            )
            for config in TSV_CONFIGS
        ),
    ],
}

SEARCH_DROP_DDL: dict[str, list[str]] = {
    "sqlite": [f"DROP TABLE IF EXISTS {FTS_TABLE}"],  # its triggers go with search_documents
    "postgresql": ["DROP FUNCTION IF EXISTS search_documents_tsv() CASCADE", "DROP FUNCTION IF EXISTS search_pairs(tsvector) CASCADE"],
}

for _dialect, _statements in SEARCH_DDL.items():
    for _sql in _statements:
        sa.event.listen(SearchDocument.__table__, "after_create", sa.DDL(_sql).execute_if(dialect=_dialect))
for _dialect, _statements in SEARCH_DROP_DDL.items():
    for _sql in _statements:
        sa.event.listen(SearchDocument.__table__, "after_drop", sa.DDL(_sql).execute_if(dialect=_dialect))


def include_in_autogenerate(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    """Alembic `include_object`: leave out the full-text objects the models do not declare."""
    if type_ == "table" and reflected and name and name.startswith(FTS_TABLE):
        return False  # the FTS5 table and its shadow tables (search_fts_data, ...)
    if type_ == "column" and reflected and name == TSV_COLUMN and getattr(obj, "table", None) is not None:
        return obj.table.name != "search_documents"
    if type_ == "index" and reflected and name and name.startswith(TSV_INDEX):
        return False
    return True
