"""Composition root: the only place that knows every package and wires them together."""

from __future__ import annotations

import aiohttp_jinja2
import jinja2
from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.settings import Settings

from . import contexts, i18n, keys, nav, timefmt
from .api import setup_api
from .auth import csrf_middleware
from .health import make_metrics_registry
from .middlewares import error_middleware, request_context_middleware, set_security_headers
from .routes import setup_routes
from .views import documents

__all__ = ["create_app"]


def create_app(
    settings: Settings,
    *,
    pbx_factory: keys.PbxFactory | None = None,
    sessionmaker: async_sessionmaker[AsyncSession] | None = None,
) -> web.Application:
    """Build the application; tests pass a fake PBX and, if they like, their own sessionmaker."""
    locale_middleware = i18n.locale_middleware(settings.web.default_locale)  # before the errors it translates
    app = web.Application(
        middlewares=[
            request_context_middleware,
            locale_middleware,
            error_middleware,
            csrf_middleware,
            nav.nav_middleware,  # after the CSRF check: the header's links need the user's rights
        ]
    )
    app[keys.SETTINGS] = settings
    app[keys.PBX_FACTORY] = pbx_factory or contexts.default_pbx_factory
    app[keys.METRICS] = make_metrics_registry(app)
    env = aiohttp_jinja2.setup(app, loader=jinja2.PackageLoader("web", "templates"))
    i18n.setup_jinja(env)
    timefmt.setup_jinja(env)
    nav.setup_jinja(env)
    app.cleanup_ctx.append(contexts.secret_ctx)
    if sessionmaker is None:
        app.cleanup_ctx.append(contexts.database_ctx)  # creates the engine, sets app[keys.DB], disposes it
    else:
        app[keys.DB] = sessionmaker
    # Started in this order, stopped in reverse; a context is stopped only if it started.
    app.cleanup_ctx.extend(
        [
            contexts.event_bus_ctx,
            contexts.crm_ctx,
            contexts.recordings_ctx,
            contexts.dialplan_ctx,  # before the PBX: it reads the running plan
            contexts.pbx_ctx,
            contexts.screenpop_ctx,
            contexts.board_ctx,
        ]
    )
    app.on_shutdown.append(contexts.close_websockets)
    app.on_response_prepare.append(set_security_headers)
    setup_routes(app)
    documents.add_routes(app)  # printable quotes and invoices
    # last: its catch-all answers unknown /api/v1 paths
    setup_api(app, region=settings.crm.default_region, own_numbers=settings.crm.own_numbers)
    return app
