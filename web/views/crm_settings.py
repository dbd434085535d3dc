"""The admin's CRM settings page: pipelines and their stages, lead statuses and sources, document statuses.

Server-rendered forms at ``/admin/crm``, CSRF-checked by the middleware, admins only. Every change
goes through the services the API uses (``PipelinesResource``, ``LeadStatusesResource``,
``LeadSourcesResource``, ``DocumentStatusesResource``), which check the rights and the rules again;
this module only builds their input and commits. A pipeline's stages change the way the API changes
them: the whole list, in funnel order, is sent back with the one change made (a stage added at the
end of its group, renamed, moved one place, or left out to delete it). A refused change is shown
next to the form it came from, in the user's language: the services speak English, so the reasons
they give are looked up in the catalogue here, and an unknown one is shown as the service said it.
After a change the browser is sent back to the page (POST, redirect, GET) with what was done.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp_jinja2
import structlog
from aiohttp import web
from multidict import MultiDictProxy
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_core.access import load_principal
from crm_core.cards.dictionaries import LeadSourcesResource, LeadStatusesResource
from crm_core.cards.errors import InUse as EntryInUse
from crm_core.crud import MAX_LIMIT, ListQuery
from crm_core.errors import CrmError, Invalid
from crm_core.models import StatusSemantic
from crm_core.rights import Principal
from crm_core.sales.document_statuses import DocumentStatusesResource
from crm_core.sales.errors import InUse as RecordInUse
from crm_core.sales.pipelines import PipelinesResource
from crm_core.sales.schemas import PipelineCreate, PipelineOut, PipelineUpdate, StageIn

from .. import i18n, keys
from ..api.errors import status_of
from ..auth import csrf_token, request_user
from .dialplan import admin_required

__all__ = [
    "add_entry",
    "add_pipeline",
    "add_routes",
    "add_stage",
    "delete_entry",
    "delete_stage",
    "edit_entry",
    "edit_pipeline",
    "edit_stage",
    "make_default",
    "move_stage",
    "settings_page",
]

log = structlog.get_logger(__name__)

PAGE = "/admin/crm"

_DONE: Mapping[str, str] = {
    "pipeline_added": i18n.N_("Pipeline %(name)s added with the standard stages."),
    "pipeline_saved": i18n.N_("Pipeline %(name)s saved."),
    "default": i18n.N_("New deals now go to pipeline %(name)s."),
    "stage_added": i18n.N_("Stage %(name)s added."),
    "stage_saved": i18n.N_("Stage %(name)s saved."),
    "stage_moved": i18n.N_("Stage %(name)s moved."),
    "stage_deleted": i18n.N_("Stage %(name)s deleted."),
    "entry_added": i18n.N_("%(name)s added."),
    "entry_saved": i18n.N_("%(name)s saved."),
    "entry_deleted": i18n.N_("%(name)s deleted."),
}

SEMANTICS: Mapping[str, str] = {
    StatusSemantic.PROCESS.value: i18n.N_("In progress"),
    StatusSemantic.SUCCESS.value: i18n.N_("Success"),
    StatusSemantic.FAILURE.value: i18n.N_("Failure"),
}
"Each meaning a stage or status can have, as the page names it."
_GROUP = {StatusSemantic.PROCESS: 0, StatusSemantic.SUCCESS: 1, StatusSemantic.FAILURE: 2}
"The funnel order of the meanings (the pipelines service's layout rule)."

_FIELDS: Mapping[str, str] = {
    "code": i18n.N_("Code"),
    "name": i18n.N_("Title"),
    "sort": i18n.N_("Order"),
    "semantic": i18n.N_("Meaning"),
    "probability": i18n.N_("Probability, %%"),
    "stages": i18n.N_("Stages"),
    "is_default": i18n.N_("Default pipeline"),
}
"The fields a refusal may name, in the page's words (an index like ``stages[2]`` is dropped)."

_PYDANTIC: Mapping[str, str] = {
    "missing": i18n.N_("Fill this in"),
    "string_too_short": i18n.N_("Fill this in"),
    "string_too_long": i18n.N_("This is too long"),
    "string_pattern_mismatch": i18n.N_("Latin capitals, digits and _, starting with a letter (e.g. HOT)"),
    "int_parsing": i18n.N_("Write a whole number"),
    "greater_than_equal": i18n.N_("Write a whole number from 0 to 100"),
    "less_than_equal": i18n.N_("Write a whole number from 0 to 100"),
    "literal_error": i18n.N_("Choose one from the list"),
    "enum": i18n.N_("Choose one from the list"),
}
"Pydantic's error types in words for people (its own messages are for API clients)."

# The reasons the services give, as they word them; anything else is shown as the service said it.
_REASONS: Mapping[str, str] = {
    "call logging files new leads in it": i18n.N_("call logging files new leads in it"),
    "call logging files leads from calls with it": i18n.N_("call logging files leads from calls with it"),
    "it is the default source": i18n.N_("it is the default source"),
    "conversion moves leads to it": i18n.N_("conversion moves leads to it"),
    "deals that have been in it": i18n.N_("deals have been in it"),
    "deals now in it": i18n.N_("deals are in it now"),
    "new deals (it is the default)": i18n.N_("new deals go to it (it is the default)"),
    "deals": i18n.N_("deals"),
    "used twice in this pipeline": i18n.N_("used twice in this pipeline"),
    "list the in-progress stages first, then the success stage, then the failure stages": i18n.N_(
        "the in-progress stages come first, then the success stage, then the failure stages"
    ),
    "a pipeline needs stages": i18n.N_("a pipeline needs stages"),
    "a pipeline needs at least one in-progress stage": i18n.N_(
        "a pipeline needs at least one in-progress stage"
    ),
    "a pipeline needs at least one failure stage": i18n.N_("a pipeline needs at least one failure stage"),
    "a pipeline needs exactly one success stage": i18n.N_("a pipeline needs exactly one success stage"),
    "make another pipeline the default instead": i18n.N_("make another pipeline the default instead"),
}
_LEADS_USE = re.compile(r"(\d+) lead\(s\) use it; move them first")
_DOCUMENTS_USE = re.compile(r"(\d+) (quote|invoice)\(s\); move them to another status first")
_LAST_STATUS = re.compile(r"every new (quote|invoice): it is the last status of the list")
_TAKEN = re.compile(r".*'[A-Z0-9_]+' already exists")
_STAYS_SUCCESS = re.compile(r"'[A-Z0-9_]+' is the conversion status and stays a success")
_STAYS_OPEN = re.compile(r"'[A-Z0-9_]+' stays open: (.*)")
_AT_MOST = re.compile(r"a pipeline has at most (\d+) stages")


def _reason(text: str) -> str:
    """A service's reason in the user's language, when it is one we know."""
    if text in _REASONS:
        return i18n.gettext(_REASONS[text])
    if match := _LEADS_USE.fullmatch(text):
        n = int(match.group(1))
        return i18n.ngettext(
            "%(num)s lead uses it; move it first", "%(num)s leads use it; move them first", n
        )
    if match := _DOCUMENTS_USE.fullmatch(text):
        n = int(match.group(1))
        return i18n.ngettext(
            "%(num)s document uses it; move it to another status first",
            "%(num)s documents use it; move them to another status first",
            n,
        )
    if _LAST_STATUS.fullmatch(text):
        return i18n.gettext("it is the last status of the list, and new documents need one")
    if _TAKEN.fullmatch(text):
        return i18n.gettext("this code is taken")
    if _STAYS_SUCCESS.fullmatch(text):
        return i18n.gettext("the conversion status stays a success")
    if match := _STAYS_OPEN.fullmatch(text):
        return i18n.gettext("it stays open: %(reason)s", reason=_reason(match.group(1)))
    if match := _AT_MOST.fullmatch(text):
        return i18n.gettext("a pipeline has at most %(max)s stages", max=match.group(1))
    return text


def _field_label(name: str) -> str:
    """``stages[2].semantic`` -> "Meaning"; a field we have no word for stays as named."""
    label = _FIELDS.get(re.sub(r"\[\d+\]", "", name).split(".")[-1])
    return i18n.gettext(label) if label else name


def refusal(exc: CrmError | ValidationError, subject: str) -> str:
    """Why a change of *subject* (a stage's or entry's name, shown as data) was refused, in words."""
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = str(first["loc"][-1]) if first["loc"] else ""
        template = _PYDANTIC.get(first["type"])
        problem = i18n.gettext(template) if template else first["msg"]
        return i18n.gettext("%(field)s: %(problem)s", field=_field_label(where), problem=problem)
    # The page changes no stage's meaning, so a stage "in use" is one being deleted.
    if isinstance(exc, EntryInUse | RecordInUse):
        reason = exc.reason if isinstance(exc, EntryInUse) else exc.used_by
        return i18n.gettext("%(name)s cannot be deleted: %(reason)s", name=subject, reason=_reason(reason))
    if isinstance(exc, Invalid) and exc.args and str(exc.args[0]).startswith(f"{exc.field}: "):
        problem = str(exc.args[0])[len(exc.field) + 2 :]
        return i18n.gettext("%(field)s: %(problem)s", field=_field_label(exc.field), problem=_reason(problem))
    return i18n.error_message(exc)


# -- the dictionaries --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Dictionary:
    """One editable list of the page: its address, its service and what its entries have."""

    slug: str
    title: str
    service: Any
    semantics: tuple[str, ...] = ()
    "The meanings an entry may be given here (none: the list has no meaning column)."
    filters: Mapping[str, str] = field(default_factory=dict)
    "What the service's list is narrowed to (the document kind)."

    @property
    def create_schema(self) -> type[BaseModel]:
        return self.service.schema_create  # type: ignore[no-any-return]

    @property
    def update_schema(self) -> type[BaseModel]:
        return self.service.schema_update  # type: ignore[no-any-return]


_ALL = tuple(SEMANTICS)
DICTIONARIES: Mapping[str, Dictionary] = {
    d.slug: d
    for d in (
        Dictionary(
            "lead-statuses",
            i18n.N_("Lead statuses"),
            LeadStatusesResource(),
            # One success status exists (conversion's); the service takes only these for new ones.
            semantics=(StatusSemantic.PROCESS.value, StatusSemantic.FAILURE.value),
        ),
        Dictionary("lead-sources", i18n.N_("Lead sources"), LeadSourcesResource()),
        Dictionary(
            "quote-statuses",
            i18n.N_("Quote statuses"),
            DocumentStatusesResource(),
            semantics=_ALL,
            filters={"kind": "quote"},
        ),
        Dictionary(
            "invoice-statuses",
            i18n.N_("Invoice statuses"),
            DocumentStatusesResource(),
            semantics=_ALL,
            filters={"kind": "invoice"},
        ),
    )
}


def _dictionary(request: web.Request) -> Dictionary:
    found = DICTIONARIES.get(request.match_info["dictionary"])
    if found is None:
        raise web.HTTPNotFound(text=i18n.gettext("No such list"))
    return found


# -- rendering ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Failure:
    """A refused change: which form it came from, why, and what was typed (shown again)."""

    form: str
    message: str
    values: Mapping[str, str] = field(default_factory=dict)


async def _lists(
    session: AsyncSession, principal: Principal
) -> tuple[list[PipelineOut], dict[str, list[Any]]]:
    everything = ListQuery(sort=("sort", "id"), limit=MAX_LIMIT)
    pipelines = (await PipelinesResource().list(session, principal, everything)).items
    entries = {}
    for slug, dictionary in DICTIONARIES.items():
        query = ListQuery(filters=dictionary.filters, sort=("sort", "id"), limit=MAX_LIMIT)
        entries[slug] = (await dictionary.service.list(session, principal, query)).items
    return pipelines, entries


def _chosen(pipelines: Sequence[PipelineOut], wanted: str) -> PipelineOut | None:
    by_id = {str(p.id): p for p in pipelines}
    return (
        by_id.get(wanted) or next((p for p in pipelines if p.is_default), None) or next(iter(pipelines), None)
    )


async def _render(
    request: web.Request, *, status: int = 200, failure: Failure | None = None, pipeline: str = ""
) -> web.Response:
    async with request.app[keys.DB]() as session:
        principal = await load_principal(session, request_user(request).id)
        pipelines, entries = await _lists(session, principal)
    chosen = _chosen(pipelines, pipeline or request.query.get("pipeline", ""))
    done = _DONE.get(request.query.get("done", ""))
    notice = i18n.gettext(done, name=request.query.get("name", "")[:200]) if done and failure is None else ""
    context = {
        "user": request_user(request),
        "csrf_token": csrf_token(request),
        "pipelines": pipelines,
        "pipeline": chosen,
        "dictionaries": [
            (DICTIONARIES[slug], i18n.gettext(DICTIONARIES[slug].title), items)
            for slug, items in entries.items()
        ],
        "semantics": {value: i18n.gettext(label) for value, label in SEMANTICS.items()},
        "notice": notice,
        "failure": failure,
    }
    return aiohttp_jinja2.render_template("crm_settings.html", request, context, status=status)


def _back(done: str, name: str, *, pipeline: int | None = None, anchor: str = "") -> web.HTTPSeeOther:
    query = {"done": done, "name": name, **({"pipeline": str(pipeline)} if pipeline is not None else {})}
    return web.HTTPSeeOther(f"{PAGE}?{urlencode(query)}{'#' + anchor if anchor else ''}")


@dataclass(slots=True)
class Subject:
    """What a change is about, named as the user knows it (filled in as soon as the work knows)."""

    name: str = ""


Work = Callable[[AsyncSession, Principal, Subject], Awaitable[web.HTTPSeeOther]]


async def _change(
    request: web.Request,
    work: Work,
    *,
    form: str,
    values: Mapping[str, str],
    subject: str = "",
    pipeline: int | None = None,
) -> web.StreamResponse:
    """Run *work* as the logged-in admin in one transaction; back to the page, or the page with why not.

    *form* names the form the request came from: the refusal is shown next to it, with *values*.
    """
    about = Subject(subject)
    try:
        async with request.app[keys.DB]() as session:
            principal = await load_principal(session, request_user(request).id)
            back = await work(session, principal, about)
            await session.commit()
    except (CrmError, ValidationError) as exc:
        error_id = exc.error_id if isinstance(exc, CrmError) else "validation-failed"
        status = status_of(exc) if isinstance(exc, CrmError) else 422
        log.info("crm_settings_refused", form=form, error_id=error_id)
        failure = Failure(form, refusal(exc, about.name), values)
        shown = "" if pipeline is None else str(pipeline)
        return await _render(request, status=status, failure=failure, pipeline=shown)
    log.info("crm_settings_changed", form=form, by=request_user(request).login)
    raise back


def _text(form: MultiDictProxy[Any], name: str, limit: int = 200) -> str:
    value = form.get(name, "")
    return value.strip()[:limit] if isinstance(value, str) else ""


def _id(request: web.Request, name: str) -> int:
    return int(request.match_info[name])


@admin_required
async def settings_page(request: web.Request) -> web.StreamResponse:
    """GET /admin/crm: the pipelines (one with its stages), the lead and document dictionaries."""
    return await _render(request)


# -- pipelines and stages --------------------------------------------------------------------------


@admin_required
async def add_pipeline(request: web.Request) -> web.StreamResponse:
    """POST /admin/crm/pipelines: ``name``; the new pipeline gets the standard stages."""
    form = await request.post()
    name = _text(form, "name")

    async def work(session: AsyncSession, principal: Principal, about: Subject) -> web.HTTPSeeOther:
        data = PipelineCreate.model_validate({"name": name})
        made = await PipelinesResource().create(session, principal, data)
        return _back("pipeline_added", made.name, pipeline=made.id)

    return await _change(request, work, form="pipeline-new", subject=name, values={"name": name})


@admin_required
async def edit_pipeline(request: web.Request) -> web.StreamResponse:
    """POST /admin/crm/pipelines/{pipeline_id}: rename it (``name``)."""
    form = await request.post()
    pipeline_id, name = _id(request, "pipeline_id"), _text(form, "name")

    async def work(session: AsyncSession, principal: Principal, about: Subject) -> web.HTTPSeeOther:
        data = PipelineUpdate.model_validate({"name": name})
        saved = await PipelinesResource().update(session, principal, pipeline_id, data)
        return _back("pipeline_saved", saved.name, pipeline=saved.id)

    return await _change(
        request,
        work,
        form=f"pipeline-{pipeline_id}",
        subject=name,
        values={"name": name},
        pipeline=pipeline_id,
    )


@admin_required
async def make_default(request: web.Request) -> web.StreamResponse:
    """POST /admin/crm/pipelines/{pipeline_id}/default: new deals go to this pipeline."""
    pipeline_id = _id(request, "pipeline_id")

    async def work(session: AsyncSession, principal: Principal, about: Subject) -> web.HTTPSeeOther:
        data = PipelineUpdate(is_default=True)
        saved = await PipelinesResource().update(session, principal, pipeline_id, data)
        return _back("default", saved.name, pipeline=saved.id)

    return await _change(request, work, form=f"pipeline-{pipeline_id}", values={}, pipeline=pipeline_id)


def _as_sent(pipeline: PipelineOut) -> list[StageIn]:
    """The pipeline's stages as the update takes them: each by id, in funnel order."""
    return [
        StageIn(id=s.id, code=s.code, name=s.name, semantic=s.semantic, probability=s.probability)
        for s in pipeline.stages
    ]


StageChange = Callable[[list[StageIn], Subject], None]


async def _restage(
    session: AsyncSession, principal: Principal, pipeline_id: int, about: Subject, change: StageChange
) -> PipelineOut:
    """Read the pipeline's stages, let *change* edit the list, send the whole list back."""
    service = PipelinesResource()
    stages = _as_sent(await service.get(session, principal, pipeline_id))
    change(stages, about)
    return await service.update(session, principal, pipeline_id, PipelineUpdate(stages=stages))


def _index(stages: Sequence[StageIn], stage_id: int) -> int:
    """Where *stage_id* is in *stages*; 404 when it is not a stage of this pipeline."""
    for index, stage in enumerate(stages):
        if stage.id == stage_id:
            return index
    raise web.HTTPNotFound(text=i18n.gettext("No such stage"))


def _stage(values: Mapping[str, str], base: Mapping[str, Any]) -> StageIn:
    """*base* (a stage as sent) with the typed *values*: the code upper-cased, no probability is 0."""
    data = {**base, **values}
    if "code" in values:
        data["code"] = values["code"].upper()
    if "probability" in values:
        data["probability"] = values["probability"] or "0"
    return StageIn.model_validate(data)


async def _stage_change(
    request: web.Request, done: str, change: StageChange, *, form: str, values: Mapping[str, str]
) -> web.StreamResponse:
    pipeline_id = _id(request, "pipeline_id")

    async def work(session: AsyncSession, principal: Principal, about: Subject) -> web.HTTPSeeOther:
        saved = await _restage(session, principal, pipeline_id, about, change)
        return _back(done, about.name, pipeline=saved.id, anchor="stages")

    return await _change(request, work, form=form, values=values, pipeline=pipeline_id)


@admin_required
async def add_stage(request: web.Request) -> web.StreamResponse:
    """POST /admin/crm/pipelines/{pipeline_id}/stages: ``code``, ``name``, ``semantic``, ``probability``.

    The stage goes last among the stages of its meaning, where the funnel order wants it.
    """
    form = await request.post()
    values = {name: _text(form, name) for name in ("code", "name", "semantic", "probability")}

    def change(stages: list[StageIn], about: Subject) -> None:
        about.name = values["name"]
        new = _stage(values, {})
        stages.insert(sum(1 for s in stages if _GROUP[s.semantic] <= _GROUP[new.semantic]), new)

    return await _stage_change(request, "stage_added", change, form="stage-new", values=values)


@admin_required
async def edit_stage(request: web.Request) -> web.StreamResponse:
    """POST /admin/crm/pipelines/{pipeline_id}/stages/{stage_id}: ``name``, ``probability``."""
    form = await request.post()
    stage_id = _id(request, "stage_id")
    values = {name: _text(form, name) for name in ("name", "probability")}

    def change(stages: list[StageIn], about: Subject) -> None:
        index = _index(stages, stage_id)
        about.name = stages[index].name
        stages[index] = _stage(values, stages[index].model_dump())
        about.name = stages[index].name

    return await _stage_change(request, "stage_saved", change, form=f"stage-{stage_id}", values=values)


@admin_required
async def move_stage(request: web.Request) -> web.StreamResponse:
    """POST /admin/crm/pipelines/{pipeline_id}/stages/{stage_id}/move: ``direction`` ``up`` or ``down``.

    A move past a stage of another meaning breaks the funnel order: the service says so.
    """
    form = await request.post()
    stage_id = _id(request, "stage_id")
    step = -1 if _text(form, "direction") == "up" else 1

    def change(stages: list[StageIn], about: Subject) -> None:
        index = _index(stages, stage_id)
        about.name = stages[index].name
        other = index + step
        if 0 <= other < len(stages):
            stages[index], stages[other] = stages[other], stages[index]

    return await _stage_change(request, "stage_moved", change, form=f"stage-{stage_id}", values={})


@admin_required
async def delete_stage(request: web.Request) -> web.StreamResponse:
    """POST /admin/crm/pipelines/{pipeline_id}/stages/{stage_id}/delete: refused while deals use it."""
    stage_id = _id(request, "stage_id")

    def change(stages: list[StageIn], about: Subject) -> None:
        about.name = stages.pop(_index(stages, stage_id)).name

    return await _stage_change(request, "stage_deleted", change, form=f"stage-{stage_id}", values={})


# -- lead statuses, lead sources, document statuses -------------------------------------------------


def _entry_values(dictionary: Dictionary, form: MultiDictProxy[Any], *names: str) -> dict[str, str]:
    wanted = [n for n in names if n != "semantic" or dictionary.semantics]
    return {name: _text(form, name) for name in wanted}


def _entry_data(values: Mapping[str, str]) -> dict[str, Any]:
    """The typed values as the schema takes them: an empty order is left out, the code upper-cased."""
    data: dict[str, Any] = {k: v for k, v in values.items() if v or k not in ("sort", "semantic")}
    if "code" in data:
        data["code"] = data["code"].upper()
    return data


@admin_required
async def add_entry(request: web.Request) -> web.StreamResponse:
    """POST /admin/crm/{dictionary}: ``code``, ``name``, ``sort`` and (where the list has it) ``semantic``."""
    dictionary = _dictionary(request)
    form = await request.post()
    values = _entry_values(dictionary, form, "code", "name", "sort", "semantic")

    async def work(session: AsyncSession, principal: Principal, about: Subject) -> web.HTTPSeeOther:
        data = dictionary.create_schema.model_validate({**_entry_data(values), **dictionary.filters})
        made = await dictionary.service.create(session, principal, data)
        return _back("entry_added", made.name, anchor=dictionary.slug)

    return await _change(request, work, form=f"{dictionary.slug}-new", subject=values["name"], values=values)


async def _entry_name(session: AsyncSession, principal: Principal, dictionary: Dictionary, id: int) -> str:
    """The entry's name; 404 when it is not an entry of this list."""
    entry = await dictionary.service.get(session, principal, id)
    if any(getattr(entry, key) != value for key, value in dictionary.filters.items()):
        raise web.HTTPNotFound(text=i18n.gettext("No such entry"))
    return str(entry.name)


@admin_required
async def edit_entry(request: web.Request) -> web.StreamResponse:
    """POST /admin/crm/{dictionary}/{entry_id}: ``name``, ``sort`` and (where it has one) ``semantic``."""
    dictionary, entry_id = _dictionary(request), _id(request, "entry_id")
    form = await request.post()
    values = _entry_values(dictionary, form, "name", "sort", "semantic")

    async def work(session: AsyncSession, principal: Principal, about: Subject) -> web.HTTPSeeOther:
        about.name = await _entry_name(session, principal, dictionary, entry_id)
        data = dictionary.update_schema.model_validate(_entry_data(values))
        saved = await dictionary.service.update(session, principal, entry_id, data)
        return _back("entry_saved", saved.name, anchor=dictionary.slug)

    return await _change(request, work, form=f"{dictionary.slug}-{entry_id}", values=values)


@admin_required
async def delete_entry(request: web.Request) -> web.StreamResponse:
    """POST /admin/crm/{dictionary}/{entry_id}/delete: refused for built-in entries and ones in use."""
    dictionary, entry_id = _dictionary(request), _id(request, "entry_id")

    async def work(session: AsyncSession, principal: Principal, about: Subject) -> web.HTTPSeeOther:
        about.name = await _entry_name(session, principal, dictionary, entry_id)
        await dictionary.service.delete(session, principal, entry_id)
        return _back("entry_deleted", about.name, anchor=dictionary.slug)

    return await _change(request, work, form=f"{dictionary.slug}-{entry_id}", values={})


def add_routes(app: web.Application) -> None:
    """Register the page and its forms."""
    add_get, add_post = app.router.add_get, app.router.add_post
    pipeline = r"/admin/crm/pipelines/{pipeline_id:\d+}"
    stage = pipeline + r"/stages/{stage_id:\d+}"
    entries = "/admin/crm/{dictionary:" + "|".join(DICTIONARIES) + "}"
    add_get(PAGE, settings_page, name="crm_settings")
    add_post("/admin/crm/pipelines", add_pipeline, name="crm_settings_pipeline_add")
    add_post(pipeline, edit_pipeline, name="crm_settings_pipeline")
    add_post(pipeline + "/default", make_default, name="crm_settings_pipeline_default")
    add_post(pipeline + "/stages", add_stage, name="crm_settings_stage_add")
    add_post(stage, edit_stage, name="crm_settings_stage")
    add_post(stage + "/move", move_stage, name="crm_settings_stage_move")
    add_post(stage + "/delete", delete_stage, name="crm_settings_stage_delete")
    add_post(entries, add_entry, name="crm_settings_entry_add")
    add_post(entries + r"/{entry_id:\d+}", edit_entry, name="crm_settings_entry")
    add_post(entries + r"/{entry_id:\d+}/delete", delete_entry, name="crm_settings_entry_delete")
