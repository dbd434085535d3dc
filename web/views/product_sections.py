"""The product sections page: the catalogue's tree with product counts, and each section's custom fields.

``GET /crm/products/sections`` shows the tree (indented by depth) and a form to add a section;
``GET /crm/products/sections/{id}`` adds that section's own forms: rename and move (its parent),
delete, and its custom fields (add one: code, name, type, required; remove one). Only who may
update products reaches these pages, as only they are offered the product form; each change is
:class:`SectionsResource`'s, which checks its own right (adding needs the product add right,
deleting the delete right). A refusal (a section that still has products or sub-sections, a
section moved inside itself, a code used twice) is shown on the page in the user's language and
nothing changes. :func:`section_tree` also serves the product form's select and the products list.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp_jinja2
import structlog
from aiohttp import web
from pydantic import ValidationError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.crud import MAX_LIMIT, ListQuery
from crm_core.errors import BadValue, CrmError
from crm_core.models import Product
from crm_core.rights import Action, Entity, Principal
from crm_core.sales.errors import InUse
from crm_core.sales.schemas import SectionCreate, SectionField, SectionOut, SectionUpdate
from crm_core.sales.sections import SectionsResource

from .. import i18n
from ..api.errors import status_of
from ..auth import csrf_token, request_user
from ..form_problems import describe
from ..i18n import N_
from .sales_common import int_or_none, page, text

__all__ = [
    "FIELD_TYPES",
    "SectionNode",
    "add_field",
    "add_section",
    "delete_section",
    "remove_field",
    "save_section",
    "section_page",
    "section_tree",
    "sections_page",
]

log = structlog.get_logger(__name__)

_SECTIONS = SectionsResource()

FIELD_TYPES: Mapping[str, str] = {
    "string": N_("Text"),
    "number": N_("Number"),
    "date": N_("Date"),
    "boolean": N_("Yes or no"),
}
"The custom field types :mod:`crm_core.sales.sections` checks, as the pages name them."

_LABELS: Mapping[str, str] = {
    "name": N_("Name"),
    "code": N_("Code"),
    "type": N_("Type"),
    "parent_id": N_("Parent section"),
}
_CODE_RULE = N_("Code: a small Latin letter first, then small letters, digits or _ (up to 50)")


@dataclass(frozen=True, slots=True)
class SectionNode:
    """A section in the tree's order: how deep it sits, how many products and sub-sections it has."""

    section: SectionOut
    depth: int
    products: int
    children: int


async def section_tree(session: AsyncSession, principal: Principal) -> list[SectionNode]:
    """Every section, parents before their children (each level by sort, then name)."""
    sections: list[SectionOut] = []
    while True:
        found = await _SECTIONS.list(
            session, principal, ListQuery(sort=("sort", "name"), offset=len(sections), limit=MAX_LIMIT)
        )
        sections += found.items
        if not found.items or len(sections) >= found.total:
            break
    counts: dict[int, int] = {
        section_id: int(count)
        for section_id, count in await session.execute(
            select(Product.section_id, func.count())
            .where(Product.section_id.is_not(None))
            .group_by(Product.section_id)
        )
    }
    known = {s.id for s in sections}
    by_parent: dict[int | None, list[SectionOut]] = {}
    for section in sections:
        by_parent.setdefault(section.parent_id if section.parent_id in known else None, []).append(section)
    tree: list[SectionNode] = []

    def walk(parent_id: int | None, depth: int) -> None:
        for section in by_parent.get(parent_id, []):
            children = len(by_parent.get(section.id, []))
            tree.append(SectionNode(section, depth, counts.get(section.id, 0), children))
            walk(section.id, depth + 1)

    walk(None, 0)
    return tree


def _descendants(tree: list[SectionNode], section_id: int) -> set[int]:
    """*section_id* and every section below it (where it cannot be moved)."""
    inside = {section_id}
    for node in tree:  # parents come before their children
        if node.section.parent_id in inside:
            inside.add(node.section.id)
    return inside


async def _render(
    request: web.Request,
    session: AsyncSession,
    principal: Principal,
    chosen_id: int | None,
    *,
    error: str = "",
    typed: Mapping[str, Any] | None = None,
    status: int = 200,
) -> web.StreamResponse:
    tree = await section_tree(session, principal)
    chosen = next((node for node in tree if node.section.id == chosen_id), None)
    if chosen_id is not None and chosen is None:
        await _SECTIONS.get(session, principal, chosen_id)  # NotFound: the 404 page
    excluded = _descendants(tree, chosen.section.id) if chosen else set()
    context = {
        "user": request_user(request),
        "csrf_token": csrf_token(request),
        "tree": tree,
        "chosen": chosen,
        "parents": [node for node in tree if node.section.id not in excluded],
        "field_types": {code: i18n.gettext(label) for code, label in FIELD_TYPES.items()},
        "error": error,
        "typed": typed or {},
        "notice": request.query.get("done", "") if status == 200 else "",
    }
    return aiohttp_jinja2.render_template("sales/sections.html", request, context, status=status)


def _refusal(exc: Exception, tree_node: SectionNode | None) -> str:
    """What the service refused, said in the user's language where we know the rule."""
    if isinstance(exc, ValidationError):
        problems = describe(exc, _LABELS)
        if any(str(e["loc"][-1]) == "code" for e in exc.errors() if e["loc"]):
            problems["code"] = i18n.gettext(_CODE_RULE)
        return " ".join(problems.values())
    if isinstance(exc, InUse) and tree_node is not None:
        if tree_node.children:
            return i18n.gettext(
                "The section %(name)s still has sub-sections: move or delete them first.",
                name=tree_node.section.name,
            )
        return i18n.ngettext(
            "The section %(name)s still has %(num)s product: move it to another section first.",
            "The section %(name)s still has %(num)s products: move them to another section first.",
            tree_node.products,
            name=tree_node.section.name,
        )
    if isinstance(exc, BadValue) and exc.field == "parent_id":
        return i18n.gettext("A section cannot be moved inside itself or one of its sub-sections.")
    if isinstance(exc, BadValue) and exc.field.startswith("fields[") and exc.field.endswith(".code"):
        return i18n.gettext("The code %(code)s is already a field of this section.", code=exc.value)
    if isinstance(exc, CrmError):
        return i18n.error_message(exc)
    return str(exc)


async def _change(
    request: web.Request,
    session: AsyncSession,
    principal: Principal,
    chosen_id: int | None,
    form_name: str,
    work: Callable[[Mapping[str, Any]], Awaitable[str]],
) -> web.StreamResponse:
    """Run one change from the posted form; its redirect, or the page again with the refusal
    (*form_name* says which of the page's forms shows what was typed)."""
    principal.require(Entity.PRODUCT, Action.UPDATE, None)
    form = await request.post()
    node = next((n for n in await section_tree(session, principal) if n.section.id == chosen_id), None)
    try:
        target = await work(form)
    except (CrmError, ValidationError) as exc:
        if isinstance(exc, CrmError) and not isinstance(exc, (BadValue, InUse)):
            raise  # not found, forbidden: the error page
        await session.rollback()  # nothing half-done
        status = 422 if isinstance(exc, ValidationError) else status_of(exc)
        log.info("product_section_change_refused", section_id=chosen_id, path=request.path, status=status)
        typed = {name: text(form, name, 300) for name in ("name", "parent_id", "code", "field_name", "type")}
        typed["required"] = form.get("required") == "1"
        typed["form"] = form_name
        return await _render(
            request, session, principal, chosen_id, error=_refusal(exc, node), typed=typed, status=status
        )
    return web.HTTPSeeOther(target)


def _parent(form: Mapping[str, Any]) -> int | None:
    return int_or_none(text(form, "parent_id", 20))


@page("sales/sections.html")
async def sections_page(
    request: web.Request, session: AsyncSession, principal: Principal
) -> web.StreamResponse:
    """GET /crm/products/sections: the tree with product counts, and the form to add a section."""
    principal.require(Entity.PRODUCT, Action.UPDATE, None)
    return await _render(request, session, principal, None)


@page("sales/sections.html")
async def section_page(
    request: web.Request, session: AsyncSession, principal: Principal
) -> web.StreamResponse:
    """GET /crm/products/sections/{id}: the tree, and this section's name, parent and fields."""
    principal.require(Entity.PRODUCT, Action.UPDATE, None)
    return await _render(request, session, principal, int(request.match_info["section_id"]))


@page("sales/sections.html")
async def add_section(
    request: web.Request, session: AsyncSession, principal: Principal
) -> web.StreamResponse:
    """POST /crm/products/sections {name, parent_id}: the new section's page."""

    async def work(form: Mapping[str, Any]) -> str:
        data = SectionCreate(name=text(form, "name", 300), parent_id=_parent(form))
        made = await _SECTIONS.create(session, principal, data)
        log.info("product_section_added_from_page", section_id=made.id)
        return f"/crm/products/sections/{made.id}?done=added"

    return await _change(request, session, principal, None, "add", work)


@page("sales/sections.html")
async def save_section(
    request: web.Request, session: AsyncSession, principal: Principal
) -> web.StreamResponse:
    """POST /crm/products/sections/{id} {name, parent_id}: renamed and moved (empty parent: the top)."""
    section_id = int(request.match_info["section_id"])

    async def work(form: Mapping[str, Any]) -> str:
        data = SectionUpdate(name=text(form, "name", 300), parent_id=_parent(form))
        await _SECTIONS.update(session, principal, section_id, data)
        return f"/crm/products/sections/{section_id}?done=saved"

    return await _change(request, session, principal, section_id, "save", work)


@page("sales/sections.html")
async def delete_section(
    request: web.Request, session: AsyncSession, principal: Principal
) -> web.StreamResponse:
    """POST /crm/products/sections/{id}/delete: gone, unless it still has products or sub-sections."""
    section_id = int(request.match_info["section_id"])

    async def work(form: Mapping[str, Any]) -> str:
        await _SECTIONS.delete(session, principal, section_id)
        return "/crm/products/sections?done=deleted"

    return await _change(request, session, principal, section_id, "delete", work)


@page("sales/sections.html")
async def add_field(request: web.Request, session: AsyncSession, principal: Principal) -> web.StreamResponse:
    """POST /crm/products/sections/{id}/fields {code, field_name, type, required}: one more field."""
    section_id = int(request.match_info["section_id"])

    async def work(form: Mapping[str, Any]) -> str:
        field = SectionField(
            code=text(form, "code", 60),
            name=text(form, "field_name", 300),
            type=text(form, "type", 20) or "string",  # type: ignore[arg-type]  # pydantic checks it
            required=form.get("required") == "1",
        )
        section = await _SECTIONS.get(session, principal, section_id)
        await _SECTIONS.update(session, principal, section_id, SectionUpdate(fields=[*section.fields, field]))
        return f"/crm/products/sections/{section_id}?done=field-added"

    return await _change(request, session, principal, section_id, "field", work)


@page("sales/sections.html")
async def remove_field(
    request: web.Request, session: AsyncSession, principal: Principal
) -> web.StreamResponse:
    """POST /crm/products/sections/{id}/fields/{code}/delete: the field goes (values go on next save)."""
    section_id = int(request.match_info["section_id"])
    code = request.match_info["code"]

    async def work(form: Mapping[str, Any]) -> str:
        section = await _SECTIONS.get(session, principal, section_id)
        kept = [field for field in section.fields if field.code != code]
        await _SECTIONS.update(session, principal, section_id, SectionUpdate(fields=kept))
        return f"/crm/products/sections/{section_id}?done=field-removed"

    return await _change(request, session, principal, section_id, "remove", work)
