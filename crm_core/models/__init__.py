"""Every CRM table; importing this package configures all mappers (Alembic and services rely on it)."""

from __future__ import annotations

from .activity import CallActivity, CrmEntity, Recording
from .company import Company
from .contact import Contact
from .excluded import ExcludedNumber, ExclusionReason
from .lead import CLOSED_LEAD_STATUSES, Lead, LeadSource, LeadStatus
from .phone import Phone, PhoneKind, PhoneOwner
from .task import Task
from .user import Role, User

__all__ = [
    "CLOSED_LEAD_STATUSES",
    "CallActivity",
    "Company",
    "Contact",
    "CrmEntity",
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
