"""Every CRM table; importing this package configures all mappers (Alembic and services rely on it)."""

from __future__ import annotations

from .activity import CallActivity, CrmEntity, Recording
from .audit import AuditEntry
from .company import Company
from .contact import Contact
from .dialplan import DialplanSource, DialplanVersion
from .excluded import ExcludedNumber, ExclusionReason
from .lead import CLOSED_LEAD_STATUSES, Lead, LeadSource, LeadStatus
from .phone import Phone, PhoneKind, PhoneOwner
from .task import Task
from .user import Role, User

__all__ = [
    "CLOSED_LEAD_STATUSES",
    "AuditEntry",
    "CallActivity",
    "Company",
    "Contact",
    "CrmEntity",
    "DialplanSource",
    "DialplanVersion",
    "ExcludedNumber",
    "ExclusionReason",
    "Lead",
    "LeadSource",
    "LeadStatus",
    "Phone",
    "PhoneKind",
    "PhoneOwner",
    "Recording",
    "Role",
    "Task",
    "User",
]
