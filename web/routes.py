"""The one list of URLs."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from . import auth, health, ws
from .views import agent, dialplan

__all__ = ["STATIC_DIR", "setup_routes"]

STATIC_DIR = Path(__file__).parent / "static"


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/", agent.home, name="home")
    app.router.add_get("/login", auth.login_form, name="login")
    app.router.add_post("/login", auth.login)
    app.router.add_post("/logout", auth.logout, name="logout")
    app.router.add_get("/agent", agent.agent_page, name="agent")
    app.router.add_get("/ws/screenpop", ws.screenpop_ws, name="screenpop_ws")
    app.router.add_get("/admin/dialplan", dialplan.editor_page, name="dialplan")
    app.router.add_post("/admin/dialplan/validate", dialplan.validate_plan, name="dialplan_validate")
    app.router.add_post("/admin/dialplan/diff", dialplan.diff_plan, name="dialplan_diff")
    app.router.add_post("/admin/dialplan/explain", dialplan.explain_call, name="dialplan_explain")
    app.router.add_post("/admin/dialplan/apply", dialplan.apply_plan, name="dialplan_apply")
    app.router.add_get("/admin/dialplan/history", dialplan.history_page, name="dialplan_history")
    app.router.add_get(
        r"/admin/dialplan/history/{version_id:\d+}", dialplan.version_page, name="dialplan_version"
    )
    app.router.add_post(
        r"/admin/dialplan/rollback/{version_id:\d+}", dialplan.rollback, name="dialplan_rollback"
    )
    app.router.add_get("/healthz", health.healthz, name="healthz")
    app.router.add_get("/metrics", health.metrics, name="metrics")
    app.router.add_static("/static/", STATIC_DIR, name="static")
