"""Sales: products, product rows, pipelines and deals, quotes and invoices, the funnel."""

from __future__ import annotations

from .deals import DealsResource
from .document_statuses import DocumentStatusesResource
from .documents import InvoicesResource, QuotesResource
from .pipelines import PipelinesResource
from .products import ProductsResource
from .sections import SectionsResource

__all__ = ["RESOURCES"]

RESOURCES: tuple = (
    SectionsResource(),
    ProductsResource(),
    PipelinesResource(),
    DealsResource(),
    QuotesResource(),
    InvoicesResource(),
    DocumentStatusesResource(),
)
"The REST resources of this package (crm_core.crud.Resource instances); web/api collects them."
