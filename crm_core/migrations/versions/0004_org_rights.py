"""Organisation and rights: departments, access roles with grants, extra roles per user, API tokens.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27

Written by hand like 0001-0003. The built-in roles admin, supervisor and agent are seeded with
``crm_core.rights.DEFAULT_GRANTS`` as it stands at this revision, written out here so that a later
change to the code (a new entity, say) cannot change what this revision does; one row per granted
pair, a missing pair is level none. ``tests/crm_core/test_access.py`` checks the two agree.

Nothing existing is altered: a user's department is a row of ``department_member`` (see
``crm_core/models/org.py`` for why it is not a column of ``app_user``), so the revision only adds
tables and downgrades by dropping them, the same on both backends.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ENTITY_CHECK = (
    "entity IN ('lead', 'contact', 'company', 'deal', 'product', 'quote', 'invoice', 'activity', 'call')"
)
_ACTION_CHECK = "action IN ('read', 'add', 'update', 'delete', 'export')"
_ENTITIES = ("lead", "contact", "company", "deal", "product", "quote", "invoice", "activity", "call")
_ACTIONS = ("read", "add", "update", "delete", "export")
_NONE, _OWN, _DEPARTMENT, _ALL = 0, 1, 2, 3


def _built_in_grants() -> dict[str, dict[tuple[str, str], int]]:
    """DEFAULT_GRANTS at revision 0004: role -> (entity, action) -> level."""
    admin = {(e, a): _ALL for e in _ENTITIES for a in _ACTIONS}
    supervisor = {(e, a): _DEPARTMENT for e in _ENTITIES for a in _ACTIONS}
    supervisor[("product", "read")] = _ALL
    agent_levels = {"read": _DEPARTMENT, "add": _OWN, "update": _OWN, "delete": _NONE, "export": _NONE}
    agent = {(e, a): agent_levels[a] for e in _ENTITIES for a in _ACTIONS}
    agent[("product", "read")] = _ALL
    agent[("call", "read")] = _OWN
    agent[("call", "update")] = _OWN
    return {"admin": admin, "supervisor": supervisor, "agent": agent}


_DESCRIPTIONS = {
    "admin": "Everything on every record.",
    "supervisor": "Everything on the records of their department and the departments under it.",
    "agent": "Reads the department's cards, changes their own, never deletes or exports.",
}


def upgrade() -> None:
    op.create_table(
        "department",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("head_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["department.id"], name=op.f("fk_department_parent_id_department"), ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["head_id"], ["app_user.id"], name=op.f("fk_department_head_id_app_user"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_department")),
    )
    op.create_index(op.f("ix_department_parent_id"), "department", ["parent_id"])

    op.create_table(
        "department_member",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("department_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_department_member_user_id_app_user"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["department_id"],
            ["department.id"],
            name=op.f("fk_department_member_department_id_department"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_department_member")),
    )
    op.create_index(op.f("ix_department_member_department_id"), "department_member", ["department_id"])

    access_role = op.create_table(
        "access_role",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=False),
        sa.Column("is_builtin", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_role")),
        sa.UniqueConstraint("name", name=op.f("uq_access_role_name")),
    )
    access_grant = op.create_table(
        "access_grant",
        sa.Column("role_id", sa.Integer(), nullable=False),
        sa.Column("entity", sa.String(length=20), nullable=False),
        sa.Column("action", sa.String(length=20), nullable=False),
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.CheckConstraint(_ENTITY_CHECK, name=op.f("ck_access_grant_entity")),
        sa.CheckConstraint(_ACTION_CHECK, name=op.f("ck_access_grant_action")),
        sa.CheckConstraint("level BETWEEN 0 AND 3", name=op.f("ck_access_grant_level")),
        sa.ForeignKeyConstraint(
            ["role_id"], ["access_role.id"], name=op.f("fk_access_grant_role_id_access_role"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("role_id", "entity", "action", name=op.f("pk_access_grant")),
    )
    op.create_table(
        "user_access_role",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("role_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_user_access_role_user_id_app_user"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["role_id"],
            ["access_role.id"],
            name=op.f("fk_user_access_role_role_id_access_role"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", "role_id", name=op.f("pk_user_access_role")),
    )
    op.create_index(op.f("ix_user_access_role_role_id"), "user_access_role", ["role_id"])

    op.create_table(
        "api_token",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["app_user.id"], name=op.f("fk_api_token_user_id_app_user"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_token_token_hash")),
    )
    op.create_index(op.f("ix_api_token_user_id"), "api_token", ["user_id"])

    # Ids given explicitly so the grants can name them; PostgreSQL's sequence is moved past them.
    roles = list(_built_in_grants().items())
    op.bulk_insert(
        access_role,
        [
            {"id": number, "name": name, "description": _DESCRIPTIONS.get(name, ""), "is_builtin": True}
            for number, (name, _) in enumerate(roles, start=1)
        ],
    )
    op.bulk_insert(
        access_grant,
        [
            {"role_id": number, "entity": entity, "action": action, "level": level}
            for number, (_, grants) in enumerate(roles, start=1)
            for (entity, action), level in sorted(grants.items())
            if level > _NONE
        ],
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "SELECT setval(pg_get_serial_sequence('access_role', 'id'), (SELECT max(id) FROM access_role))"
        )


def downgrade() -> None:
    op.drop_table("api_token")
    op.drop_table("user_access_role")
    op.drop_table("access_grant")
    op.drop_table("access_role")
    op.drop_table("department_member")
    op.drop_table("department")
