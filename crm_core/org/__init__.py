"""The organisation: departments (the scope of "department" rights) and access roles.

Users themselves are managed in :mod:`crm_core.users`; API tokens in :mod:`crm_core.tokens`.
"""

from __future__ import annotations

from .departments import DepartmentResource, members_of, require_admin, set_user_department
from .errors import AdminOnly, BadValue, InUse
from .roles import RoleExists, RoleResource, set_user_roles, user_role_names

__all__ = [
    "RESOURCES",
    "AdminOnly",
    "BadValue",
    "DepartmentResource",
    "InUse",
    "RoleExists",
    "RoleResource",
    "members_of",
    "require_admin",
    "set_user_department",
    "set_user_roles",
    "user_role_names",
]

RESOURCES: tuple = (DepartmentResource(), RoleResource())
"The REST resources of this package (crm_core.crud.Resource instances); web/api collects them."
