"""Versions and files of statements, joint statements, claims, embargo, duplicates, reason templates, notifications.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27

Each existing statement becomes version 1 with its document as the original file.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

STATUSES = ", ".join(
    f"'{s}'"
    for s in ("draft", "submitted", "changes_requested", "approved", "rejected", "withdrawn", "unpublished", "duplicate")
)


def upgrade():
    op.create_table('reason_templates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('action', sa.String(length=32), nullable=False),
    sa.Column('label', sa.String(length=120), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_reason_templates_created_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_reason_templates')),
    sa.UniqueConstraint('action', 'label', name='uq_reason_templates_action_label')
    )
    with op.batch_alter_table('reason_templates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_reason_templates_action'), ['action'], unique=False)

    op.create_table('statement_cosignatories',
    sa.Column('statement_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_statement_cosignatories_organisation_id_organisations')),
    sa.ForeignKeyConstraint(['statement_id'], ['statements.id'], name=op.f('fk_statement_cosignatories_statement_id_statements'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('statement_id', 'organisation_id', name=op.f('pk_statement_cosignatories'))
    )
    with op.batch_alter_table('statement_cosignatories', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_statement_cosignatories_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('statement_on_behalf_of',
    sa.Column('statement_id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'], name=op.f('fk_statement_on_behalf_of_organisation_id_organisations')),
    sa.ForeignKeyConstraint(['statement_id'], ['statements.id'], name=op.f('fk_statement_on_behalf_of_statement_id_statements'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('statement_id', 'organisation_id', name=op.f('pk_statement_on_behalf_of'))
    )
    with op.batch_alter_table('statement_on_behalf_of', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_statement_on_behalf_of_organisation_id'), ['organisation_id'], unique=False)

    op.create_table('statement_versions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('statement_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('status', sa.Enum('draft', 'submitted', 'approved', 'rejected', 'superseded', name='version_status', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('submitted_at', sa.DateTime(), nullable=True),
    sa.Column('decided_at', sa.DateTime(), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("status NOT IN ('approved', 'rejected') OR decided_at IS NOT NULL", name=op.f('ck_statement_versions_decided_when_final')),
    sa.CheckConstraint('number > 0', name=op.f('ck_statement_versions_number_positive')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_statement_versions_created_by_id_users')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['users.id'], name=op.f('fk_statement_versions_decided_by_id_users')),
    sa.ForeignKeyConstraint(['statement_id'], ['statements.id'], name=op.f('fk_statement_versions_statement_id_statements'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_statement_versions')),
    sa.UniqueConstraint('statement_id', 'number', name='uq_statement_versions_statement_number')
    )
    with op.batch_alter_table('statement_versions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_statement_versions_statement_id'), ['statement_id'], unique=False)

    op.create_table('statement_files',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version_id', sa.Integer(), nullable=False),
    sa.Column('stored_file_id', sa.Integer(), nullable=False),
    sa.Column('language', sa.Enum('ar', 'zh', 'en', 'fr', 'ru', 'es', name='file_language', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('role', sa.Enum('original', 'translation', 'annex', name='file_role', native_enum=False, create_constraint=True, length=32), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['stored_file_id'], ['stored_files.id'], name=op.f('fk_statement_files_stored_file_id_stored_files')),
    sa.ForeignKeyConstraint(['version_id'], ['statement_versions.id'], name=op.f('fk_statement_files_version_id_statement_versions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_statement_files')),
    sa.UniqueConstraint('version_id', 'stored_file_id', name='uq_statement_files_version_file')
    )
    with op.batch_alter_table('statement_files', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_statement_files_stored_file_id'), ['stored_file_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_statement_files_version_id'), ['version_id'], unique=False)

    # Every existing statement becomes version 1, its document the original file.
    op.execute(
        "INSERT INTO statement_versions "
        "(statement_id, number, status, note, created_by_id, created_at, submitted_at, decided_at, decided_by_id) "
        "SELECT id, 1, CASE status WHEN 'approved' THEN 'approved' WHEN 'rejected' THEN 'rejected' "
        "ELSE 'submitted' END, '', submitted_by_id, created_at, submitted_at, decided_at, decided_by_id "
        "FROM statements"
    )
    op.execute(
        "INSERT INTO statement_files (version_id, stored_file_id, language, role, position) "
        "SELECT v.id, s.document_id, s.language, 'original', 0 "
        "FROM statements s JOIN statement_versions v ON v.statement_id = s.id"
    )

    with op.batch_alter_table('statements', schema=None) as batch_op:
        batch_op.add_column(sa.Column('duplicate_of_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('claimed_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('claimed_until', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('publish_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('corrected_at', sa.DateTime(), nullable=True))
        batch_op.alter_column('submitted_at',
               existing_type=sa.DATETIME(),
               nullable=True)
        batch_op.drop_constraint(batch_op.f('uq_statements_document_id'), type_='unique')
        batch_op.create_index('ix_statements_status_submitted', ['status', 'submitted_at'], unique=False)
        batch_op.drop_constraint(batch_op.f('fk_statements_document_id_stored_files'), type_='foreignkey')
        batch_op.create_foreign_key(batch_op.f('fk_statements_claimed_by_id_users'), 'users', ['claimed_by_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_statements_duplicate_of_id_statements'), 'statements', ['duplicate_of_id'], ['id'])
        batch_op.drop_column('document_id')
        batch_op.drop_constraint(op.f("ck_statements_statement_status"), type_="check")
        batch_op.drop_constraint(op.f("ck_statements_rejection_has_reason"), type_="check")
        batch_op.drop_constraint(op.f("ck_statements_decision_recorded"), type_="check")

    with op.batch_alter_table("statements") as batch_op:
        batch_op.create_check_constraint("statement_status", f"status IN ({STATUSES})")
        batch_op.create_check_constraint(
            "decision_has_note",
            "status NOT IN ('rejected', 'changes_requested', 'unpublished') "
            "OR (decision_note IS NOT NULL AND decision_note <> '')",
        )
        batch_op.create_check_constraint(
            "decision_recorded",
            "status NOT IN ('approved', 'rejected', 'changes_requested', 'unpublished', 'duplicate') "
            "OR (decided_at IS NOT NULL AND decided_by_id IS NOT NULL)",
        )
        batch_op.create_check_constraint("duplicate_has_original", "status <> 'duplicate' OR duplicate_of_id IS NOT NULL")
        batch_op.create_check_constraint("not_duplicate_of_itself", "duplicate_of_id IS NULL OR duplicate_of_id <> id")
        batch_op.create_check_constraint("submitted_when_not_draft", "status = 'draft' OR submitted_at IS NOT NULL")

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('notify_new_submissions', sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column('daily_digest', sa.Boolean(), nullable=False, server_default=sa.false()))




def downgrade():
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("daily_digest")
        batch_op.drop_column("notify_new_submissions")

    with op.batch_alter_table("statements") as batch_op:
        batch_op.add_column(sa.Column("document_id", sa.Integer(), nullable=True))
    # Each statement keeps the original file of its newest version (earlier versions are lost).
    op.execute(
        "UPDATE statements SET document_id = (SELECT f.stored_file_id FROM statement_files f "
        "JOIN statement_versions v ON v.id = f.version_id WHERE v.statement_id = statements.id "
        "ORDER BY v.number DESC, f.position LIMIT 1)"
    )
    op.execute("DELETE FROM statements WHERE document_id IS NULL")
    op.execute(
        "UPDATE statements SET status = 'rejected', decision_note = COALESCE(decision_note, status) "
        "WHERE status NOT IN ('submitted', 'approved', 'rejected')"
    )
    with op.batch_alter_table("statements") as batch_op:
        for name in (
            "submitted_when_not_draft", "not_duplicate_of_itself", "duplicate_has_original",
            "decision_recorded", "decision_has_note", "statement_status",
        ):
            batch_op.drop_constraint(op.f(f"ck_statements_{name}"), type_="check")
        batch_op.drop_constraint(op.f("fk_statements_duplicate_of_id_statements"), type_="foreignkey")
        batch_op.drop_constraint(op.f("fk_statements_claimed_by_id_users"), type_="foreignkey")
        batch_op.drop_index("ix_statements_status_submitted")
        for column in ("corrected_at", "publish_at", "claimed_until", "claimed_by_id", "duplicate_of_id"):
            batch_op.drop_column(column)
    with op.batch_alter_table("statements") as batch_op:
        batch_op.alter_column("document_id", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("submitted_at", existing_type=sa.DateTime(), nullable=False)
        batch_op.create_foreign_key(op.f("fk_statements_document_id_stored_files"), "stored_files", ["document_id"], ["id"])
        batch_op.create_unique_constraint(op.f("uq_statements_document_id"), ["document_id"])
        batch_op.create_check_constraint("statement_status", "status IN ('submitted', 'approved', 'rejected')")
        batch_op.create_check_constraint(
            "rejection_has_reason", "status <> 'rejected' OR (decision_note IS NOT NULL AND decision_note <> '')"
        )
        batch_op.create_check_constraint(
            "decision_recorded", "status = 'submitted' OR (decided_at IS NOT NULL AND decided_by_id IS NOT NULL)"
        )

    op.drop_table("statement_files")
    op.drop_table("statement_versions")
    op.drop_table("statement_on_behalf_of")
    op.drop_table("statement_cosignatories")
    op.drop_table("reason_templates")
