"""Indexes for the lists every role sees: cards and calls by their responsible.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27

An agent's or a department's list filters on ``responsible_id IN (...)`` (see
``crm_core.rights.Principal.visible``); without these, each page of a million contacts is a scan.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("contact", "company", "lead", "call")


def upgrade() -> None:
    for table in TABLES:
        op.create_index(op.f(f"ix_{table}_responsible_id"), table, ["responsible_id"])


def downgrade() -> None:
    for table in reversed(TABLES):
        op.drop_index(op.f(f"ix_{table}_responsible_id"), table_name=table)
