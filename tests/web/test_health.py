"""/healthz, /metrics, the default PBX factory, and domain errors mapped to HTTP."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import create_async_engine
from structlog.testing import capture_logs

from config.settings import DatabaseSettings, PbxMode, PbxSettings
from crm_core.db import make_sessionmaker
from crm_core.errors import Invalid, NotFound, UserExists
from cti.errors import NoSuchCall, PbxActionFailed, PbxUnavailable
from web import keys
from web.app import create_app
from web.nullpbx import NullPbx

from .conftest import KNOWN_CALLER, fake_pbx_factory
from .fakes import inbound, ringing


class TestHealthz:
    async def test_ok_with_database_and_pbx(self, client):
        resp = await client.get("/healthz")

        assert resp.status == 200
        assert await resp.json() == {"status": "ok", "database": "ok", "pbx": "connected"}

    async def test_pbx_down_is_still_healthy(self, client, pbx):
        pbx.connected = False

        resp = await client.get("/healthz")

        assert (resp.status, (await resp.json())["pbx"]) == (200, "disconnected")

    async def test_database_down_is_503(self, aiohttp_client, settings, tmp_path):
        engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path}/missing/dir/db.sqlite3")
        app = create_app(settings, pbx_factory=fake_pbx_factory, sessionmaker=make_sessionmaker(engine))
        client = await aiohttp_client(app)

        resp = await client.get("/healthz")

        assert resp.status == 503
        assert await resp.json() == {"status": "error", "database": "error", "pbx": "connected"}
        await engine.dispose()

    async def test_no_pbx_mode_uses_the_null_pbx(self, aiohttp_client, settings):
        """
        ``pbx.mode: none`` starts without any PBX (the default factory) and says so.
        """
        app = create_app(settings.model_copy(update={"pbx": PbxSettings(mode=PbxMode.NONE)}))
        client = await aiohttp_client(app)

        resp = await client.get("/healthz")

        assert (await resp.json())["pbx"] == "none"
        assert isinstance(app[keys.PBX], NullPbx)
        with pytest.raises(PbxUnavailable):
            await app[keys.PBX].originate("101", "+79161234567")


class TestMetrics:
    async def test_prometheus_text_with_the_live_figures(self, client, pbx):
        pbx.publish(inbound("c1", KNOWN_CALLER))
        pbx.publish(ringing("c1", "101"))

        resp = await client.get("/metrics")

        text = await resp.text()
        assert resp.content_type.startswith("text/plain")
        assert "cti_live_calls 1.0" in text
        assert "cti_bus_published_total 2.0" in text
        assert 'cti_bus_dropped_total{subscriber="crm"} 0.0' in text
        assert 'cti_bus_dropped_total{subscriber="screenpop"} 0.0' in text
        assert "cti_websocket_clients 0.0" in text
        assert "cti_pbx_connected 1.0" in text
        assert "cti_crm_calls_logged_total 0.0" in text

    async def test_each_app_has_its_own_registry(self, aiohttp_client, settings):
        first = create_app(settings, pbx_factory=fake_pbx_factory)
        second = create_app(settings, pbx_factory=fake_pbx_factory)

        assert first[keys.METRICS] is not second[keys.METRICS]


class TestErrorMapping:
    @pytest.mark.parametrize(
        ("error", "status", "error_id"),
        [
            (NoSuchCall("c9"), 404, "no-such-call"),
            (PbxUnavailable("AMI not connected"), 503, "pbx-unavailable"),
            (PbxActionFailed("Originate", "busy"), 409, "pbx-action-failed"),
            (NotFound("contact", 7), 404, "not-found"),
            (UserExists("login", "ivanov"), 409, "user-exists"),
            (Invalid("role", "boss", ("admin", "agent")), 400, "invalid"),
        ],
    )
    async def test_domain_errors_become_json(self, aiohttp_client, settings, error, status, error_id):
        async def fail(_request):
            raise error

        app = create_app(settings, pbx_factory=fake_pbx_factory)
        app.router.add_get("/api/v1/fail", fail)
        client = await aiohttp_client(app)

        resp = await client.get("/api/v1/fail")

        assert status == resp.status
        body = await resp.json()
        assert (error_id, str(error), error.details()) == (body["error_id"], body["message"], body["details"])


class TestStartup:
    async def test_an_unmigrated_database_is_reported_at_start(self, aiohttp_client, settings, tmp_path):
        """
        Starting on a database that was never migrated logs how to fix it (and still starts).
        """
        empty = settings.model_copy(
            update={"database": DatabaseSettings(url=f"sqlite+aiosqlite:///{tmp_path}/empty.sqlite3")}
        )
        with capture_logs() as logs:
            await aiohttp_client(create_app(empty, pbx_factory=fake_pbx_factory))

        warning = next(entry for entry in logs if entry["event"] == "database_not_up_to_date")
        assert (warning["revision"], warning["fix"]) == (None, "cti db upgrade")
