"""Each user's own language for the pages: ``app_user.locale`` ("en", "ru", or NULL: not chosen).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27

Written by hand like 0001-0006. One ``ALTER TABLE ... ADD COLUMN`` with its named CHECK runs as-is on
both SQLite and PostgreSQL. Batch mode is avoided on purpose: on SQLite it rebuilds the table, and
dropping ``app_user`` with foreign keys on would cascade into every table that refers to users.
NULL means "not chosen": the browser's Accept-Language, then ``web.default_locale``, decide.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "ALTER TABLE app_user ADD COLUMN locale VARCHAR(2) "
        "CONSTRAINT ck_app_user_locale CHECK (locale IN ('en', 'ru'))"
    )


def downgrade() -> None:
    # PostgreSQL drops the column's CHECK with it; SQLite (3.35+) allows it, the CHECK being the column's own.
    op.drop_column("app_user", "locale")
