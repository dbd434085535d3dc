"""Sales: product catalogue, product rows, pipelines and stages, deals, quotes, invoices, numbering.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27

Written by hand like 0001-0005: portable, constraint names from the naming convention. Exact
decimals (see :mod:`crm_core.models.money`) are ``NUMERIC`` on PostgreSQL and a scaled ``BIGINT``
on SQLite, whose ``NUMERIC`` is a binary float. Data steps: the default pipeline with Bitrix24's
stages, the default quote and invoice statuses, and the two number sequences.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STAGES = (
    # code, name, sort, semantic, probability (the bit is the position in this list)
    ("NEW", "New", 10, "process", 10),
    ("PREPARATION", "Preparing documents", 20, "process", 20),
    ("PREPAYMENT_INVOICE", "Prepayment invoice", 30, "process", 40),
    ("EXECUTING", "In progress", 40, "process", 60),
    ("FINAL_INVOICE", "Final invoice", 50, "process", 80),
    ("WON", "Deal won", 60, "success", 100),
    ("LOSE", "Deal lost", 70, "failure", 0),
)
_STATUSES = {
    "quote": (
        ("DRAFT", "Draft", 10, "process"),
        ("SENT", "Sent to the customer", 20, "process"),
        ("ACCEPTED", "Accepted", 30, "success"),
        ("DECLINED", "Declined", 40, "failure"),
    ),
    "invoice": (
        ("DRAFT", "Draft", 10, "process"),
        ("SENT", "Sent to the customer", 20, "process"),
        ("PAID", "Paid", 30, "success"),
        ("CANCELLED", "Cancelled", 40, "failure"),
    ),
}
_SEQUENCES = (("quote", "QUO-{year}-{seq:05d}", "yearly"), ("invoice", "INV-{year}-{seq:05d}", "yearly"))


def _exact(precision: int, scale: int) -> sa.types.TypeEngine:
    return sa.Numeric(precision, scale).with_variant(sa.BigInteger(), "sqlite")


def _money() -> sa.types.TypeEngine:
    return _exact(18, 2)


def _price() -> sa.types.TypeEngine:
    return _exact(18, 4)


def _timestamp(name: str, *, nullable: bool = False, now: bool = True) -> sa.Column:
    default = sa.func.now() if now else None
    return sa.Column(name, sa.DateTime(timezone=True), server_default=default, nullable=nullable)


def _fk(
    table: str, column: str, target: str, ondelete: str = "SET NULL", key: str = "id"
) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.{key}"], name=op.f(f"fk_{table}_{column}_{target}"), ondelete=ondelete
    )


def _index(table: str, *columns: str) -> None:
    op.create_index(op.f(f"ix_{table}_{columns[0]}"), table, list(columns))


def upgrade() -> None:
    _catalogue()
    _pipelines()
    _deals()
    _documents()
    _seed()


def _catalogue() -> None:
    op.create_table(
        "product_section",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("sort", sa.Integer(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        _fk("product_section", "parent_id", "product_section", ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_section")),
    )
    _index("product_section", "parent_id")
    op.create_table(
        "product",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("section_id", sa.Integer(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("unit", sa.String(length=20), nullable=False),
        sa.Column("price", _price(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("vat_rate", _exact(9, 4), nullable=True),
        sa.Column("vat_included", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("external_id", sa.String(length=100), nullable=True),
        sa.Column("sort", sa.Integer(), nullable=False),
        sa.Column("properties", sa.JSON(), nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        _fk("product", "section_id", "product_section"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product")),
        sa.UniqueConstraint("external_id", name=op.f("uq_product_external_id")),
    )
    _index("product", "name")
    _index("product", "section_id")
    _index("product", "active")
    op.create_table(
        "product_row",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_type", sa.String(length=10), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=False),
        sa.Column("sort", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=300), nullable=False),
        sa.Column("unit", sa.String(length=20), nullable=False),
        sa.Column("quantity", _exact(18, 3), nullable=False),
        sa.Column("price", _price(), nullable=False),
        sa.Column("discount_type", sa.String(length=10), nullable=False),
        sa.Column("discount_value", _price(), nullable=False),
        sa.Column("tax_rate", _exact(9, 4), nullable=True),
        sa.Column("tax_included", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("discount_amount", _money(), nullable=False),
        sa.Column("net_amount", _money(), nullable=False),
        sa.Column("tax_amount", _money(), nullable=False),
        sa.Column("total", _money(), nullable=False),
        sa.CheckConstraint(
            "owner_type IN ('lead', 'deal', 'quote', 'invoice')", name=op.f("ck_product_row_owner_type")
        ),
        sa.CheckConstraint(
            "discount_type IN ('none', 'percent', 'sum')", name=op.f("ck_product_row_discount_type")
        ),
        _fk("product_row", "product_id", "product"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_product_row")),
    )
    op.create_index("ix_product_row_owner", "product_row", ["owner_type", "owner_id", "sort"])
    _index("product_row", "product_id")


def _pipelines() -> None:
    op.create_table(
        "pipeline",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("sort", sa.Integer(), nullable=False),
        sa.Column("is_default", sa.Boolean(), server_default=sa.false(), nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pipeline")),
    )
    op.create_table(
        "stage",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pipeline_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=50), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("sort", sa.Integer(), nullable=False),
        sa.Column("semantic", sa.String(length=10), nullable=False),
        sa.Column("probability", sa.Integer(), nullable=False),
        sa.Column("bit", sa.Integer(), nullable=False),
        sa.CheckConstraint("semantic IN ('process', 'success', 'failure')", name=op.f("ck_stage_semantic")),
        sa.CheckConstraint("probability BETWEEN 0 AND 100", name=op.f("ck_stage_probability")),
        sa.CheckConstraint("bit BETWEEN 0 AND 62", name=op.f("ck_stage_bit")),
        _fk("stage", "pipeline_id", "pipeline", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stage")),
        sa.UniqueConstraint("pipeline_id", "bit", name=op.f("uq_stage_pipeline_id_bit")),
        sa.UniqueConstraint("pipeline_id", "code", name=op.f("uq_stage_pipeline_id_code")),
    )
    _index("stage", "pipeline_id")


def _deals() -> None:
    op.create_table(
        "deal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("pipeline_id", sa.Integer(), nullable=False),
        sa.Column("stage_id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", _money(), nullable=False),
        sa.Column("amount_manual", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("responsible_id", sa.Integer(), nullable=True),
        sa.Column("company_id", sa.Integer(), nullable=True),
        sa.Column("source_lead_id", sa.Integer(), nullable=True),
        sa.Column("loss_reason", sa.Text(), nullable=True),
        sa.Column("closed", sa.Boolean(), server_default=sa.false(), nullable=False),
        _timestamp("closed_at", nullable=True, now=False),
        sa.Column("close_date", sa.Date(), nullable=True),
        sa.Column("comments", sa.Text(), nullable=False),
        sa.Column("passed_mask", sa.BigInteger(), nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        _fk("deal", "pipeline_id", "pipeline", ondelete="RESTRICT"),
        _fk("deal", "stage_id", "stage", ondelete="RESTRICT"),
        _fk("deal", "responsible_id", "app_user"),
        _fk("deal", "company_id", "company"),
        _fk("deal", "source_lead_id", "lead"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deal")),
    )
    op.create_index(
        "ix_deal_funnel",
        "deal",
        ["pipeline_id", "stage_id", "passed_mask", "currency", "created_at", "responsible_id", "amount"],
    )
    for column in ("stage_id", "responsible_id", "company_id", "source_lead_id"):
        _index("deal", column)
    op.create_table(
        "deal_contact",
        sa.Column("deal_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("sort", sa.Integer(), nullable=False),
        _fk("deal_contact", "deal_id", "deal", ondelete="CASCADE"),
        _fk("deal_contact", "contact_id", "contact", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("deal_id", "contact_id", name=op.f("pk_deal_contact")),
    )
    _index("deal_contact", "contact_id")
    op.create_table(
        "deal_stage_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("deal_id", sa.Integer(), nullable=False),
        sa.Column("pipeline_id", sa.Integer(), nullable=False),
        sa.Column("stage_id", sa.Integer(), nullable=False),
        sa.Column("semantic", sa.String(length=10), nullable=False),
        _timestamp("entered_at", now=False),
        _timestamp("left_at", nullable=True, now=False),
        sa.Column("responsible_id", sa.Integer(), nullable=True),
        sa.Column("changed_by_id", sa.Integer(), nullable=True),
        sa.Column("loss_reason", sa.Text(), nullable=True),
        _fk("deal_stage_history", "deal_id", "deal", ondelete="CASCADE"),
        _fk("deal_stage_history", "pipeline_id", "pipeline", ondelete="RESTRICT"),
        _fk("deal_stage_history", "stage_id", "stage", ondelete="RESTRICT"),
        _fk("deal_stage_history", "responsible_id", "app_user"),
        _fk("deal_stage_history", "changed_by_id", "app_user"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deal_stage_history")),
    )
    op.create_index("ix_deal_stage_history_deal", "deal_stage_history", ["deal_id", "entered_at"])
    _index("deal_stage_history", "stage_id")


def _documents() -> None:
    op.create_table(
        "document_status",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("code", sa.String(length=50), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("sort", sa.Integer(), nullable=False),
        sa.Column("semantic", sa.String(length=10), nullable=False),
        sa.CheckConstraint("kind IN ('quote', 'invoice')", name=op.f("ck_document_status_kind")),
        sa.CheckConstraint(
            "semantic IN ('process', 'success', 'failure')", name=op.f("ck_document_status_semantic")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_status")),
        sa.UniqueConstraint("kind", "code", name=op.f("uq_document_status_kind_code")),
    )
    op.create_table(
        "number_sequence",
        sa.Column("code", sa.String(length=20), nullable=False),
        sa.Column("pattern", sa.String(length=100), nullable=False),
        sa.Column("reset", sa.String(length=10), nullable=False),
        sa.CheckConstraint("reset IN ('never', 'yearly', 'monthly')", name=op.f("ck_number_sequence_reset")),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_number_sequence")),
    )
    op.create_table(
        "number_counter",
        sa.Column("sequence_code", sa.String(length=20), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("last_value", sa.Integer(), nullable=False),
        _fk("number_counter", "sequence_code", "number_sequence", ondelete="CASCADE", key="code"),
        sa.PrimaryKeyConstraint("sequence_code", "period", name=op.f("pk_number_counter")),
    )
    op.create_table("quote", *_document_columns("quote"), sa.Column("valid_until", sa.Date(), nullable=True))
    _document_indexes("quote")
    op.create_table(
        "invoice",
        *_document_columns("invoice"),
        sa.Column("quote_id", sa.Integer(), nullable=True),
        sa.Column("due_on", sa.Date(), nullable=True),
        _timestamp("paid_at", nullable=True, now=False),
        _fk("invoice", "quote_id", "quote"),
    )
    _document_indexes("invoice")
    _index("invoice", "quote_id")


def _document_columns(table: str) -> list[sa.SchemaItem]:
    return [
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=50), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("deal_id", sa.Integer(), nullable=True),
        sa.Column("company_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("responsible_id", sa.Integer(), nullable=True),
        sa.Column("status_id", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("discount_total", _money(), nullable=False),
        sa.Column("net_total", _money(), nullable=False),
        sa.Column("tax_total", _money(), nullable=False),
        sa.Column("total", _money(), nullable=False),
        sa.Column("comments", sa.Text(), nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        _fk(table, "deal_id", "deal"),
        _fk(table, "company_id", "company"),
        _fk(table, "contact_id", "contact"),
        _fk(table, "responsible_id", "app_user"),
        _fk(table, "status_id", "document_status", ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id", name=op.f(f"pk_{table}")),
        sa.UniqueConstraint("number", name=op.f(f"uq_{table}_number")),
    ]


def _document_indexes(table: str) -> None:
    for column in ("deal_id", "company_id", "contact_id", "responsible_id"):
        _index(table, column)


def _seed() -> None:
    bind = op.get_bind()
    meta = sa.MetaData()
    pipeline = sa.Table("pipeline", meta, autoload_with=bind)
    stage = sa.Table("stage", meta, autoload_with=bind)
    pipeline_id = bind.execute(
        sa.insert(pipeline).values(name="Sales", sort=100, is_default=True).returning(pipeline.c.id)
    ).scalar_one()
    bind.execute(
        sa.insert(stage),
        [
            {
                "pipeline_id": pipeline_id,
                "code": code,
                "name": name,
                "sort": sort,
                "semantic": semantic,
                "probability": probability,
                "bit": bit,
            }
            for bit, (code, name, sort, semantic, probability) in enumerate(_STAGES)
        ],
    )
    statuses = sa.Table("document_status", meta, autoload_with=bind)
    bind.execute(
        sa.insert(statuses),
        [
            {"kind": kind, "code": code, "name": name, "sort": sort, "semantic": semantic}
            for kind, items in _STATUSES.items()
            for code, name, sort, semantic in items
        ],
    )
    sequences = sa.Table("number_sequence", meta, autoload_with=bind)
    bind.execute(sa.insert(sequences), [{"code": c, "pattern": p, "reset": r} for c, p, r in _SEQUENCES])


def downgrade() -> None:
    # Children before parents; dropping a table drops its indexes.
    for table in (
        "invoice",
        "quote",
        "number_counter",
        "number_sequence",
        "document_status",
        "deal_stage_history",
        "deal_contact",
        "deal",
        "stage",
        "pipeline",
        "product_row",
        "product",
        "product_section",
    ):
        op.drop_table(table)
