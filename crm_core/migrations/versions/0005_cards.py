"""Cards in depth: e-mails, contact <-> company links, lead dictionaries, activities, duplicate keys.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27

Written by hand like 0001-0003 (portable: the same revision runs on SQLite and PostgreSQL; only
columns and tables are added, so SQLite needs no table rebuild). Data steps:

- every ``contact.company_id`` becomes a ``contact_company`` row (the column stays as the
  contact's primary company, which call logging and the screen-pop read);
- the lead status and source dictionaries get the built-in codes the code has used so far;
- the duplicate keys of existing names are computed. The key functions are copied here, frozen,
  so later changes to :mod:`crm_core.models.keys` cannot change what this revision did.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STATUSES = (
    ("NEW", "New", 10, "process"),
    ("IN_PROCESS", "In process", 20, "process"),
    ("PROCESSED", "Processed", 30, "process"),
    ("CONVERTED", "Converted", 40, "success"),
    ("JUNK", "Junk", 50, "failure"),
)
_SOURCES = (("CALL", "Call", 10), ("WEB", "Website", 20), ("EMAIL", "E-mail", 30), ("OTHER", "Other", 40))

_LEGAL_FORMS = frozenset(
    {
        *("ооо", "оао", "зао", "пао", "ао", "нао", "ип", "чп", "тоо", "гуп", "муп", "нко"),
        *("llc", "ltd", "inc", "corp", "co", "gmbh", "ag", "jsc", "ojsc", "cjsc", "plc", "sa", "srl", "bv"),
    }
)
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def _words(text: str) -> list[str]:
    return _WORD.findall(unicodedata.normalize("NFKC", text).casefold().replace("ё", "е"))


def _person_key(name: str | None) -> str | None:
    return (" ".join(sorted(_words(name)))[:200] or None) if name else None


def _company_key(title: str | None) -> str | None:
    if not title:
        return None
    words = _words(title)
    return " ".join([w for w in words if w not in _LEGAL_FORMS] or words)[:200] or None


def _timestamp(name: str, *, nullable: bool = False, now: bool = True) -> sa.Column:
    default = sa.func.now() if now else None
    return sa.Column(name, sa.DateTime(timezone=True), server_default=default, nullable=nullable)


def _fk(table: str, column: str, target: str, ondelete: str = "SET NULL") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "email",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_type", sa.String(length=10), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.String(length=254), nullable=False),
        sa.Column("value_key", sa.String(length=254), nullable=True),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.CheckConstraint("owner_type IN ('contact', 'company', 'lead')", name=op.f("ck_email_owner_type")),
        sa.CheckConstraint("kind IN ('work', 'home', 'mailing', 'other')", name=op.f("ck_email_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email")),
    )
    op.create_index(op.f("ix_email_value_key"), "email", ["value_key"])
    op.create_index("ix_email_owner", "email", ["owner_type", "owner_id"])

    op.create_table(
        "excluded_email",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_excluded_email")),
        sa.UniqueConstraint("email", name=op.f("uq_excluded_email_email")),
    )

    op.create_table(
        "contact_company",
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("company_id", sa.Integer(), nullable=False),
        _timestamp("created_at"),
        _fk("contact_company", "contact_id", "contact", ondelete="CASCADE"),
        _fk("contact_company", "company_id", "company", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("contact_id", "company_id", name=op.f("pk_contact_company")),
    )
    op.create_index(op.f("ix_contact_company_company_id"), "contact_company", ["company_id"])
    op.execute(
        "INSERT INTO contact_company (contact_id, company_id) "
        "SELECT id, company_id FROM contact WHERE company_id IS NOT NULL"
    )

    statuses = op.create_table(
        "lead_status",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("sort", sa.Integer(), nullable=False),
        sa.Column("semantic", sa.String(length=10), nullable=False),
        sa.CheckConstraint(
            "semantic IN ('process', 'success', 'failure')", name=op.f("ck_lead_status_semantic")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_status")),
        sa.UniqueConstraint("code", name=op.f("uq_lead_status_code")),
    )
    op.bulk_insert(
        statuses,
        [{"code": c, "name": n, "sort": s, "semantic": m} for c, n, s, m in _STATUSES],
    )
    sources = op.create_table(
        "lead_source",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("sort", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_source")),
        sa.UniqueConstraint("code", name=op.f("uq_lead_source_code")),
    )
    op.bulk_insert(sources, [{"code": c, "name": n, "sort": s} for c, n, s in _SOURCES])

    op.add_column("lead", sa.Column("name_key", sa.String(length=200), nullable=True))
    op.add_column("lead", sa.Column("company_key", sa.String(length=200), nullable=True))
    # Money is exact on both databases: NUMERIC on PostgreSQL, kopecks in a BIGINT on SQLite
    # (crm_core.models.money, as revision 0006 does for deals).
    money = sa.Numeric(18, 2).with_variant(sa.BigInteger(), "sqlite")
    op.add_column("lead", sa.Column("amount", money, server_default="0", nullable=False))
    op.add_column("lead", sa.Column("currency", sa.String(length=3), server_default="RUB", nullable=False))
    op.add_column("lead", sa.Column("comments", sa.Text(), server_default="", nullable=False))
    op.add_column("lead", _timestamp("converted_at", nullable=True, now=False))
    op.create_index(op.f("ix_lead_name_key"), "lead", ["name_key"])
    op.create_index(op.f("ix_lead_company_key"), "lead", ["company_key"])
    op.add_column("contact", sa.Column("name_key", sa.String(length=200), nullable=True))
    op.add_column("contact", sa.Column("comments", sa.Text(), server_default="", nullable=False))
    op.create_index(op.f("ix_contact_name_key"), "contact", ["name_key"])
    op.add_column("company", sa.Column("title_key", sa.String(length=200), nullable=True))
    op.add_column("company", sa.Column("comments", sa.Text(), server_default="", nullable=False))
    op.create_index(op.f("ix_company_title_key"), "company", ["title_key"])
    _backfill_keys()

    op.create_table(
        "activity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=True),
        _timestamp("start_at", now=False),
        _timestamp("end_at", nullable=True, now=False),
        sa.Column("completed", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("responsible_id", sa.Integer(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("call_pk", sa.Integer(), nullable=True),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.CheckConstraint("kind IN ('call', 'meeting', 'task', 'note')", name=op.f("ck_activity_kind")),
        sa.CheckConstraint(
            "direction IS NULL OR direction IN ('inbound', 'outbound')", name=op.f("ck_activity_direction")
        ),
        _fk("activity", "responsible_id", "app_user"),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["app_user.id"],
            name=op.f("fk_activity_created_by_id_app_user"),
            ondelete="SET NULL",
        ),
        _fk("activity", "call_pk", "call"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activity")),
    )
    op.create_index(op.f("ix_activity_start_at"), "activity", ["start_at"])
    op.create_index(op.f("ix_activity_responsible_id"), "activity", ["responsible_id"])
    op.create_index(op.f("ix_activity_call_pk"), "activity", ["call_pk"])
    op.create_table(
        "activity_binding",
        sa.Column("activity_id", sa.Integer(), nullable=False),
        sa.Column("owner_type", sa.String(length=10), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "owner_type IN ('lead', 'contact', 'company', 'deal')",
            name=op.f("ck_activity_binding_owner_type"),
        ),
        _fk("activity_binding", "activity_id", "activity", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("activity_id", "owner_type", "owner_id", name=op.f("pk_activity_binding")),
    )
    op.create_index("ix_activity_binding_owner", "activity_binding", ["owner_type", "owner_id"])


def _backfill_keys() -> None:
    bind = op.get_bind()
    for table, column, key_column, key in (
        ("contact", "name", "name_key", _person_key),
        ("lead", "name", "name_key", _person_key),
        ("lead", "company_name", "company_key", _company_key),
        ("company", "title", "title_key", _company_key),
    ):
        t = sa.table(table, sa.column("id"), sa.column(column), sa.column(key_column))
        rows = bind.execute(sa.select(t.c.id, t.c[column]).where(t.c[column].is_not(None))).all()
        updates = [{"row_id": row[0], "key": key(row[1])} for row in rows]
        if updates:
            bind.execute(
                sa.update(t)
                .where(t.c.id == sa.bindparam("row_id"))
                .values({key_column: sa.bindparam("key")}),
                updates,
            )


def downgrade() -> None:
    op.drop_table("activity_binding")
    op.drop_table("activity")
    # Plain DROP COLUMN (SQLite 3.35+ has it): a batch rebuild would drop and re-create these parent
    # tables, and with foreign keys on, SQLite would null every call's and task's link to them.
    for table, index, columns in (
        ("company", "ix_company_title_key", ("comments", "title_key")),
        ("contact", "ix_contact_name_key", ("comments", "name_key")),
        ("lead", "ix_lead_company_key", ()),
        (
            "lead",
            "ix_lead_name_key",
            ("converted_at", "comments", "currency", "amount", "company_key", "name_key"),
        ),
    ):
        op.drop_index(op.f(index), table_name=table)
        for column in columns:
            op.drop_column(table, column)
    op.drop_table("lead_source")
    op.drop_table("lead_status")
    op.drop_table("contact_company")
    op.drop_table("excluded_email")
    op.drop_table("email")
