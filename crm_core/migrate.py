"""Run the CRM's Alembic migrations from code: no ``alembic.ini``, async URLs welcome.

The CLI's ``cti db upgrade`` and the tests call :func:`upgrade`; it is idempotent (at head it
does nothing). :func:`revision` is the developer's tool to write the next revision file.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from .db import make_engine

__all__ = ["MIGRATIONS", "alembic_config", "current", "head", "revision", "upgrade"]

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    """Build the Alembic config in code, optionally bound to an open (sync) connection."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head() -> str | None:
    """Return the newest revision id the package ships."""
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def upgrade(target: str | AsyncEngine, revision: str = "head") -> None:
    """Migrate the database at *target* (a URL or an engine) up to *revision*."""

    def run(connection: Connection) -> None:
        command.upgrade(alembic_config(connection), revision)

    await _with_connection(target, run)


async def current(target: str | AsyncEngine) -> str | None:
    """Return the database's revision, or None when it was never migrated."""
    found: list[str | None] = []

    def read(connection: Connection) -> None:
        found.append(MigrationContext.configure(connection).get_current_revision())

    await _with_connection(target, read)
    return found[0]


async def revision(target: str | AsyncEngine, message: str, *, autogenerate: bool = True) -> None:
    """Write the next revision file, compared against the database at *target* (developers only)."""
    versions = [p for p in (MIGRATIONS / "versions").glob("[0-9]*.py")]
    rev_id = f"{len(versions) + 1:04d}"

    def write(connection: Connection) -> None:
        command.revision(
            alembic_config(connection), message=message, autogenerate=autogenerate, rev_id=rev_id
        )

    await _with_connection(target, write)


async def _with_connection(target: str | AsyncEngine, work: Callable[[Connection], None]) -> None:
    engine = make_engine(target) if isinstance(target, str) else target
    try:
        async with engine.begin() as connection:
            await connection.run_sync(work)
    finally:
        if isinstance(target, str):
            await engine.dispose()
