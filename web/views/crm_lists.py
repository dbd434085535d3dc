"""Lists of leads, contacts and companies: GET /crm/{leads|contacts|companies}?q=&status=&page=.

One search box reads what the agent typed the way they mean it: something with an ``@`` is an
e-mail (exact, any case), something made of digits and phone punctuation is a number (any spelling,
matched as E.164, so ``8 (916) 123-45-67`` finds ``+79161234567``), anything else searches the card's
name. Filters (the lead's status and source, "mine only") and the sort go to the service as one
:class:`~crm_core.crud.ListQuery`; the service applies the user's rights, so the count and the
pages cover only the cards the user may read. Every link keeps the other parameters.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web

from crm_core.crud import ListQuery
from crm_core.errors import Invalid
from crm_core.rights import Action

from ..auth import csrf_token, login_required, request_user
from ..i18n import error_message
from .crm_cards import KINDS, CardKind, card_session, lead_dictionaries, may, service, user_names

__all__ = ["PAGE_SIZE", "list_page", "list_query"]

PAGE_SIZE = 25
_PHONE_LIKE = re.compile(r"^\+?[\d\s()\-.]{5,}$")
_PARAMS = ("q", "status", "source", "mine", "sort", "page")
_SORTS: Mapping[str, tuple[str, ...]] = {
    "lead": ("-created_at", "created_at", "title", "-amount"),
    "contact": ("-created_at", "created_at", "name"),
    "company": ("-created_at", "created_at", "title"),
}
"The orders each list offers, the first being the default (newest first)."


def list_query(kind: CardKind, params: Mapping[str, str], user_id: int) -> ListQuery:
    """The service query for a list page's parameters (unknown or empty parameters are ignored)."""
    filters: dict[str, str] = {}
    q = params.get("q", "").strip()
    if "@" in q:
        filters["email"] = q
    elif _PHONE_LIKE.match(q):
        filters["phone"] = q
    elif q:
        filters[f"{kind.title_field}__contains"] = q
    if kind.name == "lead":
        for name in ("status", "source"):
            if params.get(name):
                filters[name] = params[name]
    if params.get("mine") == "1":
        filters["responsible_id"] = str(user_id)
    sort = params.get("sort", "")
    if sort not in _SORTS[kind.name]:
        sort = _SORTS[kind.name][0]
    return ListQuery(filters=filters, sort=(sort,), offset=(_page(params) - 1) * PAGE_SIZE, limit=PAGE_SIZE)


def _page(params: Mapping[str, str]) -> int:
    text = params.get("page", "1")
    return max(1, int(text)) if text.isdigit() else 1


@login_required
async def list_page(request: web.Request) -> web.StreamResponse:
    """GET /crm/{plural}: the user's visible cards of one kind, searched, filtered and paged."""
    kind = next(k for k in KINDS.values() if k.plural == request.match_info["plural"])
    params = {
        k: v for k, v in request.query.items() if k in ("q", "status", "source", "mine", "sort", "page")
    }
    user = request_user(request)
    query = list_query(kind, params, user.id)
    error = ""
    async with card_session(request) as (session, principal):
        try:
            page = await service(request, kind).list(session, principal, query)
        except Invalid as exc:  # an unreadable number or address typed in the search box
            error = error_message(exc)
            page = None
        names = await user_names(session)
        statuses, sources = await lead_dictionaries(session)
        may_add = may(principal, kind, Action.ADD)
    total = page.total if page else 0
    pages = max(1, math.ceil(total / PAGE_SIZE))

    def link(**changes: Any) -> str:
        merged = {**params, **{k: str(v) for k, v in changes.items()}}
        kept = {k: v for k, v in merged.items() if v and not (k == "page" and v == "1")}
        return f"/crm/{kind.plural}" + (f"?{urlencode(kept)}" if kept else "")

    context = {
        "user": user,
        "csrf_token": csrf_token(request),
        "kind": kind,
        "items": page.items if page else [],
        "total": total,
        "page_no": _page(params),
        "pages": pages,
        "params": params,
        "sorts": _SORTS[kind.name],
        "error": error,
        "names": names,
        "statuses": statuses,
        "sources": sources,
        "may_add": may_add,
        "link": link,
        "deleted": request.query.get("deleted") == "1",
    }
    return aiohttp_jinja2.render_template("crm/list.html", request, context)
