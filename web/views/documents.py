"""Printable quotes and invoices: GET /crm/quotes/{id}/print and /crm/invoices/{id}/print.

A plain page made for the browser's print dialog (A4, no navigation, no script). The read right
on the document is checked by :func:`crm_core.sales.documents.printable`; a user who may not read
it gets 403, an unknown document 404. Amounts are formatted for the page's language from the exact
decimals (never through float).
"""

from __future__ import annotations

from decimal import Decimal

import aiohttp_jinja2
import structlog
from aiohttp import web

from crm_core.access import load_principal
from crm_core.errors import NotFound
from crm_core.rights import Forbidden
from crm_core.sales.documents import printable

from .. import keys
from ..auth import login_required, request_user
from ..i18n import current_locale, gettext

__all__ = ["add_routes", "format_decimal", "print_invoice", "print_quote"]

log = structlog.get_logger(__name__)

_SEPARATORS = {"ru": ("\u202f", ","), "en": (",", ".")}
"Thousands and decimal separators per page language (a narrow no-break space in Russian)."


def format_decimal(value: Decimal | None, locale: str = "en", *, min_places: int = 2) -> str:
    """Group thousands and drop trailing zeros beyond *min_places*, in the page's language.

    ``4085.45`` -> ``4,085.45`` (English) or ``4 085,45`` (Russian); a price of ``35.5000`` shows
    as ``35.50``, one of ``0.1250`` as ``0.125``; a quantity (``min_places=0``) of ``3.000`` as ``3``.
    """
    if value is None:
        return ""
    thousands, point = _SEPARATORS.get(locale, _SEPARATORS["en"])
    sign = "-" if value < 0 else ""
    whole, _, fraction = f"{abs(value):f}".partition(".")
    fraction = fraction.rstrip("0").ljust(min_places, "0")
    groups: list[str] = []
    while len(whole) > 3:
        whole, groups = whole[:-3], [whole[-3:], *groups]
    text = thousands.join([whole, *groups])
    return f"{sign}{text}{point}{fraction}" if fraction else f"{sign}{text}"


async def _render(request: web.Request, kind: str) -> web.StreamResponse:
    document_id = int(request.match_info["document_id"])
    user = request_user(request)
    async with request.app[keys.DB]() as session:
        principal = await load_principal(session, user.id)
        try:
            page = await printable(session, principal, kind, document_id)
        except Forbidden:
            log.info("document_print_refused", kind=kind, document_id=document_id, user_id=user.id)
            raise web.HTTPForbidden(text=gettext("You may not read this document")) from None
        except NotFound:
            raise web.HTTPNotFound(text=gettext("No such document")) from None
    locale = current_locale()
    log.info("document_printed", kind=kind, document_id=document_id, user_id=user.id)
    context = {
        "page": page,
        "doc": page.document,
        "money": lambda value: format_decimal(value, locale),
        "number": lambda value: format_decimal(value, locale, min_places=0),
    }
    return aiohttp_jinja2.render_template(f"documents/{kind}.html", request, context)


@login_required
async def print_quote(request: web.Request) -> web.StreamResponse:
    """GET /crm/quotes/{id}/print."""
    return await _render(request, "quote")


@login_required
async def print_invoice(request: web.Request) -> web.StreamResponse:
    """GET /crm/invoices/{id}/print."""
    return await _render(request, "invoice")


def add_routes(app: web.Application) -> None:
    """Register the printable document pages."""
    app.router.add_get(r"/crm/quotes/{document_id:\d+}/print", print_quote, name="quote_print")
    app.router.add_get(r"/crm/invoices/{document_id:\d+}/print", print_invoice, name="invoice_print")
