"""The small CRM both databases' page tests start from, and the real app over it."""

from __future__ import annotations

from typing import Any

from config.settings import Settings
from crm_core.db import make_sessionmaker
from crm_core.seed import apply_seed
from web.app import create_app

from .conftest import fake_pbx_factory

__all__ = ["SEED", "seeded_client"]

SEED: dict[str, Any] = {
    "users": [
        {"login": "root", "name": "Root", "role": "admin"},
        {"login": "olga", "name": "Ольга Петрова", "extension": "105"},
    ],
    "companies": [{"title": "ООО «Ромашка»", "responsible": "olga"}],
    "contacts": [
        {
            "name": "Анна Смирнова",
            "phones": ["8 (916) 123-45-67"],
            "company": "ООО «Ромашка»",
            "responsible": "olga",
        }
    ],
}


async def seeded_client(aiohttp_client, engine, settings: Settings):
    """The real app over *engine* (SQLite or PostgreSQL) with :data:`SEED` applied; its test client."""
    sessions = make_sessionmaker(engine)
    async with sessions() as session:
        await apply_seed(session, SEED)
        await session.commit()
    app = create_app(settings, pbx_factory=fake_pbx_factory, sessionmaker=sessions)
    return await aiohttp_client(app)
