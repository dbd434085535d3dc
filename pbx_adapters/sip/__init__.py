"""The embedded SIP PBX: our own RFC 3261 layer on asyncio (registrar, B2BUA, trunk), media in ``media``."""
