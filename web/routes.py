"""The one list of URLs."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from . import auth, health, ws
from .views import (
    agent,
    audit,
    board,
    calls,
    crm_activities,
    crm_cards,
    crm_sales,
    crm_settings,
    dialplan,
    imports,
    product_pages,
    profile,
    recordings,
    recordings_console,
    users,
)

__all__ = ["STATIC_DIR", "setup_routes"]

STATIC_DIR = Path(__file__).parent / "static"


def setup_routes(app: web.Application) -> None:
    app.router.add_get("/", agent.home, name="home")
    app.router.add_get("/login", auth.login_form, name="login")
    app.router.add_post("/login", auth.login)
    app.router.add_post("/logout", auth.logout, name="logout")
    app.router.add_post("/profile/locale", profile.set_locale, name="profile_locale")
    app.router.add_get("/agent", agent.agent_page, name="agent")
    app.router.add_get(r"/agent/card/{entity:[a-z]+}/{card_id:\d+}", agent.card, name="agent_card")
    app.router.add_post("/agent/calls/{call_id}/caller", agent.caller_form, name="agent_caller")
    app.router.add_post("/agent/calls/{call_id}/note", agent.note, name="agent_note")
    app.router.add_get("/agent/call-backs", agent.call_backs_list, name="agent_call_backs")
    app.router.add_post(
        r"/agent/call-backs/{task_id:\d+}/done", agent.call_back_done, name="agent_call_back_done"
    )
    app.router.add_get("/ws/screenpop", ws.screenpop_ws, name="screenpop_ws")
    app.router.add_get("/supervisor", board.board_page, name="board")
    app.router.add_get("/ws/board", board.board_ws, name="board_ws")
    app.router.add_post("/calls/dial", calls.dial, name="call_dial")
    app.router.add_post("/calls/{call_id}/hangup", calls.hangup, name="call_hangup")
    app.router.add_post("/calls/{call_id}/transfer", calls.transfer, name="call_transfer")
    app.router.add_post("/calls/{call_id}/conference", calls.conference, name="call_conference")
    app.router.add_post("/calls/{call_id}/recording", calls.recording, name="call_recording")
    app.router.add_post("/calls/{call_id}/listen", calls.listen_in, name="call_listen")
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
    app.router.add_get(r"/recordings/{recording_id:\d+}", recordings.recording_audio, name="recording")
    app.router.add_get(
        r"/recordings/{recording_id:\d+}/peaks", recordings.recording_peaks, name="recording_peaks"
    )
    app.router.add_get("/crm/import", imports.import_form, name="import_form")
    app.router.add_post("/crm/import", imports.upload, name="import_upload")
    app.router.add_get(r"/crm/import/jobs/{job_id:[\w-]+}.json", imports.job_status, name="import_job_status")
    app.router.add_get(r"/crm/import/jobs/{job_id:[\w-]+}", imports.job_page, name="import_job")
    app.router.add_get(r"/crm/import/{draft_id:[\w-]+}", imports.mapping_form, name="import_mapping")
    app.router.add_post(r"/crm/import/{draft_id:[\w-]+}", imports.run_import, name="import_run")
    app.router.add_get(r"/crm/export/{kind:[a-z]+}.csv", imports.export_page, name="export")
    imports.install(app)  # the import jobs' registry; its running jobs are cancelled at shutdown
    app.router.add_get("/admin/users", users.users_page, name="users")
    app.router.add_post("/admin/users", users.add_user, name="users_add")
    app.router.add_post(r"/admin/users/{user_id:\d+}/access", users.set_access, name="user_access")
    app.router.add_post(r"/admin/users/{user_id:\d+}/active", users.set_user_active, name="user_active")
    crm_settings.add_routes(app)  # pipelines and stages, lead statuses and sources, document statuses
    app.router.add_get("/healthz", health.healthz, name="healthz")
    app.router.add_get("/metrics", health.metrics, name="metrics")
    crm_cards.add_routes(app)  # leads, contacts, companies: lists, cards, forms, conversion, merge
    crm_sales.add_routes(app)  # deals by stage, deal card, quotes, invoices, funnel
    crm_activities.add_routes(app)  # meetings, calls, tasks from the cards' and deals' timelines
    product_pages.add_routes(app)  # products and their sections
    app.router.add_get(
        "/supervisor/recordings", recordings_console.recordings_console, name="recordings_console"
    )
    app.router.add_get("/admin/audit", audit.audit_page, name="audit")
    app.router.add_static("/static/", STATIC_DIR, name="static")
