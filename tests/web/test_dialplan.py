"""The dialplan editor over HTTP (admins only, CSRF, audit) and the daemon's SIGHUP reload."""

# Expected value first (STYLE.md, structlog tests), which ruff calls a Yoda condition.

from __future__ import annotations

import asyncio
import os
import re
import signal

import pytest
from sqlalchemy import select
from structlog.testing import capture_logs

from crm_core.models import AuditEntry, DialplanVersion, User
from tests.dialplans import INVALID, plan
from web import keys
from web.app import create_app

from .browser import Browser
from .conftest import fake_pbx_factory


@pytest.fixture(name="dialplan_path")
def _dialplan_path(tmp_path):
    path = tmp_path / "etc" / "dialplan.yaml"
    path.parent.mkdir()
    path.write_text(plan(), encoding="utf-8")
    return path


@pytest.fixture(name="app")
def _app(settings, dialplan_path):
    return create_app(settings.model_copy(update={"dialplan": dialplan_path}), pbx_factory=fake_pbx_factory)


async def add_admin(app) -> int:
    async with app[keys.DB]() as session:
        user = User(login="root", name="Root <Admin>", role="admin")
        session.add(user)
        await session.commit()
        return user.id


@pytest.fixture(name="admin")
async def _admin(client) -> Browser:
    return Browser(client, await add_admin(client.app))


async def versions(app) -> list[DialplanVersion]:
    async with app[keys.DB]() as session:
        return list(await session.scalars(select(DialplanVersion).order_by(DialplanVersion.id)))


async def audit_entries(app) -> list[AuditEntry]:
    async with app[keys.DB]() as session:
        return list(await session.scalars(select(AuditEntry).order_by(AuditEntry.id)))


class TestAccess:
    async def test_logged_out_goes_to_login(self, client):
        """
        The editor sends a visitor without a session to the login form.
        """
        response = await client.get("/admin/dialplan", allow_redirects=False)

        assert 302 == response.status
        assert "/login?next=/admin/dialplan" == response.headers["Location"]

    @pytest.mark.parametrize("login", ["ivanov", "boss"])
    async def test_non_admins_get_403(self, client, template, login):
        """
        Agents and supervisors may neither see the editor nor call its endpoints.
        """
        user = Browser(client, template.users[login])

        page = await user.get("/admin/dialplan")
        history = await user.get("/admin/dialplan/history")
        validate = await user.post_json("/admin/dialplan/validate", {"text": plan()})
        apply = await user.post_json("/admin/dialplan/apply", {"text": plan("Hacked")})
        rollback = await user.post_json("/admin/dialplan/rollback/1", {})

        assert [403] * 5 == [r.status for r in (page, history, validate, apply, rollback)]
        assert "admin-required" == (await apply.json())["error_id"]
        assert [1] == [v.id for v in await versions(client.app)]

    async def test_apply_without_csrf_is_refused(self, admin, client):
        """
        A POST without the session's CSRF token is refused and applies nothing.
        """
        response = await admin.post_json("/admin/dialplan/apply", {"text": plan("Forged")}, csrf=False)

        assert 403 == response.status
        assert plan() == client.app[keys.PLAN].text
        assert 1 == len(await versions(client.app))


class TestEditor:
    async def test_page_shows_the_running_text_escaped(self, admin, client, dialplan_path):
        """
        The editor holds the running plan's text, HTML-escaped, and the sha it started from.
        """
        text = "# <script>alert(1)</script>\n" + plan()
        await client.app[keys.DIALPLAN].apply(text, actor="root", source="cli")

        response = await admin.get("/admin/dialplan")
        body = await response.text()

        assert 200 == response.status
        assert "# &lt;script&gt;alert(1)&lt;/script&gt;" in body
        assert "<script>alert(1)" not in body
        assert f'data-sha="{client.app[keys.PLAN].sha256}"' in body
        assert '<script src="/static/dialplan.js" defer></script>' in body

    async def test_validate_returns_issues_at_their_lines(self, admin):
        """
        Errors come with line, column, message and severity for the page to mark.
        """
        response = await admin.post_json("/admin/dialplan/validate", {"text": INVALID})
        data = await response.json()

        assert 200 == response.status
        assert data["valid"] is False
        assert {3} == {issue["line"] for issue in data["issues"]}
        assert {"error"} == {issue["severity"] for issue in data["issues"]}
        assert all(issue["column"] >= 1 and issue["message"] for issue in data["issues"])

    async def test_validate_a_good_plan(self, admin):
        """
        A valid plan validates (warnings, if any, are not errors).
        """
        response = await admin.post_json("/admin/dialplan/validate", {"text": plan("Other")})
        data = await response.json()

        assert data["valid"] is True
        assert all(issue["severity"] == "warning" for issue in data["issues"])

    async def test_diff_against_the_running_plan(self, admin, client):
        """
        The diff is unified, from the running version to the edited text (CRLF from a browser is LF).
        """
        edited = plan("Changed").replace("\n", "\r\n")

        response = await admin.post_json("/admin/dialplan/diff", {"text": edited})
        data = await response.json()

        assert data["changed"] is True
        assert client.app[keys.PLAN].version == data["running_version"]
        assert '+  "101": {name: Changed, user: ivanov}' in data["diff"].splitlines()
        assert 2 == sum(
            1 for line in data["diff"].splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")
        )

    async def test_explain_a_sample_call(self, admin):
        """
        Explain runs the routing engine on the edited text: numbered lines for a call to the DID.
        """
        body = {"from": "+79161234567", "to": "+74951234567", "at": "2026-11-27T10:30", "text": plan()}

        response = await admin.post_json("/admin/dialplan/explain", body)
        data = await response.json()

        assert 200 == response.status, data
        assert "edited" == data["plan"]
        assert "main" == data["trunk"]
        assert "2026-11-27T10:30:00+03:00" == data["at"]
        assert data["lines"]
        assert all(isinstance(line, str) for line in data["lines"])

    async def test_explain_with_an_invalid_edit_shows_its_issues(self, admin):
        """
        An edited text with errors cannot explain anything: 422 with the issues.
        """
        body = {"from": "101", "to": "102", "text": INVALID}

        response = await admin.post_json("/admin/dialplan/explain", body)

        assert 422 == response.status
        assert {3} == {issue["line"] for issue in (await response.json())["issues"]}


class TestApply:
    async def test_apply_records_the_admin_and_audits(self, admin, client, dialplan_path):
        """
        Apply from the web: a version with the admin's id and login, the file, the plan, the audit.
        """
        app = client.app
        user_id = (await versions(app))[0].applied_by_id  # the startup version: nobody
        body = {"text": plan("Web Edit"), "comment": "from the editor", "base_sha": app[keys.PLAN].sha256}

        response = await admin.post_json("/admin/dialplan/apply", body)
        data = await response.json()

        stored = await versions(app)
        entries = await audit_entries(app)
        root = stored[-1].applied_by_id
        assert 200 == response.status, data
        assert None is user_id
        assert ("applied", stored[-1].id, f"applied version {stored[-1].id}") == (
            data["outcome"],
            data["version"],
            data["message"],
        )
        assert ("root", "web", "from the editor") == (
            stored[-1].applied_by_name,
            stored[-1].source,
            stored[-1].comment,
        )
        assert root is not None
        assert ("dialplan.apply", "root", root) == (
            entries[-1].action,
            entries[-1].actor,
            entries[-1].user_id,
        )
        assert plan("Web Edit") == dialplan_path.read_text(encoding="utf-8") == app[keys.PLAN].text

    async def test_apply_invalid_text_is_422_with_issues(self, admin, client, dialplan_path):
        """
        Invalid text: 422, the issues, nothing changed.
        """
        response = await admin.post_json("/admin/dialplan/apply", {"text": INVALID})

        assert 422 == response.status
        assert {3} == {issue["line"] for issue in (await response.json())["issues"]}
        assert plan() == dialplan_path.read_text(encoding="utf-8") == client.app[keys.PLAN].text

    async def test_apply_over_someone_elses_change_is_409(self, admin, client):
        """
        The editor started from a plan that is no longer running: 409 names the version applied meanwhile.
        """
        started_from = client.app[keys.PLAN].sha256
        meanwhile = await client.app[keys.DIALPLAN].apply(plan("Other Admin"), actor="other", source="web")

        response = await admin.post_json(
            "/admin/dialplan/apply", {"text": plan("Mine"), "base_sha": started_from}
        )
        data = await response.json()

        assert 409 == response.status
        assert f"someone applied version {meanwhile.version} meanwhile" in data["message"]
        assert plan("Other Admin") == client.app[keys.PLAN].text

    async def test_apply_the_running_text_is_already_running(self, admin):
        """
        Applying what runs creates nothing and says so.
        """
        response = await admin.post_json("/admin/dialplan/apply", {"text": plan()})

        assert "unchanged" == (await response.json())["outcome"]


class TestHistory:
    async def test_history_lists_versions_escaped(self, admin, client):
        """
        The history page lists who applied what, when and why; text from users is escaped.
        """
        await admin.post_json("/admin/dialplan/apply", {"text": plan("Two"), "comment": "<b>bold</b> move"})

        page = await admin.get("/admin/dialplan/history")
        body = await page.text()
        listing = await admin.client.get(
            "/admin/dialplan/history", headers={**admin.cookie, "Accept": "application/json"}
        )
        data = await listing.json()

        assert 200 == page.status
        assert "&lt;b&gt;bold&lt;/b&gt; move" in body
        assert "<b>bold</b>" not in body
        assert ["web", "startup"] == [v["source"] for v in data["versions"]]
        assert ["root", "startup"] == [v["applied_by"] for v in data["versions"]]

    async def test_version_page_shows_its_text(self, admin, client):
        """
        A version's page lists its text line by line and offers the rollback.
        """
        first = (await versions(client.app))[0].id
        await admin.post_json("/admin/dialplan/apply", {"text": plan("Two")})

        response = await admin.get(f"/admin/dialplan/history/{first}")
        body = await response.text()

        assert 200 == response.status
        assert "<code>  &#34;101&#34;: {name: Ivan Ivanov, user: ivanov}</code>" in body
        assert f'action="/admin/dialplan/rollback/{first}"' in body

    async def test_rollback_by_form(self, admin, client, dialplan_path):
        """
        The history's rollback button (a form with the CSRF field): a new version with the old text.
        """
        first = (await versions(client.app))[0].id
        await admin.post_json("/admin/dialplan/apply", {"text": plan("Two")})

        response = await admin.post_form(f"/admin/dialplan/rollback/{first}")
        page = await admin.get(response.headers["Location"])

        stored = await versions(client.app)
        entries = await audit_entries(client.app)
        assert 303 == response.status
        assert re.search(r"Rolled back: version \d+ is running\.", await page.text())
        assert ("rollback", first, "root") == (
            stored[-1].source,
            stored[-1].rolled_back_from,
            stored[-1].applied_by_name,
        )
        assert ("dialplan.rollback", "root") == (entries[-1].action, entries[-1].actor)
        assert plan() == client.app[keys.PLAN].text == dialplan_path.read_text(encoding="utf-8")

    async def test_rollback_as_json_and_to_an_unknown_version(self, admin, client):
        """
        The JSON rollback answers the outcome; an unknown version is 404.
        """
        first = (await versions(client.app))[0].id
        await admin.post_json("/admin/dialplan/apply", {"text": plan("Two")})

        done = await admin.post_json(f"/admin/dialplan/rollback/{first}", {})
        missing = await admin.post_json("/admin/dialplan/rollback/999", {})

        assert "applied" == (await done.json())["outcome"]
        assert 404 == missing.status


class TestSighup:
    """The real signal: the app runs on pytest's main thread, so the handler is installed."""

    async def test_sighup_applies_the_edited_file(self, client, dialplan_path):
        """
        The admin edits the file and sends SIGHUP: the daemon records and runs the new text.
        """
        app = client.app
        assert signal.getsignal(signal.SIGHUP) not in (signal.SIG_DFL, signal.SIG_IGN, None)
        dialplan_path.write_text(plan("Edited"), encoding="utf-8")

        os.kill(os.getpid(), signal.SIGHUP)
        await wait_for(lambda: app[keys.PLAN].text == plan("Edited"))

        stored = await versions(app)
        assert ("sighup", "sighup") == (stored[-1].source, stored[-1].applied_by_name)
        assert stored[-1].id == app[keys.PLAN].version

    async def test_sighup_with_a_broken_file_keeps_the_plan(self, client, dialplan_path):
        """
        A broken file on SIGHUP: the errors are logged with their lines; the plan keeps running.
        """
        app = client.app
        before = app[keys.PLAN].current
        dialplan_path.write_text(INVALID, encoding="utf-8")

        with capture_logs() as logs:
            os.kill(os.getpid(), signal.SIGHUP)
            await wait_for(lambda: any(e["event"] == "dialplan_reload_rejected" for e in logs))

        [rejected] = [e for e in logs if e["event"] == "dialplan_reload_rejected"]
        assert before is app[keys.PLAN].current
        assert all(f"{dialplan_path}:3:" in issue for issue in rejected["issues"])
        assert "error" == rejected["log_level"]

    async def test_handler_is_removed_at_shutdown(self, aiohttp_client, app):
        """
        After the app stops, SIGHUP is back to its default (tests create many apps).
        """
        client = await aiohttp_client(app)
        installed = signal.getsignal(signal.SIGHUP)
        await client.close()

        assert installed not in (signal.SIG_DFL, None)
        assert signal.SIG_DFL == signal.getsignal(signal.SIGHUP)


class TestStartup:
    async def test_the_app_runs_the_file_and_records_it(self, client, dialplan_path):
        """
        On start the app runs the dialplan file, recorded as a startup version.
        """
        [version] = await versions(client.app)

        assert plan() == client.app[keys.PLAN].text
        assert (version.id, "startup") == (client.app[keys.PLAN].version, version.source)


async def wait_for(condition, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.01)
