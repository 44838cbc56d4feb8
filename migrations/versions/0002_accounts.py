"""Accounts and trust: membership, verification, focal points, 2FA, lockout, invitations, organisation status.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27

Existing users were created by an administrator: they become verified, approved members.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ORG_STATUS = sa.Enum(
    "approved", "pending", "rejected", "merged", "inactive",
    name="organisation_status", native_enum=False, create_constraint=True, length=32,
)
MEMBERSHIP = sa.Enum(
    "pending", "approved", "rejected", "removed",
    name="membership_status", native_enum=False, create_constraint=True, length=32,
)
LOCALE = sa.Enum(
    "ar", "zh", "en", "fr", "ru", "es", name="user_locale", native_enum=False, create_constraint=True, length=32
)


def upgrade():
    op.create_table(
        "invitations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organisation_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("invited_by_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.Column("accepted_at", sa.DateTime(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
        sa.CheckConstraint("email = lower(email)", name=op.f("ck_invitations_email_normalised")),
        sa.ForeignKeyConstraint(["invited_by_id"], ["users.id"], name=op.f("fk_invitations_invited_by_id_users")),
        sa.ForeignKeyConstraint(
            ["organisation_id"], ["organisations.id"], name=op.f("fk_invitations_organisation_id_organisations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
    )
    with op.batch_alter_table("invitations") as batch_op:
        batch_op.create_index(batch_op.f("ix_invitations_email"), ["email"], unique=False)
        batch_op.create_index(batch_op.f("ix_invitations_organisation_id"), ["organisation_id"], unique=False)

    op.create_table(
        "recovery_codes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=255), nullable=False),
        sa.Column("used_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_recovery_codes_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recovery_codes")),
    )
    with op.batch_alter_table("recovery_codes") as batch_op:
        batch_op.create_index(batch_op.f("ix_recovery_codes_user_id"), ["user_id"], unique=False)

    with op.batch_alter_table("organisations") as batch_op:
        batch_op.add_column(sa.Column("status", ORG_STATUS, nullable=False, server_default="approved"))
        batch_op.add_column(sa.Column("website", sa.String(length=300), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("country", sa.String(length=100), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("merged_into_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("status_note", sa.Text(), nullable=False, server_default=""))
        batch_op.create_index(batch_op.f("ix_organisations_status"), ["status"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_organisations_merged_into_id_organisations"), "organisations", ["merged_into_id"], ["id"]
        )
        batch_op.create_check_constraint("merged_has_target", "status <> 'merged' OR merged_into_id IS NOT NULL")
        batch_op.create_check_constraint("not_merged_into_itself", "merged_into_id IS NULL OR merged_into_id <> id")

    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("membership", MEMBERSHIP, nullable=True))
        batch_op.add_column(sa.Column("membership_note", sa.Text(), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("is_focal_point", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("locale", LOCALE, nullable=False, server_default="en"))
        batch_op.add_column(sa.Column("email_verified_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("session_token", sa.String(length=32), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("password_changed_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("locked_until", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("totp_secret", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("totp_enabled_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("totp_last_counter", sa.BigInteger(), nullable=True))

    random_token = "md5(random()::text)" if op.get_bind().dialect.name == "postgresql" else "lower(hex(randomblob(16)))"
    op.execute(
        "UPDATE users SET membership = CASE WHEN role = 'submitter' THEN 'approved' END, "
        f"email_verified_at = created_at, password_changed_at = created_at, session_token = {random_token}"
    )

    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_constraint(op.f("ck_users_submitter_has_organisation"), type_="check")
        batch_op.create_check_constraint(
            "submitter_has_organisation",
            "role <> 'submitter' OR (organisation_id IS NOT NULL AND membership IS NOT NULL)",
        )
        batch_op.create_check_constraint("focal_point_is_submitter", "NOT is_focal_point OR role = 'submitter'")
        batch_op.create_check_constraint("totp_has_secret", "totp_enabled_at IS NULL OR totp_secret IS NOT NULL")


def downgrade():
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_constraint(op.f("ck_users_totp_has_secret"), type_="check")
        batch_op.drop_constraint(op.f("ck_users_focal_point_is_submitter"), type_="check")
        batch_op.drop_constraint(op.f("ck_users_submitter_has_organisation"), type_="check")
        batch_op.drop_constraint(op.f("ck_users_user_locale"), type_="check")
        batch_op.drop_constraint(op.f("ck_users_membership_status"), type_="check")
        for column in (
            "totp_last_counter", "totp_enabled_at", "totp_secret", "locked_until", "failed_logins",
            "password_changed_at", "session_token", "email_verified_at", "locale", "is_focal_point",
            "membership_note", "membership",
        ):
            batch_op.drop_column(column)
    with op.batch_alter_table("users") as batch_op:
        batch_op.create_check_constraint("submitter_has_organisation", "role <> 'submitter' OR organisation_id IS NOT NULL")

    with op.batch_alter_table("organisations") as batch_op:
        batch_op.drop_constraint(op.f("ck_organisations_not_merged_into_itself"), type_="check")
        batch_op.drop_constraint(op.f("ck_organisations_merged_has_target"), type_="check")
        batch_op.drop_constraint(op.f("ck_organisations_organisation_status"), type_="check")
        batch_op.drop_constraint(batch_op.f("fk_organisations_merged_into_id_organisations"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_organisations_status"))
        for column in ("status_note", "merged_into_id", "country", "website", "status"):
            batch_op.drop_column(column)

    with op.batch_alter_table("recovery_codes") as batch_op:
        batch_op.drop_index(batch_op.f("ix_recovery_codes_user_id"))
    op.drop_table("recovery_codes")
    with op.batch_alter_table("invitations") as batch_op:
        batch_op.drop_index(batch_op.f("ix_invitations_organisation_id"))
        batch_op.drop_index(batch_op.f("ix_invitations_email"))
    op.drop_table("invitations")
