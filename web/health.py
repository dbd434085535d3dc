"""GET /healthz (liveness and dependencies) and GET /metrics (Prometheus text).

Both are open, without login: /healthz says nothing secret, and /metrics only counts (live calls,
bus traffic, sockets). The default deployment listens on 127.0.0.1; when the port is exposed
beyond the host, restrict /metrics at the reverse proxy.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import text

from config.settings import PbxMode
from recordings.pipeline import PipelineStats

from . import keys

__all__ = ["CtiCollector", "healthz", "make_metrics_registry", "metrics"]

log = structlog.get_logger(__name__)

DB_CHECK_TIMEOUT = 2.0


async def _database_ok(app: web.Application) -> bool:
    try:
        async with asyncio.timeout(DB_CHECK_TIMEOUT), app[keys.DB]() as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:
        log.warning("healthz_database_failed", error=type(exc).__name__, detail=str(exc))
        return False
    return True


def _pbx_state(app: web.Application) -> str:
    if app[keys.SETTINGS].pbx.mode is PbxMode.NONE:
        return "none"
    pbx = app.get(keys.PBX)
    return "connected" if pbx is not None and pbx.connected else "disconnected"


async def healthz(request: web.Request) -> web.Response:
    """200 while the database answers (the PBX link may be down: calls then wait for it), else 503."""
    database = await _database_ok(request.app)
    body = {
        "status": "ok" if database else "error",
        "database": "ok" if database else "error",
        "pbx": _pbx_state(request.app),
    }
    recordings = request.app.get(keys.RECORDINGS)
    if recordings is not None and recordings.pipeline.stats.storage_full:
        # Degraded, not down: calls go on and the files wait on the PBX, but someone must free space.
        body["recordings"] = {"storage_full": True}
    return web.json_response(body, status=200 if database else 503)


class CtiCollector(Collector):
    """Read the live figures from the running app at scrape time (nothing to keep in sync)."""

    def __init__(self, app: web.Application) -> None:
        self._app = app

    def collect(self) -> Iterator[Metric]:
        app = self._app  # before start-up (or after a failed one) some parts do not exist yet
        registry = app.get(keys.REGISTRY)
        bus = app.get(keys.EVENT_BUS)
        hub = app.get(keys.SCREENPOP)
        pbx = app.get(keys.PBX)
        live = len(registry) if registry is not None else 0
        yield GaugeMetricFamily("cti_live_calls", "Calls in progress now.", value=live)
        published = bus.published if bus is not None else 0
        yield CounterMetricFamily("cti_bus_published", "Events published on the bus.", value=published)
        dropped = CounterMetricFamily(
            "cti_bus_dropped", "Events a slow subscriber lost (its queue was full).", labels=["subscriber"]
        )
        pending = GaugeMetricFamily(
            "cti_bus_pending", "Events waiting in a subscriber's queue.", labels=["subscriber"]
        )
        for name, (waiting, lost) in sorted((bus.stats() if bus is not None else {}).items()):
            dropped.add_metric([name], lost)
            pending.add_metric([name], waiting)
        yield dropped
        yield pending
        writer = app.get(keys.CRM_WRITER)
        logged = CounterMetricFamily("cti_crm_calls_logged", "Calls written into the CRM.")
        logged.add_metric([], writer.logged if writer is not None else 0)
        yield logged
        failed = CounterMetricFamily("cti_crm_calls_failed", "Calls the CRM writer failed to write.")
        failed.add_metric([], writer.failed if writer is not None else 0)
        yield failed
        clients = hub.clients if hub is not None else 0
        yield GaugeMetricFamily("cti_websocket_clients", "Agent screen-pop sockets open.", value=clients)
        connected = 1 if pbx is not None and pbx.connected else 0
        yield GaugeMetricFamily("cti_pbx_connected", "1 while the PBX link is up.", value=connected)
        yield from _recording_metrics(app)


def _recording_metrics(app: web.Application) -> Iterator[Metric]:
    service = app.get(keys.RECORDINGS)
    stats = service.pipeline.stats if service is not None else PipelineStats()
    full = 1 if stats.storage_full else 0
    yield GaugeMetricFamily(
        "cti_recordings_storage_full",
        "1 while the recordings disk is full (files wait on the PBX).",
        value=full,
    )
    for name, help_text, value in (
        ("cti_recordings_storage_full_events", "Recordings that met a full disk.", stats.storage_full_total),
        ("cti_recordings_converted", "Recordings stored and converted.", stats.converted),
        ("cti_recordings_failed", "Recordings given up on (their files are kept).", stats.failed),
        ("cti_recordings_retried", "Retries started by the sweeper.", stats.retried),
    ):
        counter = CounterMetricFamily(name, help_text)
        counter.add_metric([], value)
        yield counter
    in_flight = service.pipeline.in_flight if service is not None else 0
    yield GaugeMetricFamily("cti_recordings_in_flight", "Recordings being worked on now.", value=in_flight)


def make_metrics_registry(app: web.Application) -> CollectorRegistry:
    """A registry of this app's own (not the process-global one, so tests can build many apps)."""
    registry = CollectorRegistry(auto_describe=True)
    registry.register(CtiCollector(app))
    return registry


async def metrics(request: web.Request) -> web.Response:
    """GET /metrics in the Prometheus text format."""
    body = generate_latest(request.app[keys.METRICS])
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
