"""The product catalogue's pages: the list, and the product form with its section's custom fields.

The form offers the section tree ("No section" included) and the chosen section's custom fields,
each as an input of its type (text, number, date, a checkbox for yes or no), the required ones
marked; their values are posted as ``prop-<code>`` and :class:`ProductsResource` checks them
against the section (:func:`crm_core.sales.sections.check_properties`). Every problem is shown
next to its field with what was typed kept (422), and nothing is saved. ``static/product_form.js``
swaps the fields when the section changes; without it, a form whose section was changed comes
back with the new section's fields (and the service's problems) instead of being saved, since
the user could not fill them in. ``fields_of`` says which section's fields the form showed.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import aiohttp_jinja2
import structlog
from aiohttp import web
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.crud import ListQuery
from crm_core.errors import Invalid, NotFound
from crm_core.rights import Action, Entity, Principal
from crm_core.sales.products import ExternalIdTaken, ProductsResource
from crm_core.sales.schemas import ProductCreate, ProductOut, ProductUpdate, SectionField

from .. import i18n
from ..auth import csrf_token, request_user
from ..form_problems import describe
from ..i18n import N_
from . import product_sections
from .product_sections import SectionNode, section_tree
from .sales_common import PageError, int_or_none, money, page, parse_decimal, text

__all__ = ["add_routes", "product_form", "products_page", "save_product"]

log = structlog.get_logger(__name__)

LIST_LIMIT = 50
_PRODUCTS = ProductsResource()

_LABELS: Mapping[str, str] = {
    "name": N_("Product name"),
    "unit": N_("Unit"),
    "price": N_("Price"),
    "currency": N_("Currency"),
    "vat_rate": N_("VAT rate"),
    "external_id": N_("External id"),
    "description": N_("Description"),
    "section_id": N_("Section"),
}
_TYPE_PROBLEMS: Mapping[str, str] = {
    "string": N_("%(field)s must be text"),
    "number": N_("%(field)s must be a number"),
    "date": N_("%(field)s must be a date (YYYY-MM-DD)"),
    "boolean": N_("%(field)s must be yes or no"),
}
_DEFAULTS: Mapping[str, Any] = {
    "name": "",
    "unit": "pcs",
    "price": "0",
    "currency": "RUB",
    "vat_rate": "",
    "vat_included": True,
    "active": True,
    "external_id": "",
    "description": "",
    "section_id": None,
    "properties": {},
}


@page("sales/products.html")
async def products_page(
    request: web.Request, session: AsyncSession, principal: Principal
) -> Mapping[str, Any]:
    """GET /crm/products?q=&offset=: the catalogue, searchable by name, with each product's section."""
    search = request.query.get("q", "").strip()[:100]
    offset = max(0, int_or_none(request.query.get("offset")) or 0)
    filters = {"name__contains": search} if search else {}
    found = await _PRODUCTS.list(
        session, principal, ListQuery(filters=filters, sort=["sort", "name"], offset=offset, limit=LIST_LIMIT)
    )
    return {
        "page": found,
        "search": search,
        "sections": {node.section.id: node.section.name for node in await section_tree(session, principal)},
        "can_add": principal.can(Entity.PRODUCT, Action.ADD, None),
        "can_edit": principal.can(Entity.PRODUCT, Action.UPDATE, None),
        "money": money,
    }


def _shown(value: Any) -> Any:
    """A stored custom field value as its input shows it (a checkbox takes the boolean itself)."""
    if value is None:
        return ""
    return value if isinstance(value, bool) else str(value)


def _values_of(product: ProductOut) -> dict[str, Any]:
    values = product.model_dump()
    values["vat_rate"] = "" if product.vat_rate is None else product.vat_rate
    values["external_id"] = product.external_id or ""
    values["properties"] = {code: _shown(value) for code, value in product.properties.items()}
    return values


async def _render(
    request: web.Request,
    session: AsyncSession,
    principal: Principal,
    *,
    product: ProductOut | None,
    values: Mapping[str, Any],
    problems: Mapping[str, str] | None = None,
    notice: str = "",
    status: int = 200,
) -> web.StreamResponse:
    tree = await section_tree(session, principal)
    chosen = _chosen(tree, values.get("section_id"))
    context = {
        "user": request_user(request),
        "csrf_token": csrf_token(request),
        "product": product,
        "values": values,
        "sections": tree,
        "section_id": chosen.section.id if chosen else None,
        "fields": chosen.section.fields if chosen else [],
        "problems": problems or {},
        "notice": notice,
    }
    return aiohttp_jinja2.render_template("sales/product_form.html", request, context, status=status)


def _chosen(tree: list[SectionNode], section_id: int | None) -> SectionNode | None:
    return next((node for node in tree if node.section.id == section_id), None)


@page("sales/product_form.html")
async def product_form(
    request: web.Request, session: AsyncSession, principal: Principal
) -> web.StreamResponse:
    """GET /crm/products/new (``?section=ID`` preselects it) and /crm/products/{id}/edit."""
    product_id = int_or_none(request.match_info.get("product_id"))
    if product_id is None:
        principal.require(Entity.PRODUCT, Action.ADD, None)
        values = {**_DEFAULTS, "section_id": int_or_none(request.query.get("section"))}
        return await _render(request, session, principal, product=None, values=values)
    principal.require(Entity.PRODUCT, Action.UPDATE, None)
    product = await _PRODUCTS.get(session, principal, product_id)
    return await _render(request, session, principal, product=product, values=_values_of(product))


def _number(typed: str) -> Any:
    """A number typed in either language, as JSON stores it; anything else as typed (refused later)."""
    plain = typed.replace("\u202f", "").replace("\xa0", "").replace(" ", "")
    if "," in plain and "." not in plain:
        plain = plain.replace(",", ".")
    try:
        number = Decimal(plain)
    except InvalidOperation:
        return typed
    if not number.is_finite():
        return typed
    if number == number.to_integral_value():
        return int(number)
    return float(number) if Decimal(repr(float(number))) == number else plain


def _properties(form: Mapping[str, Any], fields: list[SectionField]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The section's custom field values from the form: for the service, and as typed to show again."""
    sent: dict[str, Any] = {}
    typed: dict[str, Any] = {}
    for field in fields:
        name = f"prop-{field.code}"
        if field.type == "boolean":
            sent[field.code] = typed[field.code] = form.get(name) == "1"
            continue
        typed[field.code] = value = text(form, name, 1000)
        if value:
            sent[field.code] = _number(value) if field.type == "number" else value
    return sent, typed


def _posted(form: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """The service's input from the form's own fields, the values to show again, and the problems."""
    typed: dict[str, Any] = {
        name: text(form, name, limit)
        for name, limit in (("name", 300), ("unit", 20), ("price", 40), ("currency", 3), ("vat_rate", 40),
                            ("external_id", 100), ("description", 5000))
    }  # fmt: skip
    typed["vat_included"] = form.get("vat_included") == "1"
    typed["active"] = form.get("active") == "1"
    data: dict[str, Any] = {
        "name": typed["name"],
        "unit": typed["unit"] or "pcs",
        "currency": typed["currency"].upper() or "RUB",
        "vat_included": typed["vat_included"],
        "active": typed["active"],
        "description": typed["description"],
        "external_id": typed["external_id"] or None,
    }
    problems: dict[str, str] = {}
    for name in ("price", "vat_rate"):
        try:
            data[name] = parse_decimal(form, name, i18n.gettext(_LABELS[name]))
        except PageError as exc:
            problems[name] = str(exc)
    if data.get("price") is None:
        data["price"] = Decimal(0)
    return data, typed, problems


def _problems_of(
    exc: Invalid | ExternalIdTaken, fields: list[SectionField], sent: Mapping[str, Any]
) -> dict[str, str]:
    """The service's refusal next to its field; a custom field's in the user's language, by its name."""
    if isinstance(exc, Invalid) and exc.field.startswith("properties."):
        code = exc.field.removeprefix("properties.")
        field = next((f for f in fields if f.code == code), None)
        if field is not None:
            if sent.get(code) is None:
                message = i18n.gettext("%(field)s is required in this section", field=field.name)
            else:
                message = i18n.gettext(_TYPE_PROBLEMS[field.type], field=field.name)
            return {f"prop-{code}": message}
    where = exc.field.split(".")[0] if isinstance(exc, Invalid) else "external_id"
    return {where if where in _LABELS else "form": i18n.error_message(exc)}


@page("sales/product_form.html")
async def save_product(
    request: web.Request, session: AsyncSession, principal: Principal
) -> web.StreamResponse:
    """POST /crm/products (new) and /crm/products/{id}/edit: the catalogue, or the form with the problems.

    The section changes only when the form showed it, and so do the custom field values (an old
    form or a script posting a few fields leaves them alone; the service still checks them).
    """
    product_id = int_or_none(request.match_info.get("product_id"))
    product = None if product_id is None else await _PRODUCTS.get(session, principal, product_id)
    form = await request.post()
    data, typed, problems = _posted(form)
    tree = await section_tree(session, principal)
    section_id = product.section_id if product else None
    if "section_id" in form:
        section_id = data["section_id"] = int_or_none(text(form, "section_id", 20))
        if section_id is not None and _chosen(tree, section_id) is None:
            problems["section_id"] = i18n.gettext("This section no longer exists: choose another.")
    chosen = _chosen(tree, section_id)
    fields = chosen.section.fields if chosen else []
    sent, typed["properties"] = _properties(form, fields)
    stale = False
    if "fields_of" in form:
        data["properties"] = sent
        stale = bool(fields) and text(form, "fields_of", 20) != str(section_id or "")
    schema: type[BaseModel] = ProductCreate if product is None else ProductUpdate
    saved: ProductOut | None = None
    if not problems:
        try:
            parsed = schema.model_validate(data)
            if product is None:
                saved = await _PRODUCTS.create(session, principal, parsed)  # type: ignore[arg-type]
            else:
                saved = await _PRODUCTS.update(session, principal, product.id, parsed)  # type: ignore[arg-type]
        except ValidationError as exc:
            problems.update(describe(exc, _LABELS))
        except (Invalid, ExternalIdTaken) as exc:
            problems.update(_problems_of(exc, fields, sent))
        except NotFound as exc:
            if exc.entity != "product section":
                raise
            problems["section_id"] = i18n.gettext("This section no longer exists: choose another.")
    if saved is not None and not stale:
        log.info("product_saved_from_form", product_id=saved.id, created=product is None)
        return web.HTTPSeeOther("/crm/products")
    await session.rollback()  # nothing half-saved, nor saved before its new fields were seen
    notice = i18n.gettext("Fill in the fields of the section you chose, then save again.") if stale else ""
    log.info("product_form_rejected", product_id=product_id, fields=sorted(problems), stale=stale)
    if product is not None:
        product = await _PRODUCTS.get(session, principal, product.id)
    values = {**(_values_of(product) if product else _DEFAULTS), **typed, "section_id": section_id}
    return await _render(
        request,
        session,
        principal,
        product=product,
        values=values,
        problems=problems,
        notice=notice,
        status=422 if problems else 200,
    )


def add_routes(app: web.Application) -> None:
    """Register the catalogue's pages: products and their sections."""
    router = app.router
    router.add_get("/crm/products", products_page, name="products")
    router.add_get("/crm/products/new", product_form, name="product_new")
    router.add_post("/crm/products", save_product)
    router.add_get(r"/crm/products/{product_id:\d+}/edit", product_form, name="product_edit")
    router.add_post(r"/crm/products/{product_id:\d+}/edit", save_product)
    router.add_get("/crm/products/sections", product_sections.sections_page, name="product_sections")
    router.add_post("/crm/products/sections", product_sections.add_section)
    section = r"/crm/products/sections/{section_id:\d+}"
    router.add_get(section, product_sections.section_page, name="product_section")
    router.add_post(section, product_sections.save_section)
    router.add_post(f"{section}/delete", product_sections.delete_section, name="product_section_delete")
    router.add_post(f"{section}/fields", product_sections.add_field, name="product_section_fields")
    router.add_post(
        f"{section}/fields/{{code:[a-z][a-z0-9_]*}}/delete",
        product_sections.remove_field,
        name="product_section_field_delete",
    )
