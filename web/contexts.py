"""The app's long-lived parts, each a cleanup context: started in order, stopped in reverse.

Plain async generators (``...; yield; ...``), the form every aiohttp 3.x accepts. A context is torn
down only if it started, so a failed start unwinds exactly what came before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import AsyncIterator, Callable, Coroutine

import structlog
from aiohttp import WSCloseCode, web
from sqlalchemy.engine import make_url

from config.settings import PbxMode, Settings
from crm_core.calllog import CrmOutcome
from crm_core.db import make_engine, make_sessionmaker
from crm_core.migrate import current, head
from crm_core.writer import CallLogWriter
from cti.bus import EventBus
from cti.events import CtiEvent
from cti.model import Call
from cti.plan import PlanSnapshot, RunningPlan
from cti.ports import PbxControl
from cti.registry import CallRegistry

from . import keys
from .board import LiveBoard
from .dialplan import DialplanService
from .nullpbx import NullPbx
from .recordings_service import RecordingsService
from .screenpop import ScreenPopHub
from .sessions import SessionCodec, load_or_create_secret

__all__ = [
    "board_ctx",
    "close_websockets",
    "crm_ctx",
    "database_ctx",
    "default_pbx_factory",
    "dialplan_ctx",
    "event_bus_ctx",
    "pbx_ctx",
    "recordings_ctx",
    "screenpop_ctx",
    "secret_ctx",
]

log = structlog.get_logger(__name__)

DRAIN_TIMEOUT = 10.0
"Seconds the CRM writer gets at shutdown to finish the events already queued for it."


def default_pbx_factory(settings: Settings, publish: Callable[[CtiEvent], object]) -> PbxControl:
    """AsteriskPbx for ``pbx.mode: asterisk``, SipPbx for ``embedded``, NullPbx for ``none``."""
    if settings.pbx.mode is PbxMode.NONE:
        return NullPbx(settings, publish)
    if settings.pbx.mode is PbxMode.EMBEDDED:
        from pbx_adapters.sip.pbx import SipPbx

        return SipPbx(settings, publish)
    # Imported here so a deployment without a PBX never loads panoramisk.
    from pbx_adapters.asterisk.pbx import AsteriskPbx

    return AsteriskPbx(settings, publish)


def _watch(task: asyncio.Task[None]) -> None:
    """Make a background task's death loud (it would otherwise be seen only at shutdown)."""

    def done(finished: asyncio.Task[None]) -> None:
        if not finished.cancelled() and finished.exception() is not None:
            log.error("background_task_crashed", task=finished.get_name(), exc_info=finished.exception())

    task.add_done_callback(done)


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def secret_ctx(app: web.Application) -> AsyncIterator[None]:
    """Load (or create on first start) the key that signs session cookies."""
    secret = await asyncio.to_thread(load_or_create_secret, app[keys.SETTINGS].web.secret_key_file)
    app[keys.SECRET] = secret
    app[keys.SESSIONS] = SessionCodec(secret)
    yield


async def database_ctx(app: web.Application) -> AsyncIterator[None]:
    """Own the engine when create_app was not given a sessionmaker."""
    url = app[keys.SETTINGS].database.url
    engine = make_engine(url)
    app[keys.DB] = make_sessionmaker(engine)
    log.info("database_opened", url=make_url(url).render_as_string(hide_password=True))
    try:
        revision, expected = await current(engine), head()
    except Exception as exc:  # unreachable now: /healthz reports it, and the pool retries later
        log.warning("database_unreachable", error=type(exc).__name__, detail=str(exc))
    else:
        if revision != expected:
            log.warning("database_not_up_to_date", revision=revision, head=expected, fix="cti db upgrade")
    yield
    await engine.dispose()


async def event_bus_ctx(app: web.Application) -> AsyncIterator[None]:
    registry = CallRegistry()
    app[keys.REGISTRY] = registry
    app[keys.EVENT_BUS] = EventBus(registry)
    yield


async def crm_ctx(app: web.Application) -> AsyncIterator[None]:
    """Write every call into the CRM (leads, activities) from the bus subscription "crm"."""
    settings = app[keys.SETTINGS]
    writer = CallLogWriter(
        app[keys.DB], pbx_id=settings.pbx.id, settings=settings.crm, on_recorded=_call_logged(app)
    )
    app[keys.CRM_WRITER] = writer
    async with app[keys.EVENT_BUS].subscribe("crm") as subscription:
        task = asyncio.create_task(writer.run(subscription), name="crm-writer")
        _watch(task)
        yield
        # The PBX stopped before us (reverse order): nothing new arrives, so write what is queued.
        await _cancel(task)
        try:
            async with asyncio.timeout(DRAIN_TIMEOUT):
                await writer.drain(subscription)
        except TimeoutError:
            log.warning("crm_writer_not_drained", pending=subscription.pending)


def _call_logged(app: web.Application) -> Callable[[Call, CrmOutcome], None]:
    """After the call log wrote a call: the screen-pop hub (once it runs) pushes call-back changes."""

    def notify(call: Call, _outcome: CrmOutcome) -> None:
        hub = app.get(keys.SCREENPOP)
        if hub is not None:
            hub.call_logged(call)

    return notify


async def recordings_ctx(app: web.Application) -> AsyncIterator[None]:
    """Ingest, convert and link the PBX's recordings (bus subscription "recordings"); retries, retention."""
    service = RecordingsService(app)
    app[keys.RECORDINGS] = service
    async with app[keys.EVENT_BUS].subscribe("recordings") as subscription:
        service.start(subscription)
        yield
        await service.stop(subscription)  # after the PBX stopped: finishes what is queued


async def dialplan_ctx(app: web.Application) -> AsyncIterator[None]:
    """Load the dialplan (the file, else the last applied version) and re-apply the file on SIGHUP."""
    running = RunningPlan()
    service = DialplanService(app[keys.DB], running, app[keys.SETTINGS])
    app[keys.PLAN] = running
    app[keys.DIALPLAN] = service
    await service.load_at_startup()
    reloads: set[asyncio.Task[None]] = set()

    async def reload() -> None:
        await service.reload_file()  # logs the outcome; the running plan stays on any error

    def on_sighup() -> None:
        log.info("sighup_received", path=str(service.path))
        task = asyncio.create_task(reload(), name="dialplan-reload")
        reloads.add(task)
        task.add_done_callback(reloads.discard)

    loop = asyncio.get_running_loop()
    # Signal handlers belong to the main thread's loop; an app run elsewhere (tests) goes without.
    installed = threading.current_thread() is threading.main_thread()
    if installed:
        loop.add_signal_handler(signal.SIGHUP, on_sighup)
    yield
    if installed:
        loop.remove_signal_handler(signal.SIGHUP)
    for task in tuple(reloads):
        await _cancel(task)
    await service.close()


async def pbx_ctx(app: web.Application) -> AsyncIterator[None]:
    """Start the PBX link; it publishes onto the bus and retries by itself when the PBX is down."""
    settings = app[keys.SETTINGS]
    pbx = app[keys.PBX_FACTORY](settings, app[keys.EVENT_BUS].publish)
    _follow_plan(app, pbx)
    await pbx.start()
    app[keys.PBX] = pbx
    log.info("pbx_started", mode=settings.pbx.mode.value, pbx_id=settings.pbx.id)
    stop_syncing = _sync_asterisk_config(app, pbx)
    yield
    stop_syncing()
    await pbx.stop()
    log.info("pbx_stopped", pbx_id=settings.pbx.id)


def _follow_plan(app: web.Application, pbx: PbxControl) -> None:
    """The embedded PBX interprets the running dialplan itself (and every plan applied later)."""
    if app[keys.SETTINGS].pbx.mode is not PbxMode.EMBEDDED:
        return
    from pbx_adapters.sip.pbx import SipPbx

    if isinstance(pbx, SipPbx):
        pbx.follow(app[keys.PLAN])


def _sync_asterisk_config(app: web.Application, pbx: PbxControl) -> Callable[[], None]:
    """With ``ami.config_dir`` set, every applied dialplan is rendered there and Asterisk reloaded."""
    directory = app[keys.SETTINGS].ami.config_dir
    if directory is None:
        return lambda: None
    from pbx_adapters.asterisk.config_sync import AsteriskConfigSync
    from pbx_adapters.asterisk.pbx import AsteriskPbx
    from pbx_adapters.asterisk.render import render_asterisk

    if not isinstance(pbx, AsteriskPbx):
        return lambda: None
    sync = AsteriskConfigSync(pbx.ami, directory, render_asterisk)
    plan = app[keys.PLAN]
    pending: set[asyncio.Task[None]] = set()

    def run(coroutine: Coroutine[object, object, None]) -> None:
        task = asyncio.get_running_loop().create_task(coroutine, name="asterisk-config-sync")
        pending.add(task)
        _watch(task)
        task.add_done_callback(pending.discard)

    async def apply(snapshot: PlanSnapshot) -> None:
        await sync.apply(snapshot.spec)

    def on_login() -> None:
        # After every (re)login: a plan applied while the link was down, or an Asterisk restarted
        # from older files, is brought in step.
        if not plan.current.is_empty:
            run(apply(plan.current))

    stop_login = pbx.on_login(on_login)
    if pbx.connected:
        on_login()
    unsubscribe = plan.subscribe(lambda _old, new: run(apply(new)))

    def stop() -> None:
        stop_login()
        unsubscribe()
        for task in pending:
            task.cancel()

    return stop


async def screenpop_ctx(app: web.Application) -> AsyncIterator[None]:
    """Run the screen-pop hub; yield only once it is subscribed, so no ringing is missed."""
    settings = app[keys.SETTINGS]
    hub = ScreenPopHub(
        app[keys.DB], settings.crm, app[keys.REGISTRY], plan=app[keys.PLAN], pbx_id=settings.pbx.id
    )
    app[keys.SCREENPOP] = hub
    task = asyncio.create_task(hub.run(app[keys.EVENT_BUS]), name="screenpop")
    _watch(task)
    started = asyncio.create_task(hub.started.wait())
    await asyncio.wait({task, started}, return_when=asyncio.FIRST_COMPLETED)
    started.cancel()
    if task.done():
        task.result()  # it died before subscribing: fail the start-up with its error
    yield
    await _cancel(task)


async def board_ctx(app: web.Application) -> AsyncIterator[None]:
    """Run the supervisors' live board; yield once it is subscribed to the bus."""
    board = LiveBoard(app[keys.REGISTRY], app[keys.PLAN])
    app[keys.BOARD] = board
    task = asyncio.create_task(board.run(app[keys.EVENT_BUS]), name="board")
    _watch(task)
    started = asyncio.create_task(board.started.wait())
    await asyncio.wait({task, started}, return_when=asyncio.FIRST_COMPLETED)
    started.cancel()
    if task.done():
        task.result()
    yield
    await _cancel(task)


async def close_websockets(app: web.Application) -> None:
    """on_shutdown: tell every agent's browser we are going away (it reconnects later)."""
    hub = app.get(keys.SCREENPOP)
    if hub is not None:
        await hub.close_all(code=WSCloseCode.GOING_AWAY, message=b"Server shutdown")
    board = app.get(keys.BOARD)
    if board is not None:
        await board.close_all(code=WSCloseCode.GOING_AWAY, message=b"Server shutdown")
