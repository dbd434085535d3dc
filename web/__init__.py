"""The web edge and composition root: aiohttp app, pages, WebSockets, metrics and the `cti` command.

`web.app.create_app` is the only place that knows every package; nothing imports `web`.
"""
