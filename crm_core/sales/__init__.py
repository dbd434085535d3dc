"""Sales: products, product rows, pipelines and deals, quotes and invoices, the funnel."""

from __future__ import annotations

RESOURCES: tuple = ()
"The REST resources of this package (crm_core.crud.Resource instances); web/api collects them."
