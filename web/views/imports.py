"""CRM import and export pages: upload, map the columns, dry run, import with progress; CSV export.

The flow is four pages: upload a CSV or .xlsx (``/crm/import``), map its columns
(``/crm/import/{draft}``, the mapping guessed from the headers), then a dry run or the import itself
runs as a background job whose page shows a progress bar fed by ``/crm/import/jobs/{job}.json`` and,
when done, the report with every bad row's line and reason. A clean dry run offers "Import now"
with the same settings. ``static/imports.js`` uploads with the CSRF header (so files above the
form limit stream in) and polls the progress; without JavaScript the forms still work and the job
page has a refresh link.

Rights are the services': a user sees only the kinds they may add or export, and the importer and
exporter check every row against the user's :class:`~crm_core.rights.Principal`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime
from typing import Any

import aiohttp_jinja2
import structlog
from aiohttp import BodyPartReader, web

from crm_core.access import load_principal
from crm_core.rights import Action, Level, Principal
from crm_core.transfer.exporter import ExportKind, export_csv
from crm_core.transfer.importer import ALLOWED_MATCH, DEFAULT_MATCH, DedupeMode, MatchKey
from crm_core.transfer.mapping import FIELDS, ImportKind, MappingError, build_mapping, guess_mapping
from crm_core.transfer.readers import UnreadableFile

from .. import keys
from ..auth import CSRF_HEADER, csrf_token, login_required, request_user, wants_json
from ..i18n import N_, gettext
from ..import_jobs import SHOWN_ISSUES, Draft, ImportJob, ImportJobs

__all__ = [
    "FIELD_LABELS",
    "JOBS",
    "MAX_UPLOAD",
    "export_page",
    "import_form",
    "install",
    "job_page",
    "job_status",
    "mapping_form",
    "run_import",
    "upload",
]

log = structlog.get_logger(__name__)

JOBS = web.AppKey("import_jobs", ImportJobs)
MAX_UPLOAD = 20 * 1024 * 1024
"Bytes; bigger files go through ``cti crm import``, which has no upload to hold in memory."
SAMPLE_ROWS = 3
_KIND_LABELS = {
    ImportKind.CONTACTS: N_("Contacts"),
    ImportKind.COMPANIES: N_("Companies"),
    ImportKind.LEADS: N_("Leads"),
    ImportKind.PRODUCTS: N_("Products"),
}
FIELD_LABELS = (
    # Every label of crm_core.transfer.mapping.FIELDS, marked for the catalogue (a test checks).
    N_("Full name"),
    N_("Last name"),
    N_("First name"),
    N_("Middle name"),
    N_("Phone"),
    N_("Mobile phone"),
    N_("Home phone"),
    N_("E-mail"),
    N_("Home e-mail"),
    N_("Company"),
    N_("Responsible"),
    N_("Comments"),
    N_("Company name"),
    N_("Lead title"),
    N_("Contact name"),
    N_("Status"),
    N_("Source"),
    N_("Amount"),
    N_("Currency"),
    N_("Product name"),
    N_("Section"),
    N_("Price"),
    N_("Unit"),
    N_("VAT rate"),
    N_("VAT included"),
    N_("Active"),
    N_("External id"),
    N_("Description"),
)


def install(app: web.Application) -> None:
    """Give *app* its import job registry, whose running jobs are cancelled at shutdown."""
    app[JOBS] = ImportJobs()

    async def close(app: web.Application) -> None:
        await app[JOBS].close()

    app.on_shutdown.append(close)


def _may_import(principal: Principal, kind: ImportKind) -> bool:
    level = principal.level(kind.entity, Action.ADD)
    # Products belong to nobody, so adding them takes the "all" level.
    return level is Level.ALL if kind is ImportKind.PRODUCTS else level is not Level.NONE


def _may_export(principal: Principal, kind: ImportKind) -> bool:
    return principal.level(kind.entity, Action.EXPORT) is not Level.NONE


async def _principal(request: web.Request) -> Principal:
    async with request.app[keys.DB]() as session:
        return await load_principal(session, request_user(request).id)


def _render(request: web.Request, template: str, status: int = 200, **context: Any) -> web.Response:
    context.update(user=request_user(request), csrf_token=csrf_token(request))
    response = aiohttp_jinja2.render_template(template, request, context)
    response.set_status(status)
    return response


def _kinds(principal: Principal) -> list[dict[str, Any]]:
    return [
        {
            "value": kind.value,
            "label": gettext(_KIND_LABELS[kind]),
            "import": _may_import(principal, kind),
            "export": _may_export(principal, kind),
        }
        for kind in ImportKind
    ]


@login_required
async def import_form(request: web.Request) -> web.StreamResponse:
    """GET /crm/import: choose what to import and upload the file; export links beside."""
    return _render(request, "imports.html", kinds=_kinds(await _principal(request)), max_mb=MAX_UPLOAD >> 20)


def _fail(request: web.Request, status: int, message: str, error_id: str, **page: Any) -> web.StreamResponse:
    if wants_json(request):
        return web.json_response({"message": message, "error_id": error_id, "details": {}}, status=status)
    return _render(request, "imports.html", status=status, error=message, **page)


async def _read_upload(request: web.Request) -> tuple[str, str, bytes]:
    """(kind, file name, bytes) from the multipart form, streamed with a size limit.

    With the CSRF header (the page's script) the body is still unread and is streamed here; a
    plain form post was read by the CSRF check already, within aiohttp's request size limit.
    """
    if request.headers.get(CSRF_HEADER) is None:
        form = await request.post()
        upload = form.get("file")
        if not isinstance(upload, web.FileField):
            return str(form.get("kind", "")), "", b""
        return str(form.get("kind", "")), upload.filename, upload.file.read(MAX_UPLOAD + 1)
    kind, name, data = "", "", b""
    reader = await request.multipart()
    async for part in reader:
        if not isinstance(part, BodyPartReader):
            continue
        if part.name == "kind":
            kind = (await part.text())[:20]
        elif part.name == "file":
            name = part.filename or "upload"
            chunks, size = [], 0
            while chunk := await part.read_chunk(256 * 1024):
                size += len(chunk)
                if size > MAX_UPLOAD:
                    raise _TooLarge
                chunks.append(chunk)
            data = b"".join(chunks)
    return kind, name, data


class _TooLarge(Exception):
    """The upload passed :data:`MAX_UPLOAD` (reading stopped there)."""


@login_required
async def upload(request: web.Request) -> web.StreamResponse:
    """POST /crm/import: read the file; on to its mapping form."""
    principal = await _principal(request)
    page = {"kinds": _kinds(principal), "max_mb": MAX_UPLOAD >> 20}
    too_large = gettext(
        "The file is larger than %(mb)s MB: import it with cti crm import.", mb=MAX_UPLOAD >> 20
    )
    try:
        kind_text, name, data = await _read_upload(request)
    except _TooLarge:
        return _fail(request, 413, too_large, "too-large", **page)
    if len(data) > MAX_UPLOAD:
        return _fail(request, 413, too_large, "too-large", **page)
    try:
        kind = ImportKind(kind_text)
    except ValueError:
        return _fail(request, 400, gettext("Choose what the file holds."), "bad-request", **page)
    if not _may_import(principal, kind):
        return _fail(request, 403, gettext("You may not import these records."), "forbidden", **page)
    if not data:
        return _fail(request, 400, gettext("Choose a CSV or .xlsx file."), "bad-request", **page)
    try:
        draft = await request.app[JOBS].add_draft(principal.user_id or 0, kind, name, data)
    except UnreadableFile as exc:
        return _fail(request, 400, str(exc), exc.error_id, **page)
    url = f"/crm/import/{draft.id}"
    if wants_json(request):
        return web.json_response({"url": url})
    raise web.HTTPSeeOther(url)


def _draft(request: web.Request) -> Draft:
    draft = request.app[JOBS].draft(request.match_info["draft_id"], request_user(request).id)
    if draft is None:
        raise web.HTTPNotFound(
            text=gettext("This upload has expired or is not yours: upload the file again.")
        )
    return draft


def _mapping_page(
    request: web.Request,
    draft: Draft,
    pairs: Mapping[str, str],
    *,
    dedupe: DedupeMode = DedupeMode.SKIP,
    match_on: tuple[MatchKey, ...] | None = None,
    problems: list[str] | None = None,
    status: int = 200,
) -> web.Response:
    table = draft.table
    columns = [
        {
            "index": index,
            "name": header,
            "field": pairs.get(header, ""),
            "samples": [row.cells[index] for row in table.rows[:SAMPLE_ROWS]],
        }
        for index, header in enumerate(table.headers)
    ]
    return _render(
        request,
        "import_mapping.html",
        status=status,
        draft=draft,
        kind_label=gettext(_KIND_LABELS[draft.kind]),
        columns=columns,
        fields=[{"name": f.name, "label": gettext(f.label)} for f in FIELDS[draft.kind]],
        dedupe=dedupe.value,
        modes=[mode.value for mode in DedupeMode],
        match_keys=sorted(key.value for key in ALLOWED_MATCH[draft.kind]),
        match_on=[key.value for key in (match_on or DEFAULT_MATCH[draft.kind])],
        problems=problems or [],
        rows=len(table.rows),
    )


@login_required
async def mapping_form(request: web.Request) -> web.StreamResponse:
    """GET /crm/import/{draft}: the columns with sample values and the guessed field of each."""
    draft = _draft(request)
    return _mapping_page(request, draft, guess_mapping(draft.kind, draft.table.headers))


@login_required
async def run_import(request: web.Request) -> web.StreamResponse:
    """POST /crm/import/{draft}: check the mapping, then start the dry run or the import."""
    draft = _draft(request)
    form = await request.post()
    headers = draft.table.headers
    pairs = {header: str(form.get(f"map-{index}", "")) for index, header in enumerate(headers)}
    try:
        dedupe = DedupeMode(str(form.get("dedupe", DedupeMode.SKIP.value)))
    except ValueError:
        dedupe = DedupeMode.SKIP
    allowed = ALLOWED_MATCH[draft.kind]
    match_on = tuple(MatchKey(v) for v in form.getall("match", []) if v in {k.value for k in allowed})
    try:
        mapping = build_mapping(draft.kind, headers, pairs)
    except MappingError as exc:
        return _mapping_page(
            request, draft, pairs, dedupe=dedupe, match_on=match_on, problems=exc.problems, status=400
        )
    job = request.app[JOBS].start(
        request.app[keys.DB],
        draft,
        mapping,
        dedupe=dedupe,
        match_on=match_on or DEFAULT_MATCH[draft.kind],
        dry_run=form.get("mode") != "import",
        region=request.app[keys.SETTINGS].crm.default_region,
        own_numbers=request.app[keys.SETTINGS].crm.own_numbers,
    )
    job.resubmit = [(name, str(value)) for name, value in form.items() if name not in ("csrf_token", "mode")]
    log.info("import_job_started", job=job.id, draft=draft.id, dry_run=job.dry_run, dedupe=dedupe.value)
    raise web.HTTPSeeOther(f"/crm/import/jobs/{job.id}")


def _job(request: web.Request) -> ImportJob:
    job = request.app[JOBS].job(request.match_info["job_id"], request_user(request).id)
    if job is None:
        raise web.HTTPNotFound(text=gettext("No such import job."))
    return job


@login_required
async def job_page(request: web.Request) -> web.StreamResponse:
    """GET /crm/import/jobs/{job}: the progress bar while running, then the report."""
    job = _job(request)
    draft = request.app[JOBS].draft(job.draft_id, job.user_id)
    return _render(
        request, "import_job.html", job=job, status_json=job.as_dict(), draft=draft, shown=SHOWN_ISSUES
    )


@login_required
async def job_status(request: web.Request) -> web.StreamResponse:
    """GET /crm/import/jobs/{job}.json: state, phase, done/total, and the report once done."""
    return web.json_response(_job(request).as_dict())


@login_required
async def export_page(request: web.Request) -> web.StreamResponse:
    """GET /crm/export/{kind}.csv?field__op=value: the CSV download (UTF-8 with a BOM, for Excel)."""
    try:
        kind = ExportKind(request.match_info["kind"])
    except ValueError:
        raise web.HTTPNotFound() from None
    filters = {key: value for key, value in request.query.items() if key != "csrf_token"}
    async with request.app[keys.DB]() as session:
        principal = await load_principal(session, request_user(request).id)
        pieces: AsyncIterator[str] = aiter(export_csv(session, principal, kind, filters))
        first = await anext(pieces)  # rights and filters are checked here, before any byte is sent
        stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M")
        response = web.StreamResponse(
            headers={
                "Content-Type": "text/csv; charset=utf-8",
                "Content-Disposition": f'attachment; filename="{kind.value}-{stamp}.csv"',
                "Cache-Control": "private, no-store",
            }
        )
        await response.prepare(request)
        await response.write(("\ufeff" + first).encode())
        async for piece in pieces:
            await response.write(piece.encode())
        await session.commit()  # the audit entry export_csv added
        await response.write_eof()
    log.info("export_downloaded", kind=kind.value)
    return response
