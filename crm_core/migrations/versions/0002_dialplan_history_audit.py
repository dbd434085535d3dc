"""Dialplan history (every applied version) and the generic audit trail.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27

Written by hand like 0001: portable server defaults (``sa.func.now()``), constraint names from the
naming convention, so the same revision runs on SQLite and PostgreSQL. ``dialplan_version`` refers
to itself (a rollback names the version it restores); both backends accept that in CREATE TABLE.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "dialplan_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("applied_by_id", sa.Integer(), nullable=True),
        sa.Column("applied_by_name", sa.String(length=200), nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("rolled_back_from", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "source IN ('cli', 'web', 'sighup', 'startup', 'rollback')",
            name=op.f("ck_dialplan_version_source"),
        ),
        sa.ForeignKeyConstraint(
            ["applied_by_id"],
            ["app_user.id"],
            name=op.f("fk_dialplan_version_applied_by_id_app_user"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["rolled_back_from"],
            ["dialplan_version.id"],
            name=op.f("fk_dialplan_version_rolled_back_from_dialplan_version"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dialplan_version")),
    )

    op.create_table(
        "audit_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("target", sa.String(length=200), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_audit_entry_user_id_app_user"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entry")),
    )
    op.create_index(op.f("ix_audit_entry_action"), "audit_entry", ["action"])
    op.create_index(op.f("ix_audit_entry_at"), "audit_entry", ["at"])
    op.create_index(op.f("ix_audit_entry_user_id"), "audit_entry", ["user_id"])


def downgrade() -> None:
    # Dropping a table drops its indexes too.
    op.drop_table("audit_entry")
    op.drop_table("dialplan_version")
