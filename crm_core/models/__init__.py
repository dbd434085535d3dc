"""Every CRM table; importing this package configures all mappers (Alembic and services rely on it)."""

from __future__ import annotations

from .activity import CallActivity, CrmEntity, Recording
from .audit import AuditEntry
from .catalog import Product, ProductSection
from .company import Company
from .contact import Contact
from .deal import Deal, DealContact, DealStageHistory
from .dialplan import DialplanSource, DialplanVersion
from .dictionaries import LeadSourceItem, LeadStatusItem, StatusSemantic
from .document import (
    DocumentKind,
    DocumentStatus,
    Invoice,
    NumberCounter,
    NumberReset,
    NumberSequence,
    Quote,
)
from .email import Email, EmailKind
from .excluded import ExcludedEmail, ExcludedNumber, ExclusionReason
from .lead import CLOSED_LEAD_STATUSES, Lead, LeadSource, LeadStatus
from .links import ContactCompany
from .org import AccessGrant, AccessRole, ApiToken, Department, DepartmentMember, user_access_role
from .phone import Phone, PhoneKind, PhoneOwner
from .pipeline import MAX_STAGES, Pipeline, Stage
from .product_row import DiscountType, ProductRow, RowOwner
from .task import Task
from .timeline import Activity, ActivityBinding, ActivityKind, BindingOwner
from .user import Role, User

__all__ = [
    "CLOSED_LEAD_STATUSES",
    "MAX_STAGES",
    "AccessGrant",
    "AccessRole",
    "Activity",
    "ActivityBinding",
    "ActivityKind",
    "ApiToken",
    "AuditEntry",
    "BindingOwner",
    "CallActivity",
    "Company",
    "Contact",
    "ContactCompany",
    "CrmEntity",
    "Deal",
    "DealContact",
    "DealStageHistory",
    "Department",
    "DepartmentMember",
    "DialplanSource",
    "DialplanVersion",
    "DiscountType",
    "DocumentKind",
    "DocumentStatus",
    "Email",
    "EmailKind",
    "ExcludedEmail",
    "ExcludedNumber",
    "ExclusionReason",
    "Invoice",
    "Lead",
    "LeadSource",
    "LeadSourceItem",
    "LeadStatus",
    "LeadStatusItem",
    "NumberCounter",
    "NumberReset",
    "NumberSequence",
    "Phone",
    "PhoneKind",
    "PhoneOwner",
    "Pipeline",
    "Product",
    "ProductRow",
    "ProductSection",
    "Quote",
    "Recording",
    "Role",
    "RowOwner",
    "Stage",
    "StatusSemantic",
    "Task",
    "User",
    "user_access_role",
]
