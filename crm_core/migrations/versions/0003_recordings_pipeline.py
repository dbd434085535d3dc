"""Recordings pipeline: where each recording is stored, its state, and the legal hold on calls.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27

Written by hand like 0001/0002. ``recording`` gains its storage keys, checksum, size, duration,
format, pipeline status with attempts/error/next attempt, and its natural key (pbx id, call id,
PBX path) so a file ready before its call is logged can wait unlinked (``call_pk`` becomes
nullable). SQLite cannot alter a column's nullability, so ``recording`` changes in batch mode
(the table is rebuilt there; PostgreSQL gets plain ALTERs). Rows written before this revision are
PBX paths never ingested: they become ``pending``, and the pipeline picks them up.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATUS_CHECK = "status IN ('pending', 'stored', 'converted', 'failed')"


def upgrade() -> None:
    op.add_column("call", sa.Column("legal_hold", sa.Boolean(), server_default=sa.false(), nullable=False))
    with op.batch_alter_table("recording") as batch:
        batch.alter_column("call_pk", existing_type=sa.Integer(), nullable=True)
        batch.add_column(sa.Column("pbx_id", sa.String(length=40), nullable=True))
        batch.add_column(sa.Column("call_id", sa.String(length=100), nullable=True))
        batch.add_column(
            sa.Column("status", sa.String(length=10), server_default=sa.text("'pending'"), nullable=False)
        )
        batch.add_column(sa.Column("storage_key", sa.String(length=300), nullable=True))
        batch.add_column(sa.Column("original_key", sa.String(length=300), nullable=True))
        batch.add_column(sa.Column("peaks_key", sa.String(length=300), nullable=True))
        batch.add_column(sa.Column("sha256", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("size_bytes", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("duration_s", sa.Float(), nullable=True))
        batch.add_column(sa.Column("format", sa.String(length=10), nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), server_default=sa.text("0"), nullable=False))
        batch.add_column(sa.Column("error", sa.String(length=500), nullable=True))
        batch.add_column(sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("stored_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(
            sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False)
        )
        batch.create_check_constraint(op.f("ck_recording_status"), _STATUS_CHECK)
        batch.create_unique_constraint(op.f("uq_recording_storage_key"), ["storage_key"])
        batch.create_unique_constraint(
            op.f("uq_recording_pbx_id_call_id_path"), ["pbx_id", "call_id", "path"]
        )
        batch.create_index(op.f("ix_recording_call_pk"), ["call_pk"])
        batch.create_index(op.f("ix_recording_status"), ["status"])
    # The natural key of rows attached before this revision, from their call (portable SQL).
    op.execute(
        "UPDATE recording SET "
        'pbx_id = (SELECT c.pbx_id FROM "call" c WHERE c.id = recording.call_pk), '
        'call_id = (SELECT c.call_id FROM "call" c WHERE c.id = recording.call_pk)'
    )


def downgrade() -> None:
    # Rows of files that never found their call cannot survive a NOT NULL call_pk.
    op.execute("DELETE FROM recording WHERE call_pk IS NULL")
    with op.batch_alter_table("recording") as batch:
        batch.drop_index(op.f("ix_recording_status"))
        batch.drop_index(op.f("ix_recording_call_pk"))
        batch.drop_constraint(op.f("uq_recording_pbx_id_call_id_path"), type_="unique")
        batch.drop_constraint(op.f("uq_recording_storage_key"), type_="unique")
        batch.drop_constraint(op.f("ck_recording_status"), type_="check")
        for column in (
            "updated_at",
            "stored_at",
            "next_attempt_at",
            "error",
            "attempts",
            "format",
            "duration_s",
            "size_bytes",
            "sha256",
            "peaks_key",
            "original_key",
            "storage_key",
            "status",
            "call_id",
            "pbx_id",
        ):
            batch.drop_column(column)
        batch.alter_column("call_pk", existing_type=sa.Integer(), nullable=False)
    op.drop_column("call", "legal_hold")
