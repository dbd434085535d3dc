"""A logged-in user's HTTP requests, as a browser page would send them."""

from __future__ import annotations

from web import keys
from web.auth import CSRF_HEADER, SESSION_COOKIE

__all__ = ["Browser"]


class Browser:
    """A logged-in user's requests: the session cookie, and the CSRF token on every POST."""

    def __init__(self, client, user_id: int) -> None:
        self.client = client
        cookie, data = client.app[keys.SESSIONS].issue(user_id, hours=1)
        self.cookie = {"Cookie": f"{SESSION_COOKIE}={cookie}"}
        self.csrf = client.app[keys.SESSIONS].csrf_token(data)

    async def get(self, path: str, **kwargs):
        return await self.client.get(path, headers=self.cookie, allow_redirects=False, **kwargs)

    async def post_json(self, path: str, body: dict, *, csrf: bool = True):
        headers = {**self.cookie, "Accept": "application/json"}
        if csrf:
            headers[CSRF_HEADER] = self.csrf
        return await self.client.post(path, json=body, headers=headers, allow_redirects=False)

    async def post_form(self, path: str):
        data = {"csrf_token": self.csrf}
        return await self.client.post(path, data=data, headers=self.cookie, allow_redirects=False)
