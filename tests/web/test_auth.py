"""Login, sessions, CSRF and the login_required rules, through the real app."""

from __future__ import annotations

import re
import stat
import time

from structlog.testing import capture_logs
from yarl import URL

from web import keys
from web.app import create_app
from web.auth import SESSION_COOKIE, safe_next

from .conftest import PASSWORD, cookie_header, fake_pbx_factory, login

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_INPUT.search(html)
    assert match is not None, "no CSRF token in the page"
    return match.group(1)


class TestLogin:
    async def test_right_password_sets_the_session_cookie_and_goes_on(self, client):
        """
        A good login redirects to the agent page with an HttpOnly, SameSite=Lax session cookie.
        """
        resp = await login(client, "ivanov")

        assert resp.status == 303
        assert resp.headers["Location"] == "/agent"
        cookie = resp.cookies[SESSION_COOKIE]
        assert cookie["httponly"]
        assert cookie["samesite"] == "Lax"
        assert not cookie["secure"]  # settings.web.cookie_secure is off in tests
        page = await client.get("/agent")
        assert page.status == 200
        html = await page.text()
        assert "Extension 101" in html
        assert "Ivan Ivanov" in html

    async def test_cookie_is_secure_when_configured(self, aiohttp_client, settings):
        secure = settings.model_copy(update={"web": settings.web.model_copy(update={"cookie_secure": True})})
        client = await aiohttp_client(create_app(secure, pbx_factory=fake_pbx_factory))

        resp = await login(client, "ivanov")

        assert resp.cookies[SESSION_COOKIE]["secure"]

    async def test_wrong_password_shows_the_form_with_a_generic_error(self, client):
        """
        A wrong password gets the form again (200) saying only "Wrong login or password", no cookie.
        """
        with capture_logs() as logs:
            resp = await login(client, "ivanov", "not-the-password")

        assert resp.status == 200
        assert SESSION_COOKIE not in resp.cookies
        assert "Wrong login or password" in await resp.text()
        failures = [entry for entry in logs if entry["event"] == "login_failed"]
        assert [entry["login"] for entry in failures] == ["ivanov"]
        assert "not-the-password" not in repr(logs)

    async def test_unknown_login_reads_exactly_like_a_wrong_password(self, client):
        """
        The page does not tell an unknown login from a wrong password.
        """
        wrong = await (await login(client, "ivanov", "nope")).text()
        unknown = await (await login(client, "nobody", "nope")).text()

        assert wrong.replace("ivanov", "X") == unknown.replace("nobody", "X")

    async def test_inactive_user_cannot_log_in(self, client):
        resp = await login(client, "sidorov")

        assert resp.status == 200
        assert SESSION_COOKIE not in resp.cookies

    async def test_next_is_followed_when_it_is_a_local_path(self, client):
        resp = await login(client, "ivanov", next="/agent?tab=calls")

        assert resp.headers["Location"] == "/agent?tab=calls"

    async def test_next_to_another_site_is_ignored(self, client):
        resp = await login(client, "ivanov", next="//evil.example/phish")

        assert resp.headers["Location"] == "/agent"

    def test_safe_next_accepts_only_local_paths(self):
        """
        Open-redirect shapes fall back to the agent page.
        """
        assert safe_next("/crm/contact/1") == "/crm/contact/1"
        for bad in [
            "https://evil.example/",
            "//evil.example",
            "/\\evil.example",
            "evil",
            "",
            None,
            "/a\r\nb",
        ]:
            assert safe_next(bad) == "/agent"

    async def test_login_page_when_logged_in_goes_straight_on(self, client):
        await login(client, "ivanov")

        resp = await client.get("/login", allow_redirects=False)

        assert resp.status == 302
        assert resp.headers["Location"] == "/agent"


class TestSessions:
    async def test_logged_out_page_redirects_to_login_with_next(self, client):
        resp = await client.get("/agent?a=1&b=2", allow_redirects=False)

        assert resp.status == 302
        location = URL(resp.headers["Location"])
        assert location.path == "/login"
        assert location.query["next"] == "/agent?a=1&b=2"

    async def test_logged_out_websocket_gets_401_json(self, client):
        resp = await client.get("/ws/screenpop")

        assert resp.status == 401
        assert (await resp.json())["error_id"] == "login-required"

    async def test_tampered_cookie_is_rejected(self, client, app, template):
        """
        Changing the user id inside a signed cookie makes it worthless.
        """
        value = cookie_header(app, template.users["ivanov"])["Cookie"]
        forged = value.replace(f".{template.users['ivanov']}.", f".{template.users['boss']}.", 1)
        assert forged != value

        resp = await client.get("/agent", headers={"Cookie": forged}, allow_redirects=False)

        assert resp.status == 302

    async def test_cookie_signed_with_another_secret_is_rejected(self, client, app, template):
        other = keys.SessionCodec(b"x" * 32)
        value, _ = other.issue(template.users["ivanov"], hours=1)

        resp = await client.get(
            "/agent", headers={"Cookie": f"{SESSION_COOKIE}={value}"}, allow_redirects=False
        )

        assert resp.status == 302

    async def test_expired_session_is_rejected(self, client, app, template):
        headers = cookie_header(app, template.users["ivanov"], hours=1, now=time.time() - 2 * 3600)

        resp = await client.get("/agent", headers=headers, allow_redirects=False)

        assert resp.status == 302

    async def test_deactivated_user_loses_their_session(self, client, app, template):
        headers = cookie_header(app, template.users["sidorov"])

        resp = await client.get("/agent", headers=headers, allow_redirects=False)

        assert resp.status == 302

    async def test_secret_key_file_is_created_private(self, client, settings):
        path = settings.web.secret_key_file

        assert len(path.read_bytes()) == 32
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


class TestCsrf:
    async def test_a_login_posted_from_another_site_is_refused(self, client):
        """
        Login CSRF: a foreign page posting the attacker's credentials gets 403 and no cookie.
        """
        resp = await client.post(
            "/login",
            data={"login": "ivanov", "password": PASSWORD},
            headers={"Origin": "https://evil.example"},
            allow_redirects=False,
        )

        assert 403 == resp.status
        assert "cti_session" not in resp.cookies

    async def test_a_login_from_our_own_page_is_accepted(self, client):
        """
        The browser's Origin for our own form is our host: the login goes through.
        """
        origin = f"http://{client.server.host}:{client.server.port}"

        resp = await client.post(
            "/login",
            data={"login": "ivanov", "password": PASSWORD},
            headers={"Origin": origin},
            allow_redirects=False,
        )

        assert 303 == resp.status

    async def test_logout_without_token_is_403(self, client):
        await login(client, "ivanov")

        resp = await client.post("/logout", allow_redirects=False)

        assert resp.status == 403
        assert (await client.get("/agent", allow_redirects=False)).status == 200  # still logged in

    async def test_logout_with_a_wrong_token_is_403(self, client):
        await login(client, "ivanov")

        resp = await client.post("/logout", data={"csrf_token": "forged"}, allow_redirects=False)

        assert resp.status == 403

    async def test_logout_with_the_page_token_ends_the_session(self, client):
        await login(client, "ivanov")
        token = csrf_from(await (await client.get("/agent")).text())

        resp = await client.post("/logout", data={"csrf_token": token}, allow_redirects=False)

        assert resp.status == 303
        assert resp.headers["Location"] == "/login"
        assert resp.cookies[SESSION_COOKIE].value == ""
        assert (await client.get("/agent", allow_redirects=False)).status == 302

    async def test_api_clients_may_send_the_token_as_a_header(self, client):
        await login(client, "ivanov")
        token = csrf_from(await (await client.get("/agent")).text())

        resp = await client.post("/logout", headers={"X-CSRF-Token": token}, allow_redirects=False)

        assert resp.status == 303

    async def test_token_changes_with_every_login(self, client, aiohttp_client, app):
        await login(client, "ivanov")
        first = csrf_from(await (await client.get("/agent")).text())
        client.session.cookie_jar.clear()
        await login(client, "ivanov")

        assert first != csrf_from(await (await client.get("/agent")).text())


class TestHeaders:
    async def test_pages_carry_the_security_headers(self, client):
        resp = await client.get("/login")

        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["X-Frame-Options"] == "DENY"
        assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
        assert resp.headers["Cache-Control"] == "no-store"
        assert resp.headers["X-Request-ID"]

    async def test_a_sane_request_id_is_kept(self, client):
        resp = await client.get("/login", headers={"X-Request-ID": "abc-123"})

        assert resp.headers["X-Request-ID"] == "abc-123"
