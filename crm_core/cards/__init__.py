"""Cards: leads, contacts and companies in depth (phones and e-mails, several companies per contact,
lead dictionaries), activities and timelines, duplicate control, merge, lead conversion, exclusions.

Services take the caller's session and :class:`~crm_core.rights.Principal`, enforce rights
themselves and never commit (the caller owns the transaction).
"""

from __future__ import annotations

from collections.abc import Sequence

from .activities import ActivitiesResource
from .companies import CompaniesResource
from .contacts import ContactsResource
from .dictionaries import LeadSourcesResource, LeadStatusesResource
from .leads import LeadsResource

__all__ = [
    "RESOURCES",
    "ActivitiesResource",
    "CompaniesResource",
    "ContactsResource",
    "LeadSourcesResource",
    "LeadStatusesResource",
    "LeadsResource",
    "make_resources",
]


def make_resources(region: str = "RU", own_numbers: Sequence[str] = ()) -> tuple:
    """The package's REST resources, reading phone numbers with *region* (``crm.default_region``) and
    refusing *own_numbers* (``crm.own_numbers``) on cards like the exclusion list."""
    return (
        LeadsResource(region, own_numbers),
        ContactsResource(region, own_numbers),
        CompaniesResource(region, own_numbers),
        ActivitiesResource(),
        LeadStatusesResource(),
        LeadSourcesResource(),
    )


RESOURCES: tuple = make_resources()
"The REST resources of this package (crm_core.crud.Resource instances); web/api collects them."
