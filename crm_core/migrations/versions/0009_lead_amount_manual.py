"""A lead's amount follows its product rows unless typed by hand: ``lead.amount_manual``.

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-28

Written by hand like 0001-0008: one plain ``ALTER TABLE ... ADD COLUMN`` on both backends (no batch
mode, which on SQLite would rebuild the table). Until now a lead's amount was always typed, so the
leads that have one (not zero) and no rows keep it as typed; the others follow their rows from now on.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("lead", sa.Column("amount_manual", sa.Boolean(), server_default=sa.false(), nullable=False))
    lead = sa.table("lead", sa.column("id"), sa.column("amount"), sa.column("amount_manual"))
    row = sa.table("product_row", sa.column("owner_type"), sa.column("owner_id"))
    has_rows = sa.exists().where(row.c.owner_type == "lead", row.c.owner_id == lead.c.id)
    # 0 compares right on both backends: NUMERIC on PostgreSQL, kopecks as an integer on SQLite.
    op.execute(sa.update(lead).where(lead.c.amount != 0, ~has_rows).values(amount_manual=sa.true()))


def downgrade() -> None:
    op.drop_column("lead", "amount_manual")
