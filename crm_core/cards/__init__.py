"""Cards: contacts, companies and leads in depth (duplicates, merge, conversion, activities)."""

from __future__ import annotations

RESOURCES: tuple = ()
"The REST resources of this package (crm_core.crud.Resource instances); web/api collects them."
